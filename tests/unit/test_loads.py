"""Intake's caseload counts: routed referrals whose relationships are open, per worker."""

from __future__ import annotations

import uuid

from services.intake.projections import Loads


def test_counts_follow_routing_own_worker_changes_ends_and_reopenings() -> None:
    loads = Loads()
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    loads.route(a, "sw-001", True)
    loads.route(b, "sw-001", False)
    loads.route(c, "sc-001", False)
    assert loads.load() == {"sw-001": 2, "sc-001": 1}
    assert loads.special_support_clients("sw-001") == 1

    loads.rename(a, "sw-002")  # casefile named another own worker
    assert loads.load() == {"sw-001": 1, "sw-002": 1, "sc-001": 1}
    assert (loads.special_support_clients("sw-001"), loads.special_support_clients("sw-002")) == (0, 1)

    loads.end(a)
    loads.end(a)  # a redelivered end counts once
    assert loads.load() == {"sw-001": 1, "sc-001": 1}
    assert loads.special_support_clients("sw-002") == 0

    loads.rename(a, "sw-003")  # a new own worker for an ended relationship adds no load
    assert loads.load() == {"sw-001": 1, "sc-001": 1}
    loads.reopen(a)
    loads.reopen(a)
    assert loads.load() == {"sw-001": 1, "sw-003": 1, "sc-001": 1}
    assert loads.special_support_clients("sw-003") == 1
    loads.end(uuid.uuid4())  # the end of a relationship intake never routed changes nothing
    assert sum(loads.load().values()) == 3
