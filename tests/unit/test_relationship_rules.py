"""Every rule of the client relationship, broken on purpose: each gets its named error (and its
stable code), and nothing happens: no event is pending on the aggregate afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from polku.domain import Envelope
from services.casefile import domain as d
from services.casefile.domain import ActivationRecord, Measure, PlanContent, Policy, Relationship

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
POLICY = Policy()
SW = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}
SC = {"worker_id": "sc-001", "role": "social_counsellor", "team": "team-north"}


def env(actor: dict[str, str] | None = None) -> Envelope:
    return Envelope(occurred_at=NOW, actor=actor or SC)


def relationship(own: dict[str, str] = SC, pair: dict[str, str] | None = None) -> Relationship:
    rel = Relationship.open(uuid.uuid4(), Envelope(occurred_at=NOW), client_id="c" * 32, referral_id=uuid.uuid4())
    rel.name_own_worker(
        env(), worker_id=own["worker_id"], role=own["role"], team=own["team"],
        work_pair_id=pair["worker_id"] if pair else None, work_pair_role=pair["role"] if pair else None,
        reason="initial",
    )
    rel.collect_events()
    return rel


def assessed(rel: Relationship, conclusion: str = "service_need") -> None:
    rel.start_assessment(env())
    rel.complete_assessment(env(), conclusion=conclusion, summary="", policy=POLICY)


#: a plan's wording, with the client's situation mapped (strengths and the support needed)
MAPPED = PlanContent(goals=("g",), strengths=("s",), support_needed=("n",))


#: what an activation plan records of the client (KTTL 8 §), all of it
KTTL = ActivationRecord(
    education="vocational", work_history="one_to_five_years", earlier_plans="no_earlier_plans",
    participants=("client", "employment_services"),
)


def plan(rel: Relationship, kind: str = "client_plan", **fields: Any) -> int:
    """A new version of a plan; an activation plan's records all KTTL 8 § asks unless ``record`` is given."""
    values: dict[str, Any] = dict(
        kind=kind, content=MAPPED, next_review=TODAY + timedelta(days=90),
        valid_until=None, client_dissents=False, options_offered=[], chosen_option=None,
        all_options_refused=False, consequences_told=False, policy=POLICY,
    )
    if kind != "client_plan":
        values["record"] = KTTL
    values.update(fields)
    return rel.update_plan(env(), **values)


def activation_chosen(rel: Relationship, option: str = "rehabilitative_work_activity", *, decided: bool = True) -> None:
    """An activation plan that chose ``option``; with the decisions of a period of work activity
    and its familiarisation period (granted), unless not ``decided``."""
    plan(rel, "activation_plan", options_offered=["rehabilitative_work_activity", "education"])
    plan(rel, "activation_plan", chosen_option=option)
    for kind in ("rehabilitative_work_activity", "familiarisation_period") if decided else ():
        grant(rel, kind)


def grant(rel: Relationship, kind: str) -> None:
    rel.make_decision(
        env(), decision_id=uuid.uuid4(), kind=kind, granted=True, appeal_instructions_given=True,
        secures_care=False, grounds_text="", outcome="granted", client_heard=False,
    )


def work(rel: Relationship, *, shop_steward_notified: bool = True, policy: Policy = POLICY, **fields: Any) -> None:
    values: dict[str, Any] = dict(
        placement_id="activity-centre-1", days_per_week=3, hours_per_day=4.0,
        starts_on=date(2026, 12, 1), ends_on=date(2027, 6, 1), familiarisation_until=date(2026, 11, 30),
        evaluation_on=date(2027, 3, 1),
    )
    values.update(fields)
    rel.start_work_activity(
        env(), d.WorkActivityPeriod(**values), shop_steward_notified=shop_steward_notified, policy=policy
    )


def refused(rel: Relationship, error: type[d.CasefileRuleBroken], code: str, act: Callable[[], Any]) -> None:
    rel.collect_events()
    version = rel.version
    with pytest.raises(error) as raised:
        act()
    assert raised.value.code == code
    assert rel.collect_events() == [] and rel.version == version


# ------------------------------------------------------------------------ own worker
def test_special_support_needs_a_social_worker_as_own_worker() -> None:
    rel = relationship(SW)
    rel.determine_special_support_need(env(), special_support=True, grounds=["substance_use"], grounds_text="")
    refused(rel, d.OwnWorkerMustBeSocialWorker, "own_worker_must_be_social_worker", lambda: rel.name_own_worker(
        env(), worker_id="sc-001", role="social_counsellor", team="team-north", work_pair_id=None,
        reason="competence",
    ))


