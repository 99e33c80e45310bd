"""A service that cannot do its work says so, and stops rather than pretend.

- the health answer carries the relay's lag and each consumer's lag (and dead letters);
- a relay that cannot publish (a full stream) turns commands away with ``unavailable`` once it
  has failed ``POLKU_RELAY_STALL_SECONDS``, and takes them again once it publishes;
- a relay, consumer or task that ends while the service runs stops the service (``polku serve``
  exits 70), so that ``polku up`` or the orchestrator starts it again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client
from nats.js.api import DiscardPolicy

from polku import registry
from polku.service import ServiceDefinition, TaskFailed, serve
from polku.settings import Settings
from polku.stack import Stack
from tests.helpers import distinct_referrals, send_referrals, wait_for_projection


@pytest.fixture(autouse=True)
def _stall_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLKU_RELAY_STALL_SECONDS", "1")


async def _health(operator_nc: Client, service: str) -> dict[str, Any]:
    return msgspec.json.decode((await operator_nc.request(f"polku.ctl.{service}.health", b"", timeout=5)).data)


async def _settled(operator_nc: Client, service: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        health = await _health(operator_nc, service)
        lags = [health["relay"]["lag"], *(c["lag"] for c in health["consumers"].values())]
        if not any(lags) or time.monotonic() > deadline:
            return health
        await asyncio.sleep(0.2)


async def test_the_health_answer_carries_relay_and_consumer_lag_at_zero_once_all_is_handled(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    replies = await send_referrals(nc, distinct_referrals(21, 5))
    assert all(r["ok"] for r in replies)
    await wait_for_projection(nc, 5)
    casefile = await _settled(operator_nc, "casefile")
    assert casefile["ok"] is True
    assert casefile["relay"]["lag"] == 0 and casefile["relay"]["position"] > 0
    assert casefile["relay"]["failing_for_s"] is None
    assert set(casefile["consumers"]) == {"casefile-intake", "casefile-followup"}
    assert casefile["consumers"]["casefile-intake"]["lag"] == 0
    assert casefile["consumers"]["casefile-intake"]["position"] == 4 * 5  # received, screened, triaged, routed
    assert casefile["consumers"]["casefile-intake"]["dead_lettered"] == 0


async def test_a_consumer_is_given_only_the_events_its_service_acts_on_and_its_lag_counts_those(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    """Followup acts on three of intake's events (repeat referrals flagged, the roster's
    changes): its durable consumer of INTAKE is filtered to those subjects, so a referral's
    path (received, screened, triaged, routed) is neither fetched nor tracked there; its lag is
    JetStream's count of what it has still to handle, 0, not the stream's end less its position."""
    from services.followup.handlers import TABLE

    replies = await send_referrals(nc, distinct_referrals(22, 5))
    assert all(r["ok"] for r in replies)
    await wait_for_projection(nc, 5)
    followup = await _settled(operator_nc, "followup")
    js = operator_nc.jetstream()
    info = await js.consumer_info("INTAKE", "followup-intake")
    assert sorted(info.config.filter_subjects) == sorted(
        {f"polku.intake.{n}" for n in ("repeat_referrals_flagged", "roster_worker_set", "roster_worker_removed")}
    )
    assert len(TABLE.events["intake"]) == len(info.config.filter_subjects)
    intake_end = (await js.stream_info("INTAKE")).state.last_seq
    consumer = followup["consumers"]["followup-intake"]
    assert intake_end >= 4 * 5 and consumer["position"] < intake_end
    assert consumer["lag"] == 0 and consumer["processed"] == 0
    # intake's caseload is a projection: it is given the casefile events it reads
    caseload = await js.consumer_info("CASEFILE", "intake-casefile")
    assert sorted(caseload.config.filter_subjects) == [
        f"polku.casefile.{n}" for n in (
            "own_worker_named", "referral_attached", "relationship_ended", "relationship_opened", "relationship_reopened"
        )
    ]
    # reporting's consumers stay whole: its projections read every event
    assert (await js.consumer_info("INTAKE", "reporting-intake")).config.filter_subject == "polku.intake.>"


async def test_a_relay_that_cannot_publish_turns_commands_away_until_it_publishes_again(
    stack: Stack, nc: Client, operator_nc: Client
) -> None:
    js = operator_nc.jetstream()
    config = (await js.stream_info("INTAKE")).config
    config.max_msgs, config.discard = 2, DiscardPolicy.NEW  # full after two: JetStream refuses the rest
    await js.update_stream(config)

    accepted = 0
    deadline = time.monotonic() + 20
    while True:
        [reply] = await send_referrals(nc, distinct_referrals(22 + accepted, 1), route=False)
        if not reply["ok"]:
            break
        accepted += 1
        assert time.monotonic() < deadline, "commands are still taken while the relay cannot publish"
        await asyncio.sleep(0.2)
    assert accepted >= 3  # taken while the relay failed for less than a second
    assert reply["error"]["code"] == "unavailable"
    assert "cannot publish" in reply["error"]["message"] and "Polku-Command-Id" in reply["error"]["message"]
    health = await _health(operator_nc, "intake")
    assert health["ok"] is False and health["relay"]["lag"] == accepted - 2 and health["relay"]["failing_for_s"] >= 1

    config.max_msgs, config.discard = -1, DiscardPolicy.OLD
    await js.update_stream(config)
    deadline = time.monotonic() + 20
    while True:
        [reply] = await send_referrals(nc, distinct_referrals(90 + accepted, 1), route=False)
        if reply["ok"]:
            accepted += 1
            break
        assert reply["error"]["code"] == "unavailable"
        assert time.monotonic() < deadline, "commands stay turned away after the relay publishes again"
        await asyncio.sleep(0.3)
    health = await _settled(operator_nc, "intake")
    assert health["ok"] is True and health["relay"]["lag"] == 0
    # everything accepted was published once the stream took messages again: nothing was lost
    assert (await js.stream_info("INTAKE")).state.messages == accepted


async def test_a_background_task_that_fails_for_good_stops_its_service_to_be_started_again(
    stack: Stack, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.stop_service("followup")  # the in-process one below takes its place (and its lease)
    real = registry.service("followup")

    def build(s: Settings) -> Any:
        parts = real.build(s)

        async def broken(stop: asyncio.Event) -> None:
            await asyncio.sleep(0.2)
            raise RuntimeError("a scheduler bug")

        parts.tasks.append(broken)
        return parts

    monkeypatch.setattr(registry, "service", lambda name: ServiceDefinition(name=name, build=build))
    stop = asyncio.Event()
    with pytest.raises(TaskFailed, match="followup-task-1 failed for good"):  # `polku serve` exits 70
        await asyncio.wait_for(serve("followup", settings, stop), timeout=60)
