"""Group commit: concurrent commands decided one by one, stored in one transaction.

An acknowledged command must survive a power cut, so every commit syncs to disk. Committing each
command alone caps a service at the disk's sync rate; committing the commands that arrived
together in one transaction keeps the same durability and multiplies throughput. No command is
answered before the transaction holding it has committed.

Each command's ``decide(pending)`` runs in one worker thread, in arrival order, and returns
``(result, aggregates)``. ``pending`` maps aggregate ids already decided in this batch to their
aggregates, so a command retried within one batch finds its first attempt. A decision that
raises (a refusal) fails that command only. If the batch's transaction fails as a whole, every
command in it is stored alone, so one bad command cannot sink the others.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from polku.log import get_logger
from polku.store import ServiceApplication

log = get_logger("polku.batching")

Decision = tuple[Any, list[Any]]
Decide = Callable[..., Decision]  # called as decide(pending=...)


@dataclass
class _Item:
    decide: Decide
    future: asyncio.Future[Any]


class GroupCommitter:
    def __init__(self, app: ServiceApplication, *, max_batch: int = 256) -> None:
        self.app = app
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        self.batches = 0

    async def submit(self, decide: Decide) -> Any:
        """Decide and store one command; return its result once it is committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(decide, future))
        return await future

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            while len(items) < self.max_batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                outcomes = await asyncio.to_thread(self._commit, items)
            except BaseException as e:  # noqa: BLE001 - every waiting command hears of it
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(e)
                if isinstance(e, asyncio.CancelledError):
                    raise
                continue
            for item, (ok, value) in zip(items, outcomes, strict=True):
                if item.future.done():
                    continue
                if ok:
                    item.future.set_result(value)
                else:
                    item.future.set_exception(value)

    def _commit(self, items: list[_Item]) -> list[tuple[bool, Any]]:
        with self._lock:
            pending: dict[Any, Any] = {}
            outcomes: list[tuple[bool, Any]] = []
            to_save: list[Any] = []
            for item in items:
                try:
                    result, aggregates = item.decide(pending=pending)
                except Exception as e:  # noqa: BLE001 - a refusal, or a fault of this command
                    outcomes.append((False, e))
                    continue
                for aggregate in aggregates:
                    pending[aggregate.id] = aggregate
                to_save.extend(aggregates)
                outcomes.append((True, result))
            if not to_save:
                return outcomes
            try:
                self.app.save(*to_save)
                self.batches += 1
                return outcomes
            except Exception as e:  # noqa: BLE001
                log.warning("group_commit_split", size=len(items), error=type(e).__name__)
                # What the batch read may be stale (another writer got there first): read anew.
                self.app.forget(list(pending))
        # The batch failed as a whole: decide and store each command alone.
        single: list[tuple[bool, Any]] = []
        for item in items:
            aggregates = []
            try:
                result, aggregates = item.decide(pending={})
                if aggregates:
                    self.app.save(*aggregates)
                single.append((True, result))
            except Exception as e:  # noqa: BLE001
                self.app.forget([a.id for a in aggregates])
                single.append((False, e))
        return single
