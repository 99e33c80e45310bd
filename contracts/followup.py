"""Followup's published language: its events, commands, replies and error codes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from contracts.base import (
    SOCIAL_COUNSELLOR,
    SOCIAL_WORKER,
    TEAM_LEAD,
    ActingWorker,
    ClientId,
    Code,
    Command,
    Event,
    Query,
    event_union,
)
from contracts.vocabulary import DisappearanceDetection, PlanKind, ViewPurpose

# ----------------------------------------------------------------------------- vocabulary
#: How the own worker tried to reach the client (seed 000 §5.1: familiar channels first).
ContactChannel = Literal["phone", "text_message", "letter", "home_visit", "network_partner"]
#: What came of one try.
ContactOutcome = Literal["reached", "no_answer", "number_not_in_use", "mail_returned", "refused"]
#: How a disappeared client was reached again: a contact that reached them, a meeting held, or a
#: day of rehabilitative work activity attended.
ReachedBy = Literal[
    "phone", "text_message", "letter", "home_visit", "network_partner", "meeting_held", "work_activity_attended"
]
#: The authority that reported the client disappeared.
ReportingAuthority = Literal["police", "health_care", "kela", "employment_services", "housing_services", "other"]
#: The great-concern grounds on which the police are asked for executive assistance
#: (*virka-apupyyntö*, seed 000 §5.1: only when the concern is great). Codes, never free text.
ConcernGround = Literal[
    "danger_to_life_or_health",
    "unable_to_take_care_of_self",
    "risk_of_harm_to_others",
    "missing_in_vulnerable_state",
]
#: What an overdue is about.
OverdueKind = Literal["review", "assessment", "evaluation"]


# --------------------------------------------------------------------------------- events
class ContactAttemptRecorded(Event, kw_only=True):
    """The own worker tried to reach the client: the channel and what came of it."""

    relationship_id: UUID
    client_id: ClientId
    channel: ContactChannel
    outcome: ContactOutcome
    attempted_on: date


# The disappearance policy decides: so many failed contacts and missed meetings over so many days
# without a success, or a report by another authority. The waiting period starts; when it runs
# out, EndProposed. (The docstring is v1's, word for word: it is the schema's description.)
class ClientDisappeared(Event, kw_only=True):
    """The client could not be reached through the familiar channels."""

    relationship_id: UUID
    client_id: ClientId
    detected_by: DisappearanceDetection
    last_contact: date | None = None


class ClientReached(Event, kw_only=True):
    """A disappeared client was reached again: the waiting period and what followed are cancelled."""

    relationship_id: UUID
    client_id: ClientId
    reached_on: date
    reached_by: ReachedBy
    days_disappeared: Annotated[int, Meta(ge=0)]


class EndProposed(Event, kw_only=True):
    """The waiting period after a disappearance ran out: followup proposes to the own worker that
    the relationship end (Polku never ends one by itself)."""

    relationship_id: UUID
    client_id: ClientId
    reason: Literal["unreachable"] = "unreachable"
    disappeared_on: date
    own_worker_id: Code | None = None


class ExecutiveAssistanceRequested(Event, kw_only=True):
    """The police were asked for executive assistance about a disappeared client, on a stated
    great-concern ground."""

    relationship_id: UUID
    client_id: ClientId
    ground: ConcernGround
    authority: Literal["police"] = "police"


class ReviewOverdue(Event, kw_only=True):
    """A plan's review date passed without a new version of the plan."""

    relationship_id: UUID
    client_id: ClientId
    kind: PlanKind
    review_due: date


class AssessmentOverdue(Event, kw_only=True):
    """The service need assessment was not started within the configured working days of the
    relationship's start."""

    relationship_id: UUID
    client_id: ClientId
    due: date
    working_days: Annotated[int, Meta(ge=1)]


class EvaluationOverdue(Event, kw_only=True):
    """A rehabilitative work activity period's evaluation date passed without the evaluation (a
    new version of the activation plan) or the period's end."""

    relationship_id: UUID
    client_id: ClientId
    placement_id: Code
    evaluation_on: date


class OverdueCleared(Event, kw_only=True):
    """An overdue review, assessment or evaluation was cleared: done (``days_late`` after it fell
    due) or no longer needed because the relationship ended."""

    relationship_id: UUID
    client_id: ClientId
    overdue: OverdueKind
    due: date
    days_late: Annotated[int, Meta(ge=0)]
    how: Literal["done", "relationship_ended"]


class ClientMarkedRecurring(Event, kw_only=True):
    """A client who keeps coming back: relationships started again ``count`` times within
    ``window_days`` (the recurring-client policy), or intake flagged repeated referrals. Casefile
    may use it for the relationship's nature."""

    client_id: ClientId
    relationship_id: UUID | None = None
    grounds: Literal["relationships_restarted", "repeat_referrals"]
    count: Annotated[int, Meta(ge=1)]
    window_days: Annotated[int, Meta(ge=1)] | None = None


class CheckInDue(Event, kw_only=True):
    """The check-in after an ended relationship is due (Aava: a month after the end, on a working
    day): the own worker contacts the client. ``attempt`` counts the tries, from 1."""

    relationship_id: UUID
    client_id: ClientId
    due: date
    attempt: int


#: How a check-in ended: no further need, a need found (the relationship may reopen), or the
#: client was not reached in the configured number of tries.
CheckInResult = Literal["no_need", "need_found", "unreached"]


class CheckInCompleted(Event, kw_only=True):
    """The check-in after an ended relationship is done; ``no_need`` and ``unreached`` close the
    relationship for good, ``need_found`` is a reason to reopen it."""

    relationship_id: UUID
    client_id: ClientId
    outcome: CheckInResult
    attempts: int


