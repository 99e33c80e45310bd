"""The published language of Polku: every event, command, query and reply on the wire."""

from __future__ import annotations

from contracts import audit, base, casefile, followup, intake, reporting
from contracts.base import (
    COMMAND_ID_HEADER,
    DLQ_HANDLER_FAILED,
    DLQ_NO_POSITION,
    DLQ_UNDECODABLE,
    H_CAUSATION,
    H_CORRELATION,
    H_DLQ_CONSUMER,
    H_DLQ_ERROR,
    H_DLQ_ERROR_CODE,
    H_DLQ_SEQUENCE,
    H_DLQ_STREAM,
    H_DLQ_SUBJECT,
    H_EVENT,
    H_MSG_ID,
    H_POSITION,
    H_TRACEPARENT,
    H_SCHEMA,
    SCHEMA_VERSION,
    SERVICE_STREAM,
    STREAMS,
    CommandSpec,
    EventSpec,
    command_specs,
    event_specs,
    snake,
)

__all__ = [
    "COMMAND_ID_HEADER",
    "COMMANDS",
    "DLQ_HANDLER_FAILED",
    "DLQ_NO_POSITION",
    "DLQ_UNDECODABLE",
    "ERROR_CODES",
    "EVENTS",
    "EVENTS_BY_NAME",
    "H_CAUSATION",
    "H_CORRELATION",
    "H_DLQ_CONSUMER",
    "H_DLQ_ERROR",
    "H_DLQ_ERROR_CODE",
    "H_DLQ_SEQUENCE",
    "H_DLQ_STREAM",
    "H_DLQ_SUBJECT",
    "H_EVENT",
    "H_MSG_ID",
    "H_POSITION",
    "H_TRACEPARENT",
    "H_SCHEMA",
    "SCHEMA_VERSION",
    "SERVICES",
    "SERVICE_STREAM",
    "STREAMS",
    "CommandSpec",
    "EventSpec",
    "event_spec",
    "is_event",
    "snake",
    "spec_for",
]

#: Each service's contracts: its events, commands, queries, replies and error codes.
SERVICES = (intake, casefile, followup, reporting, audit)

#: Every event of every service, as declared in the service's module.
EVENTS: tuple[EventSpec, ...] = tuple(spec for module in SERVICES for spec in event_specs(module))
EVENTS_BY_NAME = {spec.name: spec for spec in EVENTS}
_EVENTS_BY_TYPE = {spec.type: spec for spec in EVENTS}

#: Every command and query of every service (a struct serving two queries appears twice).
COMMANDS: tuple[CommandSpec, ...] = tuple(
    spec for module in SERVICES for spec in command_specs(module)
)


def _merged(*tables: dict[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for table in tables:
        twice = merged.keys() & table.keys()
        if twice:
            raise ValueError(f"error codes declared twice: {sorted(twice)}")
        merged |= table
    return merged


#: Every error code a command or query may be refused with: the generic ones, then each service's.
ERROR_CODES: dict[str, str] = _merged(
    base.ERROR_CODES, *(getattr(module, "ERROR_CODES", {}) for module in SERVICES)
)


def _check() -> None:
    for kind, subjects in (("events", [s.subject for s in EVENTS]), ("requests", [s.subject for s in COMMANDS])):
        twice = sorted({subject for subject in subjects if subjects.count(subject) > 1})
        if twice:
            raise ValueError(f"{kind} declared twice: {twice}")
    for spec in (*EVENTS, *COMMANDS):
        if spec.service not in SERVICE_STREAM:
            raise ValueError(f"{spec.name}: {spec.service} is not a service")


_check()


def spec_for(request_type: type, name: str | None = None) -> CommandSpec:
    """The spec of a command or query struct; ``name`` picks one when the struct serves several
    queries (``RecordQuery``: ``relationship`` or ``timeline``)."""
    specs = [
        spec
        for spec in COMMANDS
        if spec.request is request_type and (name is None or spec.name == name)
    ]
    if len(specs) != 1:
        names = [spec.name for spec in COMMANDS if spec.request is request_type]
        if not names:
            raise KeyError(f"{request_type.__name__} is not a command or query")
        raise KeyError(f"{request_type.__name__} serves {names}: name one")
    return specs[0]


def is_event(event_type: type) -> bool:
    """Whether ``event_type`` is an event of a service's contract (not a domain event)."""
    return event_type in _EVENTS_BY_TYPE


def event_spec(event_type: type) -> EventSpec:
    """The spec of an event class."""
    try:
        return _EVENTS_BY_TYPE[event_type]
    except KeyError:
        raise KeyError(f"{event_type.__name__} is not an event of any service") from None
