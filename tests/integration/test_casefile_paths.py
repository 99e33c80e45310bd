"""The client paths of the models, through the real command API on a real stack.

The Aava model (appendix 4 of seed 003) as one scenario, and the paths of seed 000: temporary
advice with no assessment, an assessment that finds no need, and a continuous relationship with
special support need, a social worker as own worker and SHL 46 § decisions.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest
from nats.aio.client import Client

import contracts
from contracts.audit import audit_decoder
from contracts.casefile import casefile_decoder
from polku.settings import Settings
from polku.stack import Stack
from tests.casefile_helpers import OUTSIDER, SC1, SC2, SW1, SW2, Casefile, open_relationship, summary, wait_for_stream
from tests.conformance import check_streams
from tests.helpers import stream_messages


@pytest.fixture
def polku_env(polku_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The Aava path is a year of a relationship recorded at once, in 2026's business time: the
    policy here lets commands be recorded up to ten years late (POLKU_BACKDATE_MAX_DAYS)."""
    monkeypatch.setenv("POLKU_BACKDATE_MAX_DAYS", "3660")
    return {**polku_env, "POLKU_BACKDATE_MAX_DAYS": "3660"}

GOAL = "Find a job in logistics within a year"  # wording: stays in casefile's store


def at(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+02:00"


async def relationship_events(nc: Client, relationship_id: UUID) -> list[tuple[Any, Any]]:
    out = []
    for m in await stream_messages(nc, "CASEFILE"):
        event = casefile_decoder.decode(m.data)
        if event.relationship_id == relationship_id:
            out.append((event, m))
    return out


async def test_the_aava_path_from_contact_to_work_runs_through_the_command_api(stack: Stack, nc: Client, settings: Settings) -> None:
    # Contact: the client calls adult social work; casefile opens the relationship.
    rid, client_id = await open_relationship(nc, channel="phone", source={"kind": "client"}, concerns=["employment"])
    cf = Casefile(nc, rid)

    # The own worker (vastuutyöntekijä) is named before the first meeting.
    d0 = date(2026, 1, 12)
    named = await cf.ok("name_own_worker", SW1, worker_id="sc-001", reason="competence", occurred_at=at(d0))
    # First meeting: booked, held; rights, obligations, options and benefits told, and who the
    # own worker is (seed 003, seed 001). Consent to work with TE services.
    booked = await cf.ok("schedule_meeting", SC1, kind="first_meeting", channel="in_person", scheduled_for=at(d0 + timedelta(days=7)), occurred_at=at(d0))
    told = ["rights", "obligations", "options", "benefits", "own_worker"]
    await cf.ok("record_meeting_outcome", SC1, meeting_id=booked["meeting_id"], outcome="held", client_informed_of=told, occurred_at=at(d0 + timedelta(days=7)))
    await cf.ok("record_consent", SC1, kind="information_exchange", given=True, occurred_at=at(d0 + timedelta(days=7)))

    # First activation plan, with TE services (the client notified of it at the first meeting,
    # a support person along): the situation mapped (strengths, the support needed), what KTTL
    # 8 § records (education, work history, how earlier plans went), at least two options (work
    # coaching one of them), and a date to decide.
    d1 = d0 + timedelta(days=21)
    first_plan = await cf.ok(
        "update_plan", SC1, kind="activation_plan", occurred_at=at(d1),
        strengths=["reliable", "drivers licence"], support_needed=["a daily rhythm"], goals=[GOAL],
        measures=[{"text": "visit the activity centre", "responsible": "client"},
                  {"text": "ask about the logistics course", "responsible": "employment_services"}],
        options_offered=["rehabilitative_work_activity", "education"], further_options_offered=["work_coaching"],
        education="vocational", education_text="warehouse logistics qualification", work_history="one_to_five_years",
        work_history_text="three years of warehouse work", earlier_plans="partly_carried_out",
        participants=["client", "employment_services", "support_person"], client_notified_on=(d0 + timedelta(days=7)).isoformat(),
        next_review=(d1 + timedelta(days=14)).isoformat(),
    )
    assert first_plan["plan_version"] == 1

    # Reflection and visits; then the second meeting records the chosen option.
    d2 = d1 + timedelta(days=14)
    second = await cf.ok("schedule_meeting", SC1, kind="activation_meeting", channel="phone", scheduled_for=at(d2), occurred_at=at(d1))
    await cf.ok("record_meeting_outcome", SC1, meeting_id=second["meeting_id"], outcome="held", occurred_at=at(d2))
    second_plan = await cf.ok(
        "update_plan", SC1, kind="activation_plan", occurred_at=at(d2), goals=[GOAL],
        measures=[{"text": "rehabilitative work activity, 3 days a week", "responsible": "activity_centre"}],
        chosen_option="rehabilitative_work_activity", next_review=(d2 + timedelta(days=90)).isoformat(),
    )
    assert second_plan["plan_version"] == 2

    # Rehabilitative work activity: decisions, the shop steward notified, two weeks' familiarisation before the start.
    for kind in ("rehabilitative_work_activity", "familiarisation_period", "activity_allowance", "travel_compensation"):
        await cf.ok("make_decision", SC1, kind=kind, granted=True, appeal_instructions_given=True, occurred_at=at(d2 + timedelta(days=1)))
    start = d2 + timedelta(days=7)
    await cf.ok(
        "start_work_activity", SC1, occurred_at=at(start), placement_id="activity-centre-1", days_per_week=3,
        hours_per_day=5.0, starts_on=start.isoformat(), ends_on=(start + timedelta(days=183)).isoformat(),
        familiarisation_until=(start - timedelta(days=1)).isoformat(), evaluation_on=(start + timedelta(days=90)).isoformat(),
        shop_steward_notified=True,
    )
    await cf.ok("record_measurement", SC1, instrument="kykyviisari", scores={"work_ability": 5, "wellbeing": 6}, occurred_at=at(start))

    # Plans are updated at the activity centre's meetings.
    review = start + timedelta(days=90)
    third_plan = await cf.ok(
        "update_plan", SC1, kind="activation_plan", occurred_at=at(review), goals=[GOAL, "Apply for two jobs a month"],
        measures=[{"text": "job applications with the instructor", "responsible": "activity_centre"}],
        next_review=(review + timedelta(days=90)).isoformat(),
    )
    assert third_plan["plan_version"] == 3

    # The client starts work: the period ends, and so does the relationship.
    end = start + timedelta(days=170)
    await cf.ok("end_work_activity", SC1, reason="period_completed", occurred_at=at(end))
    ended = await cf.ok("end_relationship", SC1, reason="transferred_to_work", occurred_at=at(end))

    # A retried command (same Polku-Command-Id, same body) gets the first answer; nothing new.
    retry_body = {"relationship_id": str(rid), "actor": SC1, "reason": "transferred_to_work", "occurred_at": at(end)}
    first = await cf.raw("end_relationship", msgspec.json.encode(retry_body), "aava-end-1")
    assert first["ok"] is False and first["error"]["code"] == "relationship_ended"
    assert await cf.raw("end_relationship", msgspec.json.encode(retry_body), "aava-end-1") == first

    state = await cf.state(SC1)
    assert state["status"] == "ended" and state["end_reason"] == "transferred_to_work"
    assert state["version"] == ended["version"]
    assert (state["own_worker_id"], state["own_worker_role"]) == ("sc-001", "social_counsellor")
    assert (state["client_informed_of"], state["client_not_yet_informed_of"]) == (told, [])
    [activation] = state["plans"]
    assert activation["version"] == 3 and activation["goals"] == [GOAL, "Apply for two jobs a month"]

    # The stream tells the same path, in order, with codes and counts only.
    await wait_for_stream(nc, "CASEFILE", ended["version"])
    events = await relationship_events(nc, rid)
    assert [type(e).__name__ for e, _ in events] == [
        "RelationshipOpened", "OwnWorkerNamed", "OwnWorkerNamed", "MeetingScheduled", "MeetingHeld",
        "ConsentRecorded", "PlanUpdated", "MeetingScheduled", "MeetingHeld", "PlanUpdated",
        "DecisionMade", "DecisionMade", "DecisionMade", "DecisionMade", "WorkActivityStarted",
        "MeasurementRecorded", "PlanUpdated", "WorkActivityEnded", "RelationshipEnded",
    ]
    assert named["version"] == 3
    plans = [e for e, _ in events if type(e).__name__ == "PlanUpdated"]
    assert [(p.version, p.options_offered, p.offered, p.further_offered, p.chosen_option) for p in plans] == [
        (1, 3, ["education", "rehabilitative_work_activity"], ["work_coaching"], None),
        (2, 0, [], [], "rehabilitative_work_activity"),
        (3, 0, [], [], None),
    ]
    assert (plans[0].education, plans[0].work_history, plans[0].earlier_plans, plans[0].client_notified_on) == (
        "vocational", "one_to_five_years", "partly_carried_out", d0 + timedelta(days=7))
    assert plans[0].participants == ["client", "employment_services", "support_person"]
    assert (plans[0].goal_count, plans[0].measure_count, plans[0].strength_count) == (1, 2, 2)
    last = events[-1][0]
    assert last.reason == "transferred_to_work"
    # The hook for followup's one-month check-in.
    assert last.check_in_due == end + timedelta(days=30)
    assert all(e.client_id == client_id for e, _ in events)
    assert all(e.actor is not None and e.actor.worker_id in ("sw-001", "sc-001") for e, _ in events[2:])
    for _, m in events:
        assert m.headers[contracts.H_MSG_ID].startswith(f"{rid}:")
        assert GOAL.encode() not in m.data and b"logistics" not in m.data and b"activity centre" not in m.data
        assert b"warehouse" not in m.data  # the wording of education and work history stays in casefile

    # The timeline reproduces the history exactly: the stored events, as published.
    timeline = await cf.query("timeline", SC1, purpose="client_work")
    assert timeline["ok"] is True
    assert [entry["version"] for entry in timeline["entries"]] == list(range(1, ended["version"] + 1))
    assert [msgspec.json.encode(entry["event"]) for entry in timeline["entries"]] == [
        msgspec.json.encode(msgspec.json.decode(m.data)) for _, m in events
    ]

    # ... and again after `polku rebuild casefile` and a restart of casefile.
    stack.stop_service("casefile")
    rebuilt = subprocess.run(
        [sys.executable, "-m", "polku", "rebuild", "casefile"],
        env={**os.environ, "POLKU_NATS_URL": stack.url}, capture_output=True, text=True, timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "casefile" in rebuilt.stdout and "events" in rebuilt.stdout
    # the whole store, not the tail after the snapshot casefile stored as it stopped (none)
    assert re.search(r"from its store: [1-9]\d* events", rebuilt.stdout), rebuilt.stdout
    stack.start_service("casefile")
    stack.wait_ready(("casefile",))
    assert await cf.query("timeline", SC1) == timeline
    assert await cf.state(SC1) | {"ok": True} == state

    # Every read was logged on the AUDIT stream: who, which part, why; no wording.
    await wait_for_stream(nc, "AUDIT", 4)
    audit = await stream_messages(nc, "AUDIT")
    views = [audit_decoder.decode(m.data) for m in audit]
    assert [(v.part, v.actor.worker_id, v.granted) for v in views] == [
        ("state", "sc-001", True), ("timeline", "sc-001", True), ("timeline", "sc-001", True), ("state", "sc-001", True),
    ]
    assert {m.subject for m in audit} == {"polku.audit.client_record_viewed"}
    assert all(v.relationship_id == rid and v.client_id == client_id for v in views)

    # Everything the path published is as the AsyncAPI document describes it.
    counts = await check_streams(nc)
    assert counts["AUDIT"] == 4 and counts["CASEFILE"] == ended["version"]


async def test_temporary_advice_needs_no_assessment(stack: Stack, nc: Client) -> None:
    rid, _ = await open_relationship(nc, concerns=["livelihood"])
    cf = Casefile(nc, rid)
    await cf.ok("determine_nature", SW1, nature="temporary")
    await cf.ok("end_relationship", SW1, reason="goal_reached")
    state = await cf.state()
    assert (state["nature"], state["assessment"], state["status"], state["end_reason"]) == (
        "temporary", "not_started", "ended", "goal_reached",
    )
    counts = await summary(nc)
    # Ended, it is no longer temporary: it counts by its end reason, not by nature.
    assert counts["by_nature"] == {} and counts["by_end_reason"] == {"goal_reached": 1}
    await wait_for_stream(nc, "CASEFILE", 4)
    names = [type(e).__name__ for e, _ in await relationship_events(nc, rid)]
    assert names == ["RelationshipOpened", "OwnWorkerNamed", "RelationshipNatureDetermined", "RelationshipEnded"]


async def test_an_assessment_that_finds_no_need_forms_no_client_relationship(stack: Stack, nc: Client) -> None:
    """Seed 000: no need found, no client relationship formed: it ends without a nature or a
    check-in, is closed at once, and counts apart from ended relationships."""
    rid, _ = await open_relationship(nc)
    cf = Casefile(nc, rid)
    await cf.ok("start_assessment", SW1)
    await cf.ok("record_measurement", SW1, instrument="avain", scores={"housing": 4})
    done = await cf.ok("complete_assessment", SW1, conclusion="no_service_need", summary="managing with Kela's support")
    assert done["version"] == 7
    state = await cf.state()
    assert (state["assessment"], state["assessment_conclusion"], state["nature"], state["status"], state["end_reason"]) == (
        "completed", "no_service_need", None, "ended", "no_service_need",
    )
    assert (state["formed"], state["close_reason"]) == (False, "not_formed")
    await cf.refused("start_assessment", SW1, "relationship_ended")
    await wait_for_stream(nc, "CASEFILE", 7)
    events = await relationship_events(nc, rid)
    assert [type(e).__name__ for e, _ in events][-3:] == ["AssessmentCompleted", "RelationshipEnded", "RelationshipClosed"]
    ended = events[-2][0]
    assert (ended.formed, ended.check_in_due) == (False, None)
    assert all(b"Kela" not in m.data for _, m in events)
    counts = await summary(nc)
    assert counts["by_end_reason"] == {} and counts["ended"] == 0 and counts["not_formed"] == 1


async def test_a_continuous_special_support_relationship_has_a_social_worker_and_shl_46_decisions(stack: Stack, nc: Client) -> None:
    rid, _ = await open_relationship(nc, concerns=["substance_use", "housing", "mental_health"])
    cf = Casefile(nc, rid)
    await cf.ok("name_own_worker", SW1, worker_id="sc-002", reason="clients_request")
    version = (await cf.state())["version"]

    # Special support need found: a counsellor alone may not be the own worker (SHL 42 §).
    await cf.refused("determine_special_support_need", SC2, "own_worker_must_be_social_worker", special_support=True, grounds=["multiple_needs"])
    await cf.refused("name_own_worker", SC2, "invalid_work_pair", worker_id="sc-002", work_pair_id="sc-002", reason="support_need_changed")
    await cf.ok("name_own_worker", SC2, worker_id="sw-002", reason="support_need_changed")
    await cf.ok("determine_special_support_need", SW2, special_support=True, grounds=["substance_use", "multiple_needs"], grounds_text="several needs at once")
    await cf.refused("name_own_worker", SW2, "own_worker_must_be_social_worker", worker_id="sc-001", reason="absence")

    await cf.ok("start_assessment", SW2)
    await cf.ok("complete_assessment", SW2, conclusion="service_need")
    # The decision that the relationship begins (seed 000), by the rules of every decision; a
    # consultation on the support need (seed 002).
    await cf.refused("decide_on_relationship", SC2, "decision_requires_social_worker", outcome="granted", secures_care=True, appeal_instructions_given=True)
    await cf.ok("decide_on_relationship", SW2, outcome="granted", secures_care=True, appeal_instructions_given=True)
    await cf.ok("record_consultation", SW2, topic="support_need_changed", profession="substance_abuse_professional")
    await cf.refused("end_relationship", SW2, "client_plan_required", reason="goal_reached")
    await cf.refused("determine_nature", SW2, "client_plan_required", nature="continuous")
    review = (date.today() + timedelta(days=120)).isoformat()
    plan = await cf.ok(
        "update_plan", SW2, kind="client_plan", strengths=["wants to keep the flat"], support_needed=["substance abuse services"],
        goals=["stable housing", "sober days"], measures=[{"text": "weekly visits", "responsible": "own_worker"}],
        next_review=review, client_view="not ready for inpatient care", client_dissents=True, dissent="disagrees with inpatient care",
    )
    assert plan["plan_version"] == 1
    await cf.ok("determine_nature", SW2, nature="continuous")

    # Decisions securing the care of a special-support client are a social worker's (SHL 46 §).
    # Every decision carries instructions for rectification or appeal; the client is heard
    # before a negative one.
    await cf.refused("make_decision", SC2, "decision_requires_social_worker", kind="supported_living", granted=True, secures_care=True, appeal_instructions_given=True)
    await cf.refused("make_decision", SW2, "appeal_instructions_missing", kind="supported_living", granted=True, secures_care=True)
    granted = await cf.ok("make_decision", SW2, kind="supported_living", granted=True, secures_care=True, appeal_instructions_given=True)
    await cf.refused("make_decision", SW2, "appeal_instructions_missing", kind="financial_assistance", granted=False)
    await cf.refused("make_decision", SW2, "client_not_heard", kind="financial_assistance", granted=False, appeal_instructions_given=True)
    await cf.ok("make_decision", SW2, kind="financial_assistance", granted=False, appeal_instructions_given=True, client_heard=True)
    booked = await cf.ok("schedule_meeting", SW2, kind="follow_up", channel="home_visit", scheduled_for=at(date.today() + timedelta(days=7)))
    await cf.ok("record_meeting_outcome", SW2, meeting_id=booked["meeting_id"], outcome="missed")
    await cf.refused("record_meeting_outcome", SW2, "meeting_already_recorded", meeting_id=booked["meeting_id"], outcome="held")

    state = await cf.state(SW2)
    assert (state["special_support"], state["own_worker_id"], state["own_worker_role"], state["nature"]) == (
        True, "sw-002", "social_worker", "continuous",
    )
    assert (state["decisions"], state["missed_meetings"], state["client_plan_required"], state["status"]) == (2, 1, False, "open")
    assert (state["relationship_decision"], state["consultations"]) == ("granted", 1)
    # Twelve commands were carried out since `version`; the eleven refusals stored nothing.
    assert state["version"] == version + 12

    await wait_for_stream(nc, "CASEFILE", state["version"])
    decisions = [e for e, _ in await relationship_events(nc, rid) if type(e).__name__ == "DecisionMade"]
    assert [(e.kind, e.granted, e.outcome, e.appealable, e.client_heard, e.secures_care, e.maker_role) for e in decisions] == [
        ("supported_living", True, "granted", False, False, True, "social_worker"),
        ("financial_assistance", False, "denied", True, True, False, "social_worker"),
    ]
    assert all(e.appeal_instructions_given for e in decisions)
    assert str(decisions[0].decision_id) == granted["decision_id"]
    [(begins, _)] = [(e, m) for e, m in await relationship_events(nc, rid) if type(e).__name__ == "RelationshipDecisionMade"]
    assert (begins.outcome, begins.secures_care, begins.maker_role, begins.appealable) == ("granted", True, "social_worker", False)
    counts = await summary(nc)
    assert counts["by_nature"] == {"continuous": 1} and counts["open"] == 1
    assert (await check_streams(nc))["CASEFILE"] == state["version"]  # as the AsyncAPI document says


async def test_a_worker_outside_the_relationship_is_refused_and_the_attempt_is_logged(stack: Stack, nc: Client) -> None:
    rid, client_id = await open_relationship(nc)
    cf = Casefile(nc, rid)
    for part in ("relationship", "timeline"):
        reply = await cf.query(part, OUTSIDER, purpose="consultation")
        assert reply == {"ok": False, "error": {"code": "forbidden", "message": reply["error"]["message"], "field": "actor"}}
    await cf.refused("start_assessment", OUTSIDER, "forbidden")
    await wait_for_stream(nc, "AUDIT", 2)
    audit = await stream_messages(nc, "AUDIT")
    views = [audit_decoder.decode(m.data) for m in audit]
    assert [(v.part, v.purpose, v.granted, v.actor.worker_id, v.actor.team) for v in views] == [
        ("state", "consultation", False, "sw-901", "team-south"),
        ("timeline", "consultation", False, "sw-901", "team-south"),
    ]
    assert all(v.client_id == client_id for v in views)
    for m in audit:
        assert m.headers[contracts.H_EVENT] == "ClientRecordViewed"
    # The refused command stored nothing.
    assert (await cf.state())["version"] == 2
