"""Followup's read models, built from its own store at start and kept with each recording.

:class:`DueIndex` holds the pending deadlines in a heap by due date: a timer check looks at the
heap's top only (O(log n) per deadline that falls due), never at every pending one.
:class:`ClockOffset` is how far the controllable clock runs ahead.
"""

from __future__ import annotations

import heapq
from datetime import date
from uuid import UUID

from polku.projections import Projection, on
from services.followup.domain import CheckIn, Clock


class DueIndex(Projection):
    def __init__(self) -> None:
        self._heap: list[tuple[date, str, UUID]] = []
        #: deadline id → the aggregate it belongs to, while pending
        self.pending: dict[str, UUID] = {}
        #: taken by the scheduler and not fired yet: their due dates
        self._taken: dict[str, date] = {}

    @on(CheckIn.DeadlineSet)
    def _set(self, e: CheckIn.DeadlineSet) -> None:
        self.pending[e.deadline_id] = e.originator_id
        heapq.heappush(self._heap, (e.due, e.deadline_id, e.originator_id))

    @on(CheckIn.DeadlineFired, CheckIn.DeadlineCancelled)
    def _gone(self, e: CheckIn.DeadlineFired) -> None:
        self.pending.pop(e.deadline_id, None)

    def take_due(self, today: date, limit: int = 1000) -> list[tuple[str, UUID]]:
        """Pending deadlines due on or before ``today`` (up to ``limit``), taken off the heap;
        the caller fires them (and puts back, with :meth:`put_back`, any it could not)."""
        taken: list[tuple[str, UUID]] = []
        with self.lock:
            heap = self._heap
            while heap and len(taken) < limit:
                due, deadline_id, aggregate_id = heap[0]
                if deadline_id not in self.pending:
                    heapq.heappop(heap)  # fired or cancelled since: dropped lazily
                    continue
                if due > today:
                    break
                heapq.heappop(heap)
                taken.append((deadline_id, aggregate_id))
                self._taken[deadline_id] = due
        return taken

    def put_back(self, deadline_id: str, aggregate_id: UUID) -> None:
        with self.lock:
            due = self._taken.pop(deadline_id, None)
            if due is not None and deadline_id in self.pending:
                heapq.heappush(self._heap, (due, deadline_id, aggregate_id))

    def done(self, deadline_id: str) -> None:
        with self.lock:
            self._taken.pop(deadline_id, None)


class ClockOffset(Projection):
    def __init__(self) -> None:
        self.seconds = 0.0

    @on(Clock.Advanced)
    def _advanced(self, e: Clock.Advanced) -> None:
        self.seconds += e.seconds
