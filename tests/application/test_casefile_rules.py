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
       options_offered=["rehabilitative_work_activity", "education"])
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
            "options_offered": ["education", "work_trial"]}
    refused(app, pipeline, "situation_not_mapped", cmd.UpdatePlan, rid, **plan)
    refused(app, pipeline, "situation_not_mapped", cmd.UpdatePlan, rid, strengths=["reliable"], **plan)
    mapped = ok(pipeline, cmd.UpdatePlan, rid, strengths=["reliable"], support_needed=["a daily rhythm"], **plan)
    assert mapped.plan_version == 1


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
