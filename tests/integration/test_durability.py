"""Durability Polku can state: JetStream syncs each write to disk before it acknowledges it, and
a relay whose stream lost events it had moved past publishes them again at start."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import msgspec
from nats.aio.client import Client

import contracts
from polku.bus import ensure_streams
from polku.stack import Stack
from tests.helpers import distinct_referrals, send_referrals, stream_messages, wait_for_projection


def test_the_embedded_jetstream_syncs_every_write_before_it_acknowledges(stack: Stack) -> None:
    assert stack.nats is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.nats.monitor_port}/varz", timeout=5) as r:
        config = json.load(r)["jetstream"]["config"]
    assert config["sync_always"] is True


def test_the_production_nats_config_syncs_every_write() -> None:
    conf = (Path(__file__).parents[2] / "deploy" / "nats" / "nats.conf").read_text()
    jetstream = conf[conf.index("jetstream {"):]
    assert "sync_interval: always" in jetstream[: jetstream.index("}")]


async def test_a_relay_whose_stream_lost_its_last_events_publishes_them_again_at_start(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    replies = await send_referrals(nc, distinct_referrals(31, 5))
    assert all(r["ok"] for r in replies)
    await wait_for_projection(nc, 5)
    js = operator_nc.jetstream()
    before = await stream_messages(operator_nc, "INTAKE")
    assert len(before) == 4 * 5  # received, screened, triaged, routed

    # The stream loses its last two events while intake is down (as a power cut before a sync
    # would lose them; here deleted by the operator)
    stack.stop_service("intake")
    # (JetStream drops a message whose id it saw within its duplicate window, even one deleted
    # since: a power cut loses those ids too. Shorten the window so the test need not wait.)
    config = (await js.stream_info("INTAKE")).config
    config.duplicate_window = 0.2
    await js.update_stream(config)
    await asyncio.sleep(0.5)
    for m in before[-2:]:
        await js.delete_msg("INTAKE", m.metadata.sequence.stream)
    assert (await js.stream_info("INTAKE")).state.messages == 18
    stack.start_service("intake")
    stack.wait_ready(("intake",))

    for _ in range(100):
        after = await stream_messages(operator_nc, "INTAKE")
        if len(after) >= 20:
            break
        await asyncio.sleep(0.1)
    assert [m.headers[contracts.H_MSG_ID] for m in after] == [m.headers[contracts.H_MSG_ID] for m in before]
    assert [msgspec.json.decode(m.data) for m in after] == [msgspec.json.decode(m.data) for m in before]
    assert [m.metadata.sequence.stream for m in after][-2:] == [21, 22]  # new sequence numbers: none reused
    # ... and what reads them again opens no relationship twice
    await asyncio.sleep(1.0)
    assert (await wait_for_projection(nc, 5)).total == 5


async def test_the_streams_are_checked_and_changed_only_by_an_explicit_apply_which_keeps_what_an_operator_tuned(
    stack: Stack, operator_nc: Client
) -> None:
    js = operator_nc.jetstream()
    config = (await js.stream_info("CASEFILE")).config
    config.max_age = 3600 * 24 * 365 * 10.0  # ten years
    config.duplicate_window = 600.0
    config.subjects = ["polku.casefile.>", "elsewhere.>"]
    config.num_replicas = 1
    await js.update_stream(config)

    # Checked: said, nothing changed
    report = await ensure_streams(js, 1)
    assert report == [
        "CASEFILE: differs, Polku depends on it: subjects ['elsewhere.>', 'polku.casefile.>'] (Polku's "
        "['polku.casefile.>']); `polku streams --apply` sets it back",
        "CASEFILE: kept as tuned on the server: duplicate_window 600.0 (Polku's 120.0), max_age 315360000.0 (Polku's 0.0)",
    ]
    assert (await js.stream_info("CASEFILE")).config.subjects == ["polku.casefile.>", "elsewhere.>"]

    # Applied: what Polku owns is set back, what the operator tuned is kept
    applied = await ensure_streams(js, 1, apply=True)
    assert applied[0].startswith("CASEFILE: set back: subjects")
    after = (await js.stream_info("CASEFILE")).config
    assert after.subjects == ["polku.casefile.>"]
    assert (after.max_age, after.duplicate_window) == (3600 * 24 * 365 * 10.0, 600.0)
    assert await ensure_streams(js, 1) == [report[1]]  # only the tuning is left to say


async def test_a_service_says_at_start_how_its_stream_differs_from_polkus_configuration(
    stack: Stack, operator_nc: Client
) -> None:
    js = operator_nc.jetstream()
    config = (await js.stream_info("INTAKE")).config
    config.subjects = ["polku.intake.>", "elsewhere.>"]
    await js.update_stream(config)
    stack.stop_service("intake")
    stack.start_service("intake")
    stack.wait_ready(("intake",))
    lines = [json.loads(line) for line in (stack.var / "log" / "intake.jsonl").read_text().splitlines()]
    [said] = [line for line in lines if line["event"] == "stream_config_differs"]
    assert said["stream"] == "INTAKE" and said["action"] == "polku streams --apply"
    assert said["differences"] == "subjects ['elsewhere.>', 'polku.intake.>'] (Polku's ['polku.intake.>'])"
    assert (await js.stream_info("INTAKE")).config.subjects == ["polku.intake.>", "elsewhere.>"]  # said, not changed
