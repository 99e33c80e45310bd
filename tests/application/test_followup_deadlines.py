"""Followup's check-in deadlines on a real SQLite store: set by casefile's RelationshipEnded,
fired by the scheduler through the command pipeline (once), recorded by the worker."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from contracts import followup as c
from contracts.casefile import RelationshipEnded, RelationshipReopened
from polku.domain import Envelope, RuleBroken
from polku.settings import Settings
from polku.store import store_env
from services.followup.application import FollowupApplication
from services.followup.main import build_pipeline
from services.followup.scheduler import Scheduler
from services.followup.settings import Policy
from tests.helpers import stored_events

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SW = "sw-001"


def make(settings: Settings, demo: bool = True) -> tuple[FollowupApplication, object, Scheduler]:
    app = FollowupApplication(
        store_env(settings, "followup"), roster=settings.roster, policy=Policy(check_in_retry_days=7, check_in_max_tries=3),
        demo=demo, system_clock=lambda: START,
    )
    pipeline = build_pipeline(app, settings)
    return app, pipeline, Scheduler(app, pipeline)


def ended(pipeline, relationship_id: uuid.UUID, due: date | None) -> None:  # type: ignore[no-untyped-def]
    e = RelationshipEnded(
        event_id=uuid.uuid4(), occurred_at=START, relationship_id=relationship_id,
        client_id="c" * 16, reason="goal_reached", check_in_due=due,
    )
    pipeline.committer.run(lambda uow: pipeline.app.relationship_ended(uow, e), Envelope(occurred_at=START))


def advance(pipeline, days: int) -> None:  # type: ignore[no-untyped-def]
    pipeline.execute(c.AdvanceClock(days=days), command_id=f"clock-{uuid.uuid4()}", as_worker="tl-001")


async def test_check_in_fires_once_on_the_next_working_day_and_retries(settings: Settings) -> None:
    app, pipeline, scheduler = make(settings)
    rid = uuid.uuid4()
    ended(pipeline, rid, date(2026, 12, 24))
    ended(pipeline, uuid.uuid4(), None)  # no check-in (a client who died)
    assert len(app.due_index.pending) == 1
    with pytest.raises(RuleBroken) as refused:
        pipeline.execute(c.RecordCheckIn(relationship_id=rid, outcome="no_need"), command_id="early", as_worker=SW)
    assert refused.value.code == "check_in_not_due"

    advance(pipeline, 33)  # 23 December 2026
    assert await scheduler.fire_due() == 0
    advance(pipeline, 4)  # 27 December: a Sunday, still not due
    assert await scheduler.fire_due() == 0
    advance(pipeline, 1)  # 28 December
    assert await scheduler.fire_due() == 1
    assert await scheduler.fire_due() == 0
    assert stored_events(app)["CheckIn.DeadlineFired"] == 1

    reply = pipeline.execute(c.RecordCheckIn(relationship_id=rid, outcome="not_reached"), command_id="t1", as_worker=SW)
    assert reply.state == "retry" and reply.next_due == date(2027, 1, 4)
    advance(pipeline, 7)
    assert await scheduler.fire_due() == 1
    pipeline.execute(c.RecordCheckIn(relationship_id=rid, outcome="not_reached"), command_id="t2", as_worker=SW)
    advance(pipeline, 7)
    assert await scheduler.fire_due() == 1
    reply = pipeline.execute(c.RecordCheckIn(relationship_id=rid, outcome="not_reached"), command_id="t3", as_worker=SW)
    assert reply.state == "closed" and reply.next_due is None
    counts = stored_events(app)
    assert counts["CheckIn.DeadlineFired"] == 3 and counts["CheckIn.Completed"] == 1
    app.close()

    # started again on the same store: nothing pending, nothing fires again
    app2, pipeline2, scheduler2 = make(settings)
    advance(pipeline2, 100)
    assert await scheduler2.fire_due() == 0
    assert stored_events(app2)["CheckIn.DeadlineFired"] == 3
    app2.close()


async def test_a_reopened_relationship_needs_no_check_in(settings: Settings) -> None:
    app, pipeline, scheduler = make(settings)
    rid = uuid.uuid4()
    ended(pipeline, rid, date(2026, 12, 21))
    e = RelationshipReopened(event_id=uuid.uuid4(), occurred_at=START, relationship_id=rid, client_id="c" * 16, reason="client_returned")
    pipeline.committer.run(lambda uow: app.relationship_reopened(uow, e), Envelope(occurred_at=START))
    assert not app.due_index.pending
    advance(pipeline, 60)
    assert await scheduler.fire_due() == 0
    app.close()


async def test_a_deadline_fires_once_even_when_its_command_runs_twice(settings: Settings) -> None:
    app, pipeline, scheduler = make(settings)
    rid = uuid.uuid4()
    ended(pipeline, rid, date(2026, 12, 1))
    advance(pipeline, 30)
    [(deadline_id, aggregate_id)] = app.due_index.take_due(app.today())
    first = await scheduler._fire(deadline_id, aggregate_id)
    again = await scheduler._fire(deadline_id, aggregate_id)  # a retry after a crash: the first reply
    assert first.fired and again == first
    assert stored_events(app)["CheckIn.DeadlineFired"] == 1
    app.close()


def test_the_clock_moves_only_in_demo_mode(settings: Settings) -> None:
    app, pipeline, _ = make(settings, demo=False)
    with pytest.raises(RuleBroken) as refused:
        advance(pipeline, 1)
    assert refused.value.code == "demo_mode_only"
    app.close()


async def test_a_deadline_that_fails_to_fire_is_tried_again_and_the_others_of_its_tick_are_not_lost(
    settings: Settings,
) -> None:
    app, pipeline, scheduler = make(settings)
    rids = [uuid.uuid4() for _ in range(3)]
    for rid in rids:
        ended(pipeline, rid, date(2026, 12, 1))
    advance(pipeline, 15)  # 5 December 2026: all three are due
    real_internal = pipeline.internal
    failing = {str(sorted(app.due_index.pending)[1])}

    async def flaky(name, use_case, command, **kwargs):  # type: ignore[no-untyped-def]
        if command.deadline_id in failing:
            raise ConnectionError("the store is away for a moment")
        return await real_internal(name, use_case, command, **kwargs)

    pipeline.internal = flaky  # type: ignore[method-assign]
    assert await scheduler.fire_due() == 2
    assert set(app.due_index.pending) == failing  # fired ones are done; the failed one waits
    pipeline.internal = real_internal  # type: ignore[method-assign]
    assert await scheduler.fire_due() == 1  # tried again at the next tick
    assert await scheduler.fire_due() == 0
    assert not app.due_index.pending
    assert stored_events(app)["CheckIn.DeadlineFired"] == 3
