"""What every service's contracts share: ids, the bases of events, commands and queries, the
refusal and its generic error codes, the streams and headers, and the machinery that derives an
event's or a request's spec (name, subject, service, summary) from its class.

A service's module (``contracts.intake``, ``contracts.casefile``...) declares each of its events,
commands, queries and replies once, as a class; everything else is derived from the classes:

- an event's name is its class name (and its tag on the wire, the ``event`` field), its subject
  ``polku.<service>.<snake name>``, its service the module it is declared in, its summary the
  first paragraph of its docstring;
- a request (a :class:`Command` or :class:`Query` subclass) names its reply in a ``reply``
  ClassVar (or, when one struct serves several queries, a ``replies`` ClassVar mapping each
  query's name to its reply); its name is the snake-case class name (a query's trailing
  ``Query`` dropped), its subject ``polku.<cmd|qry>.<service>.<name>``.

Rules for evolving events: add fields with defaults; never change a field's type or meaning; a
breaking change is a new event name. Readers ignore fields they do not know (msgspec does).
No event carries an identity code, a name or free text about a client: a client is the
pseudonymous ``client_id`` everywhere outside intake's protected store.

Every command carries the header ``Polku-Command-Id``: an idempotency key chosen by the caller.
A retried command returns the first answer and stores nothing new.
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Annotated, Any, ClassVar, Literal, Union
from uuid import UUID

import msgspec
from msgspec import Meta

from contracts.vocabulary import WorkerRole

SCHEMA_VERSION = 1

#: The shape of a Finnish identity code (DDMMYY, century sign, three digits, check character),
#: either case, not inside a longer word: no id may hold one.
IDENTITY_CODE_SHAPE = r"(?<![0-9A-Za-z])[0-9]{6}[-+A-FU-Ya-fu-y][0-9]{3}[0-9A-Ya-y](?![0-9A-Za-z])"
#: v1's pattern of :data:`Code`; today's refuses, besides, a value holding an identity code's shape.
CODE_PATTERN_V1 = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
CODE_PATTERN = rf"^(?!.*{IDENTITY_CODE_SHAPE})[A-Za-z0-9][A-Za-z0-9_.:-]*$"
#: A pseudonymous id: a worker's or a team's code, never a name, never an identity code.
Code = Annotated[str, Meta(min_length=1, max_length=64, pattern=CODE_PATTERN)]
#: A client's pseudonymous id: a keyed hash of the identity code, hex.
ClientId = Annotated[str, Meta(pattern=r"^[0-9a-f]{32}$")]
#: Free text is bounded; it stays in intake's protected store and never travels in an event.
FreeText = Annotated[str, Meta(max_length=4000)]

COMMAND_ID_HEADER = "Polku-Command-Id"


class Actor(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Who did it: a worker's id, role and team. Ids only, never a name."""

    worker_id: Code
    role: WorkerRole
    team: Code