def test_a_counsellor_with_a_social_worker_as_work_pair_may_be_the_own_worker_of_special_support() -> None:
    rel = relationship(SW)
    rel.determine_special_support_need(env(), special_support=True, grounds=["illness"], grounds_text="")
    rel.name_own_worker(
        env(), worker_id="sc-001", role="social_counsellor", team="team-north", work_pair_id="sw-001",
        work_pair_role="social_worker", reason="competence",
    )
    assert (rel.own_worker, rel.work_pair) == ("sc-001", "sw-001")


def test_a_work_pair_that_is_no_social_worker_does_not_qualify_a_counsellor() -> None:
    rel = relationship(SW)
    rel.determine_special_support_need(env(), special_support=True, grounds=["illness"], grounds_text="")
    refused(rel, d.OwnWorkerMustBeSocialWorker, "own_worker_must_be_social_worker", lambda: rel.name_own_worker(
        env(), worker_id="sc-001", role="social_counsellor", team="team-north", work_pair_id="sc-002",
        work_pair_role="social_counsellor", reason="competence",
    ))


def test_the_own_worker_is_not_their_own_work_pair() -> None:
    rel = relationship()
    refused(rel, d.InvalidWorkPair, "invalid_work_pair", lambda: rel.name_own_worker(
        env(), worker_id="sw-001", role="social_worker", team="team-north", work_pair_id="sw-001",
        work_pair_role="social_worker", reason="competence",
    ))


def test_special_support_found_later_rechecks_the_own_worker() -> None:
    rel = relationship(SC)
    refused(rel, d.OwnWorkerMustBeSocialWorker, "own_worker_must_be_social_worker", lambda: rel.determine_special_support_need(
        env(), special_support=True, grounds=["multiple_needs"], grounds_text="",
    ))
    # Adding a social worker as work pair first makes it possible; then it can change back.
    rel.name_own_worker(
        env(), worker_id="sc-001", role="social_counsellor", team="team-north", work_pair_id="sw-001",
        work_pair_role="social_worker", reason="support_need_changed",
    )
    rel.determine_special_support_need(env(), special_support=True, grounds=["multiple_needs"], grounds_text="")
    rel.determine_special_support_need(env(), special_support=False, grounds=[], grounds_text="")
    assert rel.special_support is False


def test_suspected_special_support_needs_a_social_worker_until_the_need_is_determined() -> None:
    """Intake's suspicion, carried when the relationship opens: SHL 42 § applies to it until the
    need is determined either way."""
    rel = Relationship.open(
        uuid.uuid4(), Envelope(occurred_at=NOW), client_id="c" * 32, referral_id=uuid.uuid4(),
        special_support_suspected=True,
    )
    rel.name_own_worker(env(), worker_id="sw-001", role="social_worker", team="team-north", reason="initial")
    refused(rel, d.OwnWorkerMustBeSocialWorker, "own_worker_must_be_social_worker", lambda: rel.name_own_worker(
        env(), worker_id="sc-001", role="social_counsellor", team="team-north", work_pair_id=None,
        work_pair_role=None, reason="competence",
    ))
    refused(rel, d.DecisionRequiresSocialWorker, "decision_requires_social_worker", lambda: rel.make_decision(
        env(SC), decision_id=uuid.uuid4(), kind="activity_allowance", granted=True, appeal_instructions_given=True,
        secures_care=True, grounds_text="",
    ))
    rel.determine_special_support_need(env(), special_support=False, grounds=[], grounds_text="")
    assert (rel.special_support, rel.special_support_suspected) == (False, False)
    rel.name_own_worker(
        env(), worker_id="sc-001", role="social_counsellor", team="team-north", work_pair_id=None,
        work_pair_role=None, reason="competence",
    )
    assert rel.own_worker == "sc-001"


# ------------------------------------------------------------------------ assessment
def test_an_assessment_is_started_once_and_completed_after_it_started() -> None:
    rel = relationship()
    refused(rel, d.AssessmentNotStarted, "assessment_not_started", lambda: rel.complete_assessment(
        env(), conclusion="service_need", summary="", policy=POLICY))
    rel.start_assessment(env())
    refused(rel, d.AssessmentAlreadyStarted, "assessment_already_started", lambda: rel.start_assessment(env()))
    rel.complete_assessment(env(), conclusion="service_need", summary="", policy=POLICY)
    refused(rel, d.AssessmentAlreadyCompleted, "assessment_already_completed", lambda: rel.start_assessment(env()))
    refused(rel, d.AssessmentAlreadyCompleted, "assessment_already_completed", lambda: rel.complete_assessment(
        env(), conclusion="service_need", summary="", policy=POLICY))


