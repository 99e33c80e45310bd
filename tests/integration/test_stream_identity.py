"""A stream is trusted by the identity of what it holds, not by its sequence numbers.

Each event names its position in its producer's store (``Polku-Position``): its identity and its
order. A consumer's cursor keeps the sequence it reached *and* the position; at start it checks
that the stream still holds that event at that sequence, and where it does not (the stream was
recreated, sequences were reused), it goes on from the first event after its position. An event
at or below the position is one already applied, whatever sequence it comes at.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
from nats.aio.client import Client

import contracts
from demo.headlines import settled_indicators
from polku.stack import Stack, create_streams
from tests.helpers import distinct_referrals, send_referrals, stream_messages, wait_for_projection


def _log(stack: Stack, service: str) -> list[dict[str, object]]:
    path = Path(stack.var) / "log" / f"{service}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def _positions(messages: list[object]) -> list[int]:
    return [int(m.headers[contracts.H_POSITION]) for m in messages if contracts.H_POSITION in (m.headers or {})]  # type: ignore[attr-defined]


async def _referrals_counted(nc: Client) -> int:
    reply = await settled_indicators(nc, names=["referral_channels"])
    [channels] = reply.indicators
    return channels.total or 0


def _republish(stack: Stack, *args: str) -> str:
    env = {**os.environ, "POLKU_VAR_DIR": str(stack.var), "POLKU_NATS_URL": stack.url}
    result = subprocess.run(
        [sys.executable, "-m", "polku", "republish", "intake", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_a_stream_recreated_with_reused_sequences_is_followed_by_position_not_sequence(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    """INTAKE is lost and recreated holding only its second half, at sequences 1..60; new
    referrals follow at 61... Casefile's and reporting's cursors stood at sequence 120: by
    sequence they would wait for a 121st message and never open the new referrals'
    relationships. By position they notice the stream changed and go on from the first event
    after theirs: each new event once, none of the old ones twice."""
    assert all(r["ok"] for r in await send_referrals(nc, distinct_referrals(31, 30)))
    assert (await wait_for_projection(nc, 30)).total == 30
    assert await _referrals_counted(nc) == 30
    original = await stream_messages(operator_nc, "INTAKE")
    assert len(original) == 120

    # followup goes on running throughout: its live consumer of INTAKE finds the stream gone
    for service in ("reporting", "casefile", "intake"):
        stack.stop_service(service)
    await operator_nc.jetstream().delete_stream("INTAKE")
    await asyncio.to_thread(create_streams, stack.url, stack.var, 1)
    second_half = int(original[60].headers[contracts.H_POSITION])
    assert "60 events" in _republish(stack, "--from", str(second_half))
    assert _positions(await stream_messages(operator_nc, "INTAKE")) == _positions(original[60:])

    for service in ("intake", "casefile", "reporting"):
        stack.start_service(service)
    stack.wait_ready(("intake", "casefile", "reporting"))
    assert all(r["ok"] for r in await send_referrals(nc, distinct_referrals(32, 10)))

    assert (await wait_for_projection(nc, 40)).total == 40
    assert await _referrals_counted(nc) == 40
    assert (await wait_for_projection(nc, 41, timeout=2)).total == 40  # and not one more

    now = await stream_messages(operator_nc, "INTAKE")
    assert len(now) == 60 + 40
    positions = _positions(now)
    assert positions == sorted(set(positions))  # the relay kept store order, each event once
    for service, consumer in (("casefile", "casefile-intake"), ("reporting", "reporting-intake")):
        [changed] = [e for e in _log(stack, service) if e["event"] == "consumer_stream_changed"]
        assert changed["consumer"] == consumer
        assert changed["tracked_seq"] == 120
        assert changed["resume_seq"] == 61
    # followup's consumer of INTAKE is given only the roster's changes and repeat flags, none
    # of which came here: it tracked no sequence, so it has nothing to resynchronise and just
    # binds again to the new stream
    followup = _log(stack, "followup")
    assert not any(e["event"] == "consumer_stream_changed" and e["consumer"] == "followup-intake" for e in followup)
    assert any(e["event"] == "consumer_started" and e["consumer"] == "followup-intake" and e["position"] == 0 for e in followup)


async def test_an_event_that_comes_again_at_a_new_sequence_is_applied_once(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    """An operator puts a copy of an event in the stream under a new message id (so JetStream's
    duplicate window does not drop it): the consumers know it by its position and pass it over.
    The relay's chain of expected messages notices the stranger and goes on after it."""
    assert all(r["ok"] for r in await send_referrals(nc, distinct_referrals(33, 4)))
    assert (await wait_for_projection(nc, 4)).total == 4
    [routed, *_] = await stream_messages(operator_nc, "INTAKE", "polku.intake.referral_routed")
    headers = {k: v for k, v in routed.headers.items() if not k.startswith(("Nats-Expected", "Nats-Batch"))}
    headers[contracts.H_MSG_ID] = routed.headers[contracts.H_MSG_ID] + ":again"
    await operator_nc.jetstream().publish(routed.subject, routed.data, headers=headers)

    assert all(r["ok"] for r in await send_referrals(nc, distinct_referrals(34, 2)))
    assert (await wait_for_projection(nc, 6)).total == 6
    assert await _referrals_counted(nc) == 6
    assert (await wait_for_projection(nc, 7, timeout=2)).total == 6
    for service in ("casefile", "reporting"):
        repeated = [
            e for e in _log(stack, service)
            if e["event"] == "message_handled" and e.get("outcome") == "repeated" and str(e.get("consumer", "")).endswith("-intake")
        ]
        assert [e["source_position"] for e in repeated] == [int(routed.headers[contracts.H_POSITION])], service
    # followup's consumer of INTAKE is not given routings: neither the event nor its copy
    assert not [e for e in _log(stack, "followup") if e["event"] == "message_handled" and e.get("consumer") == "followup-intake"]
    in_stream = await stream_messages(operator_nc, "INTAKE")
    own = _positions([m for m in in_stream if not m.headers[contracts.H_MSG_ID].endswith(":again")])
    assert own == sorted(set(own))  # the relay's own: in store order, each once, the copy aside
    assert len(own) == 4 * 6


