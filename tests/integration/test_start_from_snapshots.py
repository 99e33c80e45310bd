"""A restarted intake starts from its read-model snapshot: its own store and casefile's stream
are replayed only after the positions the snapshot holds, and what casefile published while
intake was down still counts (real nats-server, real processes, SQLite)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from nats.aio.client import Client

from contracts.casefile import RelationshipOpened, casefile_decoder
from polku.stack import Stack
from tests.helpers import messages_when, request
from tests.integration.test_intake_process import receive, route, routed_to, screen, triage
from tests.metrics_helpers import scrape, values

ENDED_BY = {"worker_id": "sc-001", "role": "social_counsellor", "team": "team-north"}


def _log(stack: Stack, name: str) -> list[dict]:
    return [json.loads(line) for line in (stack.var / "log" / f"{name}.jsonl").read_text().splitlines()]


def _since_last_start(stack: Stack, name: str) -> list[dict]:
    lines = _log(stack, name)
    starts = [i for i, line in enumerate(lines) if line["event"] == "service_stopped"]
    return lines[starts[-1] + 1:] if starts else lines


async def _routed_six(nc: Client) -> dict[str, str]:
    """Six referrals routed, four to sc-001 and two to sc-002; their relationships by referral."""
    rids = await routed_to(nc, ["sc-001"] * 4 + ["sc-002"] * 2)
    events = [casefile_decoder.decode(m.data) for m in await messages_when(nc, "CASEFILE", 12, timeout=30)]
    return {rid: str(e.relationship_id) for e in events if isinstance(e, RelationshipOpened) for rid in rids if str(e.referral_id) == rid}


async def _consumed_by_intake(stack: Stack, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(values(scrape(stack.http_url("intake") or ""), "polku_consumer_lag").values()):
        assert time.monotonic() < deadline, "intake did not consume CASEFILE"
        await asyncio.sleep(0.1)


async def _end_sc001s(nc: Client, relationships: list[str]) -> None:
    for relationship_id in relationships:
        body = {"relationship_id": relationship_id, "reason": "goal_reached", "actor": ENDED_BY}
        ended = await request(nc, "polku.cmd.casefile.end_relationship", json.dumps(body).encode(), f"end-{relationship_id}")
        assert ended["ok"], ended
    await messages_when(nc, "CASEFILE", 12 + len(relationships), timeout=30)


async def test_a_stopped_intake_starts_from_the_snapshot_it_stored_and_counts_what_casefile_published_meanwhile(
    stack: Stack, nc: Client
) -> None:
    opened = await _routed_six(nc)
    await _consumed_by_intake(stack)
    stack.stop_service("intake")
    stopped = _log(stack, "intake")
    snapshot = [line for line in stopped if line["event"] == "read_models_snapshot"][-1]
    # sc-001's four relationships end while intake is down: sc-001 holds none now, sc-002 two
    await _end_sc001s(nc, list(opened.values())[:4])

    stack.start_service("intake")
    stack.wait_ready(("intake",))
    rid = await receive(nc)
    await screen(nc, rid, "assessment_needed")
    await triage(nc, rid, "able", "single")
    assert (await route(nc, rid))["worker_id"] == "sc-001"

    started = _since_last_start(stack, "intake")
    restored = [line for line in started if line["event"] == "read_models_restored"]
    assert [line["position"] for line in restored] == [snapshot["position"]]
    # casefile's stream from the sequence the snapshot holds: the four ends only, not from 1
    consumer = next(line for line in started if line["event"] == "consumer_started")
    assert consumer["consumer"] == "intake-casefile" and consumer["position"] == 12


@pytest.fixture
def snapshot_every_event(monkeypatch: pytest.MonkeyPatch, polku_env: dict[str, str]) -> None:
    monkeypatch.setenv("POLKU_SNAPSHOT_EVERY", "1")


async def test_an_intake_killed_after_a_periodic_snapshot_replays_what_came_after_it(
    snapshot_every_event: None, stack: Stack, nc: Client
) -> None:
    opened = await _routed_six(nc)
    await _consumed_by_intake(stack)
    deadline = time.monotonic() + 30
    while not any(line["event"] == "read_models_snapshot" for line in _log(stack, "intake")):
        assert time.monotonic() < deadline, "no periodic snapshot"
        await asyncio.sleep(0.2)
    snapshot = [line for line in _log(stack, "intake") if line["event"] == "read_models_snapshot"][-1]
    # more of intake's own events after the snapshot, then kill -9: no snapshot as it dies
    rid = await receive(nc)
    await screen(nc, rid, "assessment_needed")
    await triage(nc, rid, "able", "single")
    stack.kill_service("intake")
    await _end_sc001s(nc, list(opened.values())[:4])

    stack.start_service("intake")
    stack.wait_ready(("intake",))
    assert (await route(nc, rid))["worker_id"] == "sc-001"
    lines = _log(stack, "intake")
    last_start = max(i for i, line in enumerate(lines) if line["event"] == "consumer_started")
    restored = [line for line in lines[:last_start] if line["event"] == "read_models_restored"]
    # the snapshot seen before the kill, or one the loop stored after it (before the kill)
    assert restored and restored[-1]["position"] >= snapshot["position"]