def test_no_service_need_found_forms_no_client_relationship_whichever_command_records_it() -> None:
    """Seed 000: when the start or the assessment finds no need, no client relationship is formed
    and none needs ending: no nature, no check-in, closed at once, by either command."""
    by_assessment = relationship()
    by_assessment.start_assessment(env())
    assert by_assessment.formed is None  # prospective
    by_assessment.collect_events()
    by_assessment.complete_assessment(env(), conclusion="no_service_need", summary="", policy=POLICY)
    at_the_start, during_the_assessment = relationship(), relationship()
    during_the_assessment.start_assessment(env())
    during_the_assessment.collect_events()
    for rel in (at_the_start, during_the_assessment):
        rel.end(env(), reason="no_service_need", policy=POLICY)
    for rel in (by_assessment, at_the_start, during_the_assessment):
        *_, ended, closed = rel.collect_events()
        assert (type(ended).__name__, ended.check_in_due, ended.formed) == ("Ended", None, False)
        assert (type(closed).__name__, closed.reason) == ("Closed", "not_formed")
        assert (rel.ended, rel.formed, rel.nature, rel.end_reason) == (True, False, None, "no_service_need")
        assert (rel.closed_on, rel.close_reason) == (TODAY, "not_formed")


def test_a_formed_relationship_whose_need_ended_gets_its_check_in_whichever_command_records_it() -> None:
    """A need found, or a plan made, forms the client relationship: ``no_service_need`` then says
    the need ended, and the one-month check-in is due like after any other end."""
    planned = relationship()
    assessed(planned)
    assert planned.formed is True
    plan(planned)
    planned.collect_events()
    planned.end(env(), reason="no_service_need", policy=POLICY)
    mapped_first = relationship()
    plan(mapped_first, "activation_plan", options_offered=["education", "work_trial"])
    assert mapped_first.formed is True
    mapped_first.start_assessment(env())
    mapped_first.collect_events()
    mapped_first.complete_assessment(env(), conclusion="no_service_need", summary="", policy=POLICY)
    for rel in (planned, mapped_first):
        [*_, ended] = rel.collect_events()
        assert (type(ended).__name__, ended.check_in_due, ended.formed) == ("Ended", TODAY + timedelta(days=30), True)
        assert (rel.formed, rel.closed_on) == (True, None)


def test_a_service_need_requires_a_client_plan_before_the_goal_is_reached_or_the_relationship_is_continuous() -> None:
    rel = relationship()
    rel.start_assessment(env())
    rel.complete_assessment(env(), conclusion="service_need", summary="", policy=POLICY)
    assert rel.client_plan_required
    refused(rel, d.ClientPlanRequired, "client_plan_required", lambda: rel.end(env(), reason="goal_reached", policy=POLICY))
    refused(rel, d.ClientPlanRequired, "client_plan_required", lambda: rel.determine_nature(env(), nature="continuous"))
    plan(rel)
    assert not rel.client_plan_required
    rel.determine_nature(env(), nature="continuous")
    rel.end(env(), reason="goal_reached", policy=POLICY)


# ------------------------------------------------------------------------------ plans
def test_a_plan_names_a_next_review_date_that_is_not_past() -> None:
    rel = relationship()
    refused(rel, d.ReviewDateInPast, "review_date_in_past", lambda: plan(rel, next_review=TODAY - timedelta(days=1)))


def test_a_plan_gets_versions_per_kind() -> None:
    rel = relationship()
    assessed(rel)
    assert plan(rel) == 1
    assert plan(rel) == 2
    assert plan(rel, "activation_plan", options_offered=["education", "work_trial"]) == 1


def test_plans_come_after_the_assessment_a_client_plan_after_one_that_found_a_need() -> None:
    rel = relationship()
    refused(rel, d.AssessmentRequired, "assessment_required", lambda: plan(rel))
    rel.start_assessment(env())
    refused(rel, d.AssessmentRequired, "assessment_required", lambda: plan(rel))
    rel.complete_assessment(env(), conclusion="service_need", summary="", policy=POLICY)
    assert plan(rel) == 1


def test_an_assessment_that_found_no_need_leaves_no_room_for_a_plan() -> None:
    rel = relationship()
    assessed(rel, "no_service_need")
    refused(rel, d.RelationshipAlreadyEnded, "relationship_ended", lambda: plan(rel))


