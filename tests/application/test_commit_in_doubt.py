"""A commit that raises although it took effect (the connection lost at COMMIT: PostgreSQL
crashed, say). No recording of its events reaches the read models. They take them from the store:
after a group commit's commands are retried alone, when a consumer starts again from its cursor,
and at the latest with the next recording, which finds the gap (real SQLite)."""

from __future__ import annotations

import dataclasses
import random

import msgspec
import pytest
from eventsourcing.persistence import OperationalError

from contracts.intake import ReceiveReferral
from polku.settings import Settings
from services.casefile.main import build_application as build_casefile
from services.casefile.main import build_pipeline as build_casefile_pipeline
from services.intake.main import build_application, build_pipeline
from tests.application.test_casefile_commands import ROSTER, deliver, referral
from tests.helpers import referral_body


def lose_the_first_commit(app) -> list[int]:  # type: ignore[no-untyped-def]
    """The next commit of ``app`` takes effect and then raises, as if its connection was lost at
    COMMIT; the list says whether it has happened."""
    insert_events = app.recorder.insert_events
    lost: list[int] = []

    def committed_then_lost(*args, **kwargs):  # type: ignore[no-untyped-def]
        ids = insert_events(*args, **kwargs)
        if not lost:
            lost.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return ids

    app.recorder.insert_events = committed_then_lost
    return lost


def test_events_of_a_commit_that_raised_but_took_effect_reach_the_read_models(settings: Settings) -> None:
    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    lost = lose_the_first_commit(app)
    rng = random.Random(5)
    try:
        first = pipeline.execute(msgspec.convert(referral_body(rng), ReceiveReferral), command_id="in-doubt-1")
        assert lost  # its commit raised; the retry found its idempotency record and the same reply
        # no recording of it reached the models: they took its events from the store after the retry
        assert first.referral_id in app.referrals.by_id and app.applied == app.max_position()
        second = pipeline.execute(msgspec.convert(referral_body(rng), ReceiveReferral), command_id="in-doubt-2")
        assert {first.referral_id, second.referral_id} <= set(app.referrals.by_id)
        # the history on disk has it too: the repeat rule sees the first referral
        assert [rid for rid, _ in app.history.of_client(first.client_id)] == [first.referral_id]
    finally:
        app.close()


@pytest.fixture
def casefile_after_a_lost_commit(settings: Settings):  # type: ignore[no-untyped-def]
    """Casefile (and its pipeline) whose consumer's first batch, a relationship opened for the
    client "a"*32 at sequence 1, was committed but raised."""
    app = build_casefile(dataclasses.replace(settings, roster=settings.roster + ROSTER))
    pipeline = build_casefile_pipeline(app, settings)
    lose_the_first_commit(app)
    try:
        with pytest.raises(OperationalError):
            deliver(pipeline, [referral(1, "a" * 32)], 1)
        yield app, pipeline
    finally:
        app.close()


def test_a_consumers_batch_whose_commit_raised_but_took_effect_reaches_casefiles_model(casefile_after_a_lost_commit) -> None:  # type: ignore[no-untyped-def]
    """The consumer's retry finds its cursor moved and passes the batch over as applied: the
    relationship it opened is counted once the next batch is recorded."""
    app, pipeline = casefile_after_a_lost_commit
    assert app.cursor("INTAKE")[0] == 1 and app.summary().open == 0  # stored, not yet in the model
    deliver(pipeline, [referral(2, "b" * 32)], 2)  # the next recording takes the gap first
    assert app.summary().open == 2 and set(app.open_by_client) == {"a" * 32, "b" * 32}


def test_a_consumer_restarting_after_a_commit_that_raised_brings_the_model_up_first(casefile_after_a_lost_commit) -> None:  # type: ignore[no-untyped-def]
    app, pipeline = casefile_after_a_lost_commit
    assert app.summary().open == 0
    # the consumer starts again from its cursor, which had moved: the batch is passed over
    assert pipeline.consumer("intake").cursor("INTAKE")[0] == 1
    assert app.summary().open == 1 and set(app.open_by_client) == {"a" * 32}
