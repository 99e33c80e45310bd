"""The client relationship's rules, without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from polku.domain import Envelope
from services.casefile.domain import Relationship, RelationshipAlreadyEnded, UnknownOwnWorkerReason

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ENV = Envelope(occurred_at=NOW)


def opened() -> Relationship:
    return Relationship.open(uuid.uuid4(), ENV, client_id="a" * 32, referral_id=uuid.uuid4())


def name(rel: Relationship, **changes: object) -> None:
    fields = dict(worker_id="sw-001", role="social_worker", team="team-north", work_pair_id=None, reason="initial")
    fields.update(changes)
    rel.name_own_worker(ENV, **fields)  # type: ignore[arg-type]


def test_a_relationship_opened_from_a_referral_gets_its_own_worker() -> None:
    rel = opened()
    name(rel)
    assert (rel.own_worker, rel.own_worker_role, rel.team) == ("sw-001", "social_worker", "team-north")
    events = rel.collect_events()
    assert [type(e).__name__ for e in events] == ["Opened", "OwnWorkerNamed"]
    # Every event of the relationship names its client, in its envelope.
    assert [e.env.client_id for e in events] == ["a" * 32, "a" * 32]


def test_an_own_worker_is_named_for_a_known_reason_only() -> None:
    rel = opened()
    with pytest.raises(UnknownOwnWorkerReason):
        name(rel, reason="felt like it")
    assert [type(e).__name__ for e in rel.collect_events()] == ["Opened"]


def test_an_ended_relationship_gets_no_new_own_worker() -> None:
    rel = opened()
    rel.ended = True
    with pytest.raises(RelationshipAlreadyEnded):
        name(rel)