def test_plans_come_after_the_assessment_an_activation_plan_after_the_situation_is_mapped() -> None:
    rel = relationship()
    offer = ["education", "work_trial"]
    for content in (PlanContent(goals=("g",)), PlanContent(strengths=("s",)), PlanContent(support_needed=("n",))):
        refused(rel, d.SituationNotMapped, "situation_not_mapped", lambda: plan(
            rel, "activation_plan", content=content, options_offered=offer))
    # mapped in the plan itself: strengths and the support needed; later versions need not repeat it
    plan(rel, "activation_plan", options_offered=offer)
    plan(rel, "activation_plan", content=PlanContent(goals=("g",)), chosen_option="education")
    # or mapped by an assessment that found a need
    other = relationship()
    assessed(other)
    plan(other, "employment_plan", content=PlanContent(goals=("g",)), options_offered=offer)


def test_the_first_activation_meeting_offers_at_least_two_options() -> None:
    rel = relationship()
    refused(rel, d.TooFewOptions, "too_few_options", lambda: plan(rel, "activation_plan", options_offered=["education"]))
    # the same option twice is one option
    refused(rel, d.TooFewOptions, "too_few_options", lambda: plan(rel, "activation_plan", options_offered=["education", "education"]))
    plan(rel, "activation_plan", options_offered=["education", "work_trial"])


def test_the_minimum_number_of_options_is_policy() -> None:
    rel = relationship()
    three = Policy(activation_min_options=3)
    refused(rel, d.TooFewOptions, "too_few_options", lambda: plan(
        rel, "activation_plan", options_offered=["education", "work_trial"], policy=three))
    plan(rel, "employment_plan", options_offered=["education", "work_trial", "job_search_support"], policy=three)


def test_the_chosen_option_was_offered_at_an_earlier_meeting() -> None:
    rel = relationship()
    refused(rel, d.OptionNotOffered, "option_not_offered", lambda: plan(
        rel, "activation_plan", options_offered=["education", "work_trial"], chosen_option="education"))
    plan(rel, "activation_plan", options_offered=["education", "work_trial"])
    refused(rel, d.OptionNotOffered, "option_not_offered", lambda: plan(rel, "activation_plan", chosen_option="pay_subsidised_work"))
    plan(rel, "activation_plan", chosen_option="work_trial")
    assert rel.latest_plan("activation_plan").chosen_option == "work_trial"


def test_refusing_every_option_needs_the_consequences_told_and_is_not_a_choice_too() -> None:
    rel = relationship()
    refused(rel, d.OptionNotOffered, "option_not_offered", lambda: plan(
        rel, "activation_plan", all_options_refused=True, consequences_told=True))
    plan(rel, "activation_plan", options_offered=["education", "work_trial"])
    refused(rel, d.ConsequencesNotTold, "consequences_not_told", lambda: plan(rel, "activation_plan", all_options_refused=True))
    refused(rel, d.ChoiceAndRefusal, "choice_and_refusal", lambda: plan(
        rel, "activation_plan", all_options_refused=True, consequences_told=True, chosen_option="education"))
    plan(rel, "activation_plan", all_options_refused=True, consequences_told=True)


def test_an_activation_plan_records_what_kttl_8_asks_and_later_versions_keep_it() -> None:
    rel = relationship()
    offer = ["education", "work_trial"]
    for record in (ActivationRecord(), ActivationRecord(education="basic_education", work_history="none",
                                                        earlier_plans="not_carried_out", participants=("client",))):
        refused(rel, d.ActivationPlanIncomplete, "activation_plan_incomplete", lambda: plan(
            rel, "activation_plan", options_offered=offer, record=record))
    plan(rel, "activation_plan", options_offered=offer)
    # a later version records what changed; the rest of the record stands
    plan(rel, "activation_plan", chosen_option="education", record=ActivationRecord(education="higher_education"))
    latest = rel.latest_plan("activation_plan")
    assert (latest.record.education, latest.record.work_history, latest.record.participants) == (
        "higher_education", "one_to_five_years", ("client", "employment_services"))
    # replayed from its events, the record is rebuilt the same
    fresh = Relationship.open(uuid.uuid4(), env(), client_id="c" * 32, referral_id=uuid.uuid4())
    plan(fresh, "activation_plan", options_offered=offer)
    plan(fresh, "activation_plan", chosen_option="education", record=ActivationRecord(education="higher_education"))
    again = None
    for e in fresh.collect_events():
        again = e.mutate(again)
    assert again is not None and again.plans == fresh.plans
    assert again.plans[-1].record == latest.record


