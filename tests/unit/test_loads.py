"""Intake's caseload counts: routed referrals whose relationships are open, per worker. What
ends leaves memory for intake's history on disk and comes back when the client returns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from contracts.casefile import OwnWorkerNamed, ReferralAttached, RelationshipEnded, RelationshipOpened, RelationshipReopened
from services.intake.projections import History, Loads

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _base(relationship_id: uuid.UUID) -> dict:
    return {"event_id": uuid.uuid4(), "occurred_at": NOW, "relationship_id": relationship_id, "client_id": f"c-{relationship_id.hex[:6]}"}


def opened(rel: uuid.UUID, referral: uuid.UUID) -> RelationshipOpened:
    return RelationshipOpened(**_base(rel), referral_id=referral)


def named(rel: uuid.UUID, worker: str) -> OwnWorkerNamed:
    return OwnWorkerNamed(**_base(rel), worker_id=worker, role="social_worker", team="team-north", reason="responsibility")


def ended(rel: uuid.UUID) -> RelationshipEnded:
    return RelationshipEnded(**_base(rel), reason="goals_reached")


def reopened(rel: uuid.UUID) -> RelationshipReopened:
    return RelationshipReopened(**_base(rel), reason="client_returned")


def apply(loads: Loads, *events: object) -> None:
    for e in events:
        loads.apply(e)
    loads.flush()


def test_counts_follow_routing_own_worker_changes_ends_and_reopenings() -> None:
    loads = Loads(History(None, "k"))
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rel_a, rel_b = uuid.uuid4(), uuid.uuid4()
    loads.route(a, "sw-001", True)
    loads.route(b, "sw-001", False)
    loads.route(c, "sc-001", False)
    apply(loads, opened(rel_a, a), opened(rel_b, b))
    assert loads.load() == {"sw-001": 2, "sc-001": 1}
    assert loads.special_support_clients("sw-001") == 1

    apply(loads, named(rel_a, "sw-002"))  # casefile named another own worker
    assert loads.load() == {"sw-001": 1, "sw-002": 1, "sc-001": 1}
    assert (loads.special_support_clients("sw-001"), loads.special_support_clients("sw-002")) == (0, 1)

    apply(loads, ended(rel_a), ended(rel_a))  # a redelivered end counts once
    assert loads.load() == {"sw-001": 1, "sc-001": 1}
    assert loads.special_support_clients("sw-002") == 0
    # the ended relationship left memory: only open work is kept there
    assert a not in loads.routed and rel_a not in loads.referral_of

    apply(loads, named(rel_a, "sw-003"))  # a new own worker for an ended relationship adds no load
    assert loads.load() == {"sw-001": 1, "sc-001": 1}
    apply(loads, reopened(rel_a), reopened(rel_a))  # the client returned; redelivered, counted once
    assert loads.load() == {"sw-001": 1, "sw-003": 1, "sc-001": 1}
    assert loads.special_support_clients("sw-003") == 1
    assert loads.routed[a] == ("sw-003", True) and loads.referral_of[rel_a] == a

    apply(loads, ended(uuid.uuid4()))  # the end of a relationship intake never saw changes nothing
    assert sum(loads.load().values()) == 3


def test_an_end_and_a_return_in_one_batch_count_the_relationship_again() -> None:
    """The history is read after what the batch wrote before (each read flushes first)."""
    loads = Loads(History(None, "k"))
    referral, rel = uuid.uuid4(), uuid.uuid4()
    loads.route(referral, "sw-001", False)
    apply(loads, opened(rel, referral), ended(rel), reopened(rel))
    assert loads.load() == {"sw-001": 1}


def test_a_relationship_intake_did_not_route_comes_back_without_a_load() -> None:
    loads = Loads(History(None, "k"))
    referral, rel = uuid.uuid4(), uuid.uuid4()
    apply(loads, opened(rel, referral), ended(rel), named(rel, "sw-001"), reopened(rel))
    assert loads.load() == {} and loads.referral_of == {rel: referral}


def test_a_referral_attached_to_the_clients_open_relationship_adds_no_load() -> None:
    """Casefile attaches a routed referral about a client with an open relationship to it: the
    relationship is counted once, by the referral that opened it, and the attached one leaves
    memory (before, it stayed counted for good)."""
    loads = Loads(History(None, "k"))
    first, second, rel = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    loads.route(first, "sw-001", False)
    apply(loads, opened(rel, first))
    loads.route(second, "sw-002", True)
    assert loads.load() == {"sw-001": 1, "sw-002": 1}
    attached = ReferralAttached(**_base(rel), referral_id=second, special_support_suspected=True)
    apply(loads, attached, attached)  # redelivered: once
    assert loads.load() == {"sw-001": 1} and loads.special_support_clients("sw-002") == 0
    assert second not in loads.routed
    apply(loads, ended(rel))
    assert loads.load() == {}
