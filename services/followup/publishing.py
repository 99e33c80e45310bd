"""Stored domain event → contract event. The wire gets ids, dates, counts and codes only."""

from __future__ import annotations

from typing import Any

from contracts import audit
from contracts import followup as wire
from polku.relay import envelope, published_topics
from services.followup.domain import CheckIn, ClientHistory, Followed, TasksView


def _base(e: Any) -> dict[str, Any]:
    return {**envelope(e), "client_id": e.env.client_id}


def check_in_due(e: CheckIn.DeadlineFired) -> wire.CheckInDue:
    return wire.CheckInDue(**_base(e), relationship_id=e.relationship_id, due=e.due, attempt=e.attempt)


def check_in_completed(e: CheckIn.Completed) -> wire.CheckInCompleted:
    return wire.CheckInCompleted(**_base(e), relationship_id=e.relationship_id, outcome=e.outcome, attempts=e.attempts)


def contact_attempt_recorded(e: Followed.ContactAttempted) -> wire.ContactAttemptRecorded:
    return wire.ContactAttemptRecorded(
        **_base(e), relationship_id=e.relationship_id, channel=e.channel, outcome=e.outcome,
        attempted_on=e.attempted_on,
    )


def client_disappeared(e: Followed.Disappeared) -> wire.ClientDisappeared:
    return wire.ClientDisappeared(
        **_base(e), relationship_id=e.relationship_id, detected_by=e.detected_by, last_contact=e.last_contact
    )


def client_reached(e: Followed.Reached) -> wire.ClientReached:
    return wire.ClientReached(
        **_base(e), relationship_id=e.relationship_id, reached_on=e.reached_on, reached_by=e.reached_by,
        days_disappeared=e.days_disappeared,
    )


def end_proposed(e: Followed.EndProposed) -> wire.EndProposed:
    return wire.EndProposed(
        **_base(e), relationship_id=e.relationship_id, disappeared_on=e.disappeared_on, own_worker_id=e.own_worker_id
    )


def executive_assistance_requested(e: Followed.AssistanceRequested) -> wire.ExecutiveAssistanceRequested:
    return wire.ExecutiveAssistanceRequested(**_base(e), relationship_id=e.relationship_id, ground=e.ground)


def overdue(e: Followed.OverdueNoted) -> wire.Event:
    what, _, kind = e.purpose.partition(":")
    if what == "assessment":
        return wire.AssessmentOverdue(
            **_base(e), relationship_id=e.relationship_id, due=e.due, working_days=e.working_days
        )
    if what == "evaluation":
        return wire.EvaluationOverdue(
            **_base(e), relationship_id=e.relationship_id, placement_id=e.placement_id, evaluation_on=e.due
        )
    return wire.ReviewOverdue(**_base(e), relationship_id=e.relationship_id, kind=kind, review_due=e.due)


def overdue_cleared(e: Followed.OverdueCleared) -> wire.OverdueCleared:
    return wire.OverdueCleared(
        **_base(e), relationship_id=e.relationship_id, overdue=e.purpose.partition(":")[0], due=e.due,
        days_late=e.days_late, how=e.how,
    )


def client_marked_recurring(e: ClientHistory.MarkedRecurring) -> wire.ClientMarkedRecurring:
    return wire.ClientMarkedRecurring(
        **_base(e), relationship_id=e.relationship_id, grounds=e.grounds, count=e.count, window_days=e.window_days
    )


def tasks_viewed(e: TasksView.Viewed) -> audit.FollowupTasksViewed:
    return audit.FollowupTasksViewed(
        **envelope(e), purpose=e.purpose, scope=e.scope, items=e.items,
        relationship_ids=e.relationship_ids, client_ids=e.client_ids,
    )


TABLE: dict[type, Any] = {
    CheckIn.DeadlineFired: check_in_due,
    CheckIn.Completed: check_in_completed,
    Followed.ContactAttempted: contact_attempt_recorded,
    Followed.Disappeared: client_disappeared,
    Followed.Reached: client_reached,
    Followed.EndProposed: end_proposed,
    Followed.AssistanceRequested: executive_assistance_requested,
    Followed.OverdueNoted: overdue,
    Followed.OverdueCleared: overdue_cleared,
    ClientHistory.MarkedRecurring: client_marked_recurring,
    TasksView.Viewed: tasks_viewed,
}
TOPICS = published_topics(TABLE)


def to_contract(domain_event: Any) -> wire.Event | None:
    mapping = TABLE.get(type(domain_event))
    return mapping(domain_event) if mapping else None
