"""Intake's published language: its events, the commands and queries it serves, their replies
and its own error codes.

Every command carries the header ``Polku-Command-Id``: an idempotency key chosen by the caller.
A retried command returns the first answer and stores nothing new. Free text and the identity
code stay in intake's protected store; no event carries them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from contracts.base import SERVICE_GUIDANCE, SOCIAL_COUNSELLOR, SOCIAL_WORKER, TEAM_LEAD
from contracts.base import (  # Actor and Event: also for whoever maps to intake's events
    ActingWorker,
    ClientId,
    Code,
    Command,
    Event,
    FreeText,
    Query,
    event_union,
)
from contracts.vocabulary import (
    AuthorityKind,
    Channel,
    ConcernCategory,
    FurtherSourceKind,
    Motivation,
    OverrideReason,
    RedirectTarget,
    ReferralClosingReason,
    ScreeningOutcome,
    SourceKind,
    UrgentAction,
    WorkerRole,
)


class ReferralSource(msgspec.Struct, frozen=True, kw_only=True):
    """Where the matter came from; ``authority`` is set when ``kind`` is ``authority``."""

    kind: SourceKind
    authority: AuthorityKind | None = None
    #: a source of a kind added since v1, refining ``kind`` (which stays one of v1's):
    #: ``prolonged_unemployment``, the matter came up because the client's unemployment was
    #: prolonged (seed 003), whoever raised it (the unit itself: ``worker_observation``;
    #: employment services: ``authority``)
    further_kind: FurtherSourceKind | None = None

    def __post_init__(self) -> None:
        if self.kind == "authority" and self.authority is None:
            raise ValueError("an authority's referral names the authority (source.authority)")
        if self.kind != "authority" and self.authority is not None:
            raise ValueError("source.authority is only for source.kind 'authority'")


# -------------------------------------------------------------------------------- events
class ReferralReceived(Event, kw_only=True):
    """A matter came up (SHL 34-35 §): a referral or a notification was received."""

    referral_id: UUID
    client_id: ClientId
    channel: Channel
    source: ReferralSource
    concerns: Annotated[list[ConcernCategory], Meta(min_length=1)]
    urgent: bool
    consent: bool
    #: the distribution team whose queue the referral joins
    team: Code | None = None
    #: earlier referrals about the same client (a repeat referral is linked to them)
    repeat_of: list[UUID] = msgspec.field(default_factory=list)
    #: the client's open relationship, when there is one
    open_relationship_id: UUID | None = None


class ReferralScreened(Event, kw_only=True):
    """Service guidance screened the referral: the outcome and the client's motivation."""

    referral_id: UUID
    client_id: ClientId
    outcome: ScreeningOutcome
    redirected_to: RedirectTarget | None = None
    motivation: Motivation


class UrgentNeedAssessed(Event, kw_only=True):
    """An urgent need of help was assessed at once, and what was done."""

    referral_id: UUID
    client_id: ClientId
    actions: Annotated[list[UrgentAction], Meta(min_length=1)]


class SupportNeedTriaged(Event, kw_only=True):
    """The referral was placed on the four-field grid (quadrant codes are policy)."""

    referral_id: UUID
    client_id: ClientId
    quadrant: Code
    special_support_suspected: bool
    required_role: WorkerRole


class ReferralRouted(Event, kw_only=True):
    """The referral was routed to a responsible worker; casefile opens the relationship."""

    referral_id: UUID
    client_id: ClientId
    team: Code
    required_role: WorkerRole
    worker_id: Code
    special_support_suspected: bool
    override_reason: OverrideReason | None = None


class RosterWorkerSet(Event, kw_only=True):
    """A worker was added to intake's roster by command, or their role, team or capacity changed
    (ids, never a name). Intake owns the roster; the other services start from the configured
    one (``POLKU_ROSTER``, which intake seeds from) and apply these: who may act, in which role
    and team."""

    worker_id: Code
    role: WorkerRole
    team: Code
    capacity: Annotated[int, Meta(ge=1)]


class RosterWorkerRemoved(Event, kw_only=True):
    """A worker was taken off the roster: they no longer act in Polku."""

    worker_id: Code


