"""Intake's group commit: concurrent commands stored together, each answered as if alone."""

from __future__ import annotations

import asyncio
import random
from functools import partial

import msgspec
import pytest

from contracts.commands import ReceiveReferral
from polku.batching import GroupCommitter
from polku.settings import Settings
from services.intake.application import CommandIdReused, InvalidIdentityCode
from services.intake.main import build_application
from tests.helpers import referral_body, stored_events


def command(rng: random.Random, **changes: object) -> ReceiveReferral:
    return msgspec.convert({**referral_body(rng), **changes}, ReceiveReferral)


async def test_concurrent_commands_are_stored_together_and_each_gets_its_own_answer(settings: Settings) -> None:
    app = build_application(settings)
    committer = GroupCommitter(app)
    rng = random.Random(31)
    commands = [command(rng) for _ in range(100)]
    retried = commands[0]

    def submit(cmd: ReceiveReferral, command_id: str) -> asyncio.Future:
        return committer.submit(partial(app.decide_referral, cmd, command_id=command_id, trace={}))

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
    committer = GroupCommitter(app)
    cmd = command(random.Random(32))
    try:
        first = await committer.submit(partial(app.decide_referral, cmd, command_id="x-1", trace={}))
        again = await committer.submit(partial(app.decide_referral, cmd, command_id="x-1", trace={}))
        assert again == first
        assert stored_events(app)["Referral.Received"] == 1
        with pytest.raises(CommandIdReused):
            await committer.submit(
                partial(app.decide_referral, command(random.Random(33)), command_id="x-1", trace={})
            )
    finally:
        app.close()
