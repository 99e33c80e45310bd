"""Intake's group commit: concurrent commands stored together, each answered as if alone."""

from __future__ import annotations

import asyncio
import random

import msgspec
import pytest

from contracts.intake import ReceiveReferral
from polku.pipeline import CommandIdReused
from polku.settings import Settings
from services.intake.application import InvalidIdentityCode
from services.intake.domain import AlreadyScreened
from services.intake.main import build_application, build_pipeline
from tests.helpers import referral_body, stored_events


def command(rng: random.Random, **changes: object) -> ReceiveReferral:
    return msgspec.convert({**referral_body(rng), **changes}, ReceiveReferral)


async def test_concurrent_commands_are_stored_together_and_each_gets_its_own_answer(settings: Settings) -> None:
    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    committer = pipeline.committer
    rng = random.Random(31)
    commands = [command(rng) for _ in range(100)]
    retried = commands[0]

    def submit(cmd: ReceiveReferral, command_id: str) -> asyncio.Future:
        return pipeline.submit(cmd, command_id=command_id)

    try:
        results = await asyncio.gather(
            *(submit(c, f"cmd-{i}") for i, c in enumerate(commands)),
            submit(retried, "cmd-0"),  # a retry, in the same group as its first attempt
            submit(command(rng, identity_code="131052-308U"), "cmd-bad"),
            submit(commands[1], "cmd-0"),  # the same id for another referral
            return_exceptions=True,
        )
        accepted, retry, invalid, reused = results[:100], results[100], results[101], results[102]
        assert all(not isinstance(r, BaseException) for r in accepted)
        assert len({r.referral_id for r in accepted}) == 100
        assert retry == accepted[0]
        assert isinstance(invalid, InvalidIdentityCode)
        assert isinstance(reused, CommandIdReused)
        assert stored_events(app)["Referral.Received"] == 100
        # Far fewer transactions than commands: that is the point.
        assert committer.batches < 50
    finally:
        app.close()


async def test_a_stored_referral_is_found_again_by_a_later_retry(settings: Settings) -> None:
    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    cmd = command(random.Random(32))
    try:
        first = await pipeline.submit(cmd, command_id="x-1")
        again = await pipeline.submit(cmd, command_id="x-1")
        assert again == first
        assert stored_events(app)["Referral.Received"] == 1
        with pytest.raises(CommandIdReused):
            await pipeline.submit(command(random.Random(33)), command_id="x-1")
    finally:
        app.close()


async def test_a_batch_that_lost_a_race_with_another_writer_is_decided_again_on_fresh_state(settings: Settings) -> None:
    """A service is meant to be its store's only writer, and keeps the aggregates it saved in
    memory. Should another writer change one anyway, the batch that lost the race is decided
    again on what the store holds: the command is refused by the rule it now breaks, not failed
    with a stale version again and again."""
    from contracts.intake import ScreenReferral

    app, other = build_application(settings), build_application(settings)
    pipeline, others = build_pipeline(app, settings), build_pipeline(other, settings)
    try:
        received = await pipeline.submit(command(random.Random(33)), command_id="r-1")
        actor = {"worker_id": "sg-001", "role": "service_guidance_worker", "team": "team-north"}

        def screen(outcome: str) -> ScreenReferral:
            return msgspec.convert({"referral_id": str(received.referral_id), "actor": actor, "outcome": outcome}, ScreenReferral)

        app.get_referral(received.referral_id)  # in app's cache now
        others.execute(screen("assessment_needed"), command_id="s-other")  # the other writer screens it first
        with pytest.raises(AlreadyScreened):
            await pipeline.submit(screen("urgent_need"), command_id="s-1")
        assert stored_events(app)["Referral.Screened"] == 1
    finally:
        app.close()
        other.close()


async def test_a_stopping_service_waits_for_what_it_handed_to_the_group_commit(settings: Settings) -> None:
    """``drain``: every command handed over is committed and answered before the store closes."""
    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    rng = random.Random(32)
    try:
        submitted = [asyncio.ensure_future(pipeline.submit(command(rng), command_id=f"stop-{i}")) for i in range(50)]
        await asyncio.sleep(0)  # the loop's turn ends: they are handed to the committing thread
        assert await asyncio.to_thread(pipeline.committer.drain, 30)
        # drained: each is committed, and its answer is on its way to the loop
        assert stored_events(app)["Referral.Received"] == 50
        assert all(r.referral_id for r in await asyncio.gather(*submitted))
        assert pipeline.committer.drain(0)  # nothing left: at once
    finally:
        app.close()
