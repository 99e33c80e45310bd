"""Casefile's refusals: each rule of the relationship, and each check of the use cases, has its
named error with a stable ``code`` (and the ``field`` it concerns, where one input is at fault).

They are :class:`polku.domain.RuleBroken`: the command pipeline answers them as refusals and
stores nothing.
"""

from __future__ import annotations

from polku.domain import RuleBroken


class CasefileRuleBroken(RuleBroken):
    """A rule of the relationship was broken; nothing happened. ``code`` is stable."""


# ------------------------------------------------------------------------ the relationship
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


class AssessmentRequired(CasefileRuleBroken):
    code = "assessment_required"
    field = "kind"


class SituationNotMapped(CasefileRuleBroken):
    code = "situation_not_mapped"
    field = "strengths"


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


class ActivationPlanIncomplete(CasefileRuleBroken):
    """KTTL 8 §: the plan's record of the client lacks something the law requires."""

    code = "activation_plan_incomplete"


class ClientNotifiedAfterPlan(CasefileRuleBroken):
    code = "client_notified_after_plan"
    field = "client_notified_on"


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


class FamiliarisationNotBeforeStart(CasefileRuleBroken):
    code = "familiarisation_not_before_start"
    field = "familiarisation_until"


class NoDecisionInForce(CasefileRuleBroken):
    code = "no_decision_in_force"


class EvaluationOutsidePeriod(CasefileRuleBroken):
    code = "evaluation_outside_period"
    field = "evaluation_on"


class ShopStewardNotNotified(CasefileRuleBroken):
    code = "shop_steward_not_notified"
    field = "shop_steward_notified"


class AttendanceBeforePeriod(CasefileRuleBroken):
    code = "attendance_before_period"
    field = "day"


class AttendanceAfterPeriod(CasefileRuleBroken):
    code = "attendance_after_period"
    field = "day"


class AttendanceInFuture(CasefileRuleBroken):
    code = "attendance_in_future"
    field = "day"


class AttendanceAlreadyRecorded(CasefileRuleBroken):
    code = "attendance_already_recorded"
    field = "day"


class AbsenceReasonMissing(CasefileRuleBroken):
    """An absence without its reason (the contract refuses it first, as ``invalid_value``)."""

    code = "invalid_value"
    field = "absence_reason"


class VisitInFuture(CasefileRuleBroken):
    code = "visit_in_future"
    field = "visited_on"


class AppealInstructionsMissing(CasefileRuleBroken):
    code = "appeal_instructions_missing"
    field = "appeal_instructions_given"


class ClientNotHeard(CasefileRuleBroken):
    code = "client_not_heard"
    field = "client_heard"


class DecisionRequiresSocialWorker(CasefileRuleBroken):
    code = "decision_requires_social_worker"
    field = "actor.role"


class MeetingNotFound(CasefileRuleBroken):
    code = "meeting_not_found"
    field = "meeting_id"


class MeetingAlreadyRecorded(CasefileRuleBroken):
    code = "meeting_already_recorded"
    field = "meeting_id"


class InformedAtMissedMeeting(CasefileRuleBroken):
    code = "informed_at_missed_meeting"
    field = "client_informed_of"


class OwnWorkerNotNamed(CasefileRuleBroken):
    code = "own_worker_not_named"
    field = "client_informed_of"


class ConsultantIsActor(CasefileRuleBroken):
    code = "consultant_is_actor"
    field = "consultant_id"


class ConsentNotGiven(CasefileRuleBroken):
    code = "consent_not_given"
    field = "kind"


# ------------------------------------------------------------------------------ use cases
class RelationshipNotFound(CasefileRuleBroken):
    code = "relationship_not_found"
    field = "relationship_id"


class Forbidden(CasefileRuleBroken):
    code = "forbidden"
    field = "actor"


class UnknownWorker(CasefileRuleBroken):
    code = "unknown_worker"


class ClientHasOpenRelationship(CasefileRuleBroken):
    code = "client_has_open_relationship"
    field = "relationship_id"


class DisclosureWithoutBasis(CasefileRuleBroken):
    code = "disclosure_without_basis"
    field = "basis"


class ConsentRequired(CasefileRuleBroken):
    code = "consent_required"


# ------------------------------------------------------------------------ measurements
class ScoreOutOfScale(CasefileRuleBroken):
    """A score outside its instrument's scale (``policy.SCORE_SCALES``); ``field`` is ``scores.<item>``."""

    code = "invalid_value"
