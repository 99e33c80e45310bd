"""Casefile's aggregates: the client relationship, from the own worker to the end.

Each public method checks its rules and raises a named error before anything happens; the
private ``@event`` methods only assign, because they run again on every replay.

Idempotency of commands lives here too: the last event of a command carries ``command``
(its id, the digest of its body and its reply), and the relationship remembers it, so a
retried command finds its first answer in the relationship itself.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event


# ------------------------------------------------------------------------------- errors
class CasefileRuleBroken(Exception):
    """A rule of the relationship was broken; nothing happened. ``code`` is stable."""

    code = "rule_broken"
    field: str | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class RelationshipAlreadyEnded(CasefileRuleBroken):
    code = "relationship_ended"


class RelationshipNotEnded(CasefileRuleBroken):
    code = "relationship_not_ended"


class UnknownOwnWorkerReason(CasefileRuleBroken):
    code = "unknown_own_worker_reason"
    field = "reason"


class OwnWorkerMustBeSocialWorker(CasefileRuleBroken):
    code = "own_worker_must_be_social_worker"


class InvalidWorkPair(CasefileRuleBroken):
    code = "invalid_work_pair"
    field = "work_pair_id"


class AssessmentAlreadyStarted(CasefileRuleBroken):
    code = "assessment_already_started"


class AssessmentNotStarted(CasefileRuleBroken):
    code = "assessment_not_started"


class AssessmentAlreadyCompleted(CasefileRuleBroken):
    code = "assessment_already_completed"


class ClientPlanRequired(CasefileRuleBroken):
    code = "client_plan_required"


class ReviewDateInPast(CasefileRuleBroken):
    code = "review_date_in_past"
    field = "next_review"


class ActivationFieldsOnClientPlan(CasefileRuleBroken):
    code = "activation_fields_on_client_plan"


class TooFewOptions(CasefileRuleBroken):
    code = "too_few_options"
    field = "options_offered"


class OptionNotOffered(CasefileRuleBroken):
    code = "option_not_offered"
    field = "chosen_option"


class ChoiceAndRefusal(CasefileRuleBroken):
    code = "choice_and_refusal"


class ConsequencesNotTold(CasefileRuleBroken):
    code = "consequences_not_told"
    field = "consequences_told"


class ActivationPlanRequired(CasefileRuleBroken):
    code = "activation_plan_required"


class WorkActivityRunning(CasefileRuleBroken):
    code = "work_activity_running"


class WorkActivityNotRunning(CasefileRuleBroken):
    code = "work_activity_not_running"


class WorkActivityPeriodOutOfBounds(CasefileRuleBroken):
    code = "work_activity_period_out_of_bounds"
    field = "ends_on"


class WorkActivityDaysOutOfBounds(CasefileRuleBroken):
    code = "work_activity_days_out_of_bounds"
    field = "days_per_week"


class WorkActivityHoursTooFew(CasefileRuleBroken):
    code = "work_activity_hours_too_few"
    field = "hours_per_day"


class FamiliarisationTooLong(CasefileRuleBroken):
    code = "familiarisation_too_long"
    field = "familiarisation_until"


class EvaluationOutsidePeriod(CasefileRuleBroken):
    code = "evaluation_outside_period"
    field = "evaluation_on"


class ShopStewardNotNotified(CasefileRuleBroken):
    code = "shop_steward_not_notified"
    field = "shop_steward_notified"


class AppealInstructionsMissing(CasefileRuleBroken):
    code = "appeal_instructions_missing"
    field = "appeal_instructions_given"


class DecisionRequiresSocialWorker(CasefileRuleBroken):
    code = "decision_requires_social_worker"
    field = "actor.role"


class MeetingNotFound(CasefileRuleBroken):
    code = "meeting_not_found"
    field = "meeting_id"


class MeetingAlreadyRecorded(CasefileRuleBroken):
    code = "meeting_already_recorded"
    field = "meeting_id"


class ConsentNotGiven(CasefileRuleBroken):
    code = "consent_not_given"
    field = "kind"


OWN_WORKER_REASONS = ("initial", "support_need_changed", "competence", "absence", "clients_request")
SOCIAL_WORKER = "social_worker"
ACTIVATION_KINDS = ("activation_plan", "employment_plan")


# ------------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class Policy:
    """Policy values (configuration, ``POLKU_*``), with the defaults the Aava model cites."""

    activation_min_options: int = 2
    work_activity_min_months: int = 3
    work_activity_max_months: int = 12
    work_activity_min_days: int = 1
    work_activity_max_days: int = 5
    work_activity_min_hours: float = 4.0
    familiarisation_max_days: int = 14
    check_in_after_days: int = 30


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


Command = dict[str, Any]  # {"id", "digest", "reply"}: what a retried command finds


# ---------------------------------------------------------------------------- aggregate
class Relationship(Aggregate):
    """A client relationship (asiakkuus): opened from a referral, with an own worker, through
    assessment, plans, activation and decisions to its end (and, maybe, a return)."""

    @event("Opened")
    def __init__(
        self, *, client_id: str, referral_id: UUID, occurred_at: datetime, trace: dict[str, Any]
    ) -> None:
        self.client_id = client_id
        self.referral_ids = [referral_id]
        self.opened_at = occurred_at
        self.own_worker: str | None = None
        self.own_worker_role: str | None = None
        self.team: str | None = None
        self.work_pair: str | None = None
        self.work_pair_role: str | None = None
        self.ended = False
        self.end_reason: str | None = None
        self.special_support: bool | None = None
        self.support_grounds: list[str] = []
        self.support_grounds_text = ""
        self.nature: str | None = None
        self.assessment = "not_started"
        self.assessment_started_at: datetime | None = None
        self.assessment_conclusion: str | None = None
        self.assessment_summary = ""
        #: every version of every plan, oldest first: the wording stays here, in casefile
        self.plans: list[dict[str, Any]] = []
        self.work_activity: dict[str, Any] | None = None
        self.work_activities: list[dict[str, Any]] = []
        self.decisions: dict[UUID, dict[str, Any]] = {}
        self.meetings: dict[UUID, dict[str, Any]] = {}
        self.measurements: list[dict[str, Any]] = []
        self.consents: set[str] = set()
        self.commands: dict[str, Command] = {}

    @classmethod
    def open(cls, relationship_id: UUID, **fields: Any) -> Relationship:
        return cls._create(cls.Opened, id=relationship_id, **fields)

    # ---------------------------------------------------------------- helpers
    def _remember(self, command: Command | None) -> None:
        if command:
            self.commands[command["id"]] = command

    def reply_of(self, command: Command | None, **ids: Any) -> Command | None:
        """The command record for the event about to be triggered: its reply names the
        version that event will have."""
        if command is None:
            return None
        return {**command, "reply": {"relationship_id": str(self.id), "version": self.version + 1, **ids}}

    def _must_be_open(self) -> None:
        if self.ended:
            raise RelationshipAlreadyEnded("the relationship has ended; reopen it first")

    def latest_plan(self, *kinds: str) -> dict[str, Any] | None:
        for plan in reversed(self.plans):
            if plan["kind"] in kinds:
                return plan
        return None

    @property
    def client_plan_required(self) -> bool:
        return self.assessment_conclusion == "service_need" and self.latest_plan("client_plan") is None

    @staticmethod
    def qualifies_for_special_support(role: str | None, work_pair_role: str | None) -> bool:
        """SHL 42 §: a social worker, or a social counsellor with a social worker as work pair."""
        return role == SOCIAL_WORKER or (role == "social_counsellor" and work_pair_role == SOCIAL_WORKER)

    # -------------------------------------------------------------- referrals
    def attach_referral(self, *, referral_id: UUID, occurred_at: datetime, trace: dict[str, Any]) -> None:
        """A new referral about the client: attached to this open relationship."""
        self._must_be_open()
        self._referral_attached(client_id=self.client_id, referral_id=referral_id, occurred_at=occurred_at, actor=None, trace=trace)

    @event("ReferralAttached")
    def _referral_attached(
        self, *, client_id: str, referral_id: UUID, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any]
    ) -> None:
        self.referral_ids.append(referral_id)

    # -------------------------------------------------------------- own worker
    def name_own_worker(
        self,
        *,
        worker_id: str,
        role: str,
        team: str,
        work_pair_id: str | None,
        reason: str,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        work_pair_role: str | None = None,
        command: Command | None = None,
    ) -> None:
        self._must_be_open()
        if reason not in OWN_WORKER_REASONS:
            raise UnknownOwnWorkerReason(f"reason must be one of {', '.join(OWN_WORKER_REASONS)}")
        if work_pair_id is not None and work_pair_id == worker_id:
            raise InvalidWorkPair("the work pair must be another worker than the own worker")
        if self.special_support and not self.qualifies_for_special_support(role, work_pair_role):
            raise OwnWorkerMustBeSocialWorker(
                "the client has special support need: name a social worker, or a social "
                "counsellor with a social worker as work pair (SHL 42 §)",
                "worker_id",
            )
        self._own_worker_named(
            client_id=self.client_id,
            worker_id=worker_id,
            role=role,
            team=team,
            work_pair_id=work_pair_id,
            work_pair_role=work_pair_role,
            reason=reason,
            occurred_at=occurred_at,
            actor=actor,
            trace=trace,
            command=self.reply_of(command),
        )

    @event("OwnWorkerNamed")
    def _own_worker_named(
        self,
        *,
        client_id: str,
        worker_id: str,
        role: str,
        team: str,
        work_pair_id: str | None,
        reason: str,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        work_pair_role: str | None = None,
        command: Command | None = None,
    ) -> None:
        self.own_worker = worker_id
        self.own_worker_role = role
        self.team = team
        self.work_pair = work_pair_id
        self.work_pair_role = work_pair_role
        self._remember(command)

    # --------------------------------------------------------- special support
    def determine_special_support_need(
        self,
        *,
        special_support: bool,
        grounds: list[str],
        grounds_text: str,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        """Yes or no, with grounds; it may change. A yes re-checks the own worker (SHL 42 §):
        name a qualified own worker (or add a social worker as work pair) first."""
        self._must_be_open()
        if special_support and not self.qualifies_for_special_support(self.own_worker_role, self.work_pair_role):
            raise OwnWorkerMustBeSocialWorker(
                "special support need requires a social worker as own worker, or a social "
                "counsellor with a social worker as work pair: name one first (SHL 42 §)",
                "special_support",
            )
        self._special_support_need_determined(client_id=self.client_id, 
            special_support=special_support,
            grounds=sorted(set(grounds)),
            grounds_text=grounds_text,
            occurred_at=occurred_at,
            actor=actor,
            trace=trace,
            command=self.reply_of(command),
        )

    @event("SpecialSupportNeedDetermined")
    def _special_support_need_determined(
        self,
        *, client_id: str,
        special_support: bool,
        grounds: list[str],
        grounds_text: str,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None,
    ) -> None:
        self.special_support = special_support
        self.support_grounds = list(grounds)
        self.support_grounds_text = grounds_text
        self._remember(command)

    # -------------------------------------------------------------- assessment
    def start_assessment(
        self, *, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any], command: Command | None = None
    ) -> None:
        self._must_be_open()
        if self.assessment == "started":
            raise AssessmentAlreadyStarted("the service need assessment is under way")
        if self.assessment == "completed":
            raise AssessmentAlreadyCompleted("the service need assessment was completed already")
        self._assessment_started(client_id=self.client_id, occurred_at=occurred_at, actor=actor, trace=trace, command=self.reply_of(command))

    @event("AssessmentStarted")
    def _assessment_started(
        self, *, client_id: str, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any], command: Command | None
    ) -> None:
        self.assessment = "started"
        self.assessment_started_at = occurred_at
        self._remember(command)

    def complete_assessment(
        self,
        *,
        conclusion: str,
        summary: str,
        policy: Policy,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        """Conclude the assessment. No service need: the relationship was temporary, and ends."""
        self._must_be_open()
        if self.assessment == "not_started":
            raise AssessmentNotStarted("start the service need assessment first")
        if self.assessment == "completed":
            raise AssessmentAlreadyCompleted("the service need assessment was completed already")
        if conclusion == "no_service_need" and self.work_activity is not None:
            raise WorkActivityRunning("end the period of rehabilitative work activity first")
        last = conclusion == "service_need"
        self._assessment_completed(client_id=self.client_id, 
            conclusion=conclusion,
            summary=summary,
            started_at=self.assessment_started_at,
            occurred_at=occurred_at,
            actor=actor,
            trace=trace,
            command=self.reply_of(command) if last else None,
        )
        if conclusion == "no_service_need":
            if self.nature != "temporary":
                self._nature_determined(client_id=self.client_id, nature="temporary", occurred_at=occurred_at, actor=actor, trace=trace, command=None)
            self._ended(client_id=self.client_id, 
                reason="no_service_need",
                check_in_due=None,
                occurred_at=occurred_at,
                actor=actor,
                trace=trace,
                command=self.reply_of(command),
            )

    @event("AssessmentCompleted")
    def _assessment_completed(
        self,
        *, client_id: str,
        conclusion: str,
        summary: str,
        started_at: datetime | None,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None,
    ) -> None:
        self.assessment = "completed"
        self.assessment_conclusion = conclusion
        self.assessment_summary = summary
        self._remember(command)

    # ------------------------------------------------------------------ nature
    def determine_nature(
        self,
        *,
        nature: str,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        """Temporary, recurring or continuous; a continuous relationship works to a client plan."""
        self._must_be_open()
        if nature == "continuous" and self.latest_plan("client_plan") is None:
            raise ClientPlanRequired("a continuous relationship works to a client plan: make it first", "nature")
        self._nature_determined(client_id=self.client_id, nature=nature, occurred_at=occurred_at, actor=actor, trace=trace, command=self.reply_of(command))

    @event("RelationshipNatureDetermined")
    def _nature_determined(
        self, *, client_id: str, nature: str, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any], command: Command | None
    ) -> None:
        self.nature = nature
        self._remember(command)

    # ------------------------------------------------------------------- plans
    def update_plan(
        self,
        *,
        kind: str,
        content: dict[str, Any],
        next_review: date,
        valid_until: date | None,
        client_dissents: bool,
        options_offered: list[str],
        chosen_option: str | None,
        all_options_refused: bool,
        consequences_told: bool,
        policy: Policy,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> int:
        """A new version of a plan; returns the version. ``content`` is the wording (strengths,
        support needed, goals, measures, meetings, the client's view and dissent)."""
        self._must_be_open()
        if next_review < occurred_at.date():
            raise ReviewDateInPast("the next review date must not be before the plan's date")
        offered = sorted(set(options_offered))
        activation = kind in ACTIVATION_KINDS
        if not activation and (offered or chosen_option or all_options_refused or consequences_told):
            raise ActivationFieldsOnClientPlan(
                "options, a choice or a refusal belong to an activation or employment plan", "kind"
            )
        if activation:
            if chosen_option and all_options_refused:
                raise ChoiceAndRefusal("record either the chosen option or the refusal", "chosen_option")
            if all_options_refused and not consequences_told:
                raise ConsequencesNotTold("tell the client the consequences of refusing every option")
            earlier = [p for p in self.plans if p["kind"] in ACTIVATION_KINDS]
            offered_before = {o for p in earlier for o in p["options_offered"]}
            if chosen_option is not None and chosen_option not in offered_before:
                raise OptionNotOffered(
                    "the chosen option must be one offered at an earlier meeting, so the client "
                    "had time to reflect"
                )
            if all_options_refused and not offered_before:
                raise OptionNotOffered("a refusal follows a meeting where options were offered", "all_options_refused")
            first_offer = not offered_before and chosen_option is None and not all_options_refused
            if first_offer and len(offered) < policy.activation_min_options:
                raise TooFewOptions(
                    f"the first activation meeting offers at least {policy.activation_min_options} options"
                )
        version = 1 + sum(1 for p in self.plans if p["kind"] == kind)
        self._plan_updated(client_id=self.client_id, 
            kind=kind,
            version=version,
            content=content,
            next_review=next_review,
            valid_until=valid_until,
            client_dissents=client_dissents,
            options_offered=offered,
            chosen_option=chosen_option,
            all_options_refused=all_options_refused,
            consequences_told=consequences_told,
            occurred_at=occurred_at,
            actor=actor,
            trace=trace,
            command=self.reply_of(command, plan_version=version),
        )
        return version

    @event("PlanUpdated")
    def _plan_updated(
        self,
        *, client_id: str,
        kind: str,
        version: int,
        content: dict[str, Any],
        next_review: date,
        valid_until: date | None,
        client_dissents: bool,
        options_offered: list[str],
        chosen_option: str | None,
        all_options_refused: bool,
        consequences_told: bool,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None,
    ) -> None:
        self.plans.append(
            {
                "kind": kind,
                "version": version,
                "content": content,
                "next_review": next_review,
                "valid_until": valid_until,
                "client_dissents": client_dissents,
                "options_offered": list(options_offered),
                "chosen_option": chosen_option,
                "all_options_refused": all_options_refused,
                "occurred_at": occurred_at,
            }
        )
        self._remember(command)

    # --------------------------------------------------- rehabilitative work
    def start_work_activity(
        self,
        *,
        placement_id: str,
        days_per_week: int,
        hours_per_day: float,
        starts_on: date,
        ends_on: date,
        familiarisation_until: date | None,
        evaluation_on: date,
        shop_steward_notified: bool,
        policy: Policy,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        self._must_be_open()
        if self.work_activity is not None:
            raise WorkActivityRunning("a period of rehabilitative work activity is running already")
        plan = self.latest_plan(*ACTIVATION_KINDS)
        if plan is None or plan["chosen_option"] != "rehabilitative_work_activity":
            raise ActivationPlanRequired(
                "rehabilitative work activity starts from an activation plan that chose it"
            )
        if not (
            add_months(starts_on, policy.work_activity_min_months)
            <= ends_on
            <= add_months(starts_on, policy.work_activity_max_months)
        ):
            raise WorkActivityPeriodOutOfBounds(
                f"a period lasts {policy.work_activity_min_months}-{policy.work_activity_max_months} months"
            )
        if not policy.work_activity_min_days <= days_per_week <= policy.work_activity_max_days:
            raise WorkActivityDaysOutOfBounds(
                f"{policy.work_activity_min_days}-{policy.work_activity_max_days} days a week"
            )
        if hours_per_day < policy.work_activity_min_hours:
            raise WorkActivityHoursTooFew(f"at least {policy.work_activity_min_hours:g} hours a day")
        if familiarisation_until is not None and not (
            starts_on <= familiarisation_until <= starts_on + timedelta(days=policy.familiarisation_max_days)
        ):
            raise FamiliarisationTooLong(
                f"the familiarisation period is at most {policy.familiarisation_max_days} days from the start"
            )
        if not starts_on <= evaluation_on <= ends_on:
            raise EvaluationOutsidePeriod("the evaluation date falls within the period")
        if not shop_steward_notified:
            raise ShopStewardNotNotified("notify the chief shop steward of the placement first")
        self._work_activity_started(client_id=self.client_id, 
            placement_id=placement_id,
            days_per_week=days_per_week,
            hours_per_day=hours_per_day,
            starts_on=starts_on,
            ends_on=ends_on,
            familiarisation_until=familiarisation_until,
            evaluation_on=evaluation_on,
            shop_steward_notified=shop_steward_notified,
            occurred_at=occurred_at,
            actor=actor,
            trace=trace,
            command=self.reply_of(command),
        )

    @event("WorkActivityStarted")
    def _work_activity_started(
        self,
        *, client_id: str,
        placement_id: str,
        days_per_week: int,
        hours_per_day: float,
        starts_on: date,
        ends_on: date,
        familiarisation_until: date | None,
        evaluation_on: date,
        shop_steward_notified: bool,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None,
    ) -> None:
        self.work_activity = {
            "placement_id": placement_id,
            "days_per_week": days_per_week,
            "hours_per_day": hours_per_day,
            "starts_on": starts_on,
            "ends_on": ends_on,
            "familiarisation_until": familiarisation_until,
            "evaluation_on": evaluation_on,
        }
        self._remember(command)

    def end_work_activity(
        self, *, reason: str, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any], command: Command | None = None
    ) -> None:
        if self.work_activity is None:
            raise WorkActivityNotRunning("no period of rehabilitative work activity is running")
        self._work_activity_ended(client_id=self.client_id, reason=reason, occurred_at=occurred_at, actor=actor, trace=trace, command=self.reply_of(command))

    @event("WorkActivityEnded")
    def _work_activity_ended(
        self, *, client_id: str, reason: str, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any], command: Command | None
    ) -> None:
        if self.work_activity is not None:
            self.work_activities.append({**self.work_activity, "end_reason": reason})
        self.work_activity = None
        self._remember(command)

    # --------------------------------------------------------------- decisions
    def make_decision(
        self,
        *,
        decision_id: UUID,
        kind: str,
        granted: bool,
        appeal_instructions_given: bool,
        secures_care: bool,
        grounds_text: str,
        occurred_at: datetime,
        actor: dict[str, str],
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        self._must_be_open()
        if not granted and not appeal_instructions_given:
            raise AppealInstructionsMissing("a denied decision carries appeal instructions")
        if secures_care and self.special_support and actor["role"] != SOCIAL_WORKER:
            raise DecisionRequiresSocialWorker(
                "a decision securing the care of a client with special support need is a social worker's (SHL 46 §)"
            )
        self._decision_made(client_id=self.client_id, 
            decision_id=decision_id,
            kind=kind,
            granted=granted,
            appealable=not granted,
            appeal_instructions_given=appeal_instructions_given,
            secures_care=secures_care,
            maker_role=actor["role"],
            grounds_text=grounds_text,
            occurred_at=occurred_at,
            actor=actor,
            trace=trace,
            command=self.reply_of(command, decision_id=str(decision_id)),
        )

    @event("DecisionMade")
    def _decision_made(
        self,
        *, client_id: str,
        decision_id: UUID,
        kind: str,
        granted: bool,
        appealable: bool,
        appeal_instructions_given: bool,
        secures_care: bool,
        maker_role: str,
        grounds_text: str,
        occurred_at: datetime,
        actor: dict[str, str],
        trace: dict[str, Any],
        command: Command | None,
    ) -> None:
        self.decisions[decision_id] = {"kind": kind, "granted": granted, "secures_care": secures_care}
        self._remember(command)

    # ---------------------------------------------------------------- meetings
    def schedule_meeting(
        self,
        *,
        meeting_id: UUID,
        kind: str,
        channel: str,
        scheduled_for: datetime,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        self._must_be_open()
        self._meeting_scheduled(client_id=self.client_id, 
            meeting_id=meeting_id,
            kind=kind,
            channel=channel,
            scheduled_for=scheduled_for,
            occurred_at=occurred_at,
            actor=actor,
            trace=trace,
            command=self.reply_of(command, meeting_id=str(meeting_id)),
        )

    @event("MeetingScheduled")
    def _meeting_scheduled(
        self,
        *, client_id: str,
        meeting_id: UUID,
        kind: str,
        channel: str,
        scheduled_for: datetime,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None,
    ) -> None:
        self.meetings[meeting_id] = {"kind": kind, "scheduled_for": scheduled_for, "outcome": None}
        self._remember(command)

    def record_meeting_outcome(
        self,
        *,
        meeting_id: UUID,
        outcome: str,
        notes: str,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            raise MeetingNotFound("the relationship has no meeting with this id")
        if meeting["outcome"] is not None:
            raise MeetingAlreadyRecorded("the meeting's outcome was recorded already")
        fields = dict(
            meeting_id=meeting_id, notes=notes, occurred_at=occurred_at, actor=actor, trace=trace,
            command=self.reply_of(command, meeting_id=str(meeting_id)),
        )
        if outcome == "held":
            self._meeting_held(client_id=self.client_id, **fields)
        else:
            self._meeting_missed(client_id=self.client_id, **fields)

    @event("MeetingHeld")
    def _meeting_held(
        self, *, client_id: str, meeting_id: UUID, notes: str, occurred_at: datetime, actor: dict[str, str] | None,
        trace: dict[str, Any], command: Command | None,
    ) -> None:
        self.meetings[meeting_id]["outcome"] = "held"
        self._remember(command)

    @event("MeetingMissed")
    def _meeting_missed(
        self, *, client_id: str, meeting_id: UUID, notes: str, occurred_at: datetime, actor: dict[str, str] | None,
        trace: dict[str, Any], command: Command | None,
    ) -> None:
        self.meetings[meeting_id]["outcome"] = "missed"
        self._remember(command)

    # ------------------------------------------------------------ measurements
    def record_measurement(
        self,
        *,
        instrument: str,
        scores: dict[str, int],
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        self._must_be_open()
        self._measurement_recorded(client_id=self.client_id, 
            instrument=instrument, scores=dict(scores), occurred_at=occurred_at, actor=actor, trace=trace,
            command=self.reply_of(command),
        )

    @event("MeasurementRecorded")
    def _measurement_recorded(
        self, *, client_id: str, instrument: str, scores: dict[str, int], occurred_at: datetime, actor: dict[str, str] | None,
        trace: dict[str, Any], command: Command | None,
    ) -> None:
        self.measurements.append({"instrument": instrument, "scores": dict(scores), "occurred_at": occurred_at})
        self._remember(command)

    # ---------------------------------------------------------------- consents
    def record_consent(
        self,
        *,
        kind: str,
        given: bool,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        self._must_be_open()
        fields = dict(kind=kind, occurred_at=occurred_at, actor=actor, trace=trace, command=self.reply_of(command))
        if given:
            self._consent_recorded(client_id=self.client_id, **fields)
        else:
            if kind not in self.consents:
                raise ConsentNotGiven("this consent was not given, so it cannot be withdrawn")
            self._consent_withdrawn(client_id=self.client_id, **fields)

    @event("ConsentRecorded")
    def _consent_recorded(
        self, *, client_id: str, kind: str, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any], command: Command | None
    ) -> None:
        self.consents.add(kind)
        self._remember(command)

    @event("ConsentWithdrawn")
    def _consent_withdrawn(
        self, *, client_id: str, kind: str, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any], command: Command | None
    ) -> None:
        self.consents.discard(kind)
        self._remember(command)

    # ------------------------------------------------------------- end, return
    def end(
        self,
        *,
        reason: str,
        policy: Policy,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        """End the relationship. The one-month check-in is followup's: ``check_in_due`` is its
        hook (none when the client died or moved away)."""
        self._must_be_open()
        if self.work_activity is not None:
            raise WorkActivityRunning("end the period of rehabilitative work activity first")
        if reason == "goal_reached" and self.client_plan_required:
            raise ClientPlanRequired("a service need was found: the goal is one of a client plan", "reason")
        check_in_due = None
        if reason not in ("died", "moved"):
            check_in_due = occurred_at.date() + timedelta(days=policy.check_in_after_days)
        self._ended(client_id=self.client_id, 
            reason=reason, check_in_due=check_in_due, occurred_at=occurred_at, actor=actor, trace=trace,
            command=self.reply_of(command),
        )

    @event("Ended")
    def _ended(
        self,
        *, client_id: str,
        reason: str,
        check_in_due: date | None,
        occurred_at: datetime,
        actor: dict[str, str] | None,
        trace: dict[str, Any],
        command: Command | None,
    ) -> None:
        self.ended = True
        self.end_reason = reason
        self._remember(command)

    def reopen(
        self, *, reason: str, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any], command: Command | None = None
    ) -> None:
        """The client returned: the same relationship opens again, its history kept."""
        if not self.ended:
            raise RelationshipNotEnded("the relationship is open")
        self._reopened(client_id=self.client_id, reason=reason, occurred_at=occurred_at, actor=actor, trace=trace, command=self.reply_of(command))

    @event("Reopened")
    def _reopened(
        self, *, client_id: str, reason: str, occurred_at: datetime, actor: dict[str, str] | None, trace: dict[str, Any], command: Command | None
    ) -> None:
        self.ended = False
        self.end_reason = None
        self.assessment = "not_started"
        self.assessment_started_at = None
        self.assessment_conclusion = None
        self._remember(command)


class RecordView(Aggregate):
    """One read of a client's record (the Client Data Act's usage log), granted or refused."""

    @event("Viewed")
    def __init__(
        self,
        *,
        relationship_id: UUID,
        client_id: str,
        part: str,
        purpose: str,
        granted: bool,
        occurred_at: datetime,
        actor: dict[str, str],
        trace: dict[str, Any],
    ) -> None:
        self.relationship_id = relationship_id
        self.client_id = client_id
        self.part = part
        self.purpose = purpose
        self.granted = granted
        self.actor = actor

    @classmethod
    def record(cls, view_id: UUID, **fields: Any) -> RecordView:
        return cls._create(cls.Viewed, id=view_id, **fields)
