"""Followup's paths on the running stack (real nats-server, SQLite), through the command API
with the controllable clock: a client who disappears and the waiting period, one reached again
on the way, a report by another authority and executive assistance, overdue assessments,
reviews and evaluations that clear when done, a recurring client, and the due query."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client

from contracts import followup as f
from contracts.audit import FollowupTasksViewed, audit_decoder
from contracts.base import IDENTITY_CODE_SHAPE
from polku.settings import Settings
from services.followup.application import HELSINKI
from polku.stack import Stack
from tests.casefile_helpers import KTTL, SC2, SW1, SW2, Casefile, open_relationship
from tests.helpers import request, stream_messages
from tests.integration.test_followup_check_in import TL1, advance, followup
from tests.integration.test_followup_kill import consumed

#: default policy: 3 failures over at least 14 days → disappeared; waiting period 30 days


@pytest.fixture
def settings(polku_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """conftest's ``stack`` on these settings: demo mode, for the controllable clock."""
    monkeypatch.setenv("POLKU_DEMO", "1")
    return Settings.from_env()


async def events(nc: Client) -> list[Any]:
    return [f.followup_decoder.decode(m.data) for m in await stream_messages(nc, "FOLLOWUP")]


async def wait_for(nc: Client, found: Callable[[list[Any]], bool], timeout: float = 20.0) -> list[Any]:
    """FOLLOWUP's events once ``found`` holds of them."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        now = await events(nc)
        if found(now):
            return now
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not on FOLLOWUP after {timeout}s: {[type(e).__name__ for e in now]}")
        await asyncio.sleep(0.1)


def of(tp: type, rid: uuid.UUID | None = None) -> Callable[[list[Any]], list[Any]]:
    return lambda es: [e for e in es if isinstance(e, tp) and (rid is None or e.relationship_id == rid)]


async def state_when(nc: Client, rid: uuid.UUID, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    for _ in range(150):
        state = await Casefile(nc, rid).state()
        if check(state):
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"casefile shows {state}")


async def miss_meeting(nc: Client, rid: uuid.UUID) -> None:
    cf = Casefile(nc, rid)
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    reply = await cf.ok("schedule_meeting", SW1, kind="follow_up", channel="in_person", scheduled_for=when)
    await cf.ok("record_meeting_outcome", SW1, meeting_id=reply["meeting_id"], outcome="missed")


async def test_a_client_disappears_and_the_waiting_period_proposes_the_end(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    gone, back = [(await open_relationship(nc, expect_total=i + 1))[0] for i in range(2)]
    for rid in (gone, back):
        await miss_meeting(nc, rid)
    await consumed(operator_nc)
    await advance(nc, 7)
    for rid in (gone, back):
        reply = await followup(nc, "record_contact_attempt", SW1, relationship_id=rid, channel="phone", outcome="no_answer")
        assert reply == {"ok": True, "relationship_id": str(rid), "state": "followed", "disappeared": False}
    await advance(nc, 8)  # 15 days since the missed meeting: the third failure makes it
    for rid in (gone, back):
        reply = await followup(nc, "record_contact_attempt", SW1, relationship_id=rid, channel="letter",
                               outcome="mail_returned")
        assert (reply["state"], reply["disappeared"]) == ("disappeared", True), reply
    disappeared = of(f.ClientDisappeared)(await wait_for(nc, lambda es: len(of(f.ClientDisappeared)(es)) == 2))
    assert {e.relationship_id: e.detected_by for e in disappeared} == {gone: "mail_returned", back: "mail_returned"}
    assert all(e.last_contact is None for e in disappeared)
    state = await state_when(nc, gone, lambda s: s["disappeared_since"] is not None)
    assert state["status"] == "open"

    # one is reached on the way: the waiting period is cancelled, casefile shows it reachable
    await advance(nc, 10)
    reply = await followup(nc, "record_contact_attempt", SW1, relationship_id=back, channel="home_visit", outcome="reached")
    assert (reply["state"], reply["disappeared"]) == ("followed", False)
    [reached] = of(f.ClientReached)(await wait_for(nc, of(f.ClientReached)))
    assert (reached.relationship_id, reached.reached_by, reached.days_disappeared) == (back, "home_visit", 10)
    await state_when(nc, back, lambda s: s["disappeared_since"] is None)

    # the waiting period (30 days) runs out for the other: an end is proposed, nothing is ended
    await advance(nc, 25)
    [proposed] = of(f.EndProposed)(await wait_for(nc, of(f.EndProposed)))
    assert (proposed.relationship_id, proposed.reason, proposed.own_worker_id) == (gone, "unreachable", "sc-001")
    # disappeared on the day of the third failure, by followup's clock (which dates its events)
    assert proposed.disappeared_on == disappeared[0].occurred_at.astimezone(HELSINKI).date()
    await advance(nc, 40)
    await asyncio.sleep(1.5)
    assert len(of(f.EndProposed)(await events(nc))) == 1
    assert (await Casefile(nc, gone).state())["status"] == "open"  # Polku never ends it by itself

    # the due query: the end proposal first (urgent), for the own worker; the read is logged
    due = await request(nc, "polku.qry.followup.due", msgspec.json.encode({"actor": SW1, "purpose": "client_work"}))
    assert due["ok"], due
    kinds = [(t["kind"], t["relationship_id"]) for t in due["tasks"]]
    assert kinds[0] == ("end_proposed", str(gone))
    assert ("disappeared", str(back)) not in kinds
    assert all(t["urgent"] for t in due["tasks"] if t["kind"] == "end_proposed")
    outsider = {"worker_id": "sw-901", "role": "social_worker", "team": "team-south"}
    none = await request(nc, "polku.qry.followup.due", msgspec.json.encode({"actor": outsider, "purpose": "client_work"}))
    assert none["tasks"] == []
    for _ in range(100):  # the relay publishes what the reads stored
        viewed = [audit_decoder.decode(m.data) for m in await stream_messages(nc, "AUDIT")]
        views = [v for v in viewed if isinstance(v, FollowupTasksViewed)]
        if len(views) == 2:
            break
        await asyncio.sleep(0.1)
    assert {(v.actor.worker_id, v.items) for v in views} == {("sw-001", len(due["tasks"])), ("sw-901", 0)}
    assert str(gone) in {str(r) for v in views for r in v.relationship_ids}


async def test_another_authority_reports_and_executive_assistance_is_asked_on_a_ground(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    rid, _ = await open_relationship(nc)
    await consumed(operator_nc)
    reply = await followup(nc, "report_disappearance", SW1, relationship_id=rid, authority="police")
    assert reply["state"] == "disappeared"
    again = await followup(nc, "report_disappearance", SW1, relationship_id=rid, authority="health_care")
    assert "error" in again, again
    assert again["error"] == {"code": "already_disappeared", "message": again["error"]["message"], "field": "relationship_id"}
    # a social counsellor who is not the own worker (sc-001) may not; a social worker of the team may
    refused = await followup(nc, "request_executive_assistance", SC2, relationship_id=rid, ground="danger_to_life_or_health")
    assert refused["error"]["code"] == "not_own_worker_or_social_worker", refused
    no_ground = await followup(nc, "request_executive_assistance", SW1, relationship_id=rid)
    assert (no_ground["error"]["code"], no_ground["error"]["field"]) == ("missing_field", "ground")
    bad_ground = await followup(nc, "request_executive_assistance", SW1, relationship_id=rid, ground="curiosity")
    assert bad_ground["error"]["field"] == "ground"
    ok = await followup(nc, "request_executive_assistance", SW2, relationship_id=rid, ground="missing_in_vulnerable_state")
    assert ok["ok"], ok
    found = await wait_for(nc, lambda es: of(f.ExecutiveAssistanceRequested)(es) and of(f.ClientDisappeared)(es))
    [asked] = of(f.ExecutiveAssistanceRequested)(found)
    assert (asked.ground, asked.authority, asked.actor.worker_id) == ("missing_in_vulnerable_state", "police", "sw-002")
    [gone] = of(f.ClientDisappeared)(found)
    assert gone.detected_by == "reported_by_other_authority"
    # someone outside the relationship's team may do nothing with it
    outsider = {"worker_id": "sw-901", "role": "social_worker", "team": "team-south"}
    forbidden = await followup(nc, "record_contact_attempt", outsider, relationship_id=rid, channel="phone", outcome="reached")
    assert forbidden["error"]["code"] == "forbidden"
    unknown = await followup(nc, "record_contact_attempt", SW1, relationship_id=uuid.uuid4(), channel="phone", outcome="reached")
    assert unknown["error"]["code"] == "followed_relationship_not_found"
    future = (datetime.now(UTC) + timedelta(days=400)).date().isoformat()
    later = await followup(nc, "record_contact_attempt", SW1, relationship_id=rid, channel="phone", outcome="reached",
                           attempted_on=future)
    assert (later["error"]["code"], later["error"]["field"]) == ("attempted_in_future", "attempted_on")


async def test_overdue_assessment_review_and_evaluation_clear_when_done(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    rid, _ = await open_relationship(nc)
    cf = Casefile(nc, rid)
    today = datetime.now(UTC).date()
    # no client plan before the assessment: the activation plan, the situation mapped in it, is reviewed
    await cf.ok("update_plan", SW1, kind="activation_plan", goals=["work"], next_review=(today + timedelta(days=200)).isoformat(),
                strengths=["reliable"], support_needed=["a daily rhythm"],
                options_offered=["rehabilitative_work_activity", "education"], **KTTL)
    await cf.ok("update_plan", SW1, kind="activation_plan", goals=["work"], next_review=(today + timedelta(days=20)).isoformat(),
                chosen_option="rehabilitative_work_activity")
    await cf.ok("make_decision", SW1, kind="rehabilitative_work_activity", granted=True, appeal_instructions_given=True)
    start = today + timedelta(days=3)
    await cf.ok("start_work_activity", SW1, placement_id="activity-centre-1", days_per_week=3, hours_per_day=4.0,
                starts_on=start.isoformat(), ends_on=(start + timedelta(days=180)).isoformat(),
                evaluation_on=(start + timedelta(days=25)).isoformat(), shop_steward_notified=True)
    await consumed(operator_nc)
    await advance(nc, 15)  # 7 working days passed without the assessment starting
    [late] = of(f.AssessmentOverdue)(await wait_for(nc, of(f.AssessmentOverdue)))
    assert (late.relationship_id, late.working_days) == (rid, 7)
    assert not of(f.ReviewOverdue)(await events(nc))
    await advance(nc, 20)  # the activation plan's review date passed, and the evaluation's
    found = await wait_for(nc, lambda es: of(f.ReviewOverdue)(es) and of(f.EvaluationOverdue)(es))
    [review] = of(f.ReviewOverdue)(found)
    assert (review.kind, review.review_due) == ("activation_plan", today + timedelta(days=20))
    [evaluation] = of(f.EvaluationOverdue)(found)
    assert (evaluation.placement_id, evaluation.evaluation_on) == ("activity-centre-1", start + timedelta(days=25))

    due = await request(nc, "polku.qry.followup.due", msgspec.json.encode({"actor": SW1, "purpose": "client_work"}))
    assert {t["kind"] for t in due["tasks"] if t["relationship_id"] == str(rid)} == {
        "assessment_overdue", "review_overdue", "evaluation_overdue"
    }
    # the oldest first (all equally not urgent)
    dues = [t["due"] for t in due["tasks"]]
    assert dues == sorted(dues)

    await cf.ok("start_assessment", SW1)
    await cf.ok("update_plan", SW1, kind="activation_plan", goals=["work"], next_review=(today + timedelta(days=200)).isoformat(),
                chosen_option="rehabilitative_work_activity")
    cleared = of(f.OverdueCleared)(await wait_for(nc, lambda es: len(of(f.OverdueCleared)(es)) == 3))
    assert {(c.overdue, c.how) for c in cleared} == {("assessment", "done"), ("review", "done"), ("evaluation", "done")}
    assert {c.overdue: c.days_late for c in cleared}["assessment"] >= 1
    due = await request(nc, "polku.qry.followup.due", msgspec.json.encode({"actor": SW1, "purpose": "client_work"}))
    assert [t for t in due["tasks"] if t["relationship_id"] == str(rid)] == []


async def test_a_client_whose_relationships_keep_starting_again_is_marked_recurring(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    rid, client = await open_relationship(nc)
    cf = Casefile(nc, rid)
    for _ in range(2):  # opened, then reopened twice: three starts within a year
        await cf.ok("end_relationship", SW1, reason="client_ended")
        await cf.ok("reopen_relationship", SW1, reason="client_returned")
    [marked] = of(f.ClientMarkedRecurring)(await wait_for(nc, of(f.ClientMarkedRecurring)))
    assert (marked.client_id, marked.relationship_id, marked.grounds, marked.count, marked.window_days) == (
        client, rid, "relationships_restarted", 3, 365
    )
    state = await state_when(nc, rid, lambda s: s["recurring"])
    assert state["nature"] is None  # the worker decides the nature; casefile shows the mark
    # once marked, not again
    await cf.ok("end_relationship", SW1, reason="client_ended")
    await cf.ok("reopen_relationship", SW1, reason="client_returned")
    await consumed(operator_nc)
    assert len(of(f.ClientMarkedRecurring)(await events(nc))) == 1


async def test_nothing_personal_on_the_followup_stream(stack: Stack, nc: Client, operator_nc: Client) -> None:
    """After a path with every kind of followup event, the stream holds ids, dates, counts and
    codes only: no identity code, no free text, no name."""
    rid, _ = await open_relationship(
        nc, identity_code="010170-123F", summary="Matti Meikäläinen is sairas.", contact_details="Matti Meikäläinen, 040 1234567"
    )
    await miss_meeting(nc, rid)
    await consumed(operator_nc)
    assert (await followup(nc, "report_disappearance", SW1, relationship_id=rid, authority="kela"))["ok"]
    asked = await followup(nc, "request_executive_assistance", SW1, relationship_id=rid, ground="danger_to_life_or_health")
    assert asked["ok"], asked
    await advance(nc, 45)
    await wait_for(nc, of(f.EndProposed))
    allowed = {
        "event", "event_id", "occurred_at", "actor", "schema_version", "relationship_id", "client_id", "detected_by",
        "last_contact", "reached_on", "reached_by", "days_disappeared", "reason", "disappeared_on", "own_worker_id",
        "ground", "authority", "kind", "review_due", "due", "working_days", "placement_id", "evaluation_on",
        "overdue", "days_late", "how", "grounds", "count", "window_days", "channel", "outcome", "attempted_on",
        "attempt", "attempts",
    }
    for m in await stream_messages(nc, "FOLLOWUP"):
        body = msgspec.json.decode(m.data)
        assert set(body) <= allowed, body
        text = m.data.decode()
        assert not re.search(IDENTITY_CODE_SHAPE, text) and "Matti" not in text and "sairas" not in text
        assert "040 1234567" not in text
        assert not re.search(IDENTITY_CODE_SHAPE, m.subject + str(dict(m.headers or {})))