# ------------------------------------------------------------------------------- commands
#: What the worker records of one check-in try.
CheckInOutcome = Literal["no_need", "need_found", "not_reached"]


class CheckInRecorded(msgspec.Struct, frozen=True, kw_only=True):
    """A check-in try was recorded: the relationship, the check-in's state now (``due`` again
    later after ``not_reached``, else ``closed``) and the next due date, if any."""

    ok: Literal[True] = True
    relationship_id: UUID
    state: Literal["retry", "closed"]
    next_due: date | None = None


class RecordCheckIn(Command, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.followup.record_check_in``: the outcome of a due check-in's try."""

    roles: ClassVar[frozenset[str]] = frozenset({SOCIAL_COUNSELLOR, SOCIAL_WORKER, TEAM_LEAD})
    reply: ClassVar[type] = CheckInRecorded

    relationship_id: UUID
    outcome: CheckInOutcome


class FollowupAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """A followup command carried out: the relationship and where its following stands now
    (``followed``: reachable as far as followup knows; ``disappeared``: in the waiting period;
    ``end_proposed``: the waiting period ran out; ``ended``)."""

    ok: Literal[True] = True
    relationship_id: UUID
    state: Literal["followed", "disappeared", "end_proposed", "ended"]
    disappeared: bool = False


class FollowupCommand(Command, kw_only=True, forbid_unknown_fields=True):
    """Base of the commands about one relationship."""

    roles: ClassVar[frozenset[str]] = frozenset({SOCIAL_COUNSELLOR, SOCIAL_WORKER, TEAM_LEAD})

    relationship_id: UUID


class RecordContactAttempt(FollowupCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.followup.record_contact_attempt``: the own worker (or the team) tried to reach
    the client. ``attempted_on``: the day, today by followup's clock when left out (never later)."""

    reply: ClassVar[type] = FollowupAccepted

    channel: ContactChannel
    outcome: ContactOutcome
    attempted_on: date | None = None


class ReportDisappearance(FollowupCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.followup.report_disappearance``: another authority reports the client
    disappeared; the waiting period starts at once. ``last_contact``: the last day the client was
    known to be in contact, if the report says."""

    reply: ClassVar[type] = FollowupAccepted

    authority: ReportingAuthority
    last_contact: date | None = None


class RequestExecutiveAssistance(FollowupCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.followup.request_executive_assistance``: ask the police for executive
    assistance (*virka-apupyyntö*); only on a stated great-concern ground, and only by the own
    worker or a social worker."""

    roles: ClassVar[frozenset[str]] = frozenset({SOCIAL_COUNSELLOR, SOCIAL_WORKER})
    reply: ClassVar[type] = FollowupAccepted

    ground: ConcernGround


#: ``absence_contact``: the client was absent from rehabilitative work activity; the worker
#: contacts them, as early as possible (seed 003)
TaskKind = Literal[
    "check_in", "review_overdue", "assessment_overdue", "evaluation_overdue", "disappeared", "end_proposed",
    "absence_contact",
]


class DueTask(msgspec.Struct, frozen=True, kw_only=True):
    """One task due: what, about which relationship, whose, since when. ``urgent``: the client
    has a special support need or has disappeared."""

    kind: TaskKind
    relationship_id: UUID
    client_id: ClientId
    own_worker_id: Code | None = None
    team: Code | None = None
    due: date
    days_overdue: int
    urgent: bool


class DueTasks(msgspec.Struct, frozen=True, kw_only=True):
    """``polku.qry.followup.due``'s answer: urgent first, then oldest first."""

    ok: Literal[True] = True
    today: date
    tasks: list[DueTask]


class DueQuery(Query, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.followup.due``: the caller's due and overdue tasks, and their team's
    (``scope``). A read of client data: logged (FollowupTasksViewed on the audit stream)."""

    reply: ClassVar[type] = DueTasks

    actor: ActingWorker
    purpose: ViewPurpose
    scope: Literal["own", "team"] = "team"
    limit: Annotated[int, Meta(ge=1, le=1000)] = 200


class ClockAdvanced(msgspec.Struct, frozen=True, kw_only=True):
    """Followup's clock was moved forward: the time it shows now."""

    ok: Literal[True] = True
    now: datetime


class AdvanceClock(Command, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.followup.advance_clock``: move followup's clock forward (demo and test mode
    only, ``POLKU_DEMO=1``), so that months pass in seconds."""

    roles: ClassVar[frozenset[str]] = frozenset({TEAM_LEAD})
    reply: ClassVar[type] = ClockAdvanced

    days: Annotated[int, Meta(ge=0, le=3660)] = 0
    hours: Annotated[int, Meta(ge=0, le=24 * 366)] = 0


ERROR_CODES: dict[str, str] = {
    "followed_relationship_not_found": "followup follows no relationship with this id",
    "not_disappeared": "the client has not disappeared",
    "already_disappeared": "the client is counted disappeared already",
    "attempted_in_future": "a contact attempt cannot be recorded for a day after today",
    "not_own_worker_or_social_worker": "executive assistance is requested only by the own worker or a social worker",
    "check_in_not_found": "followup holds no check-in for this relationship",
    "check_in_not_due": "the check-in is not due now (not yet, or closed already)",
    "demo_mode_only": "the clock is moved only in demo and test mode (POLKU_DEMO=1)",
}


#: The union of every event declared above, and its decoder.
FollowupEvent = event_union(__name__)
followup_decoder = msgspec.json.Decoder(FollowupEvent)
