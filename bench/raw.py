"""The raw baseline for the database: sqlite3, WAL, synchronous=FULL, one commit per row.

(The raw baseline for the bus, nats-py publish_async, is measured interleaved with the relay:
see bench/relay.py.)
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import ExitStack
from typing import Any

from bench.common import ChunkedBaseline, Figure, fresh_var, say

#: About the size of an encoded ReferralReceived (~360 bytes) and of its stored state.
PAYLOAD_BYTES = 360


class SqliteBaseline(ChunkedBaseline):
    """Inserts in chunks, so that the baseline can be spread around the e2e benchmarks and see
    the same load on the machine (the disk is shared); the figure is total rows / total time."""

    def __init__(self, total: int) -> None:
        super().__init__(total)
        self._stack = ExitStack()
        self._conn: Any = None

    def __enter__(self) -> SqliteBaseline:
        settings = self._stack.enter_context(fresh_var("raw-sqlite"))
        self._conn = sqlite3.connect(settings.var_dir / "raw.db", isolation_level=None)
        self._stack.callback(self._conn.close)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        # The shape of eventsourcing's stored_events table.
        self._conn.execute(
            "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def run(self, count: int) -> None:
        conn = self._conn
        state = os.urandom(PAYLOAD_BYTES)
        topic = "services.intake.domain:Referral.Received"
        ids = [uuid.uuid4().hex for _ in range(count)]

        def insert(i: int) -> None:
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, 1, ?, ?)",
                (ids[i], topic, state),
            )
            conn.execute("COMMIT")

        seconds = self.timed(count, "raw sqlite inserts", insert, every=100)
        say(f"  {count} commits in {seconds:.2f}s")

    def figure(self) -> Figure:
        (stored,) = self._conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()
        if stored != self.done:
            raise RuntimeError(f"{stored} rows stored, expected {self.done}")
        return Figure(
            "raw_sqlite_insert",
            self.done / self.seconds,
            "inserts/s",
            [
                f"# raw_sqlite_insert: {self.done} rows of {PAYLOAD_BYTES} B into a table shaped like "
                "eventsourcing's stored_events; WAL, synchronous=FULL, BEGIN/INSERT/COMMIT each",
                f"#   in {len(self.chunks)} chunks spread before, between and after the stack benchmarks "
                f"(the disk is shared), each after os.sync() and 0.5 s of rest: "
                f"{', '.join(f'{c:,.0f}' for c in self.chunks)} inserts/s",
            ],
        )
