"""Casefile's side of the consumer, on a real SQLite store: effect and tracking in one
transaction, so a redelivered batch changes nothing."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import IntegrityError

from contracts.intake import ReferralRouted
from polku.consumer import Delivery
from polku.settings import Settings
from services.casefile.application import relationship_id_for
from services.casefile.main import build_application


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
    try:
        batch = [delivery(seq) for seq in range(1, 9)]
        prepared = app.prepare(batch)
        assert prepared.failures == []
        app.commit(prepared, "INTAKE", 8)

        assert app.position("INTAKE") == 8
        assert app.max_position() == 16
        assert dict(app.caseload) == {"sw-001": 2, "sw-002": 2, "sc-001": 2, "sc-002": 2}
        rel = app.get_relationship(relationship_id_for(batch[0].event.referral_id))
        assert rel.own_worker == "sw-001"
    finally:
        app.close()


def test_a_redelivered_batch_changes_nothing(settings: Settings) -> None:
    app = build_application(settings)
    try:
        batch = [delivery(seq) for seq in range(1, 4)]
        app.commit(app.prepare(batch), "INTAKE", 3)
        # The same referrals again: already opened, so nothing new is prepared...
        again = app.prepare(batch)
        assert again.state.events == []
        # ... and a commit at a position already tracked is refused as a whole.
        with pytest.raises(IntegrityError):
            app.commit(app.prepare([delivery(3)]), "INTAKE", 3)
        assert app.max_position() == 6
        assert sum(app.caseload.values()) == 3
    finally:
        app.close()


def test_the_caseload_is_rebuilt_from_the_store_when_casefile_starts_again(settings: Settings) -> None:
    app = build_application(settings)
    app.commit(app.prepare([delivery(seq) for seq in range(1, 6)]), "INTAKE", 5)
    caseload = dict(app.caseload)
    app.close()
    again = build_application(settings)
    try:
        assert dict(again.caseload) == caseload
        assert again.position("INTAKE") == 5
    finally:
        again.close()
