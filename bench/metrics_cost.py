"""What the metrics cost per command: Polku's own counting in process, and a running stack's
commands per second with ``POLKU_METRICS`` on and off."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from typing import Any

from bench.common import Figure, fresh_var, say
from bench.e2e import SEEN, running_stack
from demo.main import send_referral
from demo.population import distinct_demo_referrals
from polku import metrics
from polku.endpoints import get

SUBJECT = "polku.cmd.bench.receive_referral"


def counting_us(n: int = 200_000) -> Figure:
    """One command's counting (its outcome and latency, one aggregate read, a group commit of
    one: the most a command pays), on minus off, best of 5 rounds."""

    def per_command() -> float:
        started = time.perf_counter()
        for _ in range(n):
            metrics.command_answered(SUBJECT, "ok", 0.004)
            metrics.aggregate_read("bench", True)
            metrics.group_committed("bench", 1, 1)
        return (time.perf_counter() - started) / n * 1e6

    was = metrics.enabled
    rounds: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(5):
            for on in (True, False):
                metrics.enabled = on
                rounds[on].append(per_command())
    finally:
        metrics.enabled = was
    on, off = min(rounds[True]), min(rounds[False])
    return Figure("metrics_counting_us", on - off, "us", [
        f"# metrics_counting_us: polku.metrics in process, {n:,} commands' counting (outcome counter, latency "
        f"histogram, one aggregate read, a group commit of one) with POLKU_METRICS on ({on:.2f} µs) minus off "
        f"({off:.2f} µs); best of 5 interleaved rounds",
    ])


def tracing_us(n: int = 5_000) -> Figure:
    """What tracing adds to one referral command, in process: the spans it makes (the command's
    handling, and one per consumer that reads its event: casefile's, followup's, reporting's),
    each started as the child of a traceparent, its context injected for what it stores, ended;
    with the SDK exporting in batches (to an exporter that drops them) against none (OpenTelemetry's
    API alone, as with POLKU_TRACES=none). Best of 5 rounds."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    sdk = TracerProvider()
    sdk.add_span_processor(BatchSpanProcessor(Dropped()))
    propagator = TraceContextTextMapPropagator()
    parent = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    spans_per_command = 4

    def per_command(tracer: Any) -> float:
        started = time.perf_counter()
        for _ in range(n):
            for _span in range(spans_per_command):
                span = tracer.start_span("bench process", context=propagator.extract(parent), kind=trace.SpanKind.CONSUMER)
                carrier: dict[str, str] = {}
                propagator.inject(carrier, context=trace.set_span_in_context(span))
                span.end()
        return (time.perf_counter() - started) / n * 1e6

    rounds: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(5):
        rounds[True].append(per_command(sdk.get_tracer("bench")))
        rounds[False].append(per_command(trace.NoOpTracerProvider().get_tracer("bench")))
    sdk.shutdown()
    on, off = min(rounds[True]), min(rounds[False])
    return Figure("tracing_us", on - off, "us", [
        f"# tracing_us: {spans_per_command} spans per referral command (its handling, three consumers' of its event), "
        f"each a child of a traceparent with its context injected, recorded and exported in batches ({on:.2f} µs) "
        f"minus OpenTelemetry's API alone, POLKU_TRACES=none ({off:.2f} µs); {n:,} commands, best of 5 rounds",
    ])


async def _commands_per_second(client: Any, count: int, run_id: str, concurrency: int = 32) -> float:
    rng = random.Random(hash(run_id) & 0xFFFF)
    bodies = distinct_demo_referrals(rng, count, SEEN)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int, body: dict[str, Any]) -> None:
        async with semaphore:
            reply = await send_referral(client, body, f"bench-{run_id}-{i}", timeout=60)
        if not reply.get("ok"):
            raise RuntimeError(f"a referral was refused: {reply.get('error', {}).get('code')}")

    await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies[:20])))  # warm up
    started = time.perf_counter()
    await asyncio.gather(*(one(i + 20, b) for i, b in enumerate(bodies[20:])))
    return (count - 20) / (time.perf_counter() - started)


def on_and_off(count: int, rounds: int) -> list[Figure]:
    """``receive_referral`` commands per second answered by a stack's intake, in ``rounds``
    interleaved rounds with POLKU_METRICS on and off, each on a fresh stack."""
    rates: dict[bool, list[float]] = {True: [], False: []}
    scrape_ms: list[float] = []
    page = 0
    for r in range(rounds):
        for on in (True, False):
            with fresh_var(f"metrics-{'on' if on else 'off'}") as settings:
                os.environ["POLKU_METRICS"] = "1" if on else "0"

                async def run() -> float:
                    nonlocal page
                    async with running_stack(settings) as (stack, client):
                        rate = await _commands_per_second(client, count, uuid.uuid4().hex[:8])
                        if on:
                            url = stack.http_url("intake")
                            started = time.perf_counter()
                            _status, body = await asyncio.to_thread(get, url + "/metrics")
                            scrape_ms.append((time.perf_counter() - started) * 1000)
                            page = len(body)
                        return rate

                rate = asyncio.run(run())
            rates[on].append(rate)
            say(f"  round {r + 1}, metrics {'on' if on else 'off'}: {rate:,.0f} commands/s")
    on, off = max(rates[True]), max(rates[False])
    cost = (1 / on - 1 / off) * 1e6
    shown = lambda rs: ", ".join(f"{x:,.0f}" for x in rs)  # noqa: E731
    return [
        Figure("metrics_on_commands", on, "commands/s", [
            f"# metrics_on_commands / metrics_off_commands: polku.stack.Stack, {count - 20} intake.receive_referral "
            f"commands at most 32 in flight after 20 warm-up, POLKU_METRICS=1 then 0, {rounds} interleaved "
            f"round(s) each on a fresh stack; the best round of each (on: {shown(rates[True])}; off: {shown(rates[False])})",
        ]),
        Figure("metrics_off_commands", off, "commands/s"),
        Figure("metrics_kept", on / off, "ratio", [
            f"# metrics_kept = metrics_on_commands / metrics_off_commands: what the metrics leave of the stack's "
            f"throughput; per command {cost:+.0f} µs (1/on - 1/off: Polku's counting, "
            "within the machine's noise when near 0 or below)",
            f"#   one scrape of intake's /metrics after the round: {max(scrape_ms, default=0):.1f} ms, {page:,} bytes",
        ]),
    ]
