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

The commands submitted in one turn of the event loop are handed to the committing thread at
once, at the end of that turn; the thread takes what has arrived while it committed the
previous batch, and hands the batch's results back to the loop in one call. (One ``to_thread`` per batch and an asyncio queue per
command cost more CPU than the decisions.) Each command's work runs in the context it was
submitted from, so what it logs carries its own correlation id and trace.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
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
    #: the context the command was submitted from (its correlation id, its span)
    context: contextvars.Context | None = None


class GroupCommitter:
    #: how long the committing thread waits for work before it ends (a new one starts on demand)
    IDLE_SECONDS = 30.0

    def __init__(self, app: ServiceApplication, *, max_batch: int = 256) -> None:
        self.app = app
        #: the service, as the metrics name it
        self.service = getattr(app, "name", "")
        self.max_batch = max_batch
        #: batches handed over to the committing thread
        self._queue: queue.SimpleQueue[list[_Item]] = queue.SimpleQueue()
        #: event loop → the commands submitted in its current turn
        self._pending: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
        self._thread: threading.Thread | None = None
        #: guards starting and ending the committing thread
        self._thread_lock = threading.Lock()
        self._lock = threading.Lock()
        self.batches = 0
        #: commands submitted and not yet committed and answered
        self._unfinished = 0
        self._finished = threading.Condition()

    async def submit(self, work: Work, env: Envelope | None = None, lookups: tuple[UUID, ...] = ()) -> Any:
        """Run ``work`` in a unit of work and store what it changed; its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:  # the first of this turn of the loop: hand them over at its end
            pending = self._pending[loop] = []
            loop.call_soon(self._hand_over, loop)
        pending.append(_Item(work, env, lookups, future, contextvars.copy_context()))
        with self._finished:
            self._unfinished += 1
        return await future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """The commands submitted in one turn of ``loop``, to the committing thread at once."""
        items = self._pending.pop(loop, None)
        if not items:
            return
        with self._thread_lock:
            self._queue.put(items)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=f"group-commit-{self.service}", daemon=True)
                self._thread.start()

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

    def _serve(self) -> None:
        """The committing thread: each batch is what arrived while the previous one committed."""
        while True:
            try:
                items = self._queue.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._thread_lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            while len(items) < self.max_batch:
                try:
                    items += self._queue.get_nowait()
                except queue.Empty:
                    break
            for start in range(0, len(items), self.max_batch):
                batch = items[start : start + self.max_batch]
                try:
                    outcomes: list[tuple[bool, Any]] | BaseException = self._commit(batch)
                except BaseException as e:  # noqa: BLE001 - every waiting command hears of it
                    outcomes = e
                self._hand_back(batch, outcomes)
            with self._finished:
                self._unfinished -= len(items)
                self._finished.notify_all()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every command submitted is committed and answered (a service stopping:
        before its store closes); False if some still were after ``timeout`` seconds. Call it
        from another thread than the submitters' event loop, which hands them over."""
        with self._finished:
            return self._finished.wait_for(lambda: self._unfinished == 0, timeout)

    @staticmethod
    def _hand_back(items: list[_Item], outcomes: list[tuple[bool, Any]] | BaseException) -> None:
        """Give each command its outcome on its event loop: one call per loop and batch."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for i, item in enumerate(items):
            if item.future is not None:
                outcome = outcomes if isinstance(outcomes, BaseException) else outcomes[i]
                by_loop.setdefault(item.future.get_loop(), []).append((item.future, outcome))
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, pairs)
            except RuntimeError:  # the loop is closed: nobody waits for these any more
                pass

    def _decide(self, item: _Item, batch: dict[UUID, Any], absent: frozenset[UUID]) -> tuple[Any, list[Any]]:
        if item.context is not None:
            return item.context.run(self._decide_here, item, batch, absent)
        return self._decide_here(item, batch, absent)

    def _decide_here(self, item: _Item, batch: dict[UUID, Any], absent: frozenset[UUID]) -> tuple[Any, list[Any]]:
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
            # The failed commit may have taken effect (its connection lost at COMMIT), and the
            # commands answered from their idempotency records stored nothing new: the read
            # models take its events from the store now, not at the next recording.
            try:
                self.app.catch_up_read_models()
            except Exception as e:  # noqa: BLE001 - the store still down: the next recording does it
                log.warning("read_models_catch_up_failed", error=type(e).__name__)
            return single


def _resolve(pairs: list[tuple[asyncio.Future[Any], Any]]) -> None:
    """On the loop: each future its result, or its error (a refusal, or the batch's fault)."""
    for future, outcome in pairs:
        if future.done():  # its caller gave up waiting (cancelled)
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        elif outcome[0]:
            future.set_result(outcome[1])
        else:
            future.set_exception(outcome[1])
