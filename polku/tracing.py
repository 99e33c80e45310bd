"""Traces: OpenTelemetry, with the W3C trace context carried across the bus.

One referral's path is one trace, across processes and the bus:

- a command's ``traceparent`` header (the caller's trace, if it sends one) is the parent of
  the span the service opens around its handling (``<subject> process``, :func:`start_handling`);
- every event the command stores keeps that span's context in its envelope (``traceparent``);
- the relay publishes each event with it as the ``traceparent`` header;
- each consumer opens a span per event, child of the header's context, and what the event
  causes (casefile's relationship opened by a routed referral) is stored with that span's
  context, and so on to reporting.

``Polku-Correlation-Id`` stays the business correlation. Log lines carry ``trace_id`` and
``span_id`` (polku/log.py). The exporter comes from ``POLKU_TRACES``: ``none`` (the default:
contexts are still carried, no span is recorded), ``otlp`` (OTLP over HTTP; the endpoint from
OpenTelemetry's own ``OTEL_EXPORTER_OTLP_ENDPOINT``), or ``file:<path>`` (one JSON span per
line: for a look without a collector, and for the tests). Span names and attributes are subjects,
consumer names and ids: never personal data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "Status", "StatusCode", "current_traceparent", "ids", "outcome", "setup", "span_ids", "start_handling", "start_span",
    "traceparent_of", "use_span",
]

use_span = trace.use_span

#: the W3C trace context header
TRACEPARENT = "traceparent"

_propagator = TraceContextTextMapPropagator()
_provider: Any = None


def tracer() -> trace.Tracer:
    return trace.get_tracer("polku")


def setup(service: str, exporter: str) -> Any:
    """Install the tracer provider of ``service`` with the exporter ``exporter`` names; None for
    ``none`` (the API's own provider: no span is recorded, contexts still pass)."""
    global _provider
    if exporter in ("", "none"):
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"polku-{service}"}))
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif exporter.startswith("file:"):
        path = Path(exporter.removeprefix("file:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        out = path.open("a", encoding="utf-8")
        provider.add_span_processor(
            SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n"))
        )
    else:
        raise ValueError(f"POLKU_TRACES must be none, otlp or file:<path>, not {exporter!r}")
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def shutdown() -> None:
    """Send what the exporter still holds (at a service's stop)."""
    if _provider is not None:
        _provider.shutdown()


def current_traceparent() -> str | None:
    """The ``traceparent`` of the span current here, if any."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


def start_span(name: str, traceparent: str | None, **attributes: Any) -> trace.Span:
    """A consumer's span named ``name``, child of ``traceparent`` (a new trace without one); the
    caller ends it."""
    context = _propagator.extract({TRACEPARENT: traceparent}) if traceparent else None
    attrs = {k: v for k, v in attributes.items() if v is not None}
    return tracer().start_span(name, context=context, kind=trace.SpanKind.CONSUMER, attributes=attrs)


def start_handling(name: str, traceparent: str | None, subject: str, size: int) -> trace.Span:
    """The span of a command's or query's handling, child of the caller's ``traceparent``; with
    the attributes of a message received over NATS (its subject and size, never its content)."""
    context = _propagator.extract({TRACEPARENT: traceparent}) if traceparent else None
    return tracer().start_span(
        name,
        context=context,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation": "process",
            "messaging.destination.name": subject,
            "messaging.message.payload_size_bytes": size,
        },
    )


def outcome(span: trace.Span, outcome: str, error_code: str | None) -> None:
    """A handling's outcome on its span: ``polku.outcome`` and ``polku.error_code`` (a code from
    the contracts); a status of error when it failed (answered ``unavailable``)."""
    if not span.is_recording():
        return
    span.set_attribute("polku.outcome", outcome)
    if error_code is not None:
        span.set_attribute("polku.error_code", error_code)
    if outcome == "failed":
        span.set_status(Status(StatusCode.ERROR))


def traceparent_of(span: trace.Span) -> str | None:
    """The ``traceparent`` naming ``span`` as the parent."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get(TRACEPARENT)


def span_ids(span: trace.Span) -> dict[str, str]:
    """``span``'s trace and span ids, for a log line (nothing for a span not recorded nor
    continuing a trace)."""
    context = span.get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def ids() -> dict[str, str]:
    """The current trace and span ids (for a log line), or nothing outside a trace."""
    return span_ids(trace.get_current_span())
