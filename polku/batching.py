"""Group commit: concurrent commands decided one by one, stored in one transaction.

An acknowledged command must survive a power cut, so every commit syncs to disk. Committing each
command alone caps a service at the disk's sync rate; committing the commands that arrived
together in one transaction keeps the same durability and multiplies throughput. No command is
answered before the transaction holding it has committed.

Each command's ``work(uow)`` runs in one worker thread, in arrival order, in a
:class:`~polku.unit_of_work.UnitOfWork` that sees what the earlier commands of the batch changed.
A command that raises (a refusal) fails alone and its changes are not kept. If the batch's
transaction fails as a whole, every command in it is decided again and stored alone, so one bad
command cannot sink the others. A command alone (``run``) takes the same path as a batch of one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from polku import metrics
from polku.domain import Envelope
from polku.log import get_logger
from polku.store import ServiceApplication
from polku.unit_of_work import UnitOfWork

log = get_logger("polku.batching")

Work = Callable[[UnitOfWork], Any]


@dataclass
class _Item:
    work: Work
    env: Envelope | None
    #: aggregates the work will look for (an idempotency record): looked up for the whole batch
    #: in one query, since most are not there
    lookups: tuple[UUID, ...] = ()
    future: asyncio.Future[Any] | None = None


class GroupCommitter:
    def __init__(self, app: ServiceApplication, *, max_batch: int = 256) -> None:
        self.app = app
        #: the service, as the metrics name it
        self.service = getattr(app, "name", "")
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        self.batches = 0

    async def submit(self, work: Work, env: Envelope | None = None, lookups: tuple[UUID, ...] = ()) -> Any:
        """Run ``work`` in a unit of work and store what it changed; its result once committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(work, env, lookups, future))
        return await future

    def run(self, work: Work, env: Envelope | None = None, lookups: tuple[UUID, ...] = ()) -> Any:
        """The same as ``submit``, for one command in the calling thread (tests, tools)."""
        [(ok, value)] = self.run_batch([(work, env, lookups)])
        if not ok:
            raise value
        return value

    def run_batch(self, works: list[tuple[Work, Envelope | None, tuple[UUID, ...]]]) -> list[tuple[bool, Any]]:
        """Commands as one group, in the calling thread: ``(True, result)`` or ``(False, error)``
        for each (tools that load many commands at once)."""
        return self._commit([_Item(*work) for work in works])

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            while len(items) < self.max_batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                outcomes = await asyncio.to_thread(self._commit, items)
            except BaseException as e:  # noqa: BLE001 - every waiting command hears of it
                for item in items:
                    if item.future is not None and not item.future.done():
                        item.future.set_exception(e)
                if isinstance(e, asyncio.CancelledError):
                    raise
                continue
            for item, (ok, value) in zip(items, outcomes, strict=True):
                if item.future is None or item.future.done():
                    continue
                if ok:
                    item.future.set_result(value)
                else:
                    item.future.set_exception(value)

    def _decide(self, item: _Item, batch: dict[UUID, Any], absent: frozenset[UUID]) -> tuple[Any, list[Any]]:
        uow = UnitOfWork(self.app, batch, item.env, absent)
        result = item.work(uow)
        return result, uow.changed()

    def _absent(self, items: list[_Item]) -> frozenset[UUID]:
        wanted = {i for item in items for i in item.lookups}
        return frozenset(wanted - self.app.stored_ids(wanted)) if wanted else frozenset()

    def _commit(self, items: list[_Item]) -> list[tuple[bool, Any]]:
        with self._lock:
            batch: dict[UUID, Any] = {}
            absent = self._absent(items)
            outcomes: list[tuple[bool, Any]] = []
            for item in items:
                try:
                    result, changed = self._decide(item, batch, absent)
                except Exception as e:  # noqa: BLE001 - a refusal, or a fault of this command
                    outcomes.append((False, e))
                    continue
                for aggregate in changed:
                    batch[aggregate.id] = aggregate
                outcomes.append((True, result))
            if not batch:
                metrics.group_committed(self.service, len(items), 0)
                return outcomes
            try:
                self.app.save(*batch.values())
                self.batches += 1
                metrics.group_committed(self.service, len(items), 1)
                return outcomes
            except Exception as e:  # noqa: BLE001
                log.warning("group_commit_split", size=len(items), error=type(e).__name__)
                # What the batch read may be stale (another writer got there first): read anew.
                self.app.forget(list(batch))
            # The batch failed as a whole: decide and store each command alone.
            single: list[tuple[bool, Any]] = []
            syncs = 0
            for item in items:
                changed: list[Any] = []
                try:
                    result, changed = self._decide(item, {}, frozenset())
                    if changed:
                        self.app.save(*changed)
                        syncs += 1
                    single.append((True, result))
                except Exception as e:  # noqa: BLE001
                    self.app.forget([a.id for a in changed])
                    single.append((False, e))
            metrics.group_committed(self.service, len(items), syncs)
            return single
