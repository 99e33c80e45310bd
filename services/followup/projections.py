"""Followup's read models, built from its own store at start and kept with each recording.

:class:`DueIndex` holds the pending deadlines in a heap by due date: a timer check looks at the
heap's top only (O(log n) per deadline that falls due), never at every pending one.
:class:`ClockOffset` is how far the controllable clock runs ahead. :class:`Tasks` is what is due
for whom (the ``due`` query).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from contracts.followup import DueTask
from polku.projections import Projection, on
from services.followup.domain import CheckIn, Clock, Followed

#: the aggregate class a deadline belongs to, by the class of its ``DeadlineSet``
_KINDS: dict[type, type] = {CheckIn.DeadlineSet: CheckIn, Followed.DeadlineSet: Followed}
_KIND_BY_NAME: dict[str, type] = {kind.__name__: kind for kind in _KINDS.values()}


class DueIndex(Projection):
    _heap: list[tuple[date, str, UUID]]
    #: deadline id → the aggregate it belongs to, while pending
    pending: dict[str, UUID]
    #: taken by the scheduler and not fired yet: their due dates
    _taken: dict[str, date]
    #: the aggregate class (its name) of each aggregate with a deadline (pending or not)
    _kind: dict[UUID, str]

    def __init__(self) -> None:
        self._heap = []
        self.pending = {}
        self._taken = {}
        self._kind = {}

    @on(CheckIn.DeadlineSet, Followed.DeadlineSet)
    def _set(self, e: CheckIn.DeadlineSet) -> None:
        self.pending[e.deadline_id] = e.originator_id
        self._kind[e.originator_id] = _KINDS[type(e)].__name__
        heapq.heappush(self._heap, (e.due, e.deadline_id, e.originator_id))

    @on(CheckIn.DeadlineFired, CheckIn.DeadlineCancelled, Followed.DeadlineFired, Followed.DeadlineCancelled)
    def _gone(self, e: CheckIn.DeadlineFired) -> None:
        self.pending.pop(e.deadline_id, None)

    def kind_of(self, aggregate_id: UUID) -> type:
        """The aggregate class the deadlines of ``aggregate_id`` belong to."""
        with self.lock:
            return _KIND_BY_NAME[self._kind[aggregate_id]]

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

    def overdue(self, today: date) -> int:
        """Pending deadlines due on or before ``today``: the scheduler fires them at its next
        tick, so more than a moment's worth says it is not firing (``/metrics``)."""
        with self.lock:
            waiting = sum(1 for due, deadline_id, _ in self._heap if due <= today and deadline_id in self.pending)
            return waiting + sum(1 for d, due in self._taken.items() if due <= today and d in self.pending)


class ClockOffset(Projection):
    seconds: float

    def __init__(self) -> None:
        self.seconds = 0.0

    @on(Clock.Advanced)
    def _advanced(self, e: Clock.Advanced) -> None:
        self.seconds += e.seconds


#: what an overdue's purpose shows as
_OVERDUE_TASK = {"assessment": "assessment_overdue", "evaluation": "evaluation_overdue", "review": "review_overdue"}


@dataclass
class _Relationship:
    client_id: str
    own_worker: str | None = None
    team: str | None = None
    special_support: bool = False
    #: key → (task kind, due date)
    tasks: dict[str, tuple[str, date]] = field(default_factory=dict)


