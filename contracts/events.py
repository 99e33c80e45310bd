"""Events on the wire: facts in the past tense, one subject each.

Rules for evolving them: add fields with defaults; never change a field's type or meaning; a
breaking change is a new event name. Readers ignore fields they do not know (msgspec does).
No event carries an identity code, a name or free text about a client: a client is the
pseudonymous ``client_id`` everywhere outside intake's protected store.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Union
from uuid import UUID

import msgspec
from msgspec import Meta

from contracts.vocabulary import (
    ActivationOption,
    AssessmentConclusion,
    AuthorityKind,
    Channel,
    ConcernCategory,
    ConsentKind,
    DecisionKind,
    DisappearanceDetection,
    EndReason,
    Instrument,
    MeetingChannel,
    MeetingKind,
    Motivation,
    OverrideReason,
    OwnWorkerReason,
    PlanKind,
    RecordPart,
    RedirectTarget,
    ReferralClosingReason,
    RelationshipNature,
    ReopenReason,
    ScreeningOutcome,
    SourceKind,
    SupportNeedGround,
    UrgentAction,
    ViewPurpose,
    WorkActivityEndReason,
    WorkerRole,
)

#: A pseudonymous id: a worker's or a team's code, never a name.
Code = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
#: A client's pseudonymous id: a keyed hash of the identity code, hex.
ClientId = Annotated[str, Meta(pattern=r"^[0-9a-f]{32}$")]


class Actor(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Who did it: a worker's id, role and team. Ids only, never a name."""

    worker_id: Code
    role: WorkerRole
    team: Code


class ReferralSource(msgspec.Struct, frozen=True, kw_only=True):
    """Where the matter came from; ``authority`` is set when ``kind`` is ``authority``."""

    kind: SourceKind
    authority: AuthorityKind | None = None

    def __post_init__(self) -> None:
        if self.kind == "authority" and self.authority is None:
            raise ValueError("an authority's referral names the authority (source.authority)")
        if self.kind != "authority" and self.authority is not None:
            raise ValueError("source.authority is only for source.kind 'authority'")


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="event"):
    """The base of every event: its id, its business time and who acted (None: the system)."""

    event_id: UUID
    occurred_at: Annotated[datetime, Meta(tz=True)]
    actor: Actor | None = None


# ---------------------------------------------------------------- intake
class ReferralReceived(Event, tag="ReferralReceived", kw_only=True):
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


class ReferralScreened(Event, tag="ReferralScreened", kw_only=True):
    """Service guidance screened the referral: the outcome and the client's motivation."""

    referral_id: UUID
    client_id: ClientId
    outcome: ScreeningOutcome
    redirected_to: RedirectTarget | None = None
    motivation: Motivation


class UrgentNeedAssessed(Event, tag="UrgentNeedAssessed", kw_only=True):
    """An urgent need of help was assessed at once, and what was done."""

    referral_id: UUID
    client_id: ClientId
    actions: Annotated[list[UrgentAction], Meta(min_length=1)]


class SupportNeedTriaged(Event, tag="SupportNeedTriaged", kw_only=True):
    """The referral was placed on the four-field grid (quadrant codes are policy)."""

    referral_id: UUID
    client_id: ClientId
    quadrant: Code
    special_support_suspected: bool
    required_role: WorkerRole


class ReferralRouted(Event, tag="ReferralRouted", kw_only=True):
    """The referral was routed to a responsible worker; casefile opens the relationship."""

    referral_id: UUID
    client_id: ClientId
    team: Code
    required_role: WorkerRole
    worker_id: Code
    special_support_suspected: bool
    override_reason: OverrideReason | None = None


class ReferralClosed(Event, tag="ReferralClosed", kw_only=True):
    """The referral was closed at intake (answered by service guidance, or not taken on)."""

    referral_id: UUID
    client_id: ClientId
    reason: ReferralClosingReason


class RepeatReferralsFlagged(Event, tag="RepeatReferralsFlagged", kw_only=True):
    """Repeated referrals about a client who is never reached or always declines (policy)."""

    referral_id: UUID
    client_id: ClientId
    referrals: Annotated[int, Meta(ge=1)]
    unreached_or_declined: Annotated[int, Meta(ge=0)]


