"""What every service's domain is built on: the envelope, the aggregate base, the rule error.

A domain module imports this, never the wire layer: a broken rule is a :class:`RuleBroken` with a
stable ``code`` and the ``field`` it concerns, and the command pipeline turns it into the refusal
a client reads.

**The envelope.** Every stored event carries one small value, :class:`Envelope`: when it
happened in business time, who acted, the correlation and causation ids, and the client it is
about. An aggregate's public method takes it once and hands it to its private ``@event``
method; nothing else in an event repeats it. Aggregates about one client (they have a
``client_id``) stamp it into the envelope of every event they trigger, so that each stored
event, and the contract event published from it, names its client.

**Stores written before the envelope.** Events stored by earlier code carried ``occurred_at``,
``actor``, ``trace``, ``client_id`` and a command record as separate fields (class version 1).
:meth:`PolkuAggregate.Event.upcast_v1_v2` folds them into the envelope when such an event is
read, so an old store replays to the same state.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Transcoding


class RuleBroken(Exception):
    """A command broke a rule; nothing happened. ``code`` is stable, ``field`` names the input.

    Subclasses name the rule: ``class AlreadyRouted(RuleBroken): code = "already_routed"``.
    """

    code = "rule_broken"
    field: str | None = None

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
        if code is not None:
            self.code = code


@dataclasses.dataclass(frozen=True)
class Envelope:
    """What every stored event carries besides its own facts."""

    occurred_at: datetime
    actor: dict[str, str] | None = None
    correlation_id: str | None = None
    #: the command id, or the id of the event that caused this one
    causation_id: str | None = None
    client_id: str | None = None
    #: the W3C trace context of the span that stored the event (polku/tracing.py)
    traceparent: str | None = None

    @classmethod
    def now(cls, **fields: Any) -> Envelope:
        return cls(occurred_at=datetime.now(UTC), **fields)

    def about(self, client_id: str | None) -> Envelope:
        if client_id is None or client_id == self.client_id:
            return self
        return dataclasses.replace(self, client_id=client_id)


class EnvelopeAsDict(Transcoding):
    """How the stores keep an envelope: a dict (its datetime transcoded as usual)."""

    type = Envelope
    name = "envelope"

    def encode(self, obj: Envelope) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

    def decode(self, data: dict[str, Any]) -> Envelope:
        return Envelope(**data)


#: the fields a version-1 event carried that the envelope holds now, or that the runtime's
#: idempotency record keeps instead (``command``, ``command_digest``)
_V1_ENVELOPE_FIELDS = ("occurred_at", "actor", "trace", "client_id", "command", "command_digest")


def fold_v1_envelope(state: dict[str, Any]) -> None:
    """Upcast a version-1 event's state in place: its envelope fields become ``env``."""
    trace = state.get("trace") or {}
    actor = state.get("actor")
    state["env"] = Envelope(
        occurred_at=state.get("occurred_at") or state["timestamp"],
        actor=dict(actor) if actor else None,
        correlation_id=trace.get("correlation_id"),
        causation_id=trace.get("causation_id"),
        client_id=state.get("client_id"),
    )
    for name in _V1_ENVELOPE_FIELDS:
        state.pop(name, None)


class PolkuAggregate(Aggregate):
    """An aggregate whose events carry an :class:`Envelope` (``env``) as their first argument."""

    class Event(Aggregate.Event):
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            fold_v1_envelope(state)

    class Created(Event, Aggregate.Created):
        pass

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        env = kwargs.get("env")
        if isinstance(env, Envelope):
            kwargs["env"] = env.about(getattr(self, "client_id", None))
        super().trigger_event(event_class, **kwargs)
