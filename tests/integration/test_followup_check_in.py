"""Followup on the running stack (real nats-server, SQLite): the Aava one-month check-in through
the command API with the controllable clock, and deadlines that survive a SIGKILL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client

from contracts.casefile import RelationshipEnded, casefile_decoder
from contracts.followup import CheckInCompleted, CheckInDue, followup_decoder
from polku.settings import Settings
from polku.stack import Stack
from services.followup import workdays
from services.followup.main import build_application
from tests.casefile_helpers import SW1, Casefile, open_relationship
from tests.helpers import request, stream_messages

TL1 = {"worker_id": "tl-001", "role": "team_lead", "team": "team-north"}


@pytest.fixture
def settings(polku_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """conftest's ``stack`` on these settings: demo mode, for the controllable clock."""
    monkeypatch.setenv("POLKU_DEMO", "1")
    return Settings.from_env()


async def followup(nc: Client, name: str, actor: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"actor": actor, **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in fields.items()}}
    return await request(nc, f"polku.cmd.followup.{name}", msgspec.json.encode(body), f"test-{uuid.uuid4()}")


async def advance(nc: Client, days: int) -> None:
    reply = await followup(nc, "advance_clock", TL1, days=days)
    assert reply["ok"], reply


async def end(nc: Client, rid: uuid.UUID) -> None:
    cf = Casefile(nc, rid)
    await cf.ok("determine_nature", SW1, nature="temporary")
    await cf.ok("end_relationship", SW1, reason="goal_reached")


async def ended_check_in_due(nc: Client, rid: uuid.UUID) -> Any:
    for _ in range(100):
        for m in await stream_messages(nc, "CASEFILE"):
            e = casefile_decoder.decode(m.data)
            if isinstance(e, RelationshipEnded) and e.relationship_id == rid:
                return e.check_in_due
        await asyncio.sleep(0.1)
    raise AssertionError("casefile published no RelationshipEnded")


CHECK_IN = (CheckInDue, CheckInCompleted)


async def check_in_events(nc: Client) -> list[Any]:
    """The check-in events on the FOLLOWUP stream (followup publishes more, e.g. overdue
    assessments, as the clock moves)."""
    events = [followup_decoder.decode(m.data) for m in await stream_messages(nc, "FOLLOWUP")]
    return [e for e in events if isinstance(e, CHECK_IN)]