async def test_an_event_that_names_no_store_position_is_dead_lettered(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    """A well-formed event without ``Polku-Position`` did not come from a Polku store's relay:
    it has no identity to be applied once by, so it goes to the DLQ of each consumer given its
    subject (casefile's and reporting's: followup's consumer of INTAKE does not take routings),
    and nothing counts it."""
    assert all(r["ok"] for r in await send_referrals(nc, distinct_referrals(35, 1)))
    assert (await wait_for_projection(nc, 1)).total == 1
    [routed] = await stream_messages(operator_nc, "INTAKE", "polku.intake.referral_routed")
    event = msgspec.json.decode(routed.data)
    event["referral_id"] = "00000000-0000-4000-8000-00000000abcd"
    headers = {k: v for k, v in routed.headers.items() if k != contracts.H_POSITION and not k.startswith(("Nats-Expected", "Nats-Batch"))}
    headers[contracts.H_MSG_ID] = "stranger:1"
    await operator_nc.jetstream().publish(routed.subject, msgspec.json.encode(event), headers=headers)
    assert all(r["ok"] for r in await send_referrals(nc, distinct_referrals(36, 1)))
    assert (await wait_for_projection(nc, 2)).total == 2
    assert await _referrals_counted(nc) == 2

    for _ in range(100):
        dead = await stream_messages(operator_nc, "DLQ")
        if len(dead) >= 2:
            break
        await asyncio.sleep(0.1)
    assert sorted(m.subject for m in dead) == [f"polku.dlq.{c}" for c in ("casefile-intake", "reporting-intake")]
    assert {m.headers[contracts.H_DLQ_ERROR_CODE] for m in dead} == {contracts.DLQ_NO_POSITION}
