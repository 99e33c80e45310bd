"""Followup's timers survive a SIGKILL at scale (real nats-server, real SQLite): 200 check-in
deadlines pending when followup is killed, some of them due already; more relationships ended
while it is down, whose deadlines are due by the time it is back; after each restart every
deadline fires exactly once, counted on the FOLLOWUP stream and in followup's store.

Followup's controllable clock moves only while followup runs (``advance_clock`` is one of its
commands), so what falls due while it is down is what casefile ended meanwhile: the deadline is
set and already due when followup comes back and reads CASEFILE.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from nats.aio.client import Client

from contracts.casefile import OwnWorkerNamed, RelationshipEnded, casefile_decoder
from contracts.followup import CheckInDue, followup_decoder
from demo.main import relationships_of, route_through
from polku import client as polku_client
from polku.settings import Settings
from polku.stack import Stack
from services.followup import workdays
from services.followup.domain import CheckIn
from services.followup.main import build_application
from tests.casefile_helpers import Casefile, wait_for_relationships
from tests.helpers import RECEIVE_REFERRAL, distinct_referrals, messages_when, request, stored_events, stream_messages

TL1 = {"worker_id": "tl-001", "role": "team_lead", "team": "team-north"}
HELSINKI = ZoneInfo("Europe/Helsinki")

#: pending in followup when it is killed: DUE_AT_KILL of them due already, the rest not yet
PENDING_AT_KILL = 200
DUE_AT_KILL = 120
#: ended while followup is down: due by the time it is back
ENDED_WHILE_DOWN = 40
#: the ends that make a deadline due early are recorded this many days late (business time)
LATE_DAYS = 20


@pytest.fixture
def settings(polku_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """conftest's ``stack`` on demo settings, for followup's controllable clock."""
    monkeypatch.setenv("POLKU_DEMO", "1")
    return Settings.from_env()


async def advance(nc: Client, days: int) -> None:
    body = msgspec.json.encode({"actor": TL1, "days": days})
    reply = await request(nc, "polku.cmd.followup.advance_clock", body, f"test-{uuid.uuid4()}")
    assert reply["ok"], reply


async def open_relationships(nc: Client, n: int, seed: int) -> dict[uuid.UUID, dict[str, str]]:
    """``n`` relationships opened through intake's commands: each relationship → its own worker
    (as an actor of casefile's commands)."""
    semaphore = asyncio.Semaphore(16)

    async def one(body: dict[str, Any]) -> str:
        async with semaphore:
            reply = await request(nc, RECEIVE_REFERRAL, msgspec.json.encode(body), f"test-{uuid.uuid4()}")
            assert reply["ok"], reply
            await route_through(nc, reply["referral_id"], special=False, prefix=f"test-{uuid.uuid4()}")
            return reply["referral_id"]

    referral_ids = set(await asyncio.gather(*(one(b) for b in distinct_referrals(seed, n))))
    opened = await relationships_of(polku_client.Client(nc), referral_ids, from_sequence=1)
    assert len(opened) == n, f"{len(opened)} of {n} referrals opened a relationship"
    workers: dict[uuid.UUID, dict[str, str]] = {}
    for m in await stream_messages(nc, "CASEFILE"):
        e = casefile_decoder.decode(m.data)
        if isinstance(e, OwnWorkerNamed):
            workers[e.relationship_id] = {"worker_id": e.worker_id, "role": e.role, "team": e.team}
    rids = set(opened.values())
    assert rids <= set(workers), "a relationship without an own worker"
    return {rid: workers[rid] for rid in rids}


async def end_all(nc: Client, workers: dict[uuid.UUID, dict[str, str]], rids: list[uuid.UUID], *, late: bool) -> None:
    """End each relationship as its own worker; ``late``: the end recorded LATE_DAYS after it
    happened (its business time), so its check-in falls due that much earlier."""
    semaphore = asyncio.Semaphore(16)
    occurred_at = (datetime.now(UTC) - timedelta(days=LATE_DAYS)).isoformat() if late else None

    async def one(rid: uuid.UUID) -> None:
        async with semaphore:
            cf = Casefile(nc, rid)
            await cf.ok("determine_nature", workers[rid], nature="temporary")
            fields: dict[str, Any] = {"reason": "goal_reached"}
            if occurred_at:
                fields["occurred_at"] = occurred_at
            await cf.ok("end_relationship", workers[rid], **fields)

    await asyncio.gather(*(one(rid) for rid in rids))


async def check_in_dates(nc: Client, ended: int) -> dict[uuid.UUID, date]:
    """Each ended relationship's check-in date as followup will keep it: casefile's
    ``check_in_due`` moved to a working day; once ``ended`` relationships are on CASEFILE (its
    relay is asynchronous)."""
    for _ in range(200):
        dates = {}
        for m in await stream_messages(nc, "CASEFILE"):
            e = casefile_decoder.decode(m.data)
            if isinstance(e, RelationshipEnded) and e.check_in_due is not None:
                dates[e.relationship_id] = workdays.on_or_after(e.check_in_due)
        if len(dates) >= ended:
            return dates
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(dates)} of {ended} ended relationships on CASEFILE")