class Tasks(Projection):
    """What is due for whom: check-ins, overdue reviews, assessments and evaluations, disappeared
    clients in their waiting period and end proposals, contacts after an absence from work
    activity, by relationship, with its own worker and team."""

    relationships: dict[UUID, _Relationship]
    _check_in_of: dict[UUID, UUID]  # check-in id → relationship id
    _followed: dict[UUID, UUID]  # followed id → relationship id

    def __init__(self) -> None:
        self.relationships = {}
        self._check_in_of = {}
        self._followed = {}

    def _rel(self, relationship_id: UUID) -> _Relationship | None:
        return self.relationships.get(relationship_id)

    @on(Followed.Started)
    def _started(self, e: Followed.Started) -> None:
        self._followed[e.originator_id] = e.relationship_id
        self.relationships.setdefault(e.relationship_id, _Relationship(client_id=e.env.client_id))

    @on(Followed.WorkerNoted)
    def _worker(self, e: Followed.WorkerNoted) -> None:
        rel = self._by_followed(e.originator_id)
        if rel:
            rel.own_worker, rel.team = e.worker_id, e.team

    @on(Followed.SupportNoted)
    def _support(self, e: Followed.SupportNoted) -> None:
        rel = self._by_followed(e.originator_id)
        if rel:
            rel.special_support = e.special_support

    @on(Followed.OverdueNoted)
    def _overdue(self, e: Followed.OverdueNoted) -> None:
        rel = self._rel(e.relationship_id)
        if rel:
            rel.tasks[e.purpose] = (_OVERDUE_TASK[e.purpose.split(":")[0]], e.due)

    @on(Followed.OverdueCleared)
    def _cleared(self, e: Followed.OverdueCleared) -> None:
        rel = self._rel(e.relationship_id)
        if rel:
            rel.tasks.pop(e.purpose, None)

    @on(Followed.Disappeared)
    def _disappeared(self, e: Followed.Disappeared) -> None:
        rel = self._rel(e.relationship_id)
        if rel:
            rel.tasks["disappeared"] = ("disappeared", e.on)

    @on(Followed.Reached)
    def _reached(self, e: Followed.Reached) -> None:
        rel = self._rel(e.relationship_id)
        if rel:
            rel.tasks.pop("disappeared", None)
            rel.tasks.pop("end_proposed", None)

    @on(Followed.EndProposed)
    def _end_proposed(self, e: Followed.EndProposed) -> None:
        rel = self._rel(e.relationship_id)
        if rel:
            rel.tasks.pop("disappeared", None)
            rel.tasks["end_proposed"] = ("end_proposed", e.env.occurred_at.date())

    @on(Followed.Ended)
    def _ended(self, e: Followed.Ended) -> None:
        rel = self._by_followed(e.originator_id)
        if rel:
            rel.tasks.pop("disappeared", None)
            rel.tasks.pop("end_proposed", None)
            rel.tasks.pop("absence_contact", None)

    @on(Followed.AbsenceNoted)
    def _absent(self, e: Followed.AbsenceNoted) -> None:
        rel = self._rel(e.relationship_id)
        if rel:
            since = rel.tasks.get("absence_contact", ("absence_contact", e.on))[1]
            rel.tasks["absence_contact"] = ("absence_contact", min(since, e.on))

    @on(Followed.AbsenceContactMade)
    def _absence_contact(self, e: Followed.AbsenceContactMade) -> None:
        rel = self._rel(e.relationship_id)
        if rel:
            rel.tasks.pop("absence_contact", None)

    @on(CheckIn.Started)
    def _check_in(self, e: CheckIn.Started) -> None:
        self._check_in_of[e.originator_id] = e.relationship_id
        self.relationships.setdefault(e.relationship_id, _Relationship(client_id=e.env.client_id))

    @on(CheckIn.DeadlineFired)
    def _check_in_due(self, e: CheckIn.DeadlineFired) -> None:
        rel = self._rel(e.relationship_id)
        if rel:
            rel.tasks["check_in"] = ("check_in", e.due)

    @on(CheckIn.DeadlineSet, CheckIn.DeadlineCancelled, CheckIn.Completed, CheckIn.ClosedUnneeded)
    def _check_in_not_due(self, e: CheckIn.DeadlineSet) -> None:
        rel = self._rel(self._check_in_of.get(e.originator_id))  # type: ignore[arg-type]
        if rel:
            rel.tasks.pop("check_in", None)

    def _by_followed(self, followed_id: UUID) -> _Relationship | None:
        relationship_id = self._followed.get(followed_id)
        return self._rel(relationship_id) if relationship_id else None

    def due_for(self, *, worker_id: str, team: str | None, scope: str, today: date, limit: int) -> list[DueTask]:
        """The tasks of the worker's relationships (and their team's, for scope ``team``):
        urgent first (special support, disappeared), then the oldest first."""
        tasks: list[DueTask] = []
        with self.lock:
            for relationship_id, rel in self.relationships.items():
                if not rel.tasks:
                    continue
                if not (rel.own_worker == worker_id or (scope == "team" and team is not None and rel.team == team)):
                    continue
                for kind, due in rel.tasks.values():
                    tasks.append(
                        DueTask(
                            kind=kind, relationship_id=relationship_id, client_id=rel.client_id,  # type: ignore[arg-type]
                            own_worker_id=rel.own_worker, team=rel.team, due=due,
                            days_overdue=max((today - due).days, 0),
                            urgent=rel.special_support or kind in ("disappeared", "end_proposed"),
                        )
                    )
        tasks.sort(key=lambda t: (not t.urgent, t.due, str(t.relationship_id)))
        return tasks[:limit]
