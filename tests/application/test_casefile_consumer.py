"""Casefile's consumer of intake's events, on a real SQLite store: effect and tracking in one
transaction, so a redelivered batch changes nothing."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from eventsourcing.persistence import IntegrityError

from contracts.intake import ReferralRouted
from polku.consumer import Delivery
from polku.settings import Settings
from services.casefile.application import relationship_id_for
from services.casefile.main import build_application, build_pipeline


WORKERS = [("sw-001", "social_worker"), ("sw-002", "social_worker"), ("sc-001", "social_counsellor"), ("sc-002", "social_counsellor")]


def delivery(seq: int, referral_id: uuid.UUID | None = None) -> Delivery[ReferralRouted]:
    worker_id, role = WORKERS[(seq - 1) % len(WORKERS)]
    event = ReferralRouted(
        event_id=uuid.uuid4(),
        occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
        referral_id=referral_id or uuid.uuid4(),
        client_id=f"{random.getrandbits(128):032x}",
        team="team-north",
        required_role=role,
        worker_id=worker_id,
        special_support_suspected=False,
    )
    return Delivery(seq, "polku.intake.referral_routed", {"Polku-Correlation-Id": f"c-{seq}"}, b"", event)


def test_a_batch_opens_a_relationship_per_routed_referral_with_its_routed_worker_and_tracks_its_position(settings: Settings) -> None:
    app = build_application(settings)
    consumer = build_pipeline(app, settings).consumer("intake")
    try:
        batch = [delivery(seq) for seq in range(1, 9)]
        prepared = consumer.prepare(batch)
        assert prepared.failures == []
        consumer.commit(prepared, "INTAKE", 8)

        assert consumer.position("INTAKE") == 8
        assert app.max_position() == 16
        assert dict(app.caseload) == {"sw-001": 2, "sw-002": 2, "sc-001": 2, "sc-002": 2}
        rel = app.get_relationship(relationship_id_for(batch[0].event.referral_id, app.id_secret))
        assert rel.own_worker == "sw-001"
        # Each stored event carries the referral's correlation id and the event that caused it.
        [opened, named] = app.repository.event_store.get(rel.id)
        assert opened.env.correlation_id == named.env.correlation_id == "c-1"
        assert opened.env.causation_id == str(batch[0].event.event_id)
        assert prepared.log_ids[1] == {"referral_id": str(batch[0].event.referral_id), "relationship_id": str(rel.id)}
    finally:
        app.close()


def test_a_redelivered_batch_changes_nothing(settings: Settings) -> None:
    app = build_application(settings)
    consumer = build_pipeline(app, settings).consumer("intake")
    try:
        batch = [delivery(seq) for seq in range(1, 4)]
        consumer.commit(consumer.prepare(batch), "INTAKE", 3)
        # The same referrals again: already opened, so nothing new is prepared...
        again = consumer.prepare(batch)
        assert again.state == []
        # ... and a commit at a position already tracked is refused as a whole.
        with pytest.raises(IntegrityError):
            consumer.commit(consumer.prepare([delivery(3)]), "INTAKE", 3)
        assert app.max_position() == 6
        assert sum(app.caseload.values()) == 3
    finally:
        app.close()


def test_the_caseload_is_rebuilt_from_the_store_when_casefile_starts_again(settings: Settings) -> None:
    app = build_application(settings)
    consumer = build_pipeline(app, settings).consumer("intake")
    consumer.commit(consumer.prepare([delivery(seq) for seq in range(1, 6)]), "INTAKE", 5)
    caseload = dict(app.caseload)
    app.close()
    again = build_application(settings)
    try:
        assert dict(again.caseload) == caseload
        assert again.replayed == 10
        assert build_pipeline(again, settings).consumer("intake").position("INTAKE") == 5
    finally:
        again.close()


def test_a_commit_that_failed_on_a_stale_cached_relationship_reads_it_anew_at_the_retry(settings: Settings) -> None:
    """Another writer stored a newer version than the one consumer's cache holds: the commit
    fails, the cache forgets what the batch read, and the retry decides on the stored version
    (without that, every retry fails the same way until the delivery lands in the DLQ)."""
    from contracts.casefile import StartAssessment
    from contracts.followup import ClientDisappeared

    app = build_application(settings)
    other = build_application(settings)
    consumer = build_pipeline(app, settings).consumer("intake")
    followup = build_pipeline(app, settings).consumer("followup")
    try:
        opened = delivery(1)
        consumer.commit(consumer.prepare([opened]), "INTAKE", 1)
        rid = relationship_id_for(opened.event.referral_id, app.id_secret)
        assert app.get_relationship(rid).version == 2  # cached by `app`
        build_pipeline(other, settings).execute(
            msgspec.convert({"actor": {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}, "relationship_id": str(rid)}, StartAssessment),
            command_id="elsewhere-1",
        )
        disappeared = Delivery(1, "polku.followup.client_disappeared", {}, b"", ClientDisappeared(
            event_id=uuid.uuid4(), occurred_at=datetime(2026, 11, 24, tzinfo=UTC), relationship_id=rid,
            client_id=opened.event.client_id, detected_by="missed_meetings",
        ))
        with pytest.raises(IntegrityError):  # decided on version 2; the store holds 3
            followup.commit(followup.prepare([disappeared]), "FOLLOWUP", 1)
        followup.commit(followup.prepare([disappeared]), "FOLLOWUP", 1)
        assert [type(e).__name__ for e in app.repository.event_store.get(rid)][-2:] == ["AssessmentStarted", "DisappearanceNoted"]
        assert followup.position("FOLLOWUP") == 1
    finally:
        other.close()
        app.close()


def test_a_referral_attached_to_a_relationship_ended_since_opens_none_when_delivered_again(settings: Settings) -> None:
    """A second referral about a client with an open relationship is attached to it. Delivered
    again after that relationship ended (a republished stream, a retried page), it is known by its
    identity and opens no second relationship."""
    from contracts.casefile import EndRelationship

    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    consumer = pipeline.consumer("intake")
    try:
        first = delivery(1)
        second = Delivery(2, first.subject, first.headers, b"", msgspec.structs.replace(
            delivery(2).event, client_id=first.event.client_id,
        ))
        consumer.commit(consumer.prepare([first, second]), "INTAKE", 2)
        rid = relationship_id_for(first.event.referral_id, app.id_secret)
        assert app.get_relationship(rid).referral_ids == [first.event.referral_id, second.event.referral_id]
        pipeline.execute(
            msgspec.convert({"actor": {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"},
                             "relationship_id": str(rid), "reason": "moved"}, EndRelationship),
            command_id="end-1",
        )
        assert app.open_by_client.get(first.event.client_id) is None
        position = app.max_position()

        again = Delivery(3, second.subject, second.headers, b"", second.event)
        prepared = consumer.prepare([again])
        assert prepared.state == [] and prepared.log_ids[3]["relationship_id"] == str(rid)
        consumer.commit(prepared, "INTAKE", 3)
        assert app.max_position() == position  # nothing new stored but the tracking
        assert app.open_by_client.get(first.event.client_id) is None
    finally:
        app.close()
