"""The scheduler: fires what is due, through the command pipeline.

Each tick it takes the deadlines due by followup's clock from the in-memory index (the top of a
heap, not a scan of all pending ones) and runs, for each, the internal use case ``fire_deadline``
in the group commit with the command id ``deadline:<deadline id>``. The firing and its
idempotency record are stored in one transaction; a deadline fired before a crash is not
pending in the rebuilt index, and a second run of its command id gets the first reply, so a
deadline fires once. What fell due while followup was down fires at its first tick.
"""

from __future__ import annotations

import asyncio

from polku import log as polku_log
from polku.domain import Envelope
from polku.pipeline import Pipeline
from services.followup.application import FireDeadline, FollowupApplication

log = polku_log.get_logger("followup.scheduler")


class Scheduler:
    def __init__(self, app: FollowupApplication, pipeline: Pipeline, tick_seconds: float = 1.0) -> None:
        self.app = app
        self.pipeline = pipeline
        self.tick_seconds = tick_seconds
        self.fired = 0

    async def fire_due(self) -> int:
        """Fire every deadline due now; how many fired."""
        fired = 0
        while True:
            due = self.app.due_index.take_due(self.app.today())
            if not due:
                return fired
            results = await asyncio.gather(
                *(self._fire(deadline_id, aggregate_id) for deadline_id, aggregate_id in due), return_exceptions=True
            )
            failed = False
            for (deadline_id, aggregate_id), result in zip(due, results, strict=True):
                if isinstance(result, BaseException):
                    # Back in the index, to be fired at a later tick (each one, not only the first).
                    self.app.due_index.put_back(deadline_id, aggregate_id)
                    log.error("deadline_not_fired", deadline_id=deadline_id, error=type(result).__name__)
                    failed = True
                    continue
                self.app.due_index.done(deadline_id)
                fired += bool(result.fired)
                self.fired += bool(result.fired)
            if failed:
                return fired

    async def _fire(self, deadline_id: str, aggregate_id):  # type: ignore[no-untyped-def]
        command = FireDeadline(deadline_id=deadline_id, aggregate_id=aggregate_id)
        command_id = f"deadline:{deadline_id}"
        return await self.pipeline.internal(
            "fire_deadline", FollowupApplication.fire_deadline, command, command_id=command_id,
            env=Envelope(occurred_at=self.app.now(), causation_id=command_id),
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                count = await self.fire_due()
                if count:
                    log.info("deadlines_fired", count=count)
            except Exception as e:  # noqa: BLE001 - the store may be away for a moment; next tick
                log.error("scheduler_failed", error=type(e).__name__)
            try:
                await asyncio.wait_for(stop.wait(), self.tick_seconds)
            except TimeoutError:
                pass
