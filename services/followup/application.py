"""Followup's use cases and policies: what the table runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from contracts import followup as c
from contracts.casefile import RelationshipEnded, RelationshipReopened
from polku.settings import RosterEntry
from polku.store import ServiceApplication
from polku.unit_of_work import UnitOfWork
from services.followup.domain import CheckIn, CheckInNotFound, Clock, DemoModeOnly
from services.followup.projections import ClockOffset, DueIndex
from services.followup.settings import Policy

#: the time zone of the working days and of the dates deadlines fall due on
HELSINKI = ZoneInfo("Europe/Helsinki")


class Fired(msgspec.Struct, frozen=True, kw_only=True):
    """What firing a deadline did (stored as the reply of its idempotency record)."""

    deadline_id: str
    fired: bool


class FireDeadline(msgspec.Struct, frozen=True, kw_only=True):
    """The scheduler's internal command: fire one deadline. Never on the bus."""

    reply: ClassVar[type] = Fired

    deadline_id: str
    aggregate_id: UUID


class FollowupApplication(ServiceApplication):
    name = "followup"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        roster: tuple[RosterEntry, ...] = (),
        policy: Policy | None = None,
        demo: bool = False,
        system_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__(env)
        self.policy = policy or Policy()
        self.demo = demo
        self._system_clock = system_clock
        self._roster = {e.worker_id: (e.role, e.team) for e in roster}
        self.due_index = DueIndex()
        self.clock_offset = ClockOffset()
        self.follow(self.due_index, self.clock_offset, progress=progress)

    # ------------------------------------------------------------------ the clock
    def now(self) -> datetime:
        """The system clock; in demo and test mode moved ahead by what ``advance_clock`` added."""
        now = self._system_clock()
        if self.demo:
            now += timedelta(seconds=self.clock_offset.seconds)
        return now

    def today(self):  # type: ignore[no-untyped-def]
        return self.now().astimezone(HELSINKI).date()

    def roster_role(self, worker_id: str) -> tuple[str, str] | None:
        return self._roster.get(worker_id)

    # --------------------------------------------------------------- commands
    def advance_clock(self, uow: UnitOfWork, cmd: c.AdvanceClock) -> c.ClockAdvanced:
        if not self.demo:
            raise DemoModeOnly("the clock is moved only in demo and test mode (POLKU_DEMO=1)")
        clock = uow.get(Clock, Clock.ID) or Clock.create(uow.env)
        seconds = timedelta(days=cmd.days, hours=cmd.hours).total_seconds()
        clock.advance(uow.env, seconds=seconds)
        uow.add(clock)
        return c.ClockAdvanced(now=self.now() + timedelta(seconds=seconds))

    def record_check_in(self, uow: UnitOfWork, cmd: c.RecordCheckIn) -> c.CheckInRecorded:
        check_in = uow.get(CheckIn, CheckIn.id_for(cmd.relationship_id))
        if check_in is None:
            raise CheckInNotFound("followup holds no check-in for this relationship")
        next_due = check_in.record(uow.env, outcome=cmd.outcome, today=self.today(), policy=self.policy)
        return c.CheckInRecorded(
            relationship_id=cmd.relationship_id, state="retry" if next_due else "closed", next_due=next_due
        )

    # --------------------------------------------------------------- internal
    def fire_deadline(self, uow: UnitOfWork, cmd: FireDeadline) -> Fired:
        check_in = uow.get(CheckIn, cmd.aggregate_id)
        fired = check_in is not None and check_in.fire(uow.env, deadline_id=cmd.deadline_id)
        return Fired(deadline_id=cmd.deadline_id, fired=fired)

    # ---------------------------------------------------------------- policies
    def relationship_ended(self, uow: UnitOfWork, e: RelationshipEnded) -> dict[str, str] | None:
        """Casefile ended a relationship: its check-in becomes a deadline (none without a date,
        e.g. for a client who died)."""
        if e.check_in_due is None:
            return None
        check_in = uow.get(CheckIn, CheckIn.id_for(e.relationship_id))
        if check_in is None:
            check_in = CheckIn.start(uow.env, relationship_id=e.relationship_id, client_id=str(e.client_id))
            uow.add(check_in)
        check_in.schedule(uow.env, check_in_due=e.check_in_due)
        return {"relationship_id": str(e.relationship_id)}

    def relationship_reopened(self, uow: UnitOfWork, e: RelationshipReopened) -> dict[str, str] | None:
        """The client came back before the check-in: it is not needed."""
        check_in = uow.get(CheckIn, CheckIn.id_for(e.relationship_id))
        if check_in is None:
            return None
        check_in.cancel(uow.env)
        return {"relationship_id": str(e.relationship_id)}


def summary(app: FollowupApplication) -> dict[str, Any]:
    with app.due_index.lock:
        return {"pending": len(app.due_index.pending)}
