"""The rules of the client relationship that issue #11 added, broken on purpose through
casefile's command pipeline (a real SQLite store): each refusal has its stable code, stores
nothing, and the path that keeps the rule goes through."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec
import pytest

from contracts import casefile as cmd
from polku.domain import RuleBroken
from polku.pipeline import Pipeline
from services.casefile.application import CasefileApplication
from tests.application.test_casefile_commands import app, command, open_relationship, pipeline  # noqa: F401
from tests.casefile_helpers import KTTL

START = date(2026, 12, 1)


def ok(pipeline: Pipeline, tp: type[Any], rid: uuid.UUID, **fields: Any) -> Any:
    return pipeline.execute(command(tp, rid, **fields), command_id=f"cis-{uuid.uuid4()}")


def refused(app: CasefileApplication, pipeline: Pipeline, code: str, tp: type[Any], rid: uuid.UUID, **fields: Any) -> RuleBroken:
    position = app.max_position()
    with pytest.raises(RuleBroken) as raised:
        ok(pipeline, tp, rid, **fields)
    assert raised.value.code == code, raised.value
    assert app.max_position() == position
    return raised.value



def activation_chosen(pipeline: Pipeline, rid: uuid.UUID) -> None:
    ok(pipeline, cmd.UpdatePlan, rid, kind="activation_plan", next_review="2027-01-01",
       strengths=["reliable"], support_needed=["a daily rhythm"],
       options_offered=["rehabilitative_work_activity", "education"], **KTTL)
    ok(pipeline, cmd.UpdatePlan, rid, kind="activation_plan", next_review="2027-01-01",
       chosen_option="rehabilitative_work_activity")


def decide(pipeline: Pipeline, rid: uuid.UUID, kind: str, granted: bool = True, **fields: Any) -> Any:
    return ok(pipeline, cmd.MakeDecision, rid, kind=kind, granted=granted, appeal_instructions_given=True, **fields)


def period(**fields: Any) -> dict[str, Any]:
    return {
        "placement_id": "activity-centre-1", "days_per_week": 3, "hours_per_day": 4.0,
        "starts_on": START.isoformat(), "ends_on": "2027-06-01", "evaluation_on": "2027-03-01",
        "shop_steward_notified": True, **fields,
    }


# ------------------------------------------------------------ rehabilitative work activity
def test_work_activity_starts_only_with_a_granted_decision_of_its_kind_in_force(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    activation_chosen(pipeline, rid)
    refused(app, pipeline, "no_decision_in_force", cmd.StartWorkActivity, rid, **period())
    decide(pipeline, rid, "rehabilitative_work_activity", granted=False, client_heard=True)
    refused(app, pipeline, "no_decision_in_force", cmd.StartWorkActivity, rid, **period())
    decide(pipeline, rid, "rehabilitative_work_activity")
    ok(pipeline, cmd.StartWorkActivity, rid, **period())


def test_the_familiarisation_period_is_before_the_start_by_decision(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    activation_chosen(pipeline, rid)
    decide(pipeline, rid, "rehabilitative_work_activity")
    without = refused(app, pipeline, "no_decision_in_force", cmd.StartWorkActivity, rid, **period(familiarisation_until="2026-11-30"))
    assert without.field == "familiarisation_until"
    decide(pipeline, rid, "familiarisation_period")
    for until in ("2026-12-01", "2026-12-14"):
        after = refused(app, pipeline, "familiarisation_not_before_start", cmd.StartWorkActivity, rid, **period(familiarisation_until=until))
        assert after.field == "familiarisation_until"
    ok(pipeline, cmd.StartWorkActivity, rid, **period(familiarisation_until="2026-11-30"))
    assert app.get_relationship(rid).work_activity.familiarisation_until == date(2026, 11, 30)


# ------------------------------------------------------------------------------ plans
def test_plans_come_after_the_assessment_a_client_plan_after_one_that_found_a_need(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    plan = {"kind": "client_plan", "goals": ["housing"], "next_review": "2027-01-15"}
    assert refused(app, pipeline, "assessment_required", cmd.UpdatePlan, rid, **plan).field == "kind"
    ok(pipeline, cmd.StartAssessment, rid)
    refused(app, pipeline, "assessment_required", cmd.UpdatePlan, rid, **plan)
    ok(pipeline, cmd.CompleteAssessment, rid, conclusion="service_need")
    assert ok(pipeline, cmd.UpdatePlan, rid, **plan).plan_version == 1


def test_plans_come_after_the_assessment_an_activation_plan_after_the_situation_is_mapped(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    plan = {"kind": "activation_plan", "goals": ["work"], "next_review": "2027-01-15",
            "options_offered": ["education", "work_trial"], **KTTL}
    refused(app, pipeline, "situation_not_mapped", cmd.UpdatePlan, rid, **plan)
    refused(app, pipeline, "situation_not_mapped", cmd.UpdatePlan, rid, strengths=["reliable"], **plan)
    mapped = ok(pipeline, cmd.UpdatePlan, rid, strengths=["reliable"], support_needed=["a daily rhythm"], **plan)
    assert mapped.plan_version == 1


# ------------------------------------------------- the activation plan's contents (KTTL 8 §)
MAPPED = {"strengths": ["reliable"], "support_needed": ["a daily rhythm"]}


def test_an_activation_plan_records_education_work_history_earlier_plans_and_who_took_part(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """KTTL 8 § (seed 003): the plan records the client's education, work history and how earlier
    plans went, and is made with the client and employment services. The first version records
    them all; a later one (the choice, maybe by phone) need not repeat them."""
    rid = open_relationship(pipeline)
    first = {"kind": "activation_plan", "next_review": "2027-01-15", "options_offered": ["education", "work_trial"],
             **MAPPED}
    for left_out in ("education", "work_history", "earlier_plans"):
        error = refused(app, pipeline, "activation_plan_incomplete", cmd.UpdatePlan, rid,
                        **first, **{k: v for k, v in KTTL.items() if k != left_out})
        assert error.field == left_out, error
    for took_part in (["client"], ["employment_services", "support_person"], []):
        error = refused(app, pipeline, "activation_plan_incomplete", cmd.UpdatePlan, rid, **first, **{**KTTL, "participants": took_part})
        assert error.field == "participants", error
    # the same for an employment plan (at a TYP)
    refused(app, pipeline, "activation_plan_incomplete", cmd.UpdatePlan, rid, **{**first, "kind": "employment_plan"})

    texts = {"education_text": "a vocational qualification in logistics", "work_history_text": "warehouse work, 3 years",
             "earlier_plans_text": "none before"}
    ok(pipeline, cmd.UpdatePlan, rid, **first, **texts, client_notified_on="2026-11-16",
       **{**KTTL, "participants": ["client", "employment_services", "kela", "support_person"]})
    ok(pipeline, cmd.UpdatePlan, rid, kind="activation_plan", next_review="2027-01-15", chosen_option="work_trial",
       participants=["client"])
    made, chosen = (entry.event for entry in app.timeline(rid).entries[-2:])
    assert (made.education, made.work_history, made.earlier_plans, made.client_notified_on) == (
        "vocational", "one_to_five_years", "no_earlier_plans", date(2026, 11, 16))
    assert made.participants == ["client", "employment_services", "kela", "support_person"]
    # the second version records only what it gave; the plan's record keeps the first's
    assert (chosen.education, chosen.participants, chosen.chosen_option) == (None, ["client"], "work_trial")
    [view] = app.state(app.get_relationship(rid)).plans
    assert (view.version, view.education, view.work_history_text, view.client_notified_on) == (
        2, "vocational", "warehouse work, 3 years", date(2026, 11, 16))
    # the wording stays in casefile: the published event carries codes and dates only
    published = msgspec.json.encode(made).decode()
    assert all(text not in published for text in texts.values())


def test_the_kttl_record_belongs_to_an_activation_plan_and_starts_again_after_a_return(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.StartAssessment, rid)
    ok(pipeline, cmd.CompleteAssessment, rid, conclusion="service_need")
    for field, value in (*KTTL.items(), ("client_notified_on", "2026-11-20"), ("education_text", "basic school")):
        error = refused(app, pipeline, "activation_fields_on_client_plan", cmd.UpdatePlan, rid, kind="client_plan",
                        goals=["housing"], next_review="2027-01-15", **{field: value})
        assert error.field == "kind"
    ok(pipeline, cmd.UpdatePlan, rid, kind="activation_plan", next_review="2027-01-15",
       options_offered=["education", "work_trial"], **KTTL)
    ok(pipeline, cmd.EndRelationship, rid, reason="client_ended")
    ok(pipeline, cmd.ReopenRelationship, rid, reason="client_returned")
    # a returning client's plan is made anew, with its record
    ok(pipeline, cmd.StartAssessment, rid)
    ok(pipeline, cmd.CompleteAssessment, rid, conclusion="service_need")
    again = {"kind": "activation_plan", "next_review": "2027-01-15", "options_offered": ["education", "work_trial"]}
    refused(app, pipeline, "activation_plan_incomplete", cmd.UpdatePlan, rid, **again)
    ok(pipeline, cmd.UpdatePlan, rid, **again, **{**KTTL, "earlier_plans": "partly_carried_out"})


def test_the_client_is_notified_of_the_activation_plan_on_or_before_its_date(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    plan = {"kind": "activation_plan", "next_review": "2027-01-15", "options_offered": ["education", "work_trial"],
            **MAPPED, **KTTL}
    # the plan's date is its business time: 2026-11-23
    error = refused(app, pipeline, "client_notified_after_plan", cmd.UpdatePlan, rid, **plan, client_notified_on="2026-11-24")
    assert error.field == "client_notified_on"
    ok(pipeline, cmd.UpdatePlan, rid, **plan, client_notified_on="2026-11-23")


def test_the_notice_date_of_an_activation_plan_is_bounded_like_every_date() -> None:
    """polku/bounds.py walks every date of a command: the new ``client_notified_on`` too."""
    from polku.bounds import OutOfBounds, check
    from polku.settings import TimeBounds

    from tests.application.test_casefile_commands import NOW

    plan = command(cmd.UpdatePlan, uuid.uuid4(), kind="activation_plan", next_review="2027-01-15",
                   client_notified_on="9999-12-31")
    with pytest.raises(OutOfBounds) as raised:
        check(plan, NOW, TimeBounds())
    assert (raised.value.code, raised.value.field) == ("invalid_value", "client_notified_on")
    check(msgspec.structs.replace(plan, client_notified_on=date(2026, 11, 2)), NOW, TimeBounds())


# ------------------------------------------------- vocabulary since v1 (seeds 001, 003)
def test_further_options_count_toward_the_minimum_and_may_be_chosen(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """Work coaching, substance-abuse rehabilitation, social rehabilitation and the TYP are options
    of an activation plan (seed 003): they count toward the two options, and one offered earlier
    may be chosen; rehabilitative work activity still needs a plan that chose it."""
    rid = open_relationship(pipeline)
    first = {"kind": "activation_plan", "next_review": "2027-01-15", **MAPPED, **KTTL}
    error = refused(app, pipeline, "too_few_options", cmd.UpdatePlan, rid, **first, further_options_offered=["work_coaching"])
    assert error.field == "options_offered"
    ok(pipeline, cmd.UpdatePlan, rid, **first, options_offered=["rehabilitative_work_activity"],
       further_options_offered=["social_rehabilitation"])
    made = app.timeline(rid).entries[-1].event
    # v1's readers count the options (``options_offered``); the codes added since travel apart
    assert (made.options_offered, made.offered, made.further_offered) == (
        2, ["rehabilitative_work_activity"], ["social_rehabilitation"])
    refused(app, pipeline, "option_not_offered", cmd.UpdatePlan, rid, kind="activation_plan", next_review="2027-01-15",
            further_chosen_option="typ_service")
    with pytest.raises(msgspec.ValidationError, match="one chosen option"):
        command(cmd.UpdatePlan, rid, kind="activation_plan", next_review="2027-01-15",
                chosen_option="rehabilitative_work_activity", further_chosen_option="social_rehabilitation")
    refused(app, pipeline, "activation_fields_on_client_plan", cmd.UpdatePlan, rid, kind="client_plan",
            next_review="2027-01-15", further_options_offered=["work_coaching", "typ_service"])
    ok(pipeline, cmd.UpdatePlan, rid, kind="activation_plan", next_review="2027-01-15",
       further_chosen_option="social_rehabilitation")
    chosen = app.timeline(rid).entries[-1].event
    assert (chosen.option_chosen, chosen.chosen_option, chosen.further_chosen_option) == (True, None, "social_rehabilitation")
    assert app.state(app.get_relationship(rid)).plans[0].further_chosen_option == "social_rehabilitation"
    # the plan chose social rehabilitation, not rehabilitative work activity
    decide(pipeline, rid, "rehabilitative_work_activity")
    refused(app, pipeline, "activation_plan_required", cmd.StartWorkActivity, rid, **period())


def test_a_health_care_professional_may_be_the_work_pair_but_not_the_social_worker_shl_42_needs(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """Seed 001: when the need of support is wider than social welfare, the own worker's work pair
    may be a health-care professional: named by code and profession (not on the roster)."""
    rid = open_relationship(pipeline)
    pair = {"health_care_pair_id": "hc-nurse-17", "health_care_pair_profession": "psychiatric_nurse"}
    ok(pipeline, cmd.NameOwnWorker, rid, worker_id="sc-001", reason="competence", **pair)
    state = app.state(app.get_relationship(rid))
    assert (state.own_worker_id, state.work_pair_id, state.health_care_pair_id, state.health_care_pair_profession) == (
        "sc-001", None, "hc-nurse-17", "psychiatric_nurse")
    named = app.timeline(rid).entries[-1].event
    assert (named.work_pair_id, named.health_care_pair_id, named.health_care_pair_profession) == (
        None, "hc-nurse-17", "psychiatric_nurse")
    # special support need: a health-care work pair is not the social worker SHL 42 § asks for
    error = refused(app, pipeline, "own_worker_must_be_social_worker", cmd.DetermineSpecialSupportNeed, rid,
                    special_support=True, grounds=["multiple_needs"])
    assert error.field == "special_support"
    ok(pipeline, cmd.NameOwnWorker, rid, worker_id="sw-001", reason="support_need_changed", **pair)
    ok(pipeline, cmd.DetermineSpecialSupportNeed, rid, special_support=True, grounds=["multiple_needs"])
    refused(app, pipeline, "own_worker_must_be_social_worker", cmd.NameOwnWorker, rid, worker_id="sc-001",
            reason="absence", **pair)
    # the code and the profession come together, and there is one work pair
    for fields in ({"health_care_pair_id": "hc-nurse-17"}, {"health_care_pair_profession": "physician"},
                   {"work_pair_id": "sw-002", **pair}):
        with pytest.raises(msgspec.ValidationError):
            command(cmd.NameOwnWorker, rid, worker_id="sc-001", reason="initial", **fields)


# ------------------------------------------------------------------------------ return
def test_a_returning_clients_nature_is_determined_again_and_the_old_plans_are_no_longer_current(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.StartAssessment, rid)
    ok(pipeline, cmd.CompleteAssessment, rid, conclusion="service_need")
    ok(pipeline, cmd.UpdatePlan, rid, kind="client_plan", goals=["housing"], next_review="2027-01-15")
    ok(pipeline, cmd.DetermineNature, rid, nature="continuous")
    ok(pipeline, cmd.EndRelationship, rid, reason="client_ended")
    ok(pipeline, cmd.ReopenRelationship, rid, reason="client_returned")

    state = app.state(app.get_relationship(rid))
    assert (state.status, state.nature, state.plans, state.assessment) == ("open", None, [], "not_started")
    assert app.summary().by_nature == {} and app.summary().without_nature == 1
    refused(app, pipeline, "client_plan_required", cmd.DetermineNature, rid, nature="continuous")
    # the history stays in the events
    events = [entry.event for entry in app.timeline(rid).entries]
    names = [type(e).__name__ for e in events]
    assert names.count("PlanUpdated") == 1 and names.count("RelationshipNatureDetermined") == 1
    assert events[-1].anew is True  # published so, for reporting

    ok(pipeline, cmd.DetermineNature, rid, nature="recurring")
    assert app.state(app.get_relationship(rid)).nature == "recurring"
    assert app.summary().by_nature == {"recurring": 1}


# ---------------------------------------------------------------------------- decisions
def test_every_decision_carries_instructions_for_rectification_or_appeal_granted_or_not(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    for granted in (True, False):
        error = refused(app, pipeline, "appeal_instructions_missing", cmd.MakeDecision, rid, kind="activity_allowance",
                        granted=granted, client_heard=True)
        assert error.field == "appeal_instructions_given"
    decide(pipeline, rid, "activity_allowance")
    decision = app.timeline(rid).entries[-1].event
    assert (decision.outcome, decision.appeal_instructions_given, decision.appealable) == ("granted", True, False)


def test_the_client_is_heard_before_a_negative_decision_denied_or_partly_granted(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    assert refused(app, pipeline, "client_not_heard", cmd.MakeDecision, rid, kind="housing_service", granted=False,
                   appeal_instructions_given=True).field == "client_heard"
    refused(app, pipeline, "client_not_heard", cmd.MakeDecision, rid, kind="housing_service", granted=True,
            outcome="partly_granted", appeal_instructions_given=True)
    decide(pipeline, rid, "housing_service", outcome="partly_granted", client_heard=True)
    decide(pipeline, rid, "activity_allowance", granted=False, client_heard=True)
    partly, denied = (e.event for e in app.timeline(rid).entries[-2:])
    assert (partly.outcome, partly.granted, partly.appealable, partly.client_heard) == ("partly_granted", True, True, True)
    assert (denied.outcome, denied.granted, denied.appealable, denied.client_heard) == ("denied", False, True, True)


def test_a_partly_granted_decision_agrees_with_granted() -> None:
    """``outcome`` refines the older ``granted``: partly granted is granted true, denied false."""
    for granted, outcome in ((False, "partly_granted"), (False, "granted"), (True, "denied")):
        with pytest.raises(msgspec.ValidationError, match="outcome and granted disagree"):
            command(cmd.MakeDecision, uuid.uuid4(), kind="housing_service", granted=granted, outcome=outcome)
    assert command(cmd.MakeDecision, uuid.uuid4(), kind="housing_service", granted=True).decided == "granted"
    assert command(cmd.MakeDecision, uuid.uuid4(), kind="housing_service", granted=False).decided == "denied"