def test_a_health_care_work_pair_is_one_work_pair_with_code_and_profession() -> None:
    rel = relationship()
    for fields in ({"work_pair_id": "sw-002", "work_pair_role": "social_worker", "health_care_pair_id": "hc-1",
                    "health_care_pair_profession": "nurse"}, {"health_care_pair_id": "hc-1"}):
        refused(rel, d.InvalidWorkPair, "invalid_work_pair", lambda: rel.name_own_worker(
            env(), worker_id="sc-001", role="social_counsellor", team="team-north", reason="competence", **fields))
    rel.name_own_worker(env(), worker_id="sc-001", role="social_counsellor", team="team-north", reason="competence",
                        health_care_pair_id="hc-1", health_care_pair_profession="physician")
    assert (rel.work_pair, rel.health_care_pair, rel.health_care_pair_profession) == (None, "hc-1", "physician")


def test_options_belong_to_an_activation_plan_not_the_client_plan() -> None:
    rel = relationship()
    refused(rel, d.ActivationFieldsOnClientPlan, "activation_fields_on_client_plan", lambda: plan(
        rel, "client_plan", options_offered=["education", "work_trial"]))


# ---------------------------------------------------------- rehabilitative work activity
def test_work_activity_starts_from_an_activation_plan_that_chose_it() -> None:
    rel = relationship()
    refused(rel, d.ActivationPlanRequired, "activation_plan_required", lambda: work(rel))
    activation_chosen(rel, "education")
    refused(rel, d.ActivationPlanRequired, "activation_plan_required", lambda: work(rel))


def test_work_activity_starts_only_with_a_granted_decision_of_its_kind_in_force() -> None:
    rel = relationship()
    activation_chosen(rel, decided=False)
    refused(rel, d.NoDecisionInForce, "no_decision_in_force", lambda: work(rel))
    rel.make_decision(
        env(), decision_id=uuid.uuid4(), kind="rehabilitative_work_activity", granted=False,
        appeal_instructions_given=True, secures_care=False, grounds_text="", outcome="denied", client_heard=True,
    )
    refused(rel, d.NoDecisionInForce, "no_decision_in_force", lambda: work(rel))
    grant(rel, "activity_allowance")  # another kind of decision is not the period's
    refused(rel, d.NoDecisionInForce, "no_decision_in_force", lambda: work(rel))
    grant(rel, "rehabilitative_work_activity")
    work(rel, familiarisation_until=None)


def test_the_familiarisation_period_is_before_the_start_by_decision() -> None:
    rel = relationship()
    activation_chosen(rel, decided=False)
    grant(rel, "rehabilitative_work_activity")
    # a familiarisation period needs its own decision ...
    error = None
    try:
        work(rel)
    except d.NoDecisionInForce as e:
        error = e
    assert error is not None and error.field == "familiarisation_until"
    grant(rel, "familiarisation_period")
    # ... and ends before the period starts
    for until in (date(2026, 12, 1), date(2026, 12, 14)):
        refused(rel, d.FamiliarisationNotBeforeStart, "familiarisation_not_before_start", lambda: work(
            rel, familiarisation_until=until))
    work(rel, familiarisation_until=date(2026, 11, 30))
    assert rel.work_activity is not None and rel.work_activity.familiarisation_until == date(2026, 11, 30)


@pytest.mark.parametrize(
    ("fields", "error", "code"),
    [
        ({"ends_on": date(2027, 2, 28)}, d.WorkActivityPeriodOutOfBounds, "work_activity_period_out_of_bounds"),
        ({"ends_on": date(2027, 12, 2)}, d.WorkActivityPeriodOutOfBounds, "work_activity_period_out_of_bounds"),
        ({"days_per_week": 6}, d.WorkActivityDaysOutOfBounds, "work_activity_days_out_of_bounds"),
        ({"hours_per_day": 3.5}, d.WorkActivityHoursTooFew, "work_activity_hours_too_few"),
        ({"familiarisation_until": date(2026, 12, 1)}, d.FamiliarisationNotBeforeStart, "familiarisation_not_before_start"),
        ({"evaluation_on": date(2027, 6, 2)}, d.EvaluationOutsidePeriod, "evaluation_outside_period"),
        ({"shop_steward_notified": False}, d.ShopStewardNotNotified, "shop_steward_not_notified"),
    ],
)
def test_work_activity_keeps_within_its_bounds(fields: dict[str, Any], error: type[d.CasefileRuleBroken], code: str) -> None:
    rel = relationship()
    activation_chosen(rel)
    refused(rel, error, code, lambda: work(rel, **fields))


