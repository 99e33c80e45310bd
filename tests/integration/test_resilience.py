"""Crashes, outages and poison: nothing accepted is lost, nothing is applied twice."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time

import msgspec
from nats.aio.client import Client

import contracts
from contracts.casefile import RelationshipOpened, casefile_decoder
from contracts.intake import ReceiveReferral, RouteReferral, ScreenReferral, TriageSupportNeed
from polku.settings import Settings
from polku.stack import Stack
from services.casefile.main import build_application as build_casefile
from services.intake.main import build_application as build_intake
from services.intake.main import build_pipeline as build_intake_pipeline
from demo.headlines import settled_indicators
from tests.helpers import (
    polku_rebuild_reporting,
    distinct_referrals,
    nested,
    referral_body,
    send_referrals,
    stream_messages,
    wait_for_projection,
)


NESTED = nested("ReferralReceived")
NESTED_ROSTER = nested("RosterWorkerSet")


async def _stream_count(nc: Client, stream: str) -> int:
    return (await nc.jetstream().stream_info(stream)).state.messages


async def test_casefile_killed_in_the_middle_of_a_batch_loses_and_duplicates_no_relationship(
    stack: Stack, nc: Client, settings: Settings
) -> None:
    stack.stop_service("casefile")
    n = 1500
    replies = await send_referrals(nc, distinct_referrals(5, n), concurrency=64)
    assert all(r["ok"] for r in replies)
    deadline = time.monotonic() + 30
    while await _stream_count(nc, "INTAKE") < n:
        assert time.monotonic() < deadline, "intake did not relay everything"
        await asyncio.sleep(0.05)

    stack.start_service("casefile")
    deadline = time.monotonic() + 60
    while (done := await _stream_count(nc, "CASEFILE")) < 100:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    stack.kill_service("casefile")
    assert done < 2 * n, "casefile finished before it was killed: the test proves nothing"

    stack.start_service("casefile")
    stack.wait_ready(("casefile",))
    reply = await wait_for_projection(nc, n)
    assert reply.total == n
    await asyncio.sleep(0.5)  # anything still in flight would show up now
    assert (await wait_for_projection(nc, n)).total == n

    casefile = await stream_messages(nc, "CASEFILE")
    assert len(casefile) == 2 * n
    opened = [e for e in map(casefile_decoder.decode, (m.data for m in casefile)) if isinstance(e, RelationshipOpened)]
    assert len({e.relationship_id for e in opened}) == n
    assert {str(e.referral_id) for e in opened} == {r["referral_id"] for r in replies}

    stack.stop()
    app = build_casefile(settings)
    try:
        assert app.max_position() == 2 * n
        assert sum(app.caseload.values()) == n
    finally:
        app.close()


async def test_events_stored_while_nats_is_down_are_relayed_when_it_is_back(
    stack: Stack, nc: Client, settings: Settings
) -> None:
    assert stack.nats is not None
    stack.nats.stop()
    intake = build_intake(settings)
    pipeline = build_intake_pipeline(intake, settings)
    rng = random.Random(6)
    referral_ids = set()
    try:
        for i in range(50):
            command = msgspec.convert(referral_body(rng), ReceiveReferral)
            received = pipeline.execute(command, command_id=f"while-down-{i}", correlation_id=f"c-{i}")
            referral_ids.add(str(received.referral_id))
            rid = str(received.referral_id)
            actor = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}
            for n, (command_type, body) in enumerate((
                (ScreenReferral, {"outcome": "assessment_needed"}),
                (TriageSupportNeed, {"positions": {"seeks_help": "able", "needs": "single"}}),
                (RouteReferral, {}),
            )):
                cmd = msgspec.convert({"actor": actor, "referral_id": rid, **body}, command_type)
                pipeline.execute(cmd, command_id=f"while-down-{i}-{n}", correlation_id=f"c-{i}")
    finally:
        intake.close()
    await asyncio.sleep(1.0)  # the relay has tried, and failed, by now
    stack.nats.start()

    reply = await wait_for_projection(nc, 50, timeout=60)
    assert reply.total == 50
    intake_events = await stream_messages(nc, "INTAKE")
    assert len(intake_events) == 4 * 50
    assert {m.headers[contracts.H_MSG_ID].split(":")[0] for m in intake_events} == referral_ids
    assert len({m.headers[contracts.H_MSG_ID] for m in intake_events}) == 200


async def test_a_poison_message_goes_to_the_dead_letter_stream_and_the_consumer_goes_on(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    js = operator_nc.jetstream()  # only the operator (not an integrator) may publish into INTAKE
    # on a subject each of INTAKE's three consumers takes (casefile's, followup's, reporting's)
    roster = "polku.intake.roster_worker_set"
    await js.publish(roster, b"this is not json", headers={contracts.H_MSG_ID: "poison-1"})
    await js.publish(
        roster,
        msgspec.json.encode({"event": "RosterWorkerSet", "event_id": "not-a-uuid"}),
        headers={contracts.H_MSG_ID: "poison-2", contracts.H_CORRELATION: "corr-poison-2"},
    )
    # 2 KB that msgspec cannot decode for a reason of its own (RecursionError, not a
    # ValidationError): an unknown field nested 1,100 brackets deep
    await js.publish(roster, NESTED_ROSTER, headers={contracts.H_MSG_ID: "poison-3"})
    poison = [b"this is not json", msgspec.json.encode({"event": "RosterWorkerSet", "event_id": "not-a-uuid"}), NESTED_ROSTER]
    # and one on a subject only reporting takes: casefile and followup are never given it
    await js.publish("polku.intake.referral_received", NESTED, headers={contracts.H_MSG_ID: "poison-4"})
    replies = await send_referrals(nc, distinct_referrals(7, 3))
    assert all(r["ok"] for r in replies)

    reply = await wait_for_projection(nc, 3)
    assert reply.total == 3
    # dead letters are for the operator; INTAKE's three consumers each dead-letter the three
    # poison messages of the roster's subject and go on; reporting's the fourth too
    for _ in range(100):
        everything = await stream_messages(operator_nc, "DLQ")
        if len(everything) >= 10:
            break
        await asyncio.sleep(0.1)
    consumers = ("casefile-intake", "followup-intake", "reporting-intake")
    assert sorted(m.subject for m in everything) == sorted(
        [f"polku.dlq.{c}" for c in consumers for _ in range(3)] + ["polku.dlq.reporting-intake"]
    )
    assert [m.data for m in everything if m.subject.endswith("followup-intake")] == poison
    assert [m.data for m in everything if m.subject.endswith("reporting-intake")] == [*poison, NESTED]
    dead = [m for m in everything if m.subject == "polku.dlq.casefile-intake"]
    assert [m.data for m in dead] == poison
    assert dead[2].headers[contracts.H_DLQ_ERROR] == "the message nests too deeply to be decoded"
    for m, seq in zip(dead, (1, 2, 3), strict=True):
        assert m.headers[contracts.H_DLQ_CONSUMER] == "casefile-intake"
        assert m.headers[contracts.H_DLQ_STREAM] == "INTAKE"
        assert m.headers[contracts.H_DLQ_SEQUENCE] == str(seq)
        assert m.headers[contracts.H_DLQ_ERROR_CODE] == contracts.DLQ_UNDECODABLE
        assert m.headers[contracts.H_DLQ_ERROR]
    assert dead[1].headers[contracts.H_CORRELATION] == "corr-poison-2"

    # The poison is behind the consumer's position: a restart does not dead-letter it again.
    stack.stop_service("casefile")
    stack.start_service("casefile")
    stack.wait_ready(("casefile",))
    replies = await send_referrals(nc, distinct_referrals(8, 1))
    assert (await wait_for_projection(nc, 4)).total == 4
    assert await _stream_count(nc, "DLQ") == 10


async def test_a_message_too_deeply_nested_to_decode_does_not_keep_intake_from_serving_after_a_restart(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    """Intake replays CASEFILE before it takes commands: a message there that no decoder can read
    is dead-lettered, and intake serves."""
    await operator_nc.jetstream().publish(
        "polku.casefile.relationship_opened", nested("RelationshipOpened"), headers={contracts.H_MSG_ID: "poison-nested"}
    )
    replies = await send_referrals(nc, distinct_referrals(10, 2))
    assert all(r["ok"] for r in replies)
    assert (await wait_for_projection(nc, 2)).total == 2

    stack.stop_service("intake")
    stack.start_service("intake")
    stack.wait_ready(("intake",))
    replies = await send_referrals(nc, distinct_referrals(11, 1))
    assert all(r["ok"] for r in replies), replies
    assert (await wait_for_projection(nc, 3)).total == 3
    dead = await stream_messages(operator_nc, "DLQ")
    assert {m.subject for m in dead} == {"polku.dlq.intake-casefile", "polku.dlq.followup-casefile", "polku.dlq.reporting-casefile"}
    assert [m.data for m in dead if m.subject == "polku.dlq.intake-casefile"] == [nested("RelationshipOpened")]


async def test_rebuilding_reporting_from_nothing_gives_exactly_the_projection_it_had(
    stack: Stack, nc: Client, settings: Settings
) -> None:
    replies = await send_referrals(nc, distinct_referrals(9, 200))
    assert all(r["ok"] for r in replies)
    before = await wait_for_projection(nc, 200)
    assert before.total == 200
    indicators = await settled_indicators(nc)
    events = sum(indicators.positions.values())

    stack.stop_service("reporting")
    for path in (settings.var_dir / "store").glob("reporting-views.db*"):
        path.unlink()
    result = polku_rebuild_reporting(stack)
    assert result.returncode == 0, result.stderr
    assert f"{events} events" in result.stdout
    assert "events/s" in result.stdout

    stack.start_service("reporting")
    stack.wait_ready(("reporting",))
    after = await wait_for_projection(nc, 200)
    assert after == before
    assert await settled_indicators(nc) == indicators


async def test_rebuilding_reporting_while_it_serves_swaps_in_the_same_projection(
    stack: Stack, nc: Client
) -> None:
    await send_referrals(nc, distinct_referrals(10, 100))
    before = await wait_for_projection(nc, 100)
    assert before.total == 100

    rebuild = asyncio.create_task(asyncio.to_thread(polku_rebuild_reporting, stack))
    # Referrals keep coming while it rebuilds; the live model keeps answering.
    more = await send_referrals(nc, distinct_referrals(11, 50))
    assert all(r["ok"] for r in more)
    during = await wait_for_projection(nc, 150)
    result = await rebuild
    assert result.returncode == 0, result.stderr
    after = await wait_for_projection(nc, 150)
    assert during.total == after.total == 150
    assert sorted(w.open_relationships for w in after.workers) == [37, 37, 38, 38]
    assert after.position == 300


async def test_a_lost_stream_is_filled_again_from_the_store_by_republish(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    replies = await send_referrals(nc, distinct_referrals(12, 120))
    assert all(r["ok"] for r in replies)
    await wait_for_projection(nc, 120)
    original = await stream_messages(nc, "INTAKE")
    assert len(original) == 4 * 120  # received, screened, triaged, routed

    js = operator_nc.jetstream()
    await js.delete_stream("INTAKE")  # the stream is lost; republish creates it again
    env = {**os.environ, "POLKU_VAR_DIR": str(stack.var), "POLKU_NATS_URL": stack.url}
    result = subprocess.run(
        [sys.executable, "-m", "polku", "republish", "intake"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    # 480 events of 1081 stored: the roster, the 120 identity records and the 480 commands'
    # idempotency records stay in intake.
    assert "INTAKE: 480 events of store positions 1..1081 published again (0 were already there)" in result.stdout

    again = await stream_messages(nc, "INTAKE")
    assert [m.data for m in again] == [m.data for m in original]
    assert [m.headers[contracts.H_MSG_ID] for m in again] == [m.headers[contracts.H_MSG_ID] for m in original]
    # A second run finds nothing missing and publishes nothing.
    result = subprocess.run(
        [sys.executable, "-m", "polku", "republish", "intake"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert await _stream_count(nc, "INTAKE") == 4 * 120

