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
    AbsenceReason,
    ActivationOption,
    DataCategory,
    DisclosureBasisKind,
    DisclosureStatute,
    EarlierPlansOutcome,
    EducationLevel,
    FurtherActivationOption,
    HealthCareProfession,
    PlanParticipant,
    RecipientAuthority,
    AssessmentConclusion,
    ClientInformedOf,
    CloseReason,
    ConsentKind,
    ConsultationTopic,
    ConsultedProfession,
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
    WorkHistory,
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
    #: a health-care professional as the work pair (seed 001), instead of a worker of the roster:
    #: their code (not a roster worker's id; they do not act in Polku) and their profession
    health_care_pair_id: Code | None = None
    health_care_pair_profession: HealthCareProfession | None = None


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
    #: a family member (läheinen) takes part in it, by the client's ``family_participation``
    #: consent in force (seed 000)
    family_participates: bool = False


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
    #: options offered of the kinds added since v1 (``options_offered`` counts them too), and the
    #: chosen one when it is of those (``option_chosen`` is true then, ``chosen_option`` null)
    further_offered: list[FurtherActivationOption] = []
    further_chosen_option: FurtherActivationOption | None = None
    #: what an activation plan records of the client (KTTL 8 §), as this version records it (null
    #: or empty: not recorded in this version; an earlier version's record stands): education,
    #: work history, how earlier plans went, who took part besides the social services' worker,
    #: and when the client was notified of the plan. Their wording stays in casefile.
    education: EducationLevel | None = None
    work_history: WorkHistory | None = None
    earlier_plans: EarlierPlansOutcome | None = None
    participants: list[PlanParticipant] = []
    client_notified_on: date | None = None


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


class RelationshipDecisionMade(Event, kw_only=True):
    """A written decision on the client relationship itself: it begins (granted, or partly
    granted), or it is refused (denied). Seed 000: the decision on the relationship is almost
    always made (not for a temporary relationship of advice and guidance). The rules of
    DecisionMade hold: appeal instructions always, the client heard before a negative one, a
    social worker's when it secures the care of a client with special support need (SHL 46 §)."""

    relationship_id: UUID
    client_id: ClientId
    decision_id: UUID
    outcome: DecisionOutcome
    appealable: bool
    secures_care: bool = False
    maker_role: WorkerRole
    appeal_instructions_given: bool = True
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
    #: what the client was told at it (seed 003: rights, obligations, options, benefits; seed
    #: 001: who the own worker is)
    client_informed_of: list[ClientInformedOf] = []


class MeetingMissed(Event, kw_only=True):
    """The client did not come to a booked meeting (an unused appointment)."""

    relationship_id: UUID
    client_id: ClientId
    meeting_id: UUID


class ConsultationRecorded(Event, kw_only=True):
    """A worker consulted a social worker or another professional on the relationship (seed 002):
    whom (a worker on the roster, with their role; or someone outside it, by profession) and on
    what topic. What was discussed stays in casefile."""

    relationship_id: UUID
    client_id: ClientId
    consultation_id: UUID
    topic: ConsultationTopic
    consultant_id: Code | None = None
    consultant_role: WorkerRole | None = None
    profession: ConsultedProfession | None = None


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
    #: the work activity instructor (*vastaava ohjaaja*) responsible for the client at the
    #: placement (seed 003), by worker code; None: not named
    instructor: Code | None = None


class WorkActivityAttended(Event, kw_only=True):
    """The client attended a day of rehabilitative work activity: a realised day (KTTL)."""

    relationship_id: UUID
    client_id: ClientId
    placement_id: Code
    day: date
    #: who reported the day (the work activity instructor, by worker code); None: not named
    reported_by: Code | None = None


class WorkActivityAbsent(Event, kw_only=True):
    """The client was absent on a day of rehabilitative work activity; followup has the worker
    contact the client (seed 003: contact during absences, as early as possible)."""

    relationship_id: UUID
    client_id: ClientId
    placement_id: Code
    day: date
    reason: AbsenceReason
    reported_by: Code | None = None