def test_work_activity_bounds_at_their_edges_are_allowed_and_are_policy() -> None:
    rel = relationship()
    activation_chosen(rel)
    work(rel, ends_on=date(2027, 3, 1), days_per_week=1, hours_per_day=4.0, familiarisation_until=None,
         evaluation_on=date(2027, 3, 1))
    rel.end_work_activity(env(), reason="period_completed")
    work(rel, starts_on=date(2027, 3, 2), ends_on=date(2028, 3, 2), days_per_week=5, evaluation_on=date(2027, 9, 1),
         familiarisation_until=date(2027, 3, 1))
    rel.end_work_activity(env(), reason="interrupted")
    shorter = Policy(work_activity_min_months=1, work_activity_min_hours=3.0)
    work(rel, starts_on=date(2028, 4, 1), ends_on=date(2028, 5, 1), hours_per_day=3.0, familiarisation_until=None,
         evaluation_on=date(2028, 4, 15), policy=shorter)


def test_one_period_of_work_activity_at_a_time_and_only_a_running_one_ends() -> None:
    rel = relationship()
    activation_chosen(rel)
    refused(rel, d.WorkActivityNotRunning, "work_activity_not_running", lambda: rel.end_work_activity(env(), reason="interrupted"))
    work(rel)
    refused(rel, d.WorkActivityRunning, "work_activity_running", lambda: work(rel))
    refused(rel, d.WorkActivityRunning, "work_activity_running", lambda: rel.end(env(), reason="transferred_to_work", policy=POLICY))


# ---------------------------------------------------------------------------- decisions
def decide(rel: Relationship, actor: dict[str, str], **fields: Any) -> None:
    values: dict[str, Any] = dict(
        decision_id=uuid.uuid4(), kind="supported_living", granted=True, appeal_instructions_given=True,
        secures_care=False, grounds_text="",
    )
    values.update(fields)
    rel.make_decision(env(actor), **values)


def test_every_decision_carries_instructions_for_rectification_or_appeal_granted_or_not() -> None:
    rel = relationship()
    for granted in (True, False):
        refused(rel, d.AppealInstructionsMissing, "appeal_instructions_missing", lambda: decide(
            rel, SC, granted=granted, appeal_instructions_given=False, client_heard=True))
    decide(rel, SC, granted=True)
    decide(rel, SC, granted=False, client_heard=True)
    granted, denied = rel.collect_events()
    assert (granted.appealable, granted.outcome, granted.appeal_instructions_given) == (False, "granted", True)
    assert (denied.appealable, denied.outcome, denied.maker_role) == (True, "denied", "social_counsellor")


def test_the_client_is_heard_before_a_negative_decision_denied_or_partly_granted() -> None:
    rel = relationship()
    refused(rel, d.ClientNotHeard, "client_not_heard", lambda: decide(rel, SC, granted=False))
    refused(rel, d.ClientNotHeard, "client_not_heard", lambda: decide(rel, SC, granted=True, outcome="partly_granted"))
    decide(rel, SC, granted=True, outcome="partly_granted", client_heard=True)
    decide(rel, SC, granted=True)  # a granted one needs no hearing
    [partly] = [v for v in rel.decisions.values() if v.outcome == "partly_granted"]
    assert (partly.granted, partly.appealable, partly.client_heard) == (True, True, True)
    # partly granted is granted in part: the decision is in force
    assert rel.decisions_in_force["supported_living"] in rel.decisions


def test_decisions_securing_the_care_of_a_special_support_client_are_a_social_workers() -> None:
    rel = relationship(SC, SW)
    rel.determine_special_support_need(env(), special_support=True, grounds=["disability"], grounds_text="")
    refused(rel, d.DecisionRequiresSocialWorker, "decision_requires_social_worker", lambda: decide(rel, SC, secures_care=True))
    decide(rel, SW, secures_care=True)
    decide(rel, SC, secures_care=False)  # other decisions a counsellor may make


