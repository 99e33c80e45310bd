"""The unit of work a use case runs in: what it reads, what it adds, stored together.

``get`` looks first among the aggregates that earlier commands of the same group commit have
changed (not stored yet), then in the store; ``add`` collects a new aggregate. Everything the
unit hands out or is given and that has new events is stored when the group commits, in one
transaction with the rest of the group. A use case never saves: whether its command is alone
or one of many, the path is the same.
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from polku import metrics
from polku.domain import Envelope
from polku.store import ServiceApplication

A = TypeVar("A")


class UnitOfWork:
    def __init__(
        self,
        app: ServiceApplication,
        batch: dict[UUID, Any] | None = None,
        env: Envelope | None = None,
        absent: frozenset[UUID] | set[UUID] = frozenset(),
    ) -> None:
        self.app = app
        #: aggregates changed by earlier commands of the same batch (shared between the units)
        self.batch = batch if batch is not None else {}
        #: ids the store was found not to hold when the batch began (looked up together)
        self.absent = absent
        #: the envelope of the command or event this unit works for
        self.env = env or Envelope.now()
        self._seen: dict[UUID, Any] = {}

    def get(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate of type ``cls`` with this id, or None when there is none."""
        aggregate = self._seen.get(aggregate_id) or self.batch.get(aggregate_id)
        if aggregate is None:
            if aggregate_id in self.absent:
                return None
            if metrics.enabled:
                metrics.aggregate_read(self.app.name, self.app.cached(aggregate_id))
            try:
                aggregate = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        if not isinstance(aggregate, cls):
            return None
        self._seen[aggregate_id] = aggregate
        return aggregate

    def __contains__(self, aggregate_id: UUID) -> bool:
        if aggregate_id in self._seen or aggregate_id in self.batch:
            return True
        return aggregate_id not in self.absent and aggregate_id in self.app.repository

    def add(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            self._seen[aggregate.id] = aggregate

    def changed(self) -> list[Any]:
        """The aggregates this unit changed or added: those with events not yet stored."""
        return [a for a in self._seen.values() if a.pending_events]