class FamiliarisationVisitMade(Event, kw_only=True):
    """The client visited the place of an option offered in the activation plan (a
    familiarisation visit, *tutustumiskäynti*, seed 003)."""

    relationship_id: UUID
    client_id: ClientId
    option: ActivationOption
    visited_on: date


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
    #: found a need, a plan was made or the decision that it begins was made, and for an end of any other reason than
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
    further_options_offered: list[FurtherActivationOption] = []
    further_chosen_option: FurtherActivationOption | None = None
    #: an activation plan's record of the client (KTTL 8 §), as this version leaves it: what it
    #: recorded, else what the plan's earlier versions did
    education: EducationLevel | None = None
    education_text: str = ""
    work_history: WorkHistory | None = None
    work_history_text: str = ""
    earlier_plans: EarlierPlansOutcome | None = None
    earlier_plans_text: str = ""
    participants: list[PlanParticipant] = []
    client_notified_on: date | None = None


class WorkActivityView(msgspec.Struct, frozen=True, kw_only=True):
    placement_id: Code
    days_per_week: int
    hours_per_day: float
    starts_on: date
    ends_on: date
    evaluation_on: date
    #: the work activity instructor (*vastaava ohjaaja*) at the placement, when named
    instructor: Code | None = None


class FamiliarisationVisitView(msgspec.Struct, frozen=True, kw_only=True):
    """A familiarisation visit made: to which option's place, and on which day."""

    option: ActivationOption
    visited_on: date


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
    #: a health-care professional as the work pair (their code and profession), instead of a
    #: worker of the roster
    health_care_pair_id: Code | None = None
    health_care_pair_profession: HealthCareProfession | None = None
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
    #: the decision on the client relationship itself, its latest outcome since the relationship
    #: (re)opened (None: none made; seed 000 makes none for advice and guidance)
    relationship_decision: DecisionOutcome | None = None
    #: what the client was told at held meetings; ``own_worker`` only while the worker they were
    #: told of is the own worker still
    client_informed_of: list[ClientInformedOf] = []
    #: once a first meeting was held: what the client has not been told yet (seed 003: the own
    #: worker tells it, at one meeting or more)
    client_not_yet_informed_of: list[ClientInformedOf] = []
    #: consultations recorded on the relationship (seed 002)
    consultations: int = 0
    #: a family member takes part in the assessment (by the client's consent in force)
    assessment_family_participates: bool = False
    consents: list[ConsentKind] = []
    end_reason: EndReason | None = None
    #: a client relationship was formed: an assessment found a service need, a plan was made or
    #: the decision that it begins was made (seed 000); None while the relationship is open
    #: without any (prospective); at the end, false when a finding of no service need ended it
    #: before any, else true
    formed: bool | None = None
    #: the day the ended relationship was closed for good (RelationshipClosed), and why
    closed_on: date | None = None
    close_reason: CloseReason | None = None
    #: followup counts the client disappeared since this day (None: reachable, as far as known)
    disappeared_since: date | None = None
    #: followup marked the client recurring (relationships keep starting again, or repeat referrals)
    recurring: bool = False
    #: the familiarisation visits made to the places of options offered, oldest first
    familiarisation_visits: list[FamiliarisationVisitView] = []


#: the most events a page of a timeline or history holds (``RecordQuery.limit``), and the most
#: bytes of entries it holds, well under NATS's default 1 MB payload limit
PAGE_LIMIT_MAX = 500
PAGE_BYTES_MAX = 512 * 1024


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
    #: more events follow: ask again with ``after_version`` set to this (None: this is the last page)
    next_after_version: int | None = None


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
    #: more events follow: ask again with ``after_version`` set to this (None: this is the last page)
    next_after_version: int | None = None