class ReferralClosed(Event, kw_only=True):
    """The referral was closed at intake (answered by service guidance, or not taken on)."""

    referral_id: UUID
    client_id: ClientId
    reason: ReferralClosingReason


class RepeatReferralsFlagged(Event, kw_only=True):
    """Repeated referrals about a client who is never reached or always declines (policy)."""

    referral_id: UUID
    client_id: ClientId
    referrals: Annotated[int, Meta(ge=1)]
    unreached_or_declined: Annotated[int, Meta(ge=0)]


# ------------------------------------------------------------------------------- replies
class Done(msgspec.Struct, frozen=True, kw_only=True):
    """A command carried out: what it was about and the referral's stage now."""

    ok: Literal[True] = True
    referral_id: UUID | None = None
    worker_id: Code | None = None
    stage: str | None = None


class ReferralRoutedReply(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    referral_id: UUID
    worker_id: Code
    team: Code
    required_role: WorkerRole
    special_support_suspected: bool


class ReceiveReferralAccepted(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    referral_id: UUID
    client_id: ClientId


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    event: str
    occurred_at: datetime
    recorded_at: datetime
    worker_id: Code | None = None
    role: WorkerRole | None = None


class ReferralStatusReply(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    referral_id: UUID
    client_id: ClientId
    team: Code
    stage: str
    history: list[HistoryEntry]


class QueueItem(msgspec.Struct, frozen=True, kw_only=True):
    referral_id: UUID
    stage: Literal["unscreened", "urgent", "awaiting_triage", "awaiting_routing"]
    urgent: bool
    received_at: datetime
    waiting_minutes: int


class DistributionQueueReply(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    team: Code
    items: list[QueueItem]


# ------------------------------------------------------------------------------ commands
class Source(ReferralSource, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A referral's source in a command. Unknown fields are refused, as in commands."""


class ReceiveReferral(Command, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.receive_referral``: record a referral or notification.

    ``identity_code`` is the Finnish personal identity code (henkilötunnus), checked with its
    century sign and checksum. It is turned into the pseudonymous ``client_id`` at once.
    """

    #: any worker on the roster; an e-service's referral is signed for the service guidance worker on duty
    roles: ClassVar[frozenset[str]] = frozenset({SERVICE_GUIDANCE, SOCIAL_COUNSELLOR, SOCIAL_WORKER, TEAM_LEAD})
    reply: ClassVar[type] = ReceiveReferralAccepted

    identity_code: Annotated[str, Meta(min_length=11, max_length=11)]
    channel: Channel
    source: Source
    concerns: Annotated[list[ConcernCategory], Meta(min_length=1, max_length=11)]
    urgent: bool = False
    consent: bool = False
    summary: FreeText = ""
    #: how to reach the client (phone, address, a contact person): kept in intake's store only
    contact_details: Annotated[str, Meta(max_length=500)] = ""
    #: the distribution team whose queue it joins; the acting worker's team when left out
    team: Code | None = None


class WorkerCommand(Command, kw_only=True, forbid_unknown_fields=True):
    """A command a worker gives: the acting worker is required (ids only)."""

    actor: ActingWorker


class ScreenReferral(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.screen_referral``: service guidance's screening of a referral."""

    roles: ClassVar[frozenset[str]] = frozenset({SERVICE_GUIDANCE, SOCIAL_WORKER, TEAM_LEAD})  # service guidance or the distribution team
    reply: ClassVar[type] = Done

    referral_id: UUID
    outcome: ScreeningOutcome
    redirected_to: RedirectTarget | None = None
    motivation: Motivation = "not_assessed"

    def __post_init__(self) -> None:
        if self.outcome == "redirected" and self.redirected_to is None:
            raise ValueError("a redirected referral says where to (redirected_to)")
        if self.outcome != "redirected" and self.redirected_to is not None:
            raise ValueError("redirected_to is only for the outcome 'redirected'")


class AssessUrgentNeed(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.assess_urgent_need``: record the urgent assessment and what was done."""

    roles: ClassVar[frozenset[str]] = frozenset({SERVICE_GUIDANCE, SOCIAL_WORKER, TEAM_LEAD})  # service guidance or the urgent team
    reply: ClassVar[type] = Done

    referral_id: UUID
    actions: Annotated[list[UrgentAction], Meta(min_length=1, max_length=7)]


class TriageSupportNeed(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.triage_support_need``: place the referral on the four-field grid.

    ``positions`` gives a value for each axis of the configured grid (see the README)."""

    roles: ClassVar[frozenset[str]] = frozenset({SERVICE_GUIDANCE, SOCIAL_WORKER, TEAM_LEAD})  # service guidance or the distribution team
    reply: ClassVar[type] = Done

    referral_id: UUID
    positions: Annotated[dict[Code, Code], Meta(min_length=1, max_length=4)]


class RouteReferral(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.route_referral``: route to a responsible worker.

    Without ``worker_id`` the roster picks by required role, caseload and absences. With it, a
    team lead overrides the pick and gives ``override_reason``."""

    roles: ClassVar[frozenset[str]] = frozenset({SERVICE_GUIDANCE, SOCIAL_WORKER, TEAM_LEAD})  # the distribution team; a team lead to override
    reply: ClassVar[type] = ReferralRoutedReply

    referral_id: UUID
    worker_id: Code | None = None
    override_reason: OverrideReason | None = None

    def __post_init__(self) -> None:
        if (self.worker_id is None) != (self.override_reason is None):
            raise ValueError("an override names both worker_id and override_reason")


class SetRosterWorker(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.set_roster_worker``: add a worker to the roster, or change one."""

    roles: ClassVar[frozenset[str]] = frozenset({TEAM_LEAD})
    reply: ClassVar[type] = Done

    worker_id: Code
    role: WorkerRole
    team: Code
    capacity: Annotated[int, Meta(ge=1, le=500)]


class RemoveRosterWorker(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.remove_roster_worker``: take a worker off the roster."""

    roles: ClassVar[frozenset[str]] = frozenset({TEAM_LEAD})
    reply: ClassVar[type] = Done

    worker_id: Code


class RecordAbsence(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.record_absence``: a worker is away from ``starts`` to ``ends``."""

    roles: ClassVar[frozenset[str]] = frozenset({TEAM_LEAD})
    reply: ClassVar[type] = Done

    worker_id: Code
    starts: date
    ends: date

    def __post_init__(self) -> None:
        if self.ends < self.starts:
            raise ValueError("an absence ends on or after it starts")


# ------------------------------------------------------------------------------- queries
class ReferralStatusQuery(Query, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.intake.referral_status``: a referral's stage and its history."""

    reply: ClassVar[type] = ReferralStatusReply

    referral_id: UUID


class DistributionQueueQuery(Query, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.intake.distribution_queue``: a team's open referrals, oldest first."""

    reply: ClassVar[type] = DistributionQueueReply

    team: Code


#: Intake's own error codes (besides the generic ones of ``contracts.base``).
ERROR_CODES: dict[str, str] = {
    "invalid_identity_code": "the identity code fails its format, date or checksum",
    "not_found": "the referral (or worker) the command names does not exist",
    "referral_closed": "the referral is closed: it cannot be screened, triaged or routed",
    "already_screened": "the referral has been screened already",
    "not_urgent": "only a referral screened as an urgent need gets an urgent assessment",
    "not_ready_for_triage": "triage comes after screening (service need assessment needed) or an urgent assessment",
    "already_triaged": "the referral has been triaged already",
    "invalid_grid_position": "the positions do not name a value for each axis of the configured grid",
    "routing_before_triage": "a referral is routed only after triage",
    "already_routed": "the referral has been routed already",
    "override_by_team_lead_only": "only a team lead overrides the roster's pick",
    "unknown_worker": "the worker is not on the roster",
    "worker_absent": "the worker is absent on the day of routing",
    "wrong_role_for_referral": "the worker's role is not the one the triage requires (special support: a social worker)",
    "no_worker_available": "nobody on the team's roster with the required role is present",
    "team_needs_social_worker": "the change would leave special-support clients without a social worker",
}

#: The union of every event declared above, and its decoder (casefile reads intake's stream).
IntakeEvent = event_union(__name__)
intake_decoder = msgspec.json.Decoder(IntakeEvent)
