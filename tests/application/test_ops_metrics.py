"""The metrics the hot path moves, on real stores: a group commit's size and its one sync, the
aggregate cache's hits, followup's pending and overdue deadlines."""

from __future__ import annotations

import random
import uuid
from datetime import date

import msgspec
from prometheus_client import REGISTRY

from contracts.intake import ReceiveReferral, ScreenReferral
from polku.settings import Settings
from services.intake.main import build_application, build_pipeline
from tests.application.test_followup_deadlines import advance, ended, make
from tests.helpers import referral_body


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_group_commit_is_counted_with_its_size_and_one_sync_and_a_cached_read_as_a_hit(settings: Settings) -> None:
    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    rng = random.Random(14)
    syncs, groups, grouped = (sample(n, service="intake") for n in (
        "polku_group_commit_syncs_total", "polku_group_commit_size_count", "polku_group_commit_size_sum"))
    hits = sample("polku_aggregate_reads_total", service="intake", outcome="hit")
    try:
        results = pipeline.execute_batch(
            [(msgspec.convert(referral_body(rng), ReceiveReferral), f"metrics-{i}") for i in range(7)]
        )
        assert all(ok for ok, _ in results)
        assert sample("polku_group_commit_syncs_total", service="intake") == syncs + 1
        assert sample("polku_group_commit_size_count", service="intake") == groups + 1
        assert sample("polku_group_commit_size_sum", service="intake") == grouped + 7

        # the referral just stored is in the aggregate cache: screening it reads no database
        actor = {"worker_id": "sg-001", "role": "service_guidance_worker", "team": "team-north"}
        screen = msgspec.convert(
            {"actor": actor, "referral_id": str(results[0][1].referral_id), "outcome": "assessment_needed"}, ScreenReferral
        )
        pipeline.execute(screen, command_id="metrics-screen")
        assert sample("polku_aggregate_reads_total", service="intake", outcome="hit") >= hits + 1
    finally:
        app.close()


async def test_followup_counts_a_deadline_pending_until_it_fires_and_overdue_once_due(settings: Settings) -> None:
    app, pipeline, scheduler = make(settings)
    try:
        ended(pipeline, uuid.uuid4(), date(2026, 12, 24))
        assert (len(app.due_index.pending), app.due_index.overdue(app.today())) == (1, 0)
        advance(pipeline, 38)  # 28 December 2026: the first working day on or after the 24th's holidays
        assert (len(app.due_index.pending), app.due_index.overdue(app.today())) == (1, 1)
        taken = app.due_index.take_due(app.today())  # taken by a tick, not fired yet: still overdue
        assert len(taken) == 1 and app.due_index.overdue(app.today()) == 1
        app.due_index.put_back(*taken[0])
        assert await scheduler.fire_due() == 1
        assert (len(app.due_index.pending), app.due_index.overdue(app.today())) == (0, 0)
    finally:
        app.close()
