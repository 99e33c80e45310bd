"""Reporting's read models, each with its tracking position, each rebuildable.

Open relationships per own worker: fed by casefile's RelationshipOpened, OwnWorkerNamed,
RelationshipEnded and RelationshipReopened. An ended relationship keeps its row, marked closed,
so that a reopened one is counted again for the own worker it still has. The table and its
tracking record change in one transaction, and a batch skips what the tracking record says is
already in: redelivery changes nothing.

``rebuild`` builds the model anew beside the live one by replaying the CASEFILE stream from
sequence 1, then swaps it in with the tracking record in one transaction. The live model keeps
serving (and the live consumer keeps consuming) until the swap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from contracts.reporting import OpenRelationshipsQuery, OpenRelationshipsReply, WorkerCaseload
from contracts.casefile import (
    OwnWorkerNamed,
    RelationshipEnded,
    RelationshipOpened,
    RelationshipReopened,
    casefile_decoder,
)
from polku.consumer import Delivery, Prepared
from polku.sql import Cursor, SqlDatabase

SOURCE_STREAM = "CASEFILE"
LIVE = "open_relationships"
NEXT = "open_relationships_next"


def _ddl(table: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "relationship_id TEXT PRIMARY KEY, worker_id TEXT, role TEXT, team TEXT, "
        "is_open INTEGER NOT NULL DEFAULT 1)"
    )


def apply_events(cur: Cursor, table: str, events: Sequence[Any]) -> None:
    for event in events:
        if isinstance(event, RelationshipOpened):
            cur.execute(
                f"INSERT INTO {table} (relationship_id) VALUES (?) ON CONFLICT (relationship_id) DO NOTHING",
                (str(event.relationship_id),),
            )
        elif isinstance(event, OwnWorkerNamed):
            cur.execute(
                f"INSERT INTO {table} (relationship_id, worker_id, role, team) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (relationship_id) DO UPDATE SET worker_id = excluded.worker_id, "
                "role = excluded.role, team = excluded.team",
                (str(event.relationship_id), event.worker_id, event.role, event.team),
            )
        elif isinstance(event, RelationshipEnded):
            cur.execute(f"UPDATE {table} SET is_open = 0 WHERE relationship_id = ?", (str(event.relationship_id),))
        elif isinstance(event, RelationshipReopened):
            cur.execute(f"UPDATE {table} SET is_open = 1 WHERE relationship_id = ?", (str(event.relationship_id),))


class OpenRelationshipsView:
    """The read model, and reporting's side of the consumer of casefile's events."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db
        with db.transaction() as cur:
            cur.execute(_ddl(LIVE))

    # ------------------------------------------------------------ consumer
    def position(self, stream: str) -> int:
        with self.db.reading() as cur:
            return cur.position(stream)

    def prepare(self, deliveries: list[Delivery[Any]]) -> Prepared:
        prepared = Prepared(deliveries)
        for d in deliveries:
            rid = getattr(d.event, "relationship_id", None)
            if rid is not None:
                prepared.log_ids[d.seq] = {"relationship_id": str(rid)}
        return prepared

    def commit(self, prepared: Prepared, stream: str, last_seq: int) -> None:
        failed = {f.delivery.seq for f in prepared.failures}
        with self.db.transaction() as cur:
            position = cur.position(stream, for_update=True)
            if last_seq <= position:
                return  # all of it is in already (a rebuild swapped in past this batch)
            fresh = [d.event for d in prepared.deliveries if d.seq > position and d.seq not in failed]
            apply_events(cur, LIVE, fresh)
            cur.set_position(stream, last_seq)

    # --------------------------------------------------------------- query
    def open_relationships(self, q: OpenRelationshipsQuery) -> OpenRelationshipsReply:
        return self.query(q.team)

    def query(self, team: str | None = None) -> OpenRelationshipsReply:
        with self.db.reading() as cur:
            position = cur.position(SOURCE_STREAM)
            total, without = cur.execute(
                f"SELECT COUNT(*), COUNT(*) - COUNT(worker_id) FROM {LIVE} WHERE is_open = 1"
            ).fetchone()
            sql = f"SELECT worker_id, role, team, COUNT(*) FROM {LIVE} WHERE is_open = 1 AND worker_id IS NOT NULL"
            params: tuple[Any, ...] = ()
            if team is not None:
                sql += " AND team = ?"
                params = (team,)
            rows = cur.execute(sql + " GROUP BY worker_id, role, team ORDER BY worker_id", params).fetchall()
        return OpenRelationshipsReply(
            total=int(total),
            without_own_worker=int(without or 0),
            workers=[
                WorkerCaseload(worker_id=r[0], role=r[1], team=r[2], open_relationships=int(r[3]))
                for r in rows
            ],
            position=position,
        )

    # ------------------------------------------------------------- rebuild
    def _reset_next(self) -> None:
        with self.db.transaction() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {NEXT}")
            cur.execute(_ddl(NEXT))
            cur.set_position(NEXT, 0)

    def _apply_next(self, events: list[Any], last_seq: int) -> None:
        with self.db.transaction() as cur:
            apply_events(cur, NEXT, events)
            cur.set_position(NEXT, last_seq)

    def _try_swap(self) -> tuple[bool, int, int]:
        """Swap the new model in if it has reached the live one; return (swapped, next, live)."""
        with self.db.transaction() as cur:
            live = cur.position(SOURCE_STREAM, for_update=True)
            built = cur.position(NEXT)
            if built < live:
                return False, built, live
            cur.execute(f"DROP TABLE {LIVE}")
            cur.execute(f"ALTER TABLE {NEXT} RENAME TO {LIVE}")
            cur.set_position(SOURCE_STREAM, built)
            cur.execute("DELETE FROM view_tracking WHERE name = ?", (NEXT,))
            return True, built, live