async def followup_events(nc: Client, count: int, timeout: float = 20.0) -> list[Any]:
    """The check-in events once there are ``count`` of them."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        events = await check_in_events(nc)
        if len(events) >= count or asyncio.get_running_loop().time() > deadline:
            return events
        await asyncio.sleep(0.05)


async def test_the_aava_check_in_in_each_of_its_outcomes(stack: Stack, nc: Client) -> None:
    rids = []
    for i in range(4):
        rid, _ = await open_relationship(nc, expect_total=i + 1, concerns=["livelihood"])
        rids.append(rid)
    no_need, need_found, unreached, reopened = rids
    ended_with = {rid: (await Casefile(nc, rid).state())["own_worker_id"] for rid in rids}
    for rid in rids:
        await end(nc, rid)
    due = workdays.on_or_after(await ended_check_in_due(nc, no_need))
    # the client came back before the check-in: none is due for them
    await Casefile(nc, reopened).ok("reopen_relationship", SW1, reason="client_returned")

    # a check-in not due yet is refused
    early = await followup(nc, "record_check_in", SW1, relationship_id=no_need, outcome="no_need")
    assert early["error"]["code"] in ("check_in_not_due", "check_in_not_found"), early
    # only in demo mode, and only a team lead moves the clock
    refused = await followup(nc, "advance_clock", SW1, days=1)
    assert refused["error"]["code"] == "forbidden"

    await advance(nc, 20)
    await asyncio.sleep(1.5)
    assert await check_in_events(nc) == []  # a month has not passed
    await advance(nc, 25)
    events = await followup_events(nc, 3)
    assert len(events) == 3 and all(isinstance(e, CheckInDue) for e in events)
    assert {e.relationship_id for e in events} == {no_need, need_found, unreached}
    assert {(e.due, e.attempt) for e in events} == {(due, 1)}

    reply = await followup(nc, "record_check_in", SW1, relationship_id=no_need, outcome="no_need")
    assert reply == {"ok": True, "relationship_id": str(no_need), "state": "closed", "next_due": None}
    again = await followup(nc, "record_check_in", SW1, relationship_id=no_need, outcome="need_found")
    assert again["error"]["code"] == "check_in_not_due"
    reply = await followup(nc, "record_check_in", SW1, relationship_id=need_found, outcome="need_found")
    assert reply["state"] == "closed"
    # casefile reopens the relationship the check-in found a need in, with its own worker
    for _ in range(100):
        state = await Casefile(nc, need_found).state()
        if state["status"] == "open":
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "open" and state["own_worker_id"] == ended_with[need_found], state
    assert (await Casefile(nc, no_need).state())["status"] == "ended"

    # not reached: another try after the retry interval (7 days, on a working day), three in all
    for attempt in (1, 2):
        reply = await followup(nc, "record_check_in", SW1, relationship_id=unreached, outcome="not_reached")
        assert reply["state"] == "retry", reply
        await advance(nc, 10)
        events = await followup_events(nc, 5 + attempt)
        retry = events[-1]
        assert isinstance(retry, CheckInDue) and retry.relationship_id == unreached and retry.attempt == attempt + 1
        assert workdays.is_working_day(retry.due)
    reply = await followup(nc, "record_check_in", SW1, relationship_id=unreached, outcome="not_reached")
    assert reply["state"] == "closed"

    events = await followup_events(nc, 8)
    completed = {e.relationship_id: (e.outcome, e.attempts) for e in events if isinstance(e, CheckInCompleted)}
    assert completed == {no_need: ("no_need", 1), need_found: ("need_found", 1), unreached: ("unreached", 3)}
    assert len(events) == 8
    # nothing but ids, dates, counts and codes in the check-in events
    for m in await stream_messages(nc, "FOLLOWUP"):
        if msgspec.json.decode(m.data)["event"] not in ("CheckInDue", "CheckInCompleted"):
            continue
        assert set(msgspec.json.decode(m.data)) <= {
            "event", "event_id", "occurred_at", "actor", "schema_version", "relationship_id", "client_id", "due",
            "attempt", "outcome", "attempts",
        }


async def _consumed(operator_nc: Client, consumer: str = "followup-casefile") -> None:
    js = operator_nc.jetstream()
    for _ in range(200):
        info = await js.consumer_info("CASEFILE", consumer)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("followup did not consume CASEFILE")


async def test_deadlines_survive_a_kill_and_fire_exactly_once(
    stack: Stack, nc: Client, operator_nc: Client, settings: Settings
) -> None:
    # a scheduler that looks only once an hour: what falls due is not fired before the kill
    stack.env["POLKU_FOLLOWUP_TICK_SECONDS"] = "3600"
    stack.stop_service("followup")
    stack.start_service("followup")
    stack.wait_ready(("followup",))

    rids = []
    for i in range(4):
        rid, _ = await open_relationship(nc, expect_total=i + 1, concerns=["livelihood"])
        rids.append(rid)
    for rid in rids[:3]:
        await end(nc, rid)
    await _consumed(operator_nc)
    await advance(nc, 45)  # the three fall due; the scheduler sleeps
    await asyncio.sleep(1.0)
    assert await check_in_events(nc) == []

    stack.kill_service("followup")  # SIGKILL with three deadlines pending and due
    await end(nc, rids[3])  # ended while followup is down: already due when it comes back
    del stack.env["POLKU_FOLLOWUP_TICK_SECONDS"]
    stack.start_service("followup")
    stack.wait_ready(("followup",))
    events = await followup_events(nc, 4)
    assert Counter(e.relationship_id for e in events) == Counter(rids)

    # killed and started again: nothing fires twice
    stack.kill_service("followup")
    stack.start_service("followup")
    stack.wait_ready(("followup",))
    await advance(nc, 60)
    await asyncio.sleep(2.5)
    events = await check_in_events(nc)
    assert len(events) == 4 and all(isinstance(e, CheckInDue) for e in events)
    stack.stop_service("followup")
    app = build_application(settings)
    try:
        from tests.helpers import stored_events

        counts = stored_events(app)
        assert counts["CheckIn.DeadlineFired"] == 4 and counts["CheckIn.DeadlineSet"] == 4
        assert not app.due_index.pending
    finally:
        app.close()
