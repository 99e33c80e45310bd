"""Commands, queries and their replies (request/reply over NATS, JSON bodies).

Every command carries the header ``Polku-Command-Id``: an idempotency key chosen by the caller.
A retried command returns the first answer and stores nothing new.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from contracts.events import Actor, CasefileEvent, ClientId, Code, ReferralSource
from contracts.vocabulary import (
    ActivationOption,
    AssessmentConclusion,
    Channel,
    ConcernCategory,
    ConsentKind,
    DecisionKind,
    EndReason,
    Instrument,
    MeetingChannel,
    MeetingKind,
    MeetingOutcome,
    Motivation,
    OverrideReason,
    OwnWorkerReason,
    PlanKind,
    RedirectTarget,
    RelationshipNature,
    ReopenReason,
    Responsible,
    ScreeningOutcome,
    SupportNeedGround,
    UrgentAction,
    ViewPurpose,
    WorkActivityEndReason,
    WorkerRole,
)

COMMAND_ID_HEADER = "Polku-Command-Id"

#: Free text is bounded; it stays in intake's protected store and never travels in an event.
FreeText = Annotated[str, Meta(max_length=4000)]


class ActingWorker(Actor, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The worker acting on a command (ids only). Unknown fields are refused, as in commands."""


class Source(ReferralSource, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A referral's source in a command. Unknown fields are refused, as in commands."""


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of commands. Unknown fields are refused: a typo must not be silently dropped,
    in nested objects either. (Events are the other way round: readers ignore what they do
    not know, so that producers can add fields.)"""

    actor: ActingWorker | None = None
    #: Business time, with its UTC offset; the clock's time when left out.
    occurred_at: Annotated[datetime, Meta(tz=True)] | None = None


class ReceiveReferral(Command, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.receive_referral``: record a referral or notification.

    ``identity_code`` is the Finnish personal identity code (henkilötunnus), checked with its
    century sign and checksum. It is turned into the pseudonymous ``client_id`` at once.
    """

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

    referral_id: UUID
    actions: Annotated[list[UrgentAction], Meta(min_length=1, max_length=7)]


class TriageSupportNeed(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.triage_support_need``: place the referral on the four-field grid.

    ``positions`` gives a value for each axis of the configured grid (see the README)."""

    referral_id: UUID
    positions: Annotated[dict[Code, Code], Meta(min_length=1, max_length=4)]


class RouteReferral(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.route_referral``: route to a responsible worker.

    Without ``worker_id`` the roster picks by required role, caseload and absences. With it, a
    team lead overrides the pick and gives ``override_reason``."""

    referral_id: UUID
    worker_id: Code | None = None
    override_reason: OverrideReason | None = None

    def __post_init__(self) -> None:
        if (self.worker_id is None) != (self.override_reason is None):
            raise ValueError("an override names both worker_id and override_reason")


class SetRosterWorker(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.set_roster_worker``: add a worker to the roster, or change one."""

    worker_id: Code
    role: WorkerRole
    team: Code
    capacity: Annotated[int, Meta(ge=1, le=500)]


class RemoveRosterWorker(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.remove_roster_worker``: take a worker off the roster."""

    worker_id: Code


class RecordAbsence(WorkerCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.intake.record_absence``: a worker is away from ``starts`` to ``ends``."""

    worker_id: Code
    starts: date
    ends: date

    def __post_init__(self) -> None:
        if self.ends < self.starts:
            raise ValueError("an absence ends on or after it starts")


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


class ReferralStatusQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.intake.referral_status``: a referral's stage and its history."""

    referral_id: UUID


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


class DistributionQueueQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.intake.distribution_queue``: a team's open referrals, oldest first."""

    team: Code


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


class ReceiveReferralAccepted(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    referral_id: UUID
    client_id: ClientId


class Error(msgspec.Struct, frozen=True, kw_only=True):
    """A stable ``code`` to branch on, a ``message`` for people, the offending ``field`` path."""

    code: str
    message: str
    field: str | None = None


class Refused(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[False] = False
    error: Error


class OpenRelationshipsQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.reporting.open_relationships``: open relationships per own worker."""

    team: Code | None = None


class WorkerCaseload(msgspec.Struct, frozen=True, kw_only=True):
    worker_id: Code
    role: WorkerRole | None
    team: Code | None
    open_relationships: int


class OpenRelationshipsReply(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    total: int
    without_own_worker: int
    workers: list[WorkerCaseload]
    position: int


# ------------------------------------------------------------------------------ casefile
#: A short text of a plan (a goal, a measure, a strength). It stays in casefile's store.
PlanText = Annotated[str, Meta(min_length=1, max_length=1000)]
PlanTexts = Annotated[list[PlanText], Meta(max_length=50)]


class CasefileCommand(Command, kw_only=True, forbid_unknown_fields=True):
    """Base of casefile's commands: one relationship, and the worker acting on it (required)."""

    actor: ActingWorker
    relationship_id: UUID


class NameOwnWorker(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.name_own_worker``: name the own worker (SHL 42 §), with a work pair.

    Workers are named by id from the roster; their role and team come from there. With special
    support need the own worker is a social worker, or a social counsellor whose work pair is one.
    """

    worker_id: Code
    work_pair_id: Code | None = None
    reason: OwnWorkerReason


class DetermineSpecialSupportNeed(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.determine_special_support_need``: yes or no (SHL 3 §), with grounds."""

    special_support: bool
    grounds: Annotated[list[SupportNeedGround], Meta(max_length=6)] = []
    #: the worker's reasoning; it stays in casefile's store
    grounds_text: FreeText = ""


class StartAssessment(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.start_assessment``: start the service need assessment (SHL 36 §)."""


class CompleteAssessment(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.complete_assessment``: conclude it. No need ends the relationship
    as temporary; a need requires a client plan."""

    conclusion: AssessmentConclusion
    summary: FreeText = ""


class DetermineNature(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.determine_nature``: temporary, recurring or continuous."""

    nature: RelationshipNature


class PlanMeasure(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A service or measure of a plan, and who is responsible for it."""

    text: PlanText
    responsible: Responsible


class UpdatePlan(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.update_plan``: a new version of the client plan (SHL 39 §) or of the
    activation plan (KTTL 8 §; the employment plan at a TYP).

    An activation plan's first version offers at least two options (policy); a later one records
    the chosen option, or that the client refused them all and was told the consequences.
    """

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

    reason: WorkActivityEndReason


class MakeDecision(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.make_decision``: a written decision, granted or denied.

    A denied one carries appeal instructions. A decision securing the care of a client with
    special support need (SHL 46 §) is a social worker's.
    """

    kind: DecisionKind
    granted: bool
    appeal_instructions_given: bool = False
    secures_care: bool = False
    grounds_text: FreeText = ""


class ScheduleMeeting(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.schedule_meeting``: book a meeting; the reply names it."""

    kind: MeetingKind
    channel: MeetingChannel
    scheduled_for: Annotated[datetime, Meta(tz=True)]


class RecordMeetingOutcome(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_meeting_outcome``: the meeting was held, or missed."""

    meeting_id: UUID
    outcome: MeetingOutcome
    notes: FreeText = ""


class RecordMeasurement(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_measurement``: an instrument's scores, by item code."""

    instrument: Instrument
    scores: Annotated[dict[Code, int], Meta(min_length=1, max_length=64)]


class RecordConsent(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_consent``: a consent given (``given``) or withdrawn."""

    kind: ConsentKind
    given: bool


class EndRelationship(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.end_relationship``: end it, with the reason that can be counted."""

    reason: EndReason


class ReopenRelationship(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.reopen_relationship``: the client returned."""

    reason: ReopenReason


class CasefileAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """A casefile command was carried out: the relationship, its version after the command,
    and the id of what the command created (a meeting, a decision, a plan version)."""

    ok: Literal[True] = True
    relationship_id: UUID
    version: int
    meeting_id: UUID | None = None
    decision_id: UUID | None = None
    plan_version: int | None = None


class RecordQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A read of one client's record. The read is logged (ClientRecordViewed); only the own
    worker, the work pair and the relationship's team may read it."""

    relationship_id: UUID
    actor: ActingWorker
    purpose: ViewPurpose


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


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One stored event of the relationship: its version, when it was recorded, and the event
    as it is published (who acted, when it happened, codes and counts)."""

    version: int
    recorded_at: datetime
    event: CasefileEvent


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    """``polku.qry.casefile.timeline``: every event of the relationship, in order."""

    ok: Literal[True] = True
    relationship_id: UUID
    entries: list[TimelineEntry]


class SummaryQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.casefile.summary``: counts for leaders; no client is named."""


class CasefileSummary(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    open: int
    ended: int
    by_nature: dict[RelationshipNature, int]
    without_nature: int
    by_end_reason: dict[EndReason, int]


#: Error codes: stable, documented, one per way input can be wrong.
ERROR_CODES: dict[str, str] = {
    "malformed_json": "the body is not a JSON object",
    "missing_field": "a required field is missing",
    "wrong_type": "a field has the wrong JSON type",
    "unknown_value": "a field's value is not in its closed vocabulary",
    "invalid_value": "a field's value breaks its rule (length, range, format, combination)",
    "unknown_field": "the body has a field the command does not know",
    "invalid_identity_code": "the identity code fails its format, date or checksum",
    "missing_command_id": "the Polku-Command-Id header is missing or not 1-128 visible characters",
    "command_id_reused": "the Polku-Command-Id was used before for a different command",
    "unavailable": "the service could not store the command now; retry with the same command id",
    "rule_broken": "the command breaks a rule of the domain; the message says which",
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
    "evaluation_outside_period": "the evaluation date is outside the period",
    "shop_steward_not_notified": "the chief shop steward is notified of the placement first",
    "appeal_instructions_missing": "a denied decision carries appeal instructions",
    "decision_requires_social_worker": "a decision securing the care of a client with special support need is a social worker's (SHL 46 §)",
    "meeting_not_found": "the relationship has no meeting with this id",
    "meeting_already_recorded": "the meeting's outcome was recorded already",
    "consent_not_given": "a consent that was not given cannot be withdrawn",
}