# ----------------------------------------------------------------- meetings, consents
def test_a_meeting_is_held_or_missed_once() -> None:
    rel = relationship()
    meeting = uuid.uuid4()
    refused(rel, d.MeetingNotFound, "meeting_not_found", lambda: rel.record_meeting_outcome(
        env(), meeting_id=meeting, outcome="held", notes=""))
    rel.schedule_meeting(env(), meeting_id=meeting, kind="first_meeting", channel="in_person", scheduled_for=NOW)
    rel.record_meeting_outcome(env(), meeting_id=meeting, outcome="missed", notes="")
    refused(rel, d.MeetingAlreadyRecorded, "meeting_already_recorded", lambda: rel.record_meeting_outcome(
        env(), meeting_id=meeting, outcome="held", notes=""))


def test_only_a_consent_given_can_be_withdrawn() -> None:
    rel = relationship()
    refused(rel, d.ConsentNotGiven, "consent_not_given", lambda: rel.record_consent(env(), kind="information_exchange", given=False))
    rel.record_consent(env(), kind="information_exchange", given=True)
    rel.record_consent(env(), kind="information_exchange", given=False)
    assert rel.consents == set()


# ------------------------------------------------------------------------ end, return
def test_an_ended_relationship_takes_nothing_until_it_is_reopened() -> None:
    rel = relationship()
    refused(rel, d.RelationshipNotEnded, "relationship_not_ended", lambda: rel.reopen(env(), reason="client_returned"))
    rel.end(env(), reason="moved", policy=POLICY)
    for act in (
        lambda: rel.start_assessment(env()),
        lambda: plan(rel),
        lambda: rel.end(env(), reason="moved", policy=POLICY),
        lambda: rel.record_consent(env(), kind="information_exchange", given=True),
        lambda: rel.determine_nature(env(), nature="recurring"),
    ):
        refused(rel, d.RelationshipAlreadyEnded, "relationship_ended", act)
    rel.reopen(env(), reason="client_returned")
    assert not rel.ended and rel.assessment == "not_started"
    rel.start_assessment(env())


def test_a_returning_clients_nature_is_determined_again_and_the_old_plans_are_no_longer_current() -> None:
    rel = relationship()
    assessed(rel)
    plan(rel)
    activation_chosen(rel)
    rel.determine_nature(env(), nature="continuous")
    rel.end(env(), reason="client_ended", policy=POLICY)
    rel.reopen(env(), reason="client_returned")
    assert rel.nature is None and rel.latest_plans() == [] and rel.decisions_in_force == {}
    assert [(p.kind, p.version) for p in rel.plans] == [  # the history stays
        ("client_plan", 1), ("activation_plan", 1), ("activation_plan", 2),
    ]
    assert not rel.client_plan_required
    # continuous again only with a new client plan, after a new assessment; nor do the old
    # options count for a new choice, nor the old decisions for a new period
    refused(rel, d.ClientPlanRequired, "client_plan_required", lambda: rel.determine_nature(env(), nature="continuous"))
    refused(rel, d.AssessmentRequired, "assessment_required", lambda: plan(rel))
    refused(rel, d.OptionNotOffered, "option_not_offered", lambda: plan(rel, "activation_plan", chosen_option="education"))
    assessed(rel)
    assert rel.client_plan_required
    assert plan(rel) == 2  # versions go on from the history
    rel.determine_nature(env(), nature="continuous")
    activation_chosen(rel, decided=False)
    refused(rel, d.NoDecisionInForce, "no_decision_in_force", lambda: work(rel))


def test_the_end_names_the_check_in_date_for_followup_unless_the_client_died() -> None:
    """Seed 003 contacts every client a month after the end; nothing in the seeds skips it for a
    move. Only a client who died gets none (``POLKU_NO_CHECK_IN_REASONS``), and is closed at once."""
    for reason in ("transferred_to_work", "moved", "client_ended", "unreachable"):
        rel = relationship()
        rel.end(env(), reason=reason, policy=POLICY)
        [ended] = rel.collect_events()
        assert (ended.check_in_due, ended.formed, rel.closed_on) == (TODAY + timedelta(days=30), True, None), reason
    died = relationship()
    died.end(env(), reason="died", policy=POLICY)
    ended, closed = died.collect_events()
    assert (ended.check_in_due, closed.reason, died.close_reason) == (None, "no_check_in_due", "no_check_in_due")
    configured = Policy(no_check_in_reasons=("died", "moved"))
    moved = relationship()
    moved.end(env(), reason="moved", policy=configured)
    ended, closed = moved.collect_events()
    assert (ended.check_in_due, closed.reason) == (None, "no_check_in_due")


