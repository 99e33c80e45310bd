"""Followup's rules: the check-in after an ended relationship, its deadlines, and the clock.

Every deadline is an event of the aggregate it belongs to: ``DeadlineSet`` (an id, the due
date), then ``DeadlineFired`` or ``DeadlineCancelled``. The scheduler fires a deadline only
through the command pipeline (``fire``), and ``fire`` does nothing for a deadline no longer
pending, so a deadline fires once.
"""

from __future__ import annotations

from datetime import date, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from polku.domain import Envelope, PolkuAggregate, RuleBroken
from services.followup import workdays
from services.followup.settings import Policy

NAMESPACE = uuid5(NAMESPACE_URL, "https://polku.invalid/followup")


class CheckInNotFound(RuleBroken):
    code = "check_in_not_found"
    field = "relationship_id"


class CheckInNotDue(RuleBroken):
    code = "check_in_not_due"
    field = "relationship_id"


class DemoModeOnly(RuleBroken):
    code = "demo_mode_only"


class CheckIn(PolkuAggregate):
    """The check-in after a relationship ended (one aggregate per relationship; a relationship
    that ends again gets a new round)."""

    @staticmethod
    def id_for(relationship_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"check-in:{relationship_id}")

    @classmethod
    def start(cls, env: Envelope, *, relationship_id: UUID, client_id: str) -> CheckIn:
        return cls._create(
            cls.Started, id=cls.id_for(relationship_id), env=env.about(client_id),
            relationship_id=relationship_id,
        )

    @event("Started")
    def __init__(self, *, env: Envelope, relationship_id: UUID) -> None:
        self.relationship_id = relationship_id
        self.client_id = env.client_id
        self.round = 0
        self.attempt = 0
        #: "scheduled" (a deadline pending), "due" (fired, waiting for the worker), "closed",
        #: "cancelled"; None before the first round
        self.state: str | None = None
        self.pending: tuple[str, date] | None = None
        self.due_on: date | None = None

    # ------------------------------------------------------------------ rules
    def schedule(self, env: Envelope, *, check_in_due: date) -> None:
        """The relationship ended: a new round of check-in, due on ``check_in_due`` moved to
        the next working day."""
        if self.pending is not None:
            self._deadline_cancelled(env, deadline_id=self.pending[0])
        self._round_started(env)
        self._set(env, workdays.on_or_after(check_in_due))

    def _set(self, env: Envelope, due: date) -> None:
        attempt = self.attempt + 1
        self._deadline_set(env, deadline_id=f"{self.id}:{self.round}:{attempt}", due=due, attempt=attempt)

    def fire(self, env: Envelope, *, deadline_id: str) -> bool:
        """The deadline fell due: the check-in is due. False (nothing happens) for a deadline
        no longer pending."""
        if self.pending is None or self.pending[0] != deadline_id:
            return False
        self._deadline_fired(env, deadline_id=deadline_id, due=self.pending[1], attempt=self.attempt,
            relationship_id=self.relationship_id,
        )
        return True

    def cancel(self, env: Envelope) -> None:
        """The relationship was reopened before the check-in: none is needed."""
        if self.pending is not None:
            self._deadline_cancelled(env, deadline_id=self.pending[0])
        elif self.state == "due":
            self._closed_unneeded(env)

    def record(self, env: Envelope, *, outcome: str, today: date, policy: Policy) -> date | None:
        """The worker's outcome of the due check-in's try; the next due date after a try that did
        not reach the client, else None (closed)."""
        if self.state != "due":
            raise CheckInNotDue("the check-in is not due now")
        if outcome == "not_reached":
            if self.attempt < policy.check_in_max_tries:
                due = workdays.on_or_after(today + timedelta(days=policy.check_in_retry_days))
                self._set(env, due)
                return due
            self._completed(env, outcome="unreached", attempts=self.attempt, relationship_id=self.relationship_id)
            return None
        self._completed(env, outcome=outcome, attempts=self.attempt, relationship_id=self.relationship_id)
        return None

    # ----------------------------------------------------------------- events
    @event("RoundStarted")
    def _round_started(self, env: Envelope) -> None:
        self.round += 1
        self.attempt = 0

    @event("DeadlineSet")
    def _deadline_set(self, env: Envelope, *, deadline_id: str, due: date, attempt: int) -> None:
        self.pending = (deadline_id, due)
        self.attempt = attempt
        self.state = "scheduled"

    @event("DeadlineFired")
    def _deadline_fired(
        self, env: Envelope, *, deadline_id: str, due: date, attempt: int, relationship_id: UUID
    ) -> None:
        self.due_on = due
        self.pending = None
        self.state = "due"

    @event("DeadlineCancelled")
    def _deadline_cancelled(self, env: Envelope, *, deadline_id: str) -> None:
        self.pending = None
        self.state = "cancelled"

    @event("ClosedUnneeded")
    def _closed_unneeded(self, env: Envelope) -> None:
        self.state = "cancelled"

    @event("Completed")
    def _completed(self, env: Envelope, *, outcome: str, attempts: int, relationship_id: UUID) -> None:
        self.state = "closed"
        self.outcome = outcome


class Clock(PolkuAggregate):
    """Followup's controllable clock (demo and test mode): how far it runs ahead of the system's."""

    ID = uuid5(NAMESPACE, "clock")

    @classmethod
    def create(cls, env: Envelope) -> Clock:
        return cls._create(cls.Started, id=cls.ID, env=env)

    @event("Started")
    def __init__(self, *, env: Envelope) -> None:
        self.offset_seconds = 0.0

    @event("Advanced")
    def advance(self, env: Envelope, *, seconds: float) -> None:
        self.offset_seconds += seconds
