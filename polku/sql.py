"""A small SQL layer for read models: SQLite by default, PostgreSQL when configured.

A read model keeps its tables and its tracking records (``view_tracking``: name → position) in
one database, and changes both in one transaction. SQL is written once with ``?`` placeholders;
PostgreSQL gets ``%s``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from polku.settings import Settings
from polku.store import ensure_postgres_schema, postgres_schema

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS view_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
)


class Cursor:
    """The part of a DB-API cursor read models use, with ``?`` placeholders on both engines."""

    def __init__(self, raw: Any, postgres: bool) -> None:
        self.raw = raw
        self.postgres = postgres

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self.raw.execute(sql.replace("?", "%s") if self.postgres else sql, tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.raw.executemany(sql.replace("?", "%s") if self.postgres else sql, rows)

    def fetchone(self) -> Any:
        return self.raw.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self.raw.fetchall())

    # --- tracking, in the caller's transaction
    def position(self, name: str, *, for_update: bool = False) -> int:
        found = self.recorded(name, for_update=for_update)
        return 0 if found is None else found

    def recorded(self, name: str, *, for_update: bool = False) -> int | None:
        """The position recorded under ``name``, None if none is."""
        sql = "SELECT position FROM view_tracking WHERE name = ?"
        if for_update and self.postgres:
            sql += " FOR UPDATE"
        row = self.execute(sql, (name,)).fetchone()
        return int(row[0]) if row else None

    def set_position(self, name: str, position: int) -> None:
        self.execute(
            "INSERT INTO view_tracking (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (name, position),
        )


class SqlDatabase:
    """One connection, serialised by a lock; transactions take the write lock at once."""

    def __init__(self, settings: Settings, service: str, *, snapshot_reads: bool = False) -> None:
        """``snapshot_reads``: each transaction of this connection sees one snapshot of the
        database however long it reads, while other connections write (SQLite in WAL mode does
        so anyway; PostgreSQL is asked for REPEATABLE READ)."""
        self.postgres = settings.store == "postgres"
        self._lock = threading.RLock()
        if self.postgres:
            assert settings.postgres_dsn
            ensure_postgres_schema(settings, service)
            self._dsn = settings.postgres_dsn
            self._schema = postgres_schema(settings, service)
            self._snapshot_reads = snapshot_reads
            self._conn: Any = self._connect_postgres()
            self.where = f"postgres schema {self._schema}"
        else:
            path = settings.var_dir / "store" / f"{service}-views.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=10
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self.where = str(path)
        with self.transaction() as cur:
            cur.execute(TRACKING_DDL)

    def set_page_cache(self, mb: int) -> None:
        """SQLite's page cache for this connection at ``mb`` MB (its default is 2 MB): for a bulk
        build whose lookups would otherwise read the same index pages from the file again and
        again. PostgreSQL keeps its own shared buffers: nothing to set."""
        if not self.postgres:
            with self._lock:
                self._conn.execute(f"PRAGMA cache_size = -{int(mb) * 1024}")

    def _connect_postgres(self) -> Any:
        import psycopg

        conn = psycopg.connect(self._dsn, autocommit=True)
        conn.execute(f'SET search_path TO "{self._schema}"')
        if self._snapshot_reads:
            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return conn

    def _postgres_connection(self) -> Any:
        """The connection, made anew if the last one broke (PostgreSQL restarted, a network
        cut, an administrator's ``pg_terminate_backend``): the transaction that found it broken
        failed, and its caller retries; without this every later one would fail too, for as
        long as the process lives."""
        if self._conn.closed or self._conn.broken:
            try:
                self._conn.close()
            finally:
                self._conn = self._connect_postgres()
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            if self.postgres:
                with self._postgres_connection().transaction():
                    yield Cursor(self._conn.cursor(), True)
            else:
                cur = self._conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield Cursor(cur, False)
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                else:
                    cur.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        with self._lock:
            if self.postgres:
                with self._postgres_connection().transaction():
                    yield Cursor(self._conn.cursor(), True)
            else:
                cur = self._conn.cursor()
                cur.execute("BEGIN")
                try:
                    yield Cursor(cur, False)
                finally:
                    cur.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