@dataclass
class RebuildResult:
    events: int
    position: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def rebuild(
    view: OpenRelationshipsView,
    js: JetStreamContext,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 1000,
) -> RebuildResult:
    """Replay CASEFILE from sequence 1 into a new model, then swap it in atomically.

    The replay reads through an ordered push consumer (JetStream detects gaps and restarts it
    where it left off) with a callback that only collects; the collected messages are applied
    in transactions of ``batch``.
    """
    started = time.perf_counter()
    await asyncio.to_thread(view._reset_next)
    target = (await js.stream_info(SOURCE_STREAM)).state.last_seq
    received: list[Any] = []
    arrived = asyncio.Event()

    async def collect(msg: Any) -> None:
        received.append(msg)
        if len(received) >= batch:
            arrived.set()

    sub = await js.subscribe(
        "polku.casefile.>",
        stream=SOURCE_STREAM,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.ALL,
        cb=collect,
        pending_msgs_limit=batch * 50,
    )
    total = 0
    position = 0
    try:
        while True:
            if position >= target:
                swapped, _built, live = await asyncio.to_thread(view._try_swap)
                if swapped:
                    break
                target = max(live, (await js.stream_info(SOURCE_STREAM)).state.last_seq)
            try:
                await asyncio.wait_for(arrived.wait(), 0.05)
            except TimeoutError:
                pass
            arrived.clear()
            if not received:
                continue
            msgs, received[:] = received[:], []
            events = []
            for m in msgs:
                try:
                    events.append(casefile_decoder.decode(m.data))
                except Exception:  # noqa: BLE001 - the live consumer dead-lettered it too
                    pass
            position = msgs[-1].metadata.sequence.stream
            await asyncio.to_thread(view._apply_next, events, position)
            total += len(msgs)
            if progress:
                progress(total, max(target, position))
    finally:
        await sub.unsubscribe()
    return RebuildResult(total, position, time.perf_counter() - started)
