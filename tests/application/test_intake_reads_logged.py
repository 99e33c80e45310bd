"""Intake's reads of client data are logged (IntakeRecordView → IntakeRecordViewed on AUDIT):
a referral's status granted, refused, or asked for by an unknown id; a team's queue, which a
worker reads for their own team only. Who reads is the envelope's actor (``uow.env.actor``),
which the runtime fills; here the envelope is made directly, as the runtime would."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from contracts import audit
from contracts.intake import DistributionQueueQuery, ReceiveReferral, ReferralStatusQuery
from polku.domain import Envelope, RuleBroken
from polku.pipeline import Pipeline
from polku.settings import RosterEntry, Settings
from services.intake import publishing
from services.intake.application import IntakeApplication
from services.intake.domain import IntakeRecordView
from services.intake.handlers import TABLE
from services.intake.main import store_env
from tests.helpers import referral_body

ROSTER = (RosterEntry("sw-001", "social_worker", "team-north", 40),)
NORTH = {"worker_id": "sg-001", "role": "service_guidance_worker", "team": "team-north"}
SOUTH = {"worker_id": "sg-900", "role": "service_guidance_worker", "team": "team-south"}


@pytest.fixture
def app(settings: Settings) -> Any:
    application = IntakeApplication(store_env(settings, "intake"), pseudonym_key="k", roster=ROSTER)
    yield application
    application.close()


@pytest.fixture
def pipeline(app: IntakeApplication) -> Pipeline:
    return Pipeline("intake", app, TABLE, digest_secret="k")


def read(pipeline: Pipeline, read: Any, query: Any, actor: dict[str, str] | None) -> Any:
    """One logged read, with the envelope the runtime makes for ``actor``."""
    env = Envelope(occurred_at=datetime.now(UTC), actor=actor)
    return pipeline.committer.run(lambda uow: read(pipeline.app, uow, query), env)


def views(app: IntakeApplication, after: int) -> list[Any]:
    notifications = app.recorder.select_notifications(after + 1, 100)
    events = [app.mapper.to_domain_event(n) for n in notifications]
    return [e for e in events if isinstance(e, IntakeRecordView.Viewed)]


def received(pipeline: Pipeline) -> uuid.UUID:
    body = referral_body(random.Random(7))
    return pipeline.execute(msgspec.convert(body, ReceiveReferral), command_id="ref-1").referral_id


def test_a_referrals_status_read_is_logged_granted_refused_and_unknown(app: IntakeApplication, pipeline: Pipeline) -> None:
    rid = received(pipeline)
    position = app.max_position()
    q = ReferralStatusQuery(referral_id=rid)

    reply = read(pipeline, IntakeApplication.read_referral_status, q, NORTH)
    assert reply.referral_id == rid
    refused = read(pipeline, IntakeApplication.read_referral_status, q, SOUTH)
    assert isinstance(refused, RuleBroken) and refused.code == "forbidden"
    unknown = read(pipeline, IntakeApplication.read_referral_status, ReferralStatusQuery(referral_id=uuid.uuid4()), NORTH)
    assert isinstance(unknown, RuleBroken) and (unknown.code, unknown.field) == ("not_found", "referral_id")

    logged = views(app, position)
    assert [(v.granted, v.found, v.env.actor["worker_id"]) for v in logged] == [
        (True, True, "sg-001"), (False, True, "sg-900"), (False, False, "sg-001"),
    ]
    published = [publishing.to_contract(v) for v in logged]
    assert all(isinstance(p, audit.IntakeRecordViewed) for p in published)
    assert published[0].client_id == reply.client_id and published[0].referral_id == rid
    assert published[0].items == len(reply.history) and published[0].purpose == "client_work"
    assert published[1].client_id == reply.client_id and published[1].items == 0
    assert published[2].client_id is None  # an unknown id names no client


def test_a_worker_reads_their_own_teams_queue_only_and_each_read_is_logged(
    app: IntakeApplication, pipeline: Pipeline
) -> None:
    received(pipeline)
    position = app.max_position()
    queue = read(pipeline, IntakeApplication.read_distribution_queue, DistributionQueueQuery(team="team-north"), NORTH)
    assert queue.team == "team-north" and len(queue.items) == 1
    refused = read(pipeline, IntakeApplication.read_distribution_queue, DistributionQueueQuery(team="team-north"), SOUTH)
    assert isinstance(refused, RuleBroken) and (refused.code, refused.field) == ("forbidden", "team")
    logged = views(app, position)
    assert [(v.part, v.team, v.granted, v.items, v.env.client_id) for v in logged] == [
        ("distribution_queue", "team-north", True, 1, None),
        ("distribution_queue", "team-north", False, 0, None),
    ]


def test_the_pipelines_ask_logs_the_read_and_raises_the_refusal(app: IntakeApplication, pipeline: Pipeline) -> None:
    position = app.max_position()
    with pytest.raises(RuleBroken):
        pipeline.ask(ReferralStatusQuery(referral_id=uuid.uuid4()))
    assert len(views(app, position)) == 1
