"""Reporting counts an end that formed no client relationship apart from ended relationships
(seed 000), and the closes of ended relationships by why (seed 003: the end is not the close)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contracts import casefile as cf
from contracts.reporting import IndicatorsQuery
from polku.consumer import Delivery
from polku.settings import Settings
from polku.sql import SqlDatabase
from services.reporting.indicators import IndicatorsView

HKI = ZoneInfo("Europe/Helsinki")
MARCH = IndicatorsQuery(period_from=date(2026, 3, 1), period_to=date(2026, 3, 31))


def ev(cls: type, day: int, rid: uuid.UUID, **fields: Any) -> Any:
    return cls(event_id=uuid.uuid4(), occurred_at=datetime(2026, 3, day, 12, tzinfo=HKI), relationship_id=rid,
               client_id=str(rid.hex), **fields)


@pytest.fixture
def view(polku_env: Any) -> Any:
    v = IndicatorsView(SqlDatabase(Settings.from_env(), "reporting"), today=lambda: date(2026, 4, 30))
    yield v
    v.db.close()


def test_an_end_that_formed_no_client_relationship_counts_apart_and_closes_count_by_why(view: IndicatorsView) -> None:
    not_formed, need_ended, old_no_need, moved, died = (uuid.uuid4() for _ in range(5))
    events = [ev(cf.RelationshipOpened, 2, rid, referral_id=uuid.uuid4()) for rid in (not_formed, need_ended, old_no_need, moved, died)]
    events += [
        ev(cf.RelationshipEnded, 5, not_formed, reason="no_service_need", formed=False),
        ev(cf.RelationshipClosed, 5, not_formed, reason="not_formed"),
        ev(cf.RelationshipEnded, 6, need_ended, reason="no_service_need", formed=True, check_in_due=date(2026, 4, 5)),
        # published before ``formed`` was carried: a no-need end formed no relationship then
        ev(cf.RelationshipEnded, 7, old_no_need, reason="no_service_need"),
        ev(cf.RelationshipEnded, 8, moved, reason="moved", formed=True, check_in_due=date(2026, 4, 7)),
        ev(cf.RelationshipEnded, 9, died, reason="died", formed=True),
        ev(cf.RelationshipClosed, 9, died, reason="no_check_in_due"),
        ev(cf.RelationshipClosed, 20, moved, reason="check_in_no_need"),
    ]
    deliveries = [Delivery(i + 1, "polku.x", {}, b"", e) for i, e in enumerate(events)]
    view.commit(view.prepare(deliveries), "CASEFILE", len(deliveries))
    got = {i.name: i for i in view.indicators(MARCH).indicators}
    ends = {c.key["reason"]: c.count for c in got["ends_by_reason"].cells if c.count}
    assert ends == {"no_service_need": 1, "moved": 1, "died": 1}
    assert got["ends_not_formed"].total == 2
    closes = {c.key["reason"]: c.count for c in got["closes_by_reason"].cells if c.count}
    assert closes == {"not_formed": 1, "no_check_in_due": 1, "check_in_no_need": 1}