class ActingWorker(Actor, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The worker acting on a command (ids only). Unknown fields are refused, as in commands."""


# ------------------------------------------------------------------------------------ events
class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="event", tag=True):
    """The base of every event: its id, its business time and who acted (None: the system)."""

    event_id: UUID
    occurred_at: Annotated[datetime, Meta(tz=True)]
    actor: Actor | None = None


encoder = msgspec.json.Encoder()


# ---------------------------------------------------------------------- commands and queries
#: The roles of the roster (DOMAIN.md, "Who acts").
SERVICE_GUIDANCE = "service_guidance_worker"
SOCIAL_COUNSELLOR = "social_counsellor"
SOCIAL_WORKER = "social_worker"
TEAM_LEAD = "team_lead"
#: The header holding the signed token of the worker a command acts for (a JWT: ``sub`` is the
#: worker id). Role and team come from Polku's roster, never from the token or the body.
ACTOR_HEADER = "Polku-Actor"

class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of commands. Unknown fields are refused: a typo must not be silently dropped,
    in nested objects either. (Events are the other way round: readers ignore what they do
    not know, so that producers can add fields.)"""

    #: The roles that may give the command (the roster's role of the worker the Polku-Actor
    #: token names); a worker of another role is refused ``forbidden``. Not a field: the body's
    #: ``actor`` is checked against the token, its role and team are not believed.
    roles: ClassVar[frozenset[str]] = frozenset({SERVICE_GUIDANCE, SOCIAL_COUNSELLOR, SOCIAL_WORKER, TEAM_LEAD})

    actor: ActingWorker | None = None
    #: Business time, with its UTC offset; the clock's time when left out.
    occurred_at: Annotated[datetime, Meta(tz=True)] | None = None


class Query(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of queries: no fields of its own; unknown fields are refused, as in commands."""


class Error(msgspec.Struct, frozen=True, kw_only=True):
    """A stable ``code`` to branch on, a ``message`` for people, the offending ``field`` path."""

    code: str
    message: str
    field: str | None = None


class Refused(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[False] = False
    error: Error


#: Error codes every service answers with: stable, documented, one per way input can be wrong.
#: A service's own codes are the ``ERROR_CODES`` of its module.
ERROR_CODES: dict[str, str] = {
    "malformed_json": "the body is not a JSON object",
    "missing_field": "a required field is missing",
    "wrong_type": "a field has the wrong JSON type",
    "unknown_value": "a field's value is not in its closed vocabulary",
    "invalid_value": "a field's value breaks its rule (length, range, format, combination)",
    "unknown_field": "the body has a field the command does not know",
    "missing_command_id": "the Polku-Command-Id header is missing or not 1-128 visible characters",
    "command_id_reused": "the Polku-Command-Id was used before for a different command",
    "unavailable": "the service could not store the command now; retry with the same command id",
    "reply_too_large": "the answer would be larger than a reply may be (NATS's payload limit): ask for less (a team, a shorter period, a page)",
    "rule_broken": "the command breaks a rule of the domain; the message says which",
    "unauthenticated": "the Polku-Actor header holds no valid signed token for the acting worker (missing, expired, not yet valid, unsigned, signed by an untrusted key, or for another audience)",
}

# ----------------------------------------------------------------------- streams and headers
#: Streams: name, subjects. Events of a service, the audit logs, the dead letters.
STREAMS: dict[str, str] = {
    "INTAKE": "polku.intake.>",
    "CASEFILE": "polku.casefile.>",
    "FOLLOWUP": "polku.followup.>",
    "REPORTING": "polku.reporting.>",
    "AUDIT": "polku.audit.>",
    "DLQ": "polku.dlq.>",
}
SERVICE_STREAM = {
    "intake": "INTAKE",
    "casefile": "CASEFILE",
    "followup": "FOLLOWUP",
    "reporting": "REPORTING",
    "audit": "AUDIT",
}

# Headers on every event.
H_MSG_ID = "Nats-Msg-Id"
H_EVENT = "Polku-Event"
H_SCHEMA = "Polku-Schema"
H_CORRELATION = "Polku-Correlation-Id"
H_CAUSATION = "Polku-Causation-Id"
H_POSITION = "Polku-Position"
#: the W3C trace context (https://www.w3.org/TR/trace-context/): on commands and events alike
H_TRACEPARENT = "traceparent"

# Headers a dead letter carries besides the original message's own.
H_DLQ_CONSUMER = "Polku-Dlq-Consumer"
H_DLQ_STREAM = "Polku-Dlq-Stream"
H_DLQ_SEQUENCE = "Polku-Dlq-Sequence"
H_DLQ_SUBJECT = "Polku-Dlq-Subject"
H_DLQ_ERROR_CODE = "Polku-Dlq-Error-Code"
H_DLQ_ERROR = "Polku-Dlq-Error"
#: Why a message was dead-lettered: it could not be decoded, it names no store position (it
#: did not come from a Polku store), or its handling kept failing; a service's own rule codes
#: (e.g. ``relationship_ended``) appear here too.
DLQ_UNDECODABLE = "undecodable"
DLQ_NO_POSITION = "no_position"
DLQ_HANDLER_FAILED = "handler_failed"


# ---------------------------------------------------------------------------------- specs
def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def service_of(tp: type) -> str:
    """The service a contract type belongs to: the module it is declared in
    (``contracts.intake`` → ``intake``)."""
    return tp.__module__.rsplit(".", 1)[-1]


def summary_of(tp: type, subject: str | None = None) -> str:
    """The first paragraph of a type's docstring, on one line. A leading subject in double
    backticks and a colon (as command docstrings begin) is dropped and the rest capitalised."""
    text = inspect.cleandoc(tp.__doc__ or "").split("\n\n", 1)[0]
    text = " ".join(text.split())
    if subject is not None:
        prefix = f"``{subject}``:"
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    return text[:1].upper() + text[1:]


def _names_subject(tp: type, subject: str) -> bool:
    return inspect.cleandoc(tp.__doc__ or "").startswith(f"``{subject}``:")


@dataclass(frozen=True)
class EventSpec:
    """An event as published: derived from its class by :meth:`of`."""

    name: str
    service: str
    type: type
    summary: str
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def of(cls, event_type: type) -> EventSpec:
        if not (isinstance(event_type, type) and issubclass(event_type, Event)) or event_type is Event:
            raise TypeError(f"{event_type!r} is not an event")
        return cls(event_type.__name__, service_of(event_type), event_type, summary_of(event_type))

    @property
    def subject(self) -> str:
        return f"polku.{self.service}.{snake(self.name)}"


@dataclass(frozen=True)
class CommandSpec:
    """A command or a query and its reply: derived from the request class by :meth:`of`."""

    name: str
    service: str
    kind: str  # "cmd" or "qry"
    request: type
    reply: type
    summary: str

    @classmethod
    def of(cls, request: type) -> tuple[CommandSpec, ...]:
        """The specs of a request class: one, or one per entry of its ``replies`` mapping."""
        if not (isinstance(request, type) and issubclass(request, (Command, Query))):
            raise TypeError(f"{request!r} is neither a command nor a query")
        kind = "qry" if issubclass(request, Query) else "cmd"
        service = service_of(request)
        own = vars(request)
        if "replies" in own:
            replies: dict[str, type] = dict(own["replies"])
        elif "reply" in own:
            name = snake(request.__name__.removesuffix("Query") if kind == "qry" else request.__name__)
            replies = {name: own["reply"]}
        else:
            raise TypeError(f"{request.__name__} names no reply (a `reply` or `replies` ClassVar)")
        specs = []
        for name, reply in replies.items():
            subject = f"polku.{kind}.{service}.{name}"
            # The summary comes from the docstring that names the subject: the request's, or
            # (a struct serving several queries) the reply's; else the request's.
            source = next((tp for tp in (request, reply) if _names_subject(tp, subject)), request)
            specs.append(cls(name, service, kind, request, reply, summary_of(source, subject)))
        return tuple(specs)

    @property
    def subject(self) -> str:
        return f"polku.{self.kind}.{self.service}.{self.name}"


def _module(module: ModuleType | str) -> ModuleType:
    return sys.modules[module] if isinstance(module, str) else module


def _declared(module: ModuleType | str) -> list[type]:
    """The classes declared in a module (not imported into it, nor aliases), in the order of
    declaration."""
    mod = _module(module)
    return [
        v
        for k, v in vars(mod).items()
        if isinstance(v, type) and v.__module__ == mod.__name__ and k == v.__name__
    ]


def event_types(module: ModuleType | str) -> tuple[type, ...]:
    """The events a module declares, in the order of declaration."""
    return tuple(tp for tp in _declared(module) if issubclass(tp, Event) and tp is not Event)


def event_union(module: ModuleType | str) -> Any:
    """The union of the events a module declares (the type its decoder decodes).

    Called at the end of the module itself: ``IntakeEvent = event_union(__name__)``."""
    types = event_types(module)
    if not types:
        raise TypeError(f"{_module(module).__name__} declares no event")
    return Union[types]  # noqa: UP007  # a union built from a tuple of types


def event_specs(module: ModuleType | str) -> tuple[EventSpec, ...]:
    return tuple(EventSpec.of(tp) for tp in event_types(module))


def request_types(module: ModuleType | str) -> tuple[type, ...]:
    """The commands and queries a module declares: the classes naming their reply."""
    return tuple(
        tp
        for tp in _declared(module)
        if issubclass(tp, (Command, Query)) and ("reply" in vars(tp) or "replies" in vars(tp))
    )


def command_specs(module: ModuleType | str) -> tuple[CommandSpec, ...]:
    return tuple(spec for tp in request_types(module) for spec in CommandSpec.of(tp))
