"""Casefile's published language: the events of a client relationship, the commands and queries
casefile serves, their replies and its own error codes.

Every command carries the header ``Polku-Command-Id``: an idempotency key chosen by the caller.
The wording of plans, grounds and notes stays in casefile's store; events carry ids, codes,
counts and dates only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal, Union, get_args
from uuid import UUID

import msgspec
from msgspec import Meta

from contracts.base import SOCIAL_COUNSELLOR, SOCIAL_WORKER, TEAM_LEAD
from contracts.base import (  # Actor and Event: also for whoever maps to casefile's events
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
    ActivationOption,
    DataCategory,
    DisclosureBasisKind,
    DisclosureStatute,
    RecipientAuthority,
    AssessmentConclusion,
    CloseReason,
    ConsentKind,
    DecisionKind,
    DecisionOutcome,
    EndReason,
    Instrument,
    MeetingChannel,
    MeetingKind,
    MeetingOutcome,
    OwnWorkerReason,
    PlanKind,
    RelationshipNature,
    ReopenReason,
    Responsible,
    SupportNeedGround,
    ViewPurpose,
    WorkActivityEndReason,
    WorkerRole,
)


# -------------------------------------------------------------------------------- events
class RelationshipOpened(Event, kw_only=True):
    """A client relationship was opened from a referral."""

    relationship_id: UUID
    client_id: ClientId
    referral_id: UUID
    #: intake's triage suspected special support need (the routed referral's): until the need is
    #: determined, the SHL 42 § rule applies to it
    special_support_suspected: bool = False


class ReferralAttached(Event, kw_only=True):
    """A new referral about a client with an open relationship was attached to it."""

    relationship_id: UUID
    client_id: ClientId
    referral_id: UUID
    #: the attached referral's triage suspected special support need: the suspicion stands until
    #: the need is determined (again)
    special_support_suspected: bool = False


class OwnWorkerNamed(Event, kw_only=True):
    """The client's own worker was named (SHL 42 §), with a work pair when one is needed."""

    relationship_id: UUID
    client_id: ClientId
    worker_id: Code
    role: WorkerRole
    team: Code
    work_pair_id: Code | None = None
    reason: OwnWorkerReason


class SpecialSupportNeedDetermined(Event, kw_only=True):
    """Whether the client has special support need (SHL 3 §), and on what grounds."""

    relationship_id: UUID
    client_id: ClientId
    special_support: bool
    grounds: list[SupportNeedGround] = []


class RelationshipNatureDetermined(Event, kw_only=True):
    """The relationship is temporary, recurring or continuous."""

    relationship_id: UUID
    client_id: ClientId
    nature: RelationshipNature


class AssessmentStarted(Event, kw_only=True):
    """The service need assessment (SHL 36 §) was started."""

    relationship_id: UUID
    client_id: ClientId


class AssessmentCompleted(Event, kw_only=True):
    """The service need assessment was completed with its conclusion."""

    relationship_id: UUID
    client_id: ClientId
    conclusion: AssessmentConclusion
    started_at: Annotated[datetime, Meta(tz=True)]


class PlanUpdated(Event, kw_only=True):
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


class DecisionMade(Event, kw_only=True):
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
    #: granted, partly granted or denied (None: an older event, told by ``granted`` alone)
    outcome: DecisionOutcome | None = None
    #: the decision carries instructions for rectification or appeal (every decision does)
    appeal_instructions_given: bool = False
    #: the client was heard before a negative (denied or partly granted) decision
    client_heard: bool = False


class MeetingScheduled(Event, kw_only=True):
    """A meeting with the client was booked."""

    relationship_id: UUID
    client_id: ClientId
    meeting_id: UUID
    kind: MeetingKind
    channel: MeetingChannel
    scheduled_for: Annotated[datetime, Meta(tz=True)]


class MeetingHeld(Event, kw_only=True):
    """A booked meeting took place."""

    relationship_id: UUID
    client_id: ClientId
    meeting_id: UUID


