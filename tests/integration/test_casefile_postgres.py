"""Casefile's commands on PostgreSQL, the production store: idempotency and dates survive a restart."""

from __future__ import annotations

from datetime import date

import pytest

from contracts import casefile as cmd
from polku.settings import Settings
from services.casefile.main import build_application, build_pipeline
from tests.application.test_casefile_commands import command, open_relationship
from tests.casefile_helpers import KTTL

pytestmark = pytest.mark.postgres


def test_on_postgresql_a_retried_casefile_command_stores_nothing_new_and_the_timeline_survives(postgres_env: str) -> None:
    settings = Settings.from_env()
    assert settings.store == "postgres"
    app = build_application(settings)
    try:
        pipeline = build_pipeline(app, settings)
        rid = open_relationship(pipeline)
        plan = command(cmd.UpdatePlan, rid, kind="activation_plan", goals=["g"], next_review="2027-01-15",
                       strengths=["s"], support_needed=["n"],
                       options_offered=["education", "work_trial"], **KTTL)
        first = pipeline.execute(plan, command_id="pg-plan-1")
        position = app.max_position()
        assert pipeline.execute(plan, command_id="pg-plan-1") == first
        assert app.max_position() == position
        timeline = app.timeline(rid)
    finally:
        app.close()
    again = build_application(settings)
    try:
        assert again.timeline(rid) == timeline
        assert [e.event.__class__.__name__ for e in timeline.entries] == ["RelationshipOpened", "OwnWorkerNamed", "PlanUpdated"]
        assert again.get_relationship(rid).plans[0].next_review == date(2027, 1, 15)
        assert build_pipeline(again, settings).execute(plan, command_id="pg-plan-1") == first
        assert first.relationship_id == rid and first.plan_version == 1
    finally:
        again.close()
