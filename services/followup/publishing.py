"""Stored domain event → contract event. The wire gets ids, dates, counts and codes only."""

from __future__ import annotations

from typing import Any

from contracts import followup as wire
from polku.relay import envelope, published_topics
from services.followup.domain import CheckIn


def _base(e: Any) -> dict[str, Any]:
    return {**envelope(e), "client_id": e.env.client_id}


def check_in_due(e: CheckIn.DeadlineFired) -> wire.CheckInDue:
    return wire.CheckInDue(**_base(e), relationship_id=e.relationship_id, due=e.due, attempt=e.attempt)


def check_in_completed(e: CheckIn.Completed) -> wire.CheckInCompleted:
    return wire.CheckInCompleted(**_base(e), relationship_id=e.relationship_id, outcome=e.outcome, attempts=e.attempts)


TABLE: dict[type, Any] = {
    CheckIn.DeadlineFired: check_in_due,
    CheckIn.Completed: check_in_completed,
}
TOPICS = published_topics(TABLE)


def to_contract(domain_event: Any) -> wire.Event | None:
    mapping = TABLE.get(type(domain_event))
    return mapping(domain_event) if mapping else None