class MeetingMissed(Event, kw_only=True):
    """The client did not come to a booked meeting (an unused appointment)."""

    relationship_id: UUID
    client_id: ClientId
    meeting_id: UUID


class WorkActivityStarted(Event, kw_only=True):
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


class WorkActivityEnded(Event, kw_only=True):
    """The period of rehabilitative work activity ended."""

    relationship_id: UUID
    client_id: ClientId
    reason: WorkActivityEndReason


class MeasurementRecorded(Event, kw_only=True):
    """An instrument (Kykyviisari, AVAIN...) was scored: item codes and their scores."""

    relationship_id: UUID
    client_id: ClientId
    instrument: Instrument
    scores: dict[Code, int]


class ConsentRecorded(Event, kw_only=True):
    """The client gave a consent."""

    relationship_id: UUID
    client_id: ClientId
    kind: ConsentKind


class ConsentWithdrawn(Event, kw_only=True):
    """The client withdrew a consent given earlier."""

    relationship_id: UUID
    client_id: ClientId
    kind: ConsentKind


class RelationshipEnded(Event, kw_only=True):
    """The client relationship ended; the reason is recorded where it can be counted."""

    relationship_id: UUID
    client_id: ClientId
    reason: EndReason
    #: The hook for followup: when the own worker contacts the client again (Aava: one month).
    check_in_due: date | None = None
    #: Whether a client relationship was formed (seed 000): true once a service need assessment
    #: found a need or a plan was made, and for an end of any other reason than
    #: ``no_service_need`` (contact with a worker keeps a relationship active); false when a
    #: finding of no service need ended it before either, so that no client relationship was
    #: formed: no check-in is due, and it is counted apart from ended relationships. None:
    #: recorded before this was carried (read it as :attr:`relationship_formed` does).
    formed: bool | None = None

    @property
    def relationship_formed(self) -> bool:
        """``formed``, or for an end recorded before it was carried: formed unless the reason is
        ``no_service_need`` (then a finding of no need ended the relationship)."""
        return self.formed if self.formed is not None else self.reason != "no_service_need"


class RelationshipClosed(Event, kw_only=True):
    """An ended relationship was closed for good: nothing more is due on it (seed 003: the
    one-month check-in found no need). Why: the check-in's outcome, no check-in due for the end
    reason, or no client relationship formed."""

    relationship_id: UUID
    client_id: ClientId
    reason: CloseReason


class RelationshipReopened(Event, kw_only=True):
    """An ended relationship was opened again: the client returned."""

    relationship_id: UUID
    client_id: ClientId
    reason: ReopenReason
    #: the return is met anew: the nature is determined again and the old plans are no longer
    #: current (false: a reopening recorded before that rule, which kept them)
    anew: bool = False


# ---------------------------------------------------------- a plan's parts (commands, replies)
#: A short text of a plan (a goal, a measure, a strength). It stays in casefile's store.
PlanText = Annotated[str, Meta(min_length=1, max_length=1000)]
PlanTexts = Annotated[list[PlanText], Meta(max_length=50)]


