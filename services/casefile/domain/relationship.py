"""The client relationship (asiakkuus): opened from a referral, with an own worker, through
assessment, plans, activation and decisions to its end, its close after the one-month check-in
(and, maybe, a return).

Formed, ended, closed. A relationship opened from a referral is *prospective* until a service
need assessment finds a need, a plan is made or the decision that it begins is made: then a
client relationship is *formed*. Seed 000:
when the start of the relationship or the assessment finds no need for services, no client
relationship is formed and none needs ending. So an end with reason ``no_service_need`` while
prospective (by ``complete_assessment`` or ``end_relationship``, the same rule) is recorded as
not formed: no check-in, closed at once, counted apart. An end of a prospective relationship for
any other reason (the client moved, went to work) ends a relationship all the same: seed 000
counts a client in contact with a worker as active even without services. An end is not the
close (seed 003): the own worker calls the client a month after the end, and only a call that
finds no need closes the relationship for good; followup does the check-in, casefile records
the close (RelationshipClosed) from its outcome, or at once when no check-in is due.

Each public method takes the :class:`~polku.domain.Envelope` first, checks its rules and raises a
named error before anything happens; the private ``@event`` methods only assign (building the
typed values of ``values.py``), because they run again on every replay. The events keep the
names and fields they were stored with; what else they carried (time, actor, trace, client) is
the envelope, folded into it when an older event is read (:class:`polku.domain.PolkuAggregate`).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from polku.domain import Envelope, PolkuAggregate
from services.casefile.domain import errors
from services.casefile.domain.policy import (
    OWN_WORKER_REASONS,
    SCORE_SCALES,
    SOCIAL_WORKER,
    Policy,
    qualifies_for_special_support,
)
from services.casefile.domain.values import (
    ACTIVATION_KINDS,
    ActivationRecord,
    AttendanceDay,
    Decision,
    FamiliarisationVisit,
    Measurement,
    Meeting,
    PlanContent,
    PlanVersion,
    WorkActivityPeriod,
    check_activation_plan,
)


class Relationship(PolkuAggregate):
    """A client relationship, from the referral that opened it to its end."""

    # Stored events name their class by topic, ``services.casefile.domain:Relationship.<Event>``,
    # as they did when this was one module; the package exports the class under that name.
    __module__ = "services.casefile.domain"

    #: intake's triage suspected special support need and nobody has determined it yet (a class
    #: default for relationships stored before intake's suspicion was carried)
    special_support_suspected = False
    #: a health-care professional as the work pair: their code and profession (class defaults
    #: for relationships stored before such a work pair could be named)
    health_care_pair: str | None = None
    health_care_pair_profession: str | None = None

    @event("Opened")
    def __init__(self, *, env: Envelope, referral_id: UUID, special_support_suspected: bool = False) -> None:
        self.client_id = env.client_id
        self.referral_ids = [referral_id]
        self.special_support_suspected = special_support_suspected
        self.opened_at = env.occurred_at
        self.own_worker: str | None = None
        self.own_worker_role: str | None = None
        self.team: str | None = None
        self.work_pair: str | None = None
        self.work_pair_role: str | None = None
        self.ended = False
        self.end_reason: str | None = None
        #: at the end: whether a client relationship was formed (see :attr:`formed`)
        self.formed_at_end: bool | None = None
        #: the day the ended relationship was closed for good, and why
        self.closed_on: date | None = None
        self.close_reason: str | None = None
        self.special_support: bool | None = None
        self.support_grounds: list[str] = []
        self.support_grounds_text = ""
        self.nature: str | None = None
        self.assessment = "not_started"
        self.assessment_started_at: datetime | None = None
        self.assessment_conclusion: str | None = None
        self.assessment_summary = ""
        #: every version of every plan, oldest first: the wording stays here, in casefile
        self.plans: list[PlanVersion] = []
        #: how many of ``plans`` were made before the relationship last reopened (no longer current)
        self.plans_before_return = 0
        self.work_activity: WorkActivityPeriod | None = None
        #: the periods that have ended, with their end reasons
        self.work_activities: list[WorkActivityPeriod] = []
        #: the days of rehabilitative work activity recorded (any period), attended or absent
        self.attendance: dict[date, AttendanceDay] = {}
        #: the familiarisation visits made to the places of options offered, oldest first
        self.familiarisation_visits: list[FamiliarisationVisit] = []
        self.decisions: dict[UUID, Decision] = {}
        #: the granted decision in force of each kind (a later denial of the kind, or a return,
        #: ends it)
        self.decisions_in_force: dict[str, UUID] = {}
        #: the latest decision on the client relationship itself since it (re)opened
        self.relationship_decision: Decision | None = None
        #: when each decision took effect, in business time: (day, kind, granted); kind ``*``
        #: is a return, which ends every decision in force (see :meth:`in_force_on`)
        self.decision_log: list[tuple[date, str, bool]] = []
        self.meetings: dict[UUID, Meeting] = {}
        #: what the client was told at held meetings (``own_worker`` apart: ``own_worker_told``)
        self.informed_of: set[str] = set()
        #: the own worker the client was last told of (a roster id)
        self.own_worker_told: str | None = None
        #: a first meeting was held since Polku records what the client is told there
        self.first_meeting_held = False
        self.consultations: list[UUID] = []
        #: a family member takes part in the assessment (a ``family_participation`` consent)
        self.assessment_family_participates = False
        self.measurements: list[Measurement] = []
        self.consents: set[str] = set()
        self.disclosures: list[UUID] = []
        #: followup's view: since when the client has counted as disappeared, and whether the
        #: client keeps coming back
        self.disappeared_since: date | None = None
        self.recurring = False

    @classmethod
    def open(
        cls, relationship_id: UUID, env: Envelope, *, client_id: str, referral_id: UUID,
        special_support_suspected: bool = False,
    ) -> Relationship:
        """Open a relationship from a routed referral; ``special_support_suspected`` is intake's
        triage: the SHL 42 § rule applies to it until the need is determined."""
        return cls._create(
            cls.Opened, id=relationship_id, env=env.about(client_id), referral_id=referral_id,
            special_support_suspected=special_support_suspected,
        )

    # ---------------------------------------------------------------- helpers
    def _must_be_open(self) -> None:
        if self.ended:
            raise errors.RelationshipAlreadyEnded("the relationship has ended; reopen it first")

    def latest_plan(self, *kinds: str) -> PlanVersion | None:
        for plan in reversed(self.current_plans):
            if plan.kind in kinds:
                return plan
        return None

    def latest_plans(self) -> list[PlanVersion]:
        """The latest current version of each kind of plan, kinds in the order they were first made."""
        return list({plan.kind: plan for plan in self.current_plans}.values())

    @property
    def service_need_found(self) -> bool:
        """The service need assessment was completed and found a need."""
        return self.assessment == "completed" and self.assessment_conclusion == "service_need"

    @property
    def formed(self) -> bool | None:
        """Whether a client relationship was formed (seed 000): True once the service need
        assessment found a need, a plan was made or a decision that the relationship begins was
        made (granted or partly granted), since the relationship last (re)opened; None while
        open without any (prospective). Decided at the end: False when a finding of no service
        need ended it while prospective, else True."""
        if self.ended:
            return self.formed_at_end
        decided = self.relationship_decision is not None and self.relationship_decision.granted
        return True if self.service_need_found or self.current_plans or decided else None

    def _formed_if_ended_for(self, reason: str) -> bool:
        """Would an end for ``reason`` now end a formed client relationship? Not when it is the
        finding of no service need while the relationship is prospective (seed 000)."""
        return self.formed is True or reason != "no_service_need"

    @property
    def current_plans(self) -> list[PlanVersion]:
        """The versions of the plans made since the relationship last (re)opened: a returning
        client's old plans are history, no longer current."""
        return self.plans[self.plans_before_return :]

    @property
    def needs_social_worker(self) -> bool:
        """SHL 42 §: special support need is determined, or suspected by intake's triage and not
        determined yet either way."""
        return bool(self.special_support) or self.special_support_suspected

    @property
    def client_plan_required(self) -> bool:
        return self.assessment_conclusion == "service_need" and self.latest_plan("client_plan") is None

    # -------------------------------------------------------------- referrals
    def attach_referral(self, env: Envelope, *, referral_id: UUID, special_support_suspected: bool = False) -> None:
        """A new referral about the client: attached to this open relationship. When its triage
        suspected special support need, the suspicion stands until the need is determined (again)."""
        self._must_be_open()
        self._referral_attached(env, referral_id=referral_id, special_support_suspected=special_support_suspected)

    @event("ReferralAttached")
    def _referral_attached(self, env: Envelope, *, referral_id: UUID, special_support_suspected: bool = False) -> None:
        self.referral_ids.append(referral_id)
        if special_support_suspected:
            self.special_support_suspected = True

    # -------------------------------------------------------------- own worker
    def name_own_worker(
        self, env: Envelope, *, worker_id: str, role: str, team: str, work_pair_id: str | None = None,
        work_pair_role: str | None = None, reason: str, health_care_pair_id: str | None = None,
        health_care_pair_profession: str | None = None,
    ) -> None:
        """Name the own worker, with a work pair: a worker of the roster (``work_pair_role`` is
        theirs), or a health-care professional (seed 001: their code and profession), who is not
        a social worker, so does not meet the SHL 42 § rule for a client who needs one."""
        self._must_be_open()
        if reason not in OWN_WORKER_REASONS:
            raise errors.UnknownOwnWorkerReason(f"reason must be one of {', '.join(OWN_WORKER_REASONS)}")
        if work_pair_id is not None and work_pair_id == worker_id:
            raise errors.InvalidWorkPair("the work pair must be another worker than the own worker")
        if work_pair_id is not None and health_care_pair_id is not None:
            raise errors.InvalidWorkPair(
                "one work pair: a worker of the roster or a health-care professional", "health_care_pair_id"
            )
        if (health_care_pair_id is None) != (health_care_pair_profession is None):
            raise errors.InvalidWorkPair(
                "a health-care work pair names both their code and their profession", "health_care_pair_profession"
            )
        if self.needs_social_worker and not qualifies_for_special_support(role, work_pair_role):
            need = "has special support need" if self.special_support else (
                "is suspected of special support need (intake's triage) until it is determined"
            )
            raise errors.OwnWorkerMustBeSocialWorker(
                f"the client {need}: name a social worker, or a social "
                "counsellor with a social worker as work pair (SHL 42 §)",
                "worker_id",
            )
        self._own_worker_named(
            env, worker_id=worker_id, role=role, team=team, work_pair_id=work_pair_id,
            work_pair_role=work_pair_role, reason=reason, health_care_pair_id=health_care_pair_id,
            health_care_pair_profession=health_care_pair_profession,
        )

    @event("OwnWorkerNamed")
    def _own_worker_named(
        self, env: Envelope, *, worker_id: str, role: str, team: str, work_pair_id: str | None, reason: str,
        work_pair_role: str | None = None, health_care_pair_id: str | None = None,
        health_care_pair_profession: str | None = None,
    ) -> None:
        self.own_worker = worker_id
        self.own_worker_role = role
        self.team = team
        self.work_pair = work_pair_id
        self.work_pair_role = work_pair_role
        self.health_care_pair = health_care_pair_id
        self.health_care_pair_profession = health_care_pair_profession

    # --------------------------------------------------------- special support
    def determine_special_support_need(
        self, env: Envelope, *, special_support: bool, grounds: list[str], grounds_text: str
    ) -> None:
        """Yes or no, with grounds; it may change. A yes re-checks the own worker (SHL 42 §):
        name a qualified own worker (or add a social worker as work pair) first. Either way it
        settles intake's suspicion."""
        self._must_be_open()
        if special_support and not qualifies_for_special_support(self.own_worker_role, self.work_pair_role):
            raise errors.OwnWorkerMustBeSocialWorker(
                "special support need requires a social worker as own worker, or a social "
                "counsellor with a social worker as work pair: name one first (SHL 42 §)",
                "special_support",
            )
        self._special_support_need_determined(
            env, special_support=special_support, grounds=sorted(set(grounds)), grounds_text=grounds_text
        )

    @event("SpecialSupportNeedDetermined")
    def _special_support_need_determined(
        self, env: Envelope, *, special_support: bool, grounds: list[str], grounds_text: str
    ) -> None:
        self.special_support = special_support
        self.special_support_suspected = False
        self.support_grounds = list(grounds)
        self.support_grounds_text = grounds_text

    # -------------------------------------------------------------- assessment
    def start_assessment(self, env: Envelope, *, family_participates: bool = False) -> None:
        """Start the service need assessment. A family member takes part in it only with the
        client's consent (seed 000: läheiset osallistuvat asiakkaan suostumuksella): a
        ``family_participation`` consent in force; withdrawing it ends their part."""
        self._must_be_open()
        if self.assessment == "started":
            raise errors.AssessmentAlreadyStarted("the service need assessment is under way")
        if self.assessment == "completed":
            raise errors.AssessmentAlreadyCompleted("the service need assessment was completed already")
        if family_participates and "family_participation" not in self.consents:
            raise errors.ConsentRequired(
                "a family member takes part in the assessment only by the client's consent: no "
                "family_participation consent is in force", "family_participates",
            )
        self._assessment_started(env, family_participates=family_participates)

    @event("AssessmentStarted")
    def _assessment_started(self, env: Envelope, *, family_participates: bool = False) -> None:
        self.assessment = "started"
        self.assessment_started_at = env.occurred_at
        self.assessment_family_participates = family_participates

    def complete_assessment(self, env: Envelope, *, conclusion: str, summary: str, policy: Policy) -> None:
        """Conclude the assessment. A service need forms the client relationship. No service
        need ends it as :meth:`end` with reason ``no_service_need`` does (one rule): while the
        relationship is prospective, no client relationship was formed (seed 000), so it gets no
        nature, no check-in and is closed at once; after a plan was made, a formed relationship
        ends and its check-in is due."""
        self._must_be_open()
        if self.assessment == "not_started":
            raise errors.AssessmentNotStarted("start the service need assessment first")
        if self.assessment == "completed":
            raise errors.AssessmentAlreadyCompleted("the service need assessment was completed already")
        if conclusion == "no_service_need" and self.work_activity is not None:
            raise errors.WorkActivityRunning("end the period of rehabilitative work activity first")
        self._assessment_completed(env, conclusion=conclusion, summary=summary, started_at=self.assessment_started_at)
        if conclusion == "no_service_need":
            self._end(env, reason="no_service_need", policy=policy)

    @event("AssessmentCompleted")
    def _assessment_completed(
        self, env: Envelope, *, conclusion: str, summary: str, started_at: datetime | None
    ) -> None:
        self.assessment = "completed"
        self.assessment_conclusion = conclusion
        self.assessment_summary = summary

    # ------------------------------------------------------------------ nature
    def determine_nature(self, env: Envelope, *, nature: str) -> None:
        """Temporary, recurring or continuous; a continuous relationship works to a client plan."""
        self._must_be_open()
        if nature == "continuous" and self.latest_plan("client_plan") is None:
            raise errors.ClientPlanRequired("a continuous relationship works to a client plan: make it first", "nature")
        self._nature_determined(env, nature=nature)

    @event("RelationshipNatureDetermined")
    def _nature_determined(self, env: Envelope, *, nature: str) -> None:
        self.nature = nature

    # ------------------------------------------------------------------- plans
    def update_plan(
        self, env: Envelope, *, kind: str, content: PlanContent, next_review: date, valid_until: date | None = None,
        client_dissents: bool = False, options_offered: list[str] | tuple[str, ...] = (),
        chosen_option: str | None = None, all_options_refused: bool = False, consequences_told: bool = False,
        further_offered: list[str] | tuple[str, ...] = (), further_chosen_option: str | None = None,
        record: ActivationRecord = ActivationRecord(), policy: Policy,
    ) -> int:
        """A new version of a plan; returns the version.

        Plans come after the assessment. A client plan (SHL 39 §) follows a completed service
        need assessment that found a need (seed 000: no need, no plan). An activation or
        employment plan (KTTL 8 §) follows the mapping of the client's situation (seed 003:
        the situation is mapped before the activation plan). The situation counts as mapped
        when a service need assessment was completed and found a need, or when an activation
        plan records what the mapping found: both the client's strengths and the support
        needed. Once mapped, later versions need not repeat it. After a return (reopening),
        both start again from a new assessment or mapping.

        An activation plan's options are of v1's kinds (``options_offered``, ``chosen_option``)
        and of those added since (``further_offered``, ``further_chosen_option``): both count
        toward the minimum, and either may be chosen. Its ``record`` of the client (KTTL 8 §):
        the plan's first version (since the relationship (re)opened) records the education, the
        work history, how earlier plans went, and that the client and employment services took
        part; later versions may update it. When the client was notified of the plan is
        recorded when known, on or before the plan's date.
        """
        self._must_be_open()
        if next_review < env.occurred_at.date():
            raise errors.ReviewDateInPast("the next review date must not be before the plan's date")
        offered = sorted(set(options_offered))
        further = sorted(set(further_offered))
        activation = kind in ACTIVATION_KINDS
        if not activation and (
            offered or chosen_option or all_options_refused or consequences_told or further or further_chosen_option
            or record.given or content.education or content.work_history or content.earlier_plans
        ):
            raise errors.ActivationFieldsOnClientPlan(
                "options, a choice or a refusal, and the record of education, work history, earlier plans, "
                "participants and notice (KTTL 8 §) belong to an activation or employment plan", "kind"
            )
        if not activation and not self.service_need_found:
            raise errors.AssessmentRequired(
                "a client plan follows a completed service need assessment that found a need"
            )
        if activation and not (
            self.service_need_found
            or any(p.is_activation and p.content.strengths and p.content.support_needed for p in self.current_plans)
            or (content.strengths and content.support_needed)
        ):
            raise errors.SituationNotMapped(
                "map the client's situation first: complete the service need assessment, or record "
                "the client's strengths and the support needed in the activation plan"
            )
        if activation:
            if record.client_notified_on is not None and record.client_notified_on > env.occurred_at.date():
                raise errors.ClientNotifiedAfterPlan(
                    "the client is notified of the activation plan on or before the plan's date"
                )
            check_activation_plan(
                self.current_plans, offered + further, chosen_option or further_chosen_option, all_options_refused,
                consequences_told, policy,
            )
            earlier = self.latest_plan(kind)
            record.over(earlier.record if earlier else ActivationRecord()).check_complete()
        version = 1 + sum(1 for p in self.plans if p.kind == kind)
        self._plan_updated(
            env, kind=kind, version=version, content=content.stored(), next_review=next_review,
            valid_until=valid_until, client_dissents=client_dissents, options_offered=offered,
            chosen_option=chosen_option, all_options_refused=all_options_refused, consequences_told=consequences_told,
            further_offered=further, further_chosen_option=further_chosen_option, **record.stored(),
        )
        return version

    @event("PlanUpdated")
    def _plan_updated(
        self, env: Envelope, *, kind: str, version: int, content: dict[str, Any], next_review: date,
        valid_until: date | None, client_dissents: bool, options_offered: list[str], chosen_option: str | None,
        all_options_refused: bool, consequences_told: bool, further_offered: list[str] | None = None,
        further_chosen_option: str | None = None, education: str | None = None, work_history: str | None = None,
        earlier_plans: str | None = None, participants: list[str] | None = None,
        client_notified_on: date | None = None,
    ) -> None:
        # the new keyword arguments: an event stored before them replays with their defaults
        given = ActivationRecord(
            education=education, work_history=work_history, earlier_plans=earlier_plans,
            participants=tuple(participants or ()), client_notified_on=client_notified_on,
        )
        earlier = next((p for p in reversed(self.current_plans) if p.kind == kind), None)
        wording = PlanContent.from_stored(content)
        if earlier is not None:  # the record's wording as this version leaves it, like its codes
            wording = dataclasses.replace(
                wording, **{
                    name: getattr(wording, name) or getattr(earlier.content, name)
                    for name in ("education", "work_history", "earlier_plans")
                },
            )
        self.plans.append(
            PlanVersion(
                kind=kind, version=version, content=wording, next_review=next_review,
                valid_until=valid_until, client_dissents=client_dissents, options_offered=tuple(options_offered),
                chosen_option=chosen_option, all_options_refused=all_options_refused, occurred_at=env.occurred_at,
                further_offered=tuple(further_offered or ()), further_chosen_option=further_chosen_option,
                record=given.over(earlier.record if earlier else ActivationRecord()),
            )
        )

    def record_familiarisation_visit(self, env: Envelope, *, option: str, visited_on: date) -> None:
        """The client visited the place of an option a current activation plan offered (seed
        003: *tutustumiskäynti*, alone or with the own worker, while reflecting on the options).
        Seed 003 makes the visit possible, not a condition of the choice: a plan may choose an
        option without one, and a visit may follow the choice (before work activity starts)."""
        self._must_be_open()
        if visited_on > env.occurred_at.date():
            raise errors.VisitInFuture("record the visit once it has been made")
        offered = {o for p in self.current_plans if p.is_activation for o in p.options_offered}
        if option not in offered:
            raise errors.OptionNotOffered(
                "a familiarisation visit is to the place of an option the activation plan offered", "option"
            )
        self._familiarisation_visit_made(env, option=option, visited_on=visited_on)

    @event("FamiliarisationVisitMade")
    def _familiarisation_visit_made(self, env: Envelope, *, option: str, visited_on: date) -> None:
        self.familiarisation_visits.append(FamiliarisationVisit(option, visited_on))

    # --------------------------------------------------- rehabilitative work
    def start_work_activity(
        self, env: Envelope, period: WorkActivityPeriod, *, shop_steward_notified: bool, policy: Policy
    ) -> None:
        self._must_be_open()
        if self.work_activity is not None:
            raise errors.WorkActivityRunning("a period of rehabilitative work activity is running already")
        plan = self.latest_plan(*ACTIVATION_KINDS)
        if plan is None or plan.chosen_option != "rehabilitative_work_activity":
            raise errors.ActivationPlanRequired(
                "rehabilitative work activity starts from an activation plan that chose it"
            )
        self._must_have_decision_in_force(
            "rehabilitative_work_activity", "a period of rehabilitative work activity starts by a granted decision"
        )
        period.check_bounds(policy)
        if period.familiarisation_until is not None:
            self._must_have_decision_in_force(
                "familiarisation_period", "a familiarisation period is by a granted decision", "familiarisation_until"
            )
        if not shop_steward_notified:
            raise errors.ShopStewardNotNotified("notify the chief shop steward of the placement first")
        self._work_activity_started(env, **period.stored(), shop_steward_notified=shop_steward_notified)

    @event("WorkActivityStarted")
    def _work_activity_started(
        self, env: Envelope, *, placement_id: str, days_per_week: int, hours_per_day: float, starts_on: date,
        ends_on: date, familiarisation_until: date | None, evaluation_on: date, shop_steward_notified: bool,
        instructor: str | None = None,
    ) -> None:
        self.work_activity = WorkActivityPeriod(
            placement_id, days_per_week, hours_per_day, starts_on, ends_on, familiarisation_until, evaluation_on,
            instructor=instructor,
        )

    def record_attendance(
        self, env: Envelope, *, day: date, attended: bool, absence_reason: str | None = None,
        reported_by: str | None = None,
    ) -> None:
        """One day of the running period: attended (a realised day, KTTL) or absent with its
        reason. A day of the period (from its start to its end), one that has come (not after the
        business time), each day once. An absence is published for followup: the worker contacts
        the client during absences, as early as possible (seed 003)."""
        self._must_be_open()
        period = self.work_activity
        if period is None:
            raise errors.WorkActivityNotRunning("no period of rehabilitative work activity is running", "day")
        if day < period.starts_on:
            raise errors.AttendanceBeforePeriod("the day is before the period starts")
        if day > period.ends_on:
            raise errors.AttendanceAfterPeriod("the day is after the period ends")
        if day > env.occurred_at.date():
            raise errors.AttendanceInFuture("the day has not come yet: record it once it has")
        if day in self.attendance:
            raise errors.AttendanceAlreadyRecorded("the day's attendance was recorded already")
        if attended:
            self._work_activity_attended(env, day=day, placement_id=period.placement_id, reported_by=reported_by)
        else:
            if absence_reason is None:
                raise errors.AbsenceReasonMissing("an absence names its reason")
            self._work_activity_absent(
                env, day=day, placement_id=period.placement_id, reason=absence_reason, reported_by=reported_by
            )

    @event("WorkActivityAttended")
    def _work_activity_attended(self, env: Envelope, *, day: date, placement_id: str, reported_by: str | None) -> None:
        self.attendance[day] = AttendanceDay(day, True, placement_id, reported_by=reported_by)

    @event("WorkActivityAbsent")
    def _work_activity_absent(
        self, env: Envelope, *, day: date, placement_id: str, reason: str, reported_by: str | None
    ) -> None:
        self.attendance[day] = AttendanceDay(day, False, placement_id, absence_reason=reason, reported_by=reported_by)

    def in_force_on(self, kind: str, day: date) -> bool:
        """A granted decision of ``kind`` was in force on ``day``: the latest decision of the
        kind taken effect by then was granted, and no return came after it."""
        in_force = False
        for on, decided, granted in sorted(self.decision_log, key=lambda entry: entry[0]):
            if on > day:
                break
            if decided == kind:
                in_force = granted
            elif decided == "*":
                in_force = False
        return in_force

    def work_activity_month(self, year: int, month: int, policy: Policy) -> dict[str, Any]:
        """The month's realised days and absences, and the activity allowance and travel
        compensation due for it (cents): a realised day counts for a benefit when a granted
        decision of its kind was in force on it (KTTL as seed 003 cites it; amounts are policy)."""
        days = [a for d, a in self.attendance.items() if (d.year, d.month) == (year, month)]
        realised = [a.day for a in days if a.attended]
        by_reason: dict[str, int] = {}
        for a in days:
            if not a.attended and a.absence_reason is not None:
                by_reason[a.absence_reason] = by_reason.get(a.absence_reason, 0) + 1
        allowance_days = sum(1 for d in realised if self.in_force_on("activity_allowance", d))
        travel_days = sum(1 for d in realised if self.in_force_on("travel_compensation", d))
        return {
            "realised_days": len(realised),
            "absences": len(days) - len(realised),
            "absences_by_reason": by_reason,
            "allowance_days": allowance_days,
            "activity_allowance_cents": allowance_days * policy.activity_allowance_cents,
            "travel_days": travel_days,
            "travel_compensation_cents": travel_days * policy.travel_compensation_cents,
        }

    def end_work_activity(self, env: Envelope, *, reason: str) -> None:
        if self.work_activity is None:
            raise errors.WorkActivityNotRunning("no period of rehabilitative work activity is running")
        self._work_activity_ended(env, reason=reason)

    @event("WorkActivityEnded")
    def _work_activity_ended(self, env: Envelope, *, reason: str) -> None:
        if self.work_activity is not None:
            self.work_activities.append(self.work_activity.ended(reason))
        self.work_activity = None

    # --------------------------------------------------------------- decisions
    def _must_have_decision_in_force(self, kind: str, message: str, field: str | None = None) -> None:
        if kind not in self.decisions_in_force:
            raise errors.NoDecisionInForce(f"{message}: none of kind {kind} is in force", field)

    def _check_decision(
        self, env: Envelope, *, outcome: str, appeal_instructions_given: bool, client_heard: bool, secures_care: bool
    ) -> str:
        """The rules every written decision keeps (a decision of a kind, and the decision on the
        relationship itself); returns the maker's role, the acting worker's (the envelope's actor).

        Every decision, granted or not, carries instructions for rectification or appeal (the
        worker confirms it: ``appeal_instructions_given``). A negative one (denied or partly
        granted) is appealable, and the client is heard before it (``client_heard``). A decision
        securing the care of a client with (suspected) special support need is a social
        worker's (SHL 46 §)."""
        self._must_be_open()
        maker_role = (env.actor or {}).get("role", "")
        if not appeal_instructions_given:
            raise errors.AppealInstructionsMissing(
                "every decision, granted or not, carries instructions for rectification or appeal"
            )
        if outcome != "granted" and not client_heard:
            raise errors.ClientNotHeard("hear the client before a denied or partly granted decision")
        if secures_care and self.needs_social_worker and maker_role != SOCIAL_WORKER:
            need = "special support need" if self.special_support else "suspected special support need (not determined yet)"
            raise errors.DecisionRequiresSocialWorker(
                f"a decision securing the care of a client with {need} is a social worker's (SHL 46 §)"
            )
        return maker_role

    def make_decision(
        self, env: Envelope, *, decision_id: UUID, kind: str, granted: bool, appeal_instructions_given: bool,
        secures_care: bool, grounds_text: str, outcome: str | None = None, client_heard: bool = False,
    ) -> None:
        """A written decision of a kind; ``outcome`` is granted, partly granted or denied (None:
        told by ``granted``). The rules: :meth:`_check_decision`."""
        outcome = outcome or ("granted" if granted else "denied")
        negative = outcome != "granted"
        maker_role = self._check_decision(
            env, outcome=outcome, appeal_instructions_given=appeal_instructions_given, client_heard=client_heard,
            secures_care=secures_care,
        )
        self._decision_made(
            env, decision_id=decision_id, kind=kind, granted=outcome != "denied", appealable=negative,
            appeal_instructions_given=appeal_instructions_given, secures_care=secures_care, maker_role=maker_role,
            grounds_text=grounds_text, outcome=outcome, client_heard=client_heard,
        )

    @event("DecisionMade")
    def _decision_made(
        self, env: Envelope, *, decision_id: UUID, kind: str, granted: bool, appealable: bool,
        appeal_instructions_given: bool, secures_care: bool, maker_role: str, grounds_text: str,
        outcome: str | None = None, client_heard: bool = False,
    ) -> None:
        self.decisions[decision_id] = Decision(
            decision_id=decision_id, kind=kind, granted=granted, appealable=appealable, secures_care=secures_care,
            maker_role=maker_role, outcome=outcome or ("granted" if granted else "denied"), client_heard=client_heard,
        )
        if granted:
            self.decisions_in_force[kind] = decision_id
        else:
            self.decisions_in_force.pop(kind, None)
        self.decision_log.append((env.occurred_at.date(), kind, granted))

    def decide_on_relationship(
        self, env: Envelope, *, decision_id: UUID, outcome: str, appeal_instructions_given: bool,
        client_heard: bool, secures_care: bool, grounds_text: str,
    ) -> None:
        """The written decision on the client relationship itself: it begins (granted, partly
        granted) or is refused (denied). Seed 000: almost always made, except for a temporary
        relationship of advice and guidance. The rules of every decision hold
        (:meth:`_check_decision`); a later one replaces it (after rectification, say)."""
        maker_role = self._check_decision(
            env, outcome=outcome, appeal_instructions_given=appeal_instructions_given, client_heard=client_heard,
            secures_care=secures_care,
        )
        self._relationship_decision_made(
            env, decision_id=decision_id, outcome=outcome, appealable=outcome != "granted",
            appeal_instructions_given=appeal_instructions_given, secures_care=secures_care, maker_role=maker_role,
            grounds_text=grounds_text, client_heard=client_heard,
        )

    @event("RelationshipDecisionMade")
    def _relationship_decision_made(
        self, env: Envelope, *, decision_id: UUID, outcome: str, appealable: bool, appeal_instructions_given: bool,
        secures_care: bool, maker_role: str, grounds_text: str, client_heard: bool,
    ) -> None:
        self.relationship_decision = Decision(
            decision_id=decision_id, kind="client_relationship", granted=outcome != "denied", appealable=appealable,
            secures_care=secures_care, maker_role=maker_role, outcome=outcome, client_heard=client_heard,
        )

    # ---------------------------------------------------------------- meetings
    def schedule_meeting(
        self, env: Envelope, *, meeting_id: UUID, kind: str, channel: str, scheduled_for: datetime
    ) -> None:
        self._must_be_open()
        self._meeting_scheduled(env, meeting_id=meeting_id, kind=kind, channel=channel, scheduled_for=scheduled_for)

    @event("MeetingScheduled")
    def _meeting_scheduled(
        self, env: Envelope, *, meeting_id: UUID, kind: str, channel: str, scheduled_for: datetime
    ) -> None:
        self.meetings[meeting_id] = Meeting(meeting_id, kind, channel, scheduled_for)

    def record_meeting_outcome(
        self, env: Envelope, *, meeting_id: UUID, outcome: str, notes: str,
        client_informed_of: list[str] | tuple[str, ...] = (),
    ) -> None:
        """Held or missed. A held meeting records what the client was told (seed 003: the own
        worker tells the client of rights, obligations, options and benefits at the first
        meeting, or over more meetings; seed 001: who their own worker is). Not refused
        without it (the telling may take more than one meeting, and v1's callers send none):
        the state shows what a client who had a first meeting has not been told yet."""
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            raise errors.MeetingNotFound("the relationship has no meeting with this id")
        if meeting.outcome is not None:
            raise errors.MeetingAlreadyRecorded("the meeting's outcome was recorded already")
        informed = sorted(set(client_informed_of))
        if informed and outcome != "held":
            raise errors.InformedAtMissedMeeting("the client did not come: nothing was told at a missed meeting")
        if "own_worker" in informed and self.own_worker is None:
            raise errors.OwnWorkerNotNamed("no own worker is named: name one before telling the client who it is")
        if outcome == "held":
            self._meeting_held(
                env, meeting_id=meeting_id, notes=notes, informed_of=informed,
                own_worker_told=self.own_worker if "own_worker" in informed else None,
            )
        else:
            self._meeting_missed(env, meeting_id=meeting_id, notes=notes)

    @event("MeetingHeld")
    def _meeting_held(
        self, env: Envelope, *, meeting_id: UUID, notes: str, informed_of: list[str] | None = None,
        own_worker_told: str | None = None,
    ) -> None:
        # ``informed_of`` None: held before Polku recorded what the client was told (unknown,
        # so such a first meeting does not count as one that told nothing)
        self.meetings[meeting_id] = self.meetings[meeting_id].recorded("held")
        if informed_of is None:
            return
        if self.meetings[meeting_id].kind == "first_meeting":
            self.first_meeting_held = True
        self.informed_of.update(i for i in informed_of if i != "own_worker")
        if own_worker_told is not None:
            self.own_worker_told = own_worker_told

    @property
    def client_informed_of(self) -> set[str]:
        """What the client was told; ``own_worker`` only while the worker they were told of is
        the own worker still (after a change they are told again)."""
        told_of_own_worker = self.own_worker is not None and self.own_worker_told == self.own_worker
        return self.informed_of | ({"own_worker"} if told_of_own_worker else set())

    # ----------------------------------------------------------- consultations
    def record_consultation(
        self, env: Envelope, *, consultation_id: UUID, topic: str, consultant_id: str | None,
        consultant_role: str | None, profession: str | None, notes: str,
    ) -> None:
        """The acting worker consulted a social worker or another professional (seed 002: the
        support need is recognised by reflecting on one's own work, with a work pair, or by
        consultation): a worker on the roster (``consultant_id``, with their role) or someone
        outside it (``profession``), on ``topic``."""
        self._must_be_open()
        if consultant_id is not None and consultant_id == (env.actor or {}).get("worker_id"):
            raise errors.ConsultantIsActor("a worker consults another worker: name someone else")
        self._consultation_recorded(
            env, consultation_id=consultation_id, topic=topic, consultant_id=consultant_id,
            consultant_role=consultant_role, profession=profession, notes=notes,
        )

    @event("ConsultationRecorded")
    def _consultation_recorded(
        self, env: Envelope, *, consultation_id: UUID, topic: str, consultant_id: str | None,
        consultant_role: str | None, profession: str | None, notes: str,
    ) -> None:
        self.consultations.append(consultation_id)

    @event("MeetingMissed")
    def _meeting_missed(self, env: Envelope, *, meeting_id: UUID, notes: str) -> None:
        self.meetings[meeting_id] = self.meetings[meeting_id].recorded("missed")

    # ------------------------------------------------------------ measurements
    def record_measurement(self, env: Envelope, *, instrument: str, scores: dict[str, int]) -> None:
        least, greatest = SCORE_SCALES[instrument]
        for item, score in scores.items():
            if not least <= score <= greatest:
                raise errors.ScoreOutOfScale(
                    f"`scores.{item}`: {instrument} scores each item from {least} to {greatest}", f"scores.{item}"
                )
        self._must_be_open()
        self._measurement_recorded(env, instrument=instrument, scores=dict(scores))

    @event("MeasurementRecorded")
    def _measurement_recorded(self, env: Envelope, *, instrument: str, scores: dict[str, int]) -> None:
        self.measurements.append(Measurement(instrument, dict(scores), env.occurred_at))

    # ---------------------------------------------------------------- consents
    def record_consent(self, env: Envelope, *, kind: str, given: bool) -> None:
        self._must_be_open()
        if given:
            self._consent_recorded(env, kind=kind)
        else:
            if kind not in self.consents:
                raise errors.ConsentNotGiven("this consent was not given, so it cannot be withdrawn")
            self._consent_withdrawn(env, kind=kind)

    @event("ConsentRecorded")
    def _consent_recorded(self, env: Envelope, *, kind: str) -> None:
        self.consents.add(kind)

    @event("ConsentWithdrawn")
    def _consent_withdrawn(self, env: Envelope, *, kind: str) -> None:
        self.consents.discard(kind)
        if kind == "family_participation":  # the family takes no further part in the assessment
            self.assessment_family_participates = False

    # ------------------------------------------------------------- disclosures
    #: The consents a disclosure to another authority may rest on.
    DISCLOSURE_CONSENTS = ("information_exchange", "contact_other_authorities")

    def record_disclosure(
        self, env: Envelope, *, disclosure_id: UUID, recipient: str, basis: str, statute: str | None,
        categories: list[str],
    ) -> None:
        """Log a disclosure of the client's data to another authority (the Client Data Act's
        disclosure log). It rests on a consent in force or on a provision of law; an ended
        relationship's data may still be disclosed (the record outlives the relationship)."""
        consent = None
        if basis == "consent":
            consent = next((k for k in self.DISCLOSURE_CONSENTS if k in self.consents), None)
            if consent is None:
                raise errors.DisclosureWithoutBasis(
                    "no consent to exchange information or to contact other authorities is in force", "basis"
                )
        elif statute is None:
            raise errors.DisclosureWithoutBasis("a disclosure resting on law names its statute", "statute")
        self._data_disclosed(
            env, disclosure_id=disclosure_id, recipient=recipient, basis=basis, statute=statute, consent=consent,
            categories=list(categories),
        )

    @event("DataDisclosed")
    def _data_disclosed(
        self, env: Envelope, *, disclosure_id: UUID, recipient: str, basis: str, statute: str | None,
        consent: str | None, categories: list[str],
    ) -> None:
        self.disclosures.append(disclosure_id)

    # ------------------------------------------------------------- end, return
    def end(self, env: Envelope, *, reason: str, policy: Policy) -> None:
        """End the relationship (see :meth:`_end` for the check-in and the close)."""
        self._must_be_open()
        if self.work_activity is not None:
            raise errors.WorkActivityRunning("end the period of rehabilitative work activity first")
        if reason == "goal_reached" and self.client_plan_required:
            raise errors.ClientPlanRequired("a service need was found: the goal is one of a client plan", "reason")
        self._end(env, reason=reason, policy=policy)

    def _end(self, env: Envelope, *, reason: str, policy: Policy) -> None:
        """The end's one rule, whichever command records it. The one-month check-in is
        followup's (seed 003): ``check_in_due`` is its hook, and the relationship stays ended,
        not closed, until the check-in's outcome closes it. No check-in is due, and the
        relationship is closed at once, when no client relationship was formed (a finding of
        no service need while prospective, seed 000: ``not_formed``) or the reason is one of
        ``policy.no_check_in_reasons`` (by default a client who died: ``no_check_in_due``)."""
        formed = self._formed_if_ended_for(reason)
        close = "not_formed" if not formed else "no_check_in_due" if reason in policy.no_check_in_reasons else None
        check_in_due = None if close else env.occurred_at.date() + timedelta(days=policy.check_in_after_days)
        self._ended(env, reason=reason, check_in_due=check_in_due, formed=formed)
        if close:
            self._closed(env, reason=close)

    @event("Ended")
    def _ended(self, env: Envelope, *, reason: str, check_in_due: date | None, formed: bool | None = None) -> None:
        # ``formed``: an end stored before it was carried was not formed only when no need was found
        self.ended = True
        self.end_reason = reason
        self.formed_at_end = formed if formed is not None else reason != "no_service_need"

    def close(self, env: Envelope, *, reason: str) -> bool:
        """Close the ended relationship for good (followup's check-in: no need found, the client
        not reached in its tries, or the need taken up by the client's other relationship).
        False, and nothing recorded, when it is open (reopened since) or closed already."""
        if not self.ended or self.closed_on is not None:
            return False
        self._closed(env, reason=reason)
        return True

    @event("Closed")
    def _closed(self, env: Envelope, *, reason: str) -> None:
        self.closed_on = env.occurred_at.date()
        self.close_reason = reason

    def reopen(self, env: Envelope, *, reason: str) -> None:
        """The client returned: the same relationship opens again, its history kept (in the
        events and in ``plans``). What was determined for the earlier spell is determined again:
        the nature is None until determined, the assessment starts anew, the old plans are no
        longer current, and the earlier decisions are no longer in force."""
        if not self.ended:
            raise errors.RelationshipNotEnded("the relationship is open")
        self._reopened(env, reason=reason, anew=True)  # closed or not: a client may always return

    @event("Reopened")
    def _reopened(self, env: Envelope, *, reason: str, anew: bool = False) -> None:
        # ``anew``: the return is met anew (nature, plans, decisions). A reopening stored before
        # that rule lacks it, and replays to the state it had then.
        self.ended = False
        self.disappeared_since = None
        self.end_reason = None
        self.formed_at_end = None
        self.closed_on = None
        self.close_reason = None
        self.assessment = "not_started"
        self.assessment_started_at = None
        self.assessment_conclusion = None
        self.assessment_family_participates = False
        if anew:
            self.nature = None
            self.plans_before_return = len(self.plans)
            self.decisions_in_force = {}
            self.relationship_decision = None
            self.decision_log.append((env.occurred_at.date(), "*", False))

    # ------------------------------------------------------------ followup's
    def note_disappeared(self, env: Envelope, *, since: date, detected_by: str) -> bool:
        """Followup counts the client disappeared; False if there is nothing to note."""
        if self.ended or self.disappeared_since is not None:
            return False
        self._disappearance_noted(env, since=since, detected_by=detected_by)
        return True

    def note_reached(self, env: Envelope, *, on: date) -> bool:
        if self.disappeared_since is None:
            return False
        self._reached_noted(env, on=on)
        return True

    def note_recurring(self, env: Envelope) -> bool:
        if self.recurring:
            return False
        self._recurring_noted(env)
        return True

    @event("DisappearanceNoted")
    def _disappearance_noted(self, env: Envelope, *, since: date, detected_by: str) -> None:
        self.disappeared_since = since

    @event("ReachedNoted")
    def _reached_noted(self, env: Envelope, *, on: date) -> None:
        self.disappeared_since = None

    @event("RecurringNoted")
    def _recurring_noted(self, env: Envelope) -> None:
        self.recurring = True