async def consumed(operator_nc: Client) -> None:
    """Followup has taken in all casefile stored (its deadlines are set): casefile's relay has
    published everything (its lag is 0), and followup's consumer has nothing left."""
    js = operator_nc.jetstream()
    for _ in range(600):
        health = msgspec.json.decode((await operator_nc.request("polku.ctl.casefile.health", b"", timeout=5)).data)
        info = await js.consumer_info("CASEFILE", "followup-casefile")
        if health["relay"]["lag"] == 0 and info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("followup did not consume CASEFILE")


async def check_ins_due(nc: Client, count: int, timeout: float = 60.0) -> Counter[uuid.UUID]:
    """``CheckInDue`` per relationship on the FOLLOWUP stream, once it holds ``count`` messages
    (or the timeout passed)."""
    events = [followup_decoder.decode(m.data) for m in await messages_when(nc, "FOLLOWUP", count, timeout=timeout)]
    assert all(isinstance(e, CheckInDue) for e in events), Counter(type(e).__name__ for e in events)
    return Counter(e.relationship_id for e in events)


def restart(stack: Stack, *, kill: bool = True) -> None:
    if kill:
        stack.kill_service("followup")
    stack.start_service("followup")
    stack.wait_ready(("followup",))


async def test_200_pending_deadlines_survive_a_kill_and_each_fires_exactly_once(
    stack: Stack, nc: Client, operator_nc: Client, settings: Settings
) -> None:
    # a scheduler that looks once an hour (and once at start): nothing due fires before the kill
    stack.env["POLKU_FOLLOWUP_TICK_SECONDS"] = "3600"
    # only check-in deadlines here: the assessments' (7 working days by default) would fall due
    # as the clock moves months ahead and put their overdues on FOLLOWUP too
    stack.env["POLKU_ASSESSMENT_WORKING_DAYS"] = "1000"
    stack.stop_service("followup")
    restart(stack, kill=False)

    workers = await open_relationships(nc, PENDING_AT_KILL + ENDED_WHILE_DOWN, seed=9200)
    await wait_for_relationships(nc, PENDING_AT_KILL + ENDED_WHILE_DOWN)
    rids = sorted(workers)
    early = rids[:DUE_AT_KILL]  # due before the kill
    later = rids[DUE_AT_KILL:PENDING_AT_KILL]  # pending at the kill, due only later
    while_down = rids[PENDING_AT_KILL:]  # ended while followup is down, due by its return
    await end_all(nc, workers, early, late=True)
    await end_all(nc, workers, later, late=False)
    await consumed(operator_nc)

    # followup's clock moves so that the early ones are due and the later ones are not
    dates = await check_in_dates(nc, PENDING_AT_KILL)
    assert set(dates) == set(early) | set(later)
    today = datetime.now(HELSINKI).date()
    moved = today + timedelta(days=LATE_DAYS)
    assert max(dates[r] for r in early) <= moved < min(dates[r] for r in later), (today, dates)
    await advance(nc, LATE_DAYS)
    await asyncio.sleep(1.5)
    assert await stream_messages(nc, "FOLLOWUP") == []  # the scheduler sleeps: all 200 pending

    stack.kill_service("followup")  # SIGKILL: 200 deadlines pending, 120 of them due
    await end_all(nc, workers, while_down, late=True)  # their deadlines are due when it is back
    dates = await check_in_dates(nc, PENDING_AT_KILL + ENDED_WHILE_DOWN)
    assert max(dates[r] for r in while_down) <= moved
    del stack.env["POLKU_FOLLOWUP_TICK_SECONDS"]
    restart(stack, kill=False)

    # back: the 120 due at the kill and the 40 due while it was down fire, once each
    due_now = set(early) | set(while_down)
    fired = await check_ins_due(nc, len(due_now))
    assert fired == Counter(due_now)

    # killed again and back: the later ones are still pending, and fire once the clock passes them
    restart(stack)
    await advance(nc, 30)
    fired = await check_ins_due(nc, len(rids))
    assert fired == Counter(rids)

    # killed and back once more, the clock far ahead: nothing fires twice
    restart(stack)
    await advance(nc, 90)
    await asyncio.sleep(3.0)
    fired = await check_ins_due(nc, len(rids), timeout=0)
    assert fired == Counter(rids) and sum(fired.values()) == len(rids)

    stack.stop_service("followup")
    app = build_application(settings)
    try:
        counts = stored_events(app)
        assert counts["CheckIn.DeadlineSet"] == len(rids)
        assert counts["CheckIn.DeadlineFired"] == len(rids)
        stored_fired: Counter[uuid.UUID] = Counter()
        start = 1
        while page := app.recorder.select_notifications(start, 1000):
            for n in page:
                e = app.mapper.to_domain_event(n)
                if isinstance(e, CheckIn.DeadlineFired):
                    stored_fired[e.relationship_id] += 1
            start = page[-1].id + 1
        assert stored_fired == Counter(rids)
        assert not app.due_index.pending
    finally:
        app.close()