# -------------------------------------------------------------- casefile
class RelationshipOpened(Event, tag="RelationshipOpened", kw_only=True):
    """A client relationship was opened from a referral."""

    relationship_id: UUID
    client_id: ClientId
    referral_id: UUID


class OwnWorkerNamed(Event, tag="OwnWorkerNamed", kw_only=True):
    """The client's own worker was named (SHL 42 §), with a work pair when one is needed."""

    relationship_id: UUID
    client_id: ClientId
    worker_id: Code
    role: WorkerRole
    team: Code
    work_pair_id: Code | None = None
    reason: OwnWorkerReason


class PlanUpdated(Event, tag="PlanUpdated", kw_only=True):
    """A client plan (SHL 39 §) or an activation plan (KTTL 8 §) got a new version.

    Goals and measures travel as codes and counts here; their wording stays in casefile.
    """

    relationship_id: UUID
    client_id: ClientId
    kind: PlanKind
    version: Annotated[int, Meta(ge=1)]
    goal_count: Annotated[int, Meta(ge=0)]
    measure_count: Annotated[int, Meta(ge=0)]
    options_offered: Annotated[int, Meta(ge=0)] = 0
    option_chosen: bool = False
    client_dissents: bool = False
    next_review: date
    #: the options offered, as codes (an activation plan); their wording stays in casefile
    offered: list[ActivationOption] = []
    chosen_option: ActivationOption | None = None
    #: the client refused every option offered, and was told the consequences
    all_options_refused: bool = False
    consequences_told: bool = False
    strength_count: Annotated[int, Meta(ge=0)] = 0
    valid_until: date | None = None


class ClientDisappeared(Event, tag="ClientDisappeared", kw_only=True):
    """The client could not be reached through the familiar channels."""

    relationship_id: UUID
    client_id: ClientId
    detected_by: DisappearanceDetection
    last_contact: date | None = None


class RelationshipEnded(Event, tag="RelationshipEnded", kw_only=True):
    """The client relationship ended; the reason is recorded where it can be counted."""

    relationship_id: UUID
    client_id: ClientId
    reason: EndReason
    #: The hook for followup: when the own worker contacts the client again (Aava: one month).
    check_in_due: date | None = None


class ReferralAttached(Event, tag="ReferralAttached", kw_only=True):
    """A new referral about a client with an open relationship was attached to it."""

    relationship_id: UUID
    client_id: ClientId
    referral_id: UUID


class SpecialSupportNeedDetermined(Event, tag="SpecialSupportNeedDetermined", kw_only=True):
    """Whether the client has special support need (SHL 3 §), and on what grounds."""

    relationship_id: UUID
    client_id: ClientId
    special_support: bool
    grounds: list[SupportNeedGround] = []


class RelationshipNatureDetermined(Event, tag="RelationshipNatureDetermined", kw_only=True):
    """The relationship is temporary, recurring or continuous."""

    relationship_id: UUID
    client_id: ClientId
    nature: RelationshipNature


class AssessmentStarted(Event, tag="AssessmentStarted", kw_only=True):
    """The service need assessment (SHL 36 §) was started."""

    relationship_id: UUID
    client_id: ClientId


class AssessmentCompleted(Event, tag="AssessmentCompleted", kw_only=True):
    """The service need assessment was completed with its conclusion."""

    relationship_id: UUID
    client_id: ClientId
    conclusion: AssessmentConclusion
    started_at: Annotated[datetime, Meta(tz=True)]


class DecisionMade(Event, tag="DecisionMade", kw_only=True):
    """A written decision: granted or denied; a denied one carries appeal instructions."""

    relationship_id: UUID
    client_id: ClientId
    decision_id: UUID
    kind: DecisionKind
    granted: bool
    appealable: bool
    #: secures the care of a client with special support need (SHL 46 §)
    secures_care: bool = False
    maker_role: WorkerRole