def test_the_end_is_not_the_close_the_check_in_closes_it() -> None:
    """Seed 003: the relationship ends, and is closed only when the one-month call finds no
    need (or, followup's rule, cannot reach the client). A close is recorded once; a return
    (closed or not) opens the relationship again, not closed."""
    rel = relationship()
    assert not rel.close(env(), reason="check_in_no_need")  # open: nothing to close
    rel.end(env(), reason="transferred_to_work", policy=POLICY)
    rel.collect_events()
    assert (rel.ended, rel.closed_on) == (True, None)
    assert rel.close(env(), reason="check_in_no_need")
    [closed] = rel.collect_events()
    assert (type(closed).__name__, closed.reason, rel.closed_on, rel.close_reason) == (
        "Closed", "check_in_no_need", TODAY, "check_in_no_need",
    )
    assert not rel.close(env(), reason="check_in_unreached") and rel.collect_events() == []
    rel.reopen(env(), reason="client_returned")
    assert (rel.ended, rel.closed_on, rel.close_reason, rel.formed) == (False, None, None, None)


def test_an_end_and_its_close_replay_to_the_same_state() -> None:
    rel = Relationship.open(uuid.uuid4(), env(), client_id="c" * 32, referral_id=uuid.uuid4())
    rel.end(env(), reason="no_service_need", policy=POLICY)
    events = rel.collect_events()
    again = None
    for e in events:
        again = e.mutate(again)
    assert (again.formed, again.closed_on, again.close_reason) == (False, TODAY, "not_formed")
    # an end stored before ``formed`` was carried: tests/application/test_old_stores.py


def test_a_replay_of_the_events_gives_the_same_typed_state_and_version() -> None:
    """The ``@event`` methods build the typed values from what the events store; replaying the
    events from the start rebuilds them equal. (Which command an event belongs to, and its
    reply, is the command pipeline's record now, not the relationship's.)"""
    rel = Relationship.open(uuid.uuid4(), env(), client_id="c" * 32, referral_id=uuid.uuid4())
    rel.start_assessment(env())
    rel.complete_assessment(env(), conclusion="service_need", summary="", policy=POLICY)
    content = PlanContent(goals=("g1", "g2"), measures=(Measure("weekly visits", "own_worker"),), client_view="v")
    assert plan(rel, content=content) == 1
    activation_chosen(rel)
    work(rel)
    rel.end_work_activity(env(), reason="period_completed")
    decide(rel, SC, granted=False, client_heard=True)
    meeting = uuid.uuid4()
    rel.schedule_meeting(env(), meeting_id=meeting, kind="first_meeting", channel="in_person", scheduled_for=NOW)
    rel.record_meeting_outcome(env(), meeting_id=meeting, outcome="held", notes="")
    rel.record_measurement(env(), instrument="kykyviisari", scores={"work": 3})
    events = rel.collect_events()
    assert rel.version == len(events) == 14

    again = None
    for e in events:
        again = e.mutate(again)
    assert again is not None and again.version == rel.version
    assert again.plans == rel.plans and again.plans[0].content == content
    assert [(p.kind, p.version, p.chosen_option) for p in again.plans] == [
        ("client_plan", 1, None), ("activation_plan", 1, None), ("activation_plan", 2, "rehabilitative_work_activity"),
    ]
    assert again.work_activity is None and again.work_activities == rel.work_activities
    assert again.work_activities[0].end_reason == "period_completed"
    assert again.decisions == rel.decisions and list(again.decisions.values())[-1].appealable is True
    assert again.decisions_in_force == rel.decisions_in_force and set(again.decisions_in_force) == {
        "rehabilitative_work_activity", "familiarisation_period",
    }
    assert again.meetings == rel.meetings and again.meetings[meeting].outcome == "held"
    assert again.measurements == rel.measurements and again.measurements[0].occurred_at == NOW


@pytest.mark.parametrize(
    ("instrument", "good", "bad"),
    [("kykyviisari", (0, 10), (-1, 11)), ("avain", (1, 5), (0, 6)), ("other", (0, 100), (-1, 101))],
)
def test_scores_lie_within_their_instruments_scale(instrument: str, good: tuple[int, int], bad: tuple[int, int]) -> None:
    rel = Relationship.open(uuid.uuid4(), env(), client_id="c" * 32, referral_id=uuid.uuid4())
    rel.record_measurement(env(), instrument=instrument, scores={"a": good[0], "b": good[1]})
    for score in bad:
        with pytest.raises(d.errors.ScoreOutOfScale) as refused:
            rel.record_measurement(env(), instrument=instrument, scores={"a": good[0], "b": score})
        assert (refused.value.code, refused.value.field) == ("invalid_value", "scores.b")
    assert len(rel.measurements) == 1
