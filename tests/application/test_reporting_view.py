"""Reporting's open relationships per own worker (answered from the indicators' facts) on a real
SQLite database: what it counts as open, and that a redelivered batch changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from contracts.casefile import OwnWorkerNamed, RelationshipEnded, RelationshipOpened, RelationshipReopened
from polku.consumer import Delivery
from polku.settings import Settings
from polku.sql import SqlDatabase
from contracts.reporting import OpenRelationshipsQuery, OpenRelationshipsReply
from services.reporting.indicators import IndicatorsView

AT = datetime(2026, 11, 23, 9, tzinfo=UTC)


class Feed:
    """Casefile's events as the consumer hands them over, numbered like the stream's sequence."""

    def __init__(self, view: IndicatorsView) -> None:
        self.view = view
        self.seq = 0

    def send(self, *events: Any) -> None:
        deliveries = []
        for event in events:
            self.seq += 1
            deliveries.append(Delivery(self.seq, "polku.casefile.x", {}, b"", event))
        self.view.commit(self.view.prepare(deliveries), "CASEFILE", self.seq)


def opened(rid: uuid.UUID, client: str) -> RelationshipOpened:
    return RelationshipOpened(event_id=uuid.uuid4(), occurred_at=AT, relationship_id=rid, client_id=client, referral_id=uuid.uuid4())


def named(rid: uuid.UUID, client: str, worker: str, role: str = "social_worker") -> OwnWorkerNamed:
    return OwnWorkerNamed(
        event_id=uuid.uuid4(), occurred_at=AT, relationship_id=rid, client_id=client,
        worker_id=worker, role=role, team="team-north", reason="initial",
    )


def query(view: IndicatorsView) -> OpenRelationshipsReply:
    return view.open_relationships(OpenRelationshipsQuery())


def per_worker(view: IndicatorsView) -> dict[str, int]:
    return {w.worker_id: w.open_relationships for w in query(view).workers}


def test_an_ended_relationship_is_not_counted_and_a_reopened_one_counts_again_for_its_own_worker(settings: Settings) -> None:
    view = IndicatorsView(SqlDatabase(settings, "reporting"))
    feed = Feed(view)
    a, b = uuid.uuid4(), uuid.uuid4()
    feed.send(opened(a, "c" * 32), named(a, "c" * 32, "sw-001"), opened(b, "d" * 32), named(b, "d" * 32, "sw-002"))
    assert query(view).total == 2 and per_worker(view) == {"sw-001": 1, "sw-002": 1}

    feed.send(RelationshipEnded(event_id=uuid.uuid4(), occurred_at=AT, relationship_id=a, client_id="c" * 32, reason="transferred_to_work"))
    assert query(view).total == 1 and per_worker(view) == {"sw-002": 1}

    feed.send(RelationshipReopened(event_id=uuid.uuid4(), occurred_at=AT, relationship_id=a, client_id="c" * 32, reason="client_returned"))
    assert query(view).total == 2 and per_worker(view) == {"sw-001": 1, "sw-002": 1}

    # A new own worker after reopening moves the relationship in the count.
    feed.send(named(a, "c" * 32, "sc-001", "social_counsellor"))
    reply = query(view)
    assert reply.total == 2 and per_worker(view) == {"sc-001": 1, "sw-002": 1}
    assert reply.position == feed.seq


def test_a_redelivered_batch_changes_nothing(settings: Settings) -> None:
    view = IndicatorsView(SqlDatabase(settings, "reporting"))
    a = uuid.uuid4()
    first = [Delivery(1, "s", {}, b"", opened(a, "c" * 32)), Delivery(2, "s", {}, b"", named(a, "c" * 32, "sw-001"))]
    view.commit(view.prepare(first), "CASEFILE", 2)
    ended = RelationshipEnded(event_id=uuid.uuid4(), occurred_at=AT, relationship_id=a, client_id="c" * 32, reason="goal_reached")
    view.commit(view.prepare([Delivery(3, "s", {}, b"", ended)]), "CASEFILE", 3)
    # The first batch comes again (a redelivery after a crash): it must not reopen the relationship.
    view.commit(view.prepare(first), "CASEFILE", 2)
    assert query(view).total == 0 and query(view).position == 3