class MeetingScheduled(Event, tag="MeetingScheduled", kw_only=True):
    """A meeting with the client was booked."""

    relationship_id: UUID
    client_id: ClientId
    meeting_id: UUID
    kind: MeetingKind
    channel: MeetingChannel
    scheduled_for: Annotated[datetime, Meta(tz=True)]


class MeetingHeld(Event, tag="MeetingHeld", kw_only=True):
    """A booked meeting took place."""

    relationship_id: UUID
    client_id: ClientId
    meeting_id: UUID


class MeetingMissed(Event, tag="MeetingMissed", kw_only=True):
    """The client did not come to a booked meeting (an unused appointment)."""

    relationship_id: UUID
    client_id: ClientId
    meeting_id: UUID


class WorkActivityStarted(Event, tag="WorkActivityStarted", kw_only=True):
    """A period of rehabilitative work activity (KTTL) starts at a placement."""

    relationship_id: UUID
    client_id: ClientId
    placement_id: Code
    days_per_week: Annotated[int, Meta(ge=1, le=7)]
    hours_per_day: Annotated[float, Meta(gt=0, le=24)]
    starts_on: date
    ends_on: date
    familiarisation_until: date | None = None
    evaluation_on: date
    shop_steward_notified: bool


class WorkActivityEnded(Event, tag="WorkActivityEnded", kw_only=True):
    """The period of rehabilitative work activity ended."""

    relationship_id: UUID
    client_id: ClientId
    reason: WorkActivityEndReason


class MeasurementRecorded(Event, tag="MeasurementRecorded", kw_only=True):
    """An instrument (Kykyviisari, AVAIN...) was scored: item codes and their scores."""

    relationship_id: UUID
    client_id: ClientId
    instrument: Instrument
    scores: dict[Code, int]


class ConsentRecorded(Event, tag="ConsentRecorded", kw_only=True):
    """The client gave a consent."""

    relationship_id: UUID
    client_id: ClientId
    kind: ConsentKind


class ConsentWithdrawn(Event, tag="ConsentWithdrawn", kw_only=True):
    """The client withdrew a consent given earlier."""

    relationship_id: UUID
    client_id: ClientId
    kind: ConsentKind


class RelationshipReopened(Event, tag="RelationshipReopened", kw_only=True):
    """An ended relationship was opened again: the client returned."""

    relationship_id: UUID
    client_id: ClientId
    reason: ReopenReason


# ------------------------------------------------------------------ audit
class ClientRecordViewed(Event, tag="ClientRecordViewed", kw_only=True):
    """A worker read (or was refused) a client's record: the usage log of the Client Data Act.

    ``actor`` is the worker; ``granted`` is false when the worker had no access.
    """

    actor: Actor
    relationship_id: UUID
    client_id: ClientId
    part: RecordPart
    purpose: ViewPurpose
    granted: bool


IntakeEvent = Union[
    ReferralReceived,
    ReferralScreened,
    UrgentNeedAssessed,
    SupportNeedTriaged,
    ReferralRouted,
    ReferralClosed,
    RepeatReferralsFlagged,
]
CasefileEvent = Union[
    RelationshipOpened,
    ReferralAttached,
    OwnWorkerNamed,
    SpecialSupportNeedDetermined,
    RelationshipNatureDetermined,
    AssessmentStarted,
    AssessmentCompleted,
    PlanUpdated,
    DecisionMade,
    MeetingScheduled,
    MeetingHeld,
    MeetingMissed,
    WorkActivityStarted,
    WorkActivityEnded,
    MeasurementRecorded,
    ConsentRecorded,
    ConsentWithdrawn,
    RelationshipEnded,
    RelationshipReopened,
]
FollowupEvent = ClientDisappeared
AuditEvent = ClientRecordViewed

intake_decoder = msgspec.json.Decoder(IntakeEvent)
casefile_decoder = msgspec.json.Decoder(CasefileEvent)
followup_decoder = msgspec.json.Decoder(FollowupEvent)
audit_decoder = msgspec.json.Decoder(AuditEvent)

encoder = msgspec.json.Encoder()