class WorkActivityMonth(msgspec.Struct, frozen=True, kw_only=True):
    """``polku.qry.casefile.work_activity_month``: a month of rehabilitative work activity: the
    realised days, the absences, and the activity allowance and travel compensation due for it.

    KTTL (as seed 003 cites it): €9 a realised day, by a granted ``activity_allowance`` decision;
    travel compensation by a granted ``travel_compensation`` decision. A day counts for a benefit
    when a granted decision of its kind was in force on it. The amounts a day are policy
    (``POLKU_ACTIVITY_ALLOWANCE_CENTS``, ``POLKU_TRAVEL_COMPENSATION_CENTS``); money in cents."""

    ok: Literal[True] = True
    relationship_id: UUID
    #: the month, ``YYYY-MM``
    month: str
    realised_days: int
    absences: int
    absences_by_reason: dict[AbsenceReason, int] = {}
    #: realised days with a granted activity allowance decision in force, and the allowance due
    allowance_days: int = 0
    activity_allowance_cents: int = 0
    #: realised days with a granted travel compensation decision in force, and the compensation due
    travel_days: int = 0
    travel_compensation_cents: int = 0


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
    #: a health-care professional as the work pair instead (seed 001: when the need of support
    #: is wider than social welfare): their code and profession, both or neither. They are not on
    #: the roster and do not act in Polku; they do not count as the social worker SHL 42 § needs.
    health_care_pair_id: Code | None = None
    health_care_pair_profession: HealthCareProfession | None = None

    def __post_init__(self) -> None:
        if (self.health_care_pair_id is None) != (self.health_care_pair_profession is None):
            raise ValueError("a health-care work pair names both their code and their profession")
        if self.health_care_pair_id is not None and self.work_pair_id is not None:
            raise ValueError("one work pair: a worker of the roster (work_pair_id) or a health-care professional")


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

    #: a family member takes part (seed 000: with the client's consent); refused
    #: ``consent_required`` without a ``family_participation`` consent in force
    family_participates: bool = False


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
    #: options of the kinds added since v1 (work coaching, substance-abuse rehabilitation, social
    #: rehabilitation, the TYP): they count toward the minimum number of options, and one of them
    #: offered earlier may be the chosen option (then ``chosen_option`` is left out)
    further_options_offered: Annotated[list[FurtherActivationOption], Meta(max_length=4)] = []
    further_chosen_option: FurtherActivationOption | None = None
    #: KTTL 8 §: an activation (employment) plan records the client's education, work history and
    #: how earlier plans went, made with the client and employment services (``participants``;
    #: the social services' worker is the acting one). The plan's first version since the
    #: relationship (re)opened records them all; a later one may update them. Codes here; the
    #: wording in the ``*_text`` fields stays in casefile's store.
    education: EducationLevel | None = None
    education_text: FreeText = ""
    work_history: WorkHistory | None = None
    work_history_text: FreeText = ""
    earlier_plans: EarlierPlansOutcome | None = None
    earlier_plans_text: FreeText = ""
    participants: Annotated[list[PlanParticipant], Meta(max_length=6)] = []
    #: when the client was notified of the activation plan (the Aava model: orally or by a written
    #: notice, before the plan is made): on or before the plan's date
    client_notified_on: date | None = None

    def __post_init__(self) -> None:
        if self.chosen_option is not None and self.further_chosen_option is not None:
            raise ValueError("one chosen option: chosen_option or further_chosen_option")