class PlanMeasure(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A service or measure of a plan, and who is responsible for it."""

    text: PlanText
    responsible: Responsible


# ------------------------------------------------------------------------------- replies
class CasefileAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """A casefile command was carried out: the relationship, its version after the command,
    and the id of what the command created (a meeting, a decision, a plan version)."""

    ok: Literal[True] = True
    relationship_id: UUID
    version: int
    meeting_id: UUID | None = None
    decision_id: UUID | None = None
    plan_version: int | None = None


class PlanView(msgspec.Struct, frozen=True, kw_only=True):
    kind: PlanKind
    version: int
    goals: list[str]
    measures: list[PlanMeasure]
    next_review: date
    valid_until: date | None = None
    client_dissents: bool = False
    options_offered: list[ActivationOption] = []
    chosen_option: ActivationOption | None = None


class WorkActivityView(msgspec.Struct, frozen=True, kw_only=True):
    placement_id: Code
    days_per_week: int
    hours_per_day: float
    starts_on: date
    ends_on: date
    evaluation_on: date


class RelationshipState(msgspec.Struct, frozen=True, kw_only=True):
    """``polku.qry.casefile.relationship``: the relationship as it is now."""

    ok: Literal[True] = True
    relationship_id: UUID
    client_id: ClientId
    status: Literal["open", "ended"]
    version: int
    referral_ids: list[UUID]
    own_worker_id: Code | None = None
    own_worker_role: WorkerRole | None = None
    team: Code | None = None
    work_pair_id: Code | None = None
    special_support: bool | None = None
    #: intake's triage suspected special support need and nobody has determined it yet: the SHL
    #: 42 § rule applies (a social worker as own worker or work pair; care-securing decisions)
    special_support_suspected: bool = False
    nature: RelationshipNature | None = None
    assessment: Literal["not_started", "started", "completed"]
    assessment_conclusion: AssessmentConclusion | None = None
    client_plan_required: bool = False
    plans: list[PlanView] = []
    work_activity: WorkActivityView | None = None
    open_meetings: int = 0
    missed_meetings: int = 0
    decisions: int = 0
    consents: list[ConsentKind] = []
    end_reason: EndReason | None = None
    #: a client relationship was formed: an assessment found a service need or a plan was made
    #: (seed 000); None while the relationship is open without either (prospective); at the end,
    #: false when a finding of no service need ended it before either, else true
    formed: bool | None = None
    #: the day the ended relationship was closed for good (RelationshipClosed), and why
    closed_on: date | None = None
    close_reason: CloseReason | None = None
    #: followup counts the client disappeared since this day (None: reachable, as far as known)
    disappeared_since: date | None = None
    #: followup marked the client recurring (relationships keep starting again, or repeat referrals)
    recurring: bool = False


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One stored event of the relationship: its version, when it was recorded, and the event
    as it is published (who acted, when it happened, codes and counts)."""

    version: int
    recorded_at: datetime
    event: CasefileEventV1


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    """``polku.qry.casefile.timeline``: every event of the relationship, in order."""

    ok: Literal[True] = True
    relationship_id: UUID
    entries: list[TimelineEntry]
    #: events of kinds published since contract v1, left out of ``entries`` (their versions are
    #: the gaps): ``polku.qry.casefile.history`` answers with every event
    omitted: int = 0


class RelationshipHistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One stored event of the relationship, of any kind casefile publishes: its version, when it
    was recorded, and the event as it is published. New kinds of event are added to this list as
    casefile learns them: a reader skips an entry whose ``event`` it does not know."""

    version: int
    recorded_at: datetime
    event: CasefileEvent


class RelationshipHistory(msgspec.Struct, frozen=True, kw_only=True):
    """``polku.qry.casefile.history``: every event of the relationship, in order, of every kind
    (the timeline of v1 carries only v1's kinds)."""

    ok: Literal[True] = True
    relationship_id: UUID
    entries: list[RelationshipHistoryEntry]


class CasefileSummary(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    open: int
    ended: int
    #: open relationships only, by nature: the active clients by nature (an ended relationship
    #: counts in ``by_end_reason``). ``open`` is the sum of these and ``without_nature``.
    by_nature: dict[RelationshipNature, int]
    #: open relationships whose nature is not determined yet
    without_nature: int
    #: ended relationships by end reason; ``ended`` is their sum
    by_end_reason: dict[EndReason, int]
    #: relationships a finding of no service need ended before a client relationship was formed
    #: (seed 000), counted apart: not in ``ended``, ``by_end_reason`` or ``open``
    not_formed: int = 0
    #: of ``ended``, those closed for good (the check-in found no need or could not reach the
    #: client, or none was due)
    closed: int = 0


# ------------------------------------------------------------------------------ commands
class CasefileCommand(Command, kw_only=True, forbid_unknown_fields=True):
    """Base of casefile's commands: one relationship, and the worker acting on it (required)."""

    #: the workers of the relationship (own worker, work pair, team) act on it; service
    #: guidance does not. SHL 46 § decisions: a social worker (the relationship's own rule).
    roles: ClassVar[frozenset[str]] = frozenset({SOCIAL_COUNSELLOR, SOCIAL_WORKER, TEAM_LEAD})

    actor: ActingWorker
    relationship_id: UUID


class NameOwnWorker(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.name_own_worker``: name the own worker (SHL 42 §), with a work pair.

    Workers are named by id from the roster; their role and team come from there. With special
    support need the own worker is a social worker, or a social counsellor whose work pair is one.
    """

    reply: ClassVar[type] = CasefileAccepted

    worker_id: Code
    work_pair_id: Code | None = None
    reason: OwnWorkerReason


class DetermineSpecialSupportNeed(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.determine_special_support_need``: yes or no (SHL 3 §), with grounds."""

    reply: ClassVar[type] = CasefileAccepted

    special_support: bool
    grounds: Annotated[list[SupportNeedGround], Meta(max_length=6)] = []
    #: the worker's reasoning; it stays in casefile's store
    grounds_text: FreeText = ""


class StartAssessment(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.start_assessment``: start the service need assessment (SHL 36 §)."""

    reply: ClassVar[type] = CasefileAccepted


class CompleteAssessment(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.complete_assessment``: conclude it. No need ends the relationship
    as temporary; a need requires a client plan."""

    reply: ClassVar[type] = CasefileAccepted

    conclusion: AssessmentConclusion
    summary: FreeText = ""


class DetermineNature(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.determine_nature``: temporary, recurring or continuous."""

    reply: ClassVar[type] = CasefileAccepted

    nature: RelationshipNature


class UpdatePlan(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.update_plan``: a new version of the client plan (SHL 39 §) or of the
    activation plan (KTTL 8 §; the employment plan at a TYP).

    An activation plan's first version offers at least two options (policy); a later one records
    the chosen option, or that the client refused them all and was told the consequences.
    """

    reply: ClassVar[type] = CasefileAccepted

    kind: PlanKind
    strengths: PlanTexts = []
    support_needed: PlanTexts = []
    goals: PlanTexts = []
    measures: Annotated[list[PlanMeasure], Meta(max_length=50)] = []
    meetings: FreeText = ""
    valid_until: date | None = None
    next_review: date
    client_view: FreeText = ""
    client_dissents: bool = False
    dissent: FreeText = ""
    options_offered: Annotated[list[ActivationOption], Meta(max_length=8)] = []
    chosen_option: ActivationOption | None = None
    all_options_refused: bool = False
    consequences_told: bool = False


class StartWorkActivity(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.start_work_activity``: a period of rehabilitative work activity.

    Bounds are policy (defaults: 3-12 months, 1-5 days a week, at least 4 hours a day).
    """

    reply: ClassVar[type] = CasefileAccepted

    placement_id: Code
    days_per_week: Annotated[int, Meta(ge=1, le=7)]
    hours_per_day: Annotated[float, Meta(gt=0, le=24)]
    starts_on: date
    ends_on: date
    familiarisation_until: date | None = None
    evaluation_on: date
    shop_steward_notified: bool


class EndWorkActivity(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.end_work_activity``: the period ended."""

    reply: ClassVar[type] = CasefileAccepted

    reason: WorkActivityEndReason


class MakeDecision(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.make_decision``: a written decision, granted or denied.

    A denied one carries appeal instructions. A decision securing the care of a client with
    special support need (SHL 46 §) is a social worker's.
    """

    reply: ClassVar[type] = CasefileAccepted

    kind: DecisionKind
    granted: bool
    appeal_instructions_given: bool = False
    secures_care: bool = False
    grounds_text: FreeText = ""
    #: ``partly_granted`` refines ``granted: true``; it agrees with ``granted`` when given
    outcome: DecisionOutcome | None = None
    #: the client was heard before the decision: required for a negative (denied or partly
    #: granted) one
    client_heard: bool = False

    def __post_init__(self) -> None:
        if self.outcome is not None and (self.outcome != "denied") != self.granted:
            raise ValueError("outcome and granted disagree: a granted or partly granted decision has granted true")

    @property
    def decided(self) -> str:
        """The outcome: as given, else told by ``granted``."""
        return self.outcome or ("granted" if self.granted else "denied")


class ScheduleMeeting(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.schedule_meeting``: book a meeting; the reply names it."""

    reply: ClassVar[type] = CasefileAccepted

    kind: MeetingKind
    channel: MeetingChannel
    scheduled_for: Annotated[datetime, Meta(tz=True)]


class RecordMeetingOutcome(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_meeting_outcome``: the meeting was held, or missed."""

    reply: ClassVar[type] = CasefileAccepted

    meeting_id: UUID
    outcome: MeetingOutcome
    notes: FreeText = ""


class RecordMeasurement(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_measurement``: an instrument's scores, by item code."""

    reply: ClassVar[type] = CasefileAccepted

    instrument: Instrument
    scores: Annotated[dict[Code, int], Meta(min_length=1, max_length=64)]


class RecordConsent(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_consent``: a consent given (``given``) or withdrawn."""

    reply: ClassVar[type] = CasefileAccepted

    kind: ConsentKind
    given: bool


class RecordDisclosure(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_disclosure``: client data was disclosed to another authority.

    ``basis`` ``consent``: it rests on a consent in force (``information_exchange`` or
    ``contact_other_authorities``); ``law``: on the provision ``statute`` names. Refused
    ``disclosure_without_basis`` otherwise. Published on the audit stream (ClientDataDisclosed).
    """

    reply: ClassVar[type] = CasefileAccepted

    recipient: RecipientAuthority
    basis: DisclosureBasisKind
    statute: DisclosureStatute | None = None
    categories: Annotated[list[DataCategory], Meta(min_length=1, max_length=9)]

    def __post_init__(self) -> None:
        if self.basis == "law" and self.statute is None:
            raise ValueError("a disclosure resting on law names its statute")
        if self.basis == "consent" and self.statute is not None:
            raise ValueError("a disclosure resting on consent names no statute")
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("each data category once")


class EndRelationship(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.end_relationship``: end it, with the reason that can be counted."""

    reply: ClassVar[type] = CasefileAccepted

    reason: EndReason


class ReopenRelationship(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.reopen_relationship``: the client returned."""

    reply: ClassVar[type] = CasefileAccepted

    reason: ReopenReason


# ------------------------------------------------------------------------------- queries
class RecordQuery(Query, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A read of one client's record. The read is logged (ClientRecordViewed); only the own
    worker, the work pair and the relationship's team may read it."""

    #: one struct, two queries: each query's name and its reply
    replies: ClassVar[dict[str, type]] = {
        "relationship": RelationshipState, "timeline": Timeline, "history": RelationshipHistory,
    }

    relationship_id: UUID
    actor: ActingWorker
    purpose: ViewPurpose


class SummaryQuery(Query, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.casefile.summary``: counts for leaders; no client is named."""

    reply: ClassVar[type] = CasefileSummary


#: Casefile's own error codes (besides the generic ones of ``contracts.base``).
ERROR_CODES: dict[str, str] = {
    "forbidden": "the acting worker is neither the own worker, the work pair nor in the relationship's team (a refused read is logged too)",
    "relationship_not_found": "no relationship has this id",
    "relationship_ended": "the relationship has ended; reopen it first",
    "relationship_not_ended": "the relationship is open; only an ended one can be reopened",
    "client_has_open_relationship": "the client has another open relationship",
    "unknown_own_worker_reason": "the reason for naming the own worker is not a known one",
    "own_worker_must_be_social_worker": "with special support need the own worker is a social worker, or a counsellor with a social worker as work pair (SHL 42 §)",
    "invalid_work_pair": "the work pair is the own worker themself",
    "assessment_already_started": "the service need assessment was started already",
    "assessment_not_started": "the assessment must be started before it is completed",
    "assessment_already_completed": "the service need assessment was completed already",
    "client_plan_required": "a service need was found: make the client plan first",
    "assessment_required": "a client plan follows a completed service need assessment that found a need",
    "situation_not_mapped": "an activation plan follows the mapping of the client's situation: a completed assessment that found a need, or the plan's strengths and support needed",
    "review_date_in_past": "the next review date is before the plan's date",
    "activation_fields_on_client_plan": "options are recorded on an activation or employment plan only",
    "too_few_options": "an activation plan's first meeting offers at least the policy's number of options",
    "option_not_offered": "the chosen option was not offered at an earlier meeting",
    "choice_and_refusal": "a plan records a chosen option or a refusal, not both",
    "consequences_not_told": "a client who refuses every option is told the consequences",
    "activation_plan_required": "rehabilitative work activity needs an activation plan that chose it",
    "work_activity_running": "a period of rehabilitative work activity is running",
    "work_activity_not_running": "no period of rehabilitative work activity is running",
    "work_activity_period_out_of_bounds": "the period is shorter or longer than the policy allows",
    "work_activity_days_out_of_bounds": "the days a week are outside the policy's bounds",
    "work_activity_hours_too_few": "the hours a day are fewer than the policy's minimum",
    "familiarisation_too_long": "the familiarisation period is longer than the policy allows, or outside the period",
    "familiarisation_not_before_start": "the familiarisation period ends before the period of rehabilitative work activity starts",
    "no_decision_in_force": "a period of rehabilitative work activity (and a familiarisation period) starts only by a granted decision of its kind in force",
    "evaluation_outside_period": "the evaluation date is outside the period",
    "shop_steward_not_notified": "the chief shop steward is notified of the placement first",
    "appeal_instructions_missing": "every decision, granted or not, carries instructions for rectification or appeal",
    "client_not_heard": "the client is heard before a negative (denied or partly granted) decision",
    "decision_requires_social_worker": "a decision securing the care of a client with special support need is a social worker's (SHL 46 §)",
    "meeting_not_found": "the relationship has no meeting with this id",
    "disclosure_without_basis": "a disclosure rests on a consent in force (information exchange, contacting other authorities) or on a provision of law",
    "meeting_already_recorded": "the meeting's outcome was recorded already",
    "consent_not_given": "a consent that was not given cannot be withdrawn",
}

#: The union of every event declared above, and its decoder (reporting reads casefile's stream;
#: a RelationshipHistory's entries carry these events).
CasefileEvent = event_union(__name__)
#: The events of contract v1, the kinds a Timeline carries. Frozen: v1's readers validate a
#: Timeline against v1's list, so an event added since is read through ``history``.
CasefileEventV1 = Union[  # noqa: UP007
    RelationshipOpened, ReferralAttached, OwnWorkerNamed, SpecialSupportNeedDetermined,
    RelationshipNatureDetermined, AssessmentStarted, AssessmentCompleted, PlanUpdated, DecisionMade,
    MeetingScheduled, MeetingHeld, MeetingMissed, WorkActivityStarted, WorkActivityEnded,
    MeasurementRecorded, ConsentRecorded, ConsentWithdrawn, RelationshipEnded, RelationshipReopened,
]
V1_EVENTS: frozenset[type] = frozenset(get_args(CasefileEventV1))
casefile_decoder = msgspec.json.Decoder(CasefileEvent)