class RecordFamiliarisationVisit(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_familiarisation_visit``: the client visited the place of an
    option the activation plan offered (a familiarisation visit, *tutustumiskäynti*, seed 003).

    Seed 003 makes the visit possible, not required, before the client chooses: the choice does
    not wait for it.
    """

    reply: ClassVar[type] = CasefileAccepted

    option: ActivationOption
    visited_on: date


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
    #: the work activity instructor (*vastaava ohjaaja*) responsible for the client at the
    #: placement (seed 003), by worker code
    instructor: Code | None = None


class RecordAttendance(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_attendance``: one day of the running period of rehabilitative
    work activity: attended (a realised day) or absent, with the absence's reason.

    A day within the period, not after the business time, each day once. ``reported_by``: who
    reported it (the work activity instructor), by worker code.
    """

    reply: ClassVar[type] = CasefileAccepted

    day: date
    attended: bool
    absence_reason: AbsenceReason | None = None
    reported_by: Code | None = None

    def __post_init__(self) -> None:
        if self.attended and self.absence_reason is not None:
            raise ValueError("an attended day has no absence reason")
        if not self.attended and self.absence_reason is None:
            raise ValueError("an absence names its reason")


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


class DecideOnRelationship(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.decide_on_relationship``: the written decision on the client
    relationship itself, that it begins (``granted``, ``partly_granted``) or is refused
    (``denied``); seed 000: almost always made. The rules of ``make_decision`` hold: appeal
    instructions always, the client heard before a negative one, and a decision securing the
    care of a client with (suspected) special support need is a social worker's (SHL 46 §).
    The reply names the decision.
    """

    reply: ClassVar[type] = CasefileAccepted

    outcome: DecisionOutcome
    appeal_instructions_given: bool = False
    client_heard: bool = False
    secures_care: bool = False
    grounds_text: FreeText = ""


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
    #: what the client was told at a held meeting (seed 003: the own worker tells the client of
    #: rights, obligations, options and benefits at the first meeting; ``own_worker``: who their
    #: own worker is, only once one is named)
    client_informed_of: Annotated[list[ClientInformedOf], Meta(max_length=5)] = []


class RecordConsultation(CasefileCommand, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.casefile.record_consultation``: the acting worker consulted a social worker or
    another professional on the relationship (seed 002), on ``topic``. Whom: ``consultant_id``, a
    worker on the roster (another than the acting worker), or ``profession`` for someone outside
    it; one of the two. ``notes`` stay in casefile's store.
    """

    reply: ClassVar[type] = CasefileAccepted

    topic: ConsultationTopic
    consultant_id: Code | None = None
    profession: ConsultedProfession | None = None
    notes: FreeText = ""

    def __post_init__(self) -> None:
        if (self.consultant_id is None) == (self.profession is None):
            raise ValueError("name whom: consultant_id (on the roster) or profession (outside it), one of them")


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
    #: timeline and history come in pages: the events after this version (0: from the first), at
    #: most ``limit`` of them and never a reply over NATS's payload limit; a reply that stops
    #: short says where to go on (``next_after_version``). The state ignores both.
    after_version: Annotated[int, Meta(ge=0)] = 0
    limit: Annotated[int, Meta(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_MAX


class WorkActivityMonthQuery(Query, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A read of one client's work activity in a month (``month``, ``YYYY-MM``). Logged like a
    read of the record (ClientRecordViewed, part ``state``)."""

    reply: ClassVar[type] = WorkActivityMonth

    relationship_id: UUID
    actor: ActingWorker
    purpose: ViewPurpose
    month: Annotated[str, Meta(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


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
    "activation_plan_incomplete": "an activation plan records the client's education, work history and how earlier plans went, made with the client and employment services (KTTL 8 §)",
    "client_notified_after_plan": "the client is notified of the activation plan on or before the plan's date",
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
    "attendance_before_period": "attendance is recorded for a day of the period, not one before it starts",
    "attendance_after_period": "attendance is recorded for a day of the period, not one after it ends",
    "attendance_in_future": "attendance is recorded for a day that has come, not one after the business time",
    "attendance_already_recorded": "the day's attendance was recorded already: each day once",
    "visit_in_future": "a familiarisation visit is recorded once made, not for a day after the business time",
    "appeal_instructions_missing": "every decision, granted or not, carries instructions for rectification or appeal",
    "client_not_heard": "the client is heard before a negative (denied or partly granted) decision",
    "decision_requires_social_worker": "a decision securing the care of a client with special support need is a social worker's (SHL 46 §)",
    "meeting_not_found": "the relationship has no meeting with this id",
    "informed_at_missed_meeting": "what the client was told is recorded on a held meeting, not a missed one",
    "own_worker_not_named": "the client is told who their own worker is only once an own worker is named",
    "consultant_is_actor": "a worker consults another worker, not themself",
    "disclosure_without_basis": "a disclosure rests on a consent in force (information exchange, contacting other authorities) or on a provision of law",
    "consent_required": "a family member takes part in the assessment only by the client's family_participation consent in force",
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
