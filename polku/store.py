"""The event store factory and the base of every service's application.

Each service owns one ``eventsourcing`` Application and its own database: a SQLite file under
``var/store/`` by default (WAL, ``synchronous=FULL``: an acknowledged command survives a power
cut), or a PostgreSQL schema per service. Events are encrypted at rest (AES-GCM, each ciphertext
with a key id: polku/keys.py), with ``POLKU_CIPHER_KEY`` or a key derived (HKDF) from the master
secret; earlier keys in ``POLKU_CIPHER_KEYS`` still read what they wrote. Nothing is ever updated
or deleted in the store.

The application records through a *process recorder*, so that a consumer's new events and its
tracking record ``(stream, sequence)`` are committed in one transaction, and so that the relay can
keep its position in the same database.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import inspect
import sys
import threading
import time
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

import msgspec
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, JSONTranscoder, MapperDeserialisationError, ProcessRecorder, Recording, Tracking, Transcoding
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder

from polku import log as polku_log
from polku import metrics
from polku.domain import EnvelopeAsDict
from polku.keys import UnknownKey, derive, legacy_key
from polku.settings import Settings, SettingsError


def postgres_params(dsn: str) -> dict[str, str]:
    """Split ``postgresql://user:password@host:port/dbname`` into the library's settings."""
    url = urlparse(dsn)
    if url.scheme not in ("postgres", "postgresql") or not url.path.strip("/"):
        raise SettingsError("POLKU_POSTGRES_DSN must look like postgresql://user@host:port/dbname")
    params = {
        "POSTGRES_DBNAME": url.path.strip("/"),
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
    }
    return params


def postgres_schema(settings: Settings, service: str) -> str:
    return f"{settings.postgres_schema_prefix}_{service}"


def ensure_postgres_schema(settings: Settings, service: str) -> None:
    import psycopg

    assert settings.postgres_dsn
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{postgres_schema(settings, service)}"')


def drop_postgres_schemas(dsn: str, prefix: str) -> None:
    """Drop the schemas of a prefix (``<prefix>_<service>``): a test's or a benchmark's scratch."""
    import psycopg

    pattern = prefix.replace("_", "\\_") + "\\_%"
    with psycopg.connect(dsn, autocommit=True) as conn:
        for (schema,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (pattern,)).fetchall():
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def store_env(settings: Settings, service: str) -> dict[str, str]:
    """The ``eventsourcing`` environment for a service's store."""
    env: dict[str, str] = {}
    if settings.store == "postgres":
        assert settings.postgres_dsn
        ensure_postgres_schema(settings, service)
        env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
        env.update(postgres_params(settings.postgres_dsn))
        env["POSTGRES_SCHEMA"] = postgres_schema(settings, service)
        env["POSTGRES_POOL_SIZE"] = "4"
        env["POSTGRES_LOCK_TIMEOUT"] = "10"
    else:
        path = settings.sqlite_path(service)
        path.parent.mkdir(parents=True, exist_ok=True)
        env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env["SQLITE_DBNAME"] = str(path)
        env["SQLITE_LOCK_TIMEOUT"] = "10"
    if settings.aggregate_cache > 0:
        # Each service is the only writer of its store (one instance; see README), so the
        # aggregates it saved are current: no fast-forward query on each read. A copy is handed
        # out, so a refused command cannot change the cached one.
        env["AGGREGATE_CACHE_MAXSIZE"] = str(settings.aggregate_cache)
        env["AGGREGATE_CACHE_FASTFORWARD"] = "n"
    # Events are encrypted at rest (AES-GCM): a store holds free text and contact details
    # about clients. The key is POLKU_CIPHER_KEY, else one derived (HKDF) from the master secret;
    # each ciphertext names its key by id. Earlier keys (POLKU_CIPHER_KEYS) and v1's keys (no
    # key id: the SHA-256 derivation, or a POLKU_CIPHER_KEY of then) still decrypt.
    env["CIPHER_TOPIC"] = "polku.keys:KeyRingCipher"
    current = settings.cipher_key or derived_key(settings.pseudonym_key, "event-store")
    env["CIPHER_KEY"] = current
    env["CIPHER_OLD_KEYS"] = ",".join(k for k in settings.cipher_keys if k != current)
    env["CIPHER_LEGACY_KEYS"] = legacy_key(settings.pseudonym_key, "event-store")
    # a start takes up the read models' latest snapshot (none when snapshots are turned off)
    env[SNAPSHOTS_ENV] = "y" if settings.snapshot_every > 0 else "n"
    return env


def derived_key(secret: str, purpose: str) -> str:
    """A 256-bit key of its own for ``purpose`` (base64), derived from the master secret (HKDF)."""
    return derive(secret, purpose)


def keyed_id(secret: str, kind: str, *parts: str) -> UUID:
    """A deterministic id that cannot be derived without the secret: an HMAC-SHA256 (with a key
    of its own, derived from ``secret`` for "ids") of ``kind`` and ``parts``, cut to a UUID (its
    version bits say 4: to anyone without the key it is as good as random). A retried command
    gets the same id; a caller who knows its own command id cannot compute it."""
    key = derived_key(secret, "ids").encode()
    message = "\x1f".join((kind, *parts)).encode()
    return UUID(bytes=hmac.new(key, message, hashlib.sha256).digest()[:16], version=4)


#: The tracking name under which the relay keeps its position in the service's own store.
RELAY_TRACKING = "relay"

log = polku_log.get_logger("polku.store")

#: the name of a service's read-model snapshot in ``polku_snapshots``; and the format of its
#: state, part of the fingerprint (a new format makes the next start replay the whole store)
READ_MODELS = "read-models"
SNAPSHOT_FORMAT = 2
#: the application's setting: "n" and a start replays the whole store (``polku rebuild``)
SNAPSHOTS_ENV = "POLKU_READ_MODEL_SNAPSHOTS"
#: a snapshot: each read model's encoded state, in the order the application follows them
_STATES = msgspec.msgpack.Decoder(list[bytes])


@dataclass(frozen=True)
class ConsumerCursor(Tracking):
    """A consumer's cursor in a stream (``application_name``), recorded with its effect: the
    sequence of the last message handled (``notification_id``) and the store position of the
    last event applied (``source_position``: the producer's ``Polku-Position``).

    The library's tracking record only moves its one number forward; a cursor moves when either
    of its numbers does: its sequence goes back when the stream was recreated and gave the same
    events lower sequences. It is kept in a table of its own
    (``polku_cursors``), in the same transaction as the events."""

    source_position: int = 0


class _SideTable:
    """A table of Polku's own beside the library's, in the same database."""

    def __init__(self, recorder: ProcessRecorder) -> None:
        self.recorder = recorder
        self.postgres = isinstance(recorder, PostgresAggregateRecorder)

    def _query(self, statement: Any, params: tuple[Any, ...], *, commit: bool = False) -> Any:
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        if self.postgres:
            with datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(statement, params)
                row = curs.fetchone() if curs.description else None
                if commit:
                    conn.commit()
                return None if row is None else tuple(row.values()) if isinstance(row, dict) else row
        with datastore.transaction(commit=commit) as c:
            c.execute(statement, params)
            row = c.fetchone()
            return None if row is None else tuple(row)

    def _table(self, name: str) -> Any:
        from psycopg.sql import SQL, Identifier

        return SQL("{}.{}").format(Identifier(self.recorder.datastore.schema), Identifier(name))  # type: ignore[attr-defined]


class _Cursors(_SideTable):
    """``polku_cursors``: (name, seq, source_position), beside the library's tables."""

    TABLE = "polku_cursors"

    def __init__(self, recorder: ProcessRecorder) -> None:
        super().__init__(recorder)
        if self.postgres:
            from psycopg.sql import SQL

            table = self._table(self.TABLE)
            self._create = SQL("CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, seq bigint NOT NULL, source_position bigint NOT NULL)").format(table)
            self._write = SQL(
                "INSERT INTO {0} AS c VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE "
                "SET seq = excluded.seq, source_position = excluded.source_position "
                "WHERE c.seq < excluded.seq OR c.source_position < excluded.source_position RETURNING seq"
            ).format(table)
            self._read = SQL("SELECT seq, source_position FROM {} WHERE name = %s").format(table)
        else:
            self._create = f"CREATE TABLE IF NOT EXISTS {self.TABLE} (name TEXT PRIMARY KEY, seq INTEGER NOT NULL, source_position INTEGER NOT NULL)"
            self._write = (
                f"INSERT INTO {self.TABLE} VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET seq = excluded.seq, source_position = excluded.source_position "
                f"WHERE {self.TABLE}.seq < excluded.seq OR {self.TABLE}.source_position < excluded.source_position "
                "RETURNING seq"
            )
            self._read = f"SELECT seq, source_position FROM {self.TABLE} WHERE name = ?"
        self._query(self._create, (), commit=True)

    def write(self, c: Any, cursor: ConsumerCursor) -> None:
        """Move the cursor; refused (IntegrityError, as the library's tracking record) if it moves
        neither its sequence nor its position: the same batch committed twice."""
        c.execute(self._write, (cursor.application_name, cursor.notification_id, cursor.source_position))
        if c.fetchone() is None:
            raise IntegrityError(
                f"cursor {cursor.application_name} at {cursor.notification_id}, {cursor.source_position} is not ahead of the one recorded"
            )

    def read(self, name: str) -> tuple[int, int] | None:
        row = self._query(self._read, (name,))
        return None if row is None else (int(row[0]), int(row[1]))


class _Snapshots(_SideTable):
    """``polku_snapshots``: the latest read-model snapshot of each name, replaced in place:
    (name, position, fingerprint, state). The state is encrypted like the events."""

    TABLE = "polku_snapshots"

    def __init__(self, recorder: ProcessRecorder) -> None:
        super().__init__(recorder)
        if self.postgres:
            from psycopg.sql import SQL

            table = self._table(self.TABLE)
            self._create = SQL(
                "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, position bigint NOT NULL, "
                "fingerprint text NOT NULL, state bytea NOT NULL)"
            ).format(table)
            self._write = SQL(
                "INSERT INTO {} VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE "
                "SET position = excluded.position, fingerprint = excluded.fingerprint, state = excluded.state"
            ).format(table)
            self._read = SQL("SELECT position, fingerprint, state FROM {} WHERE name = %s").format(table)
        else:
            self._create = (
                f"CREATE TABLE IF NOT EXISTS {self.TABLE} (name TEXT PRIMARY KEY, position INTEGER NOT NULL, "
                "fingerprint TEXT NOT NULL, state BLOB NOT NULL)"
            )
            self._write = (
                f"INSERT INTO {self.TABLE} VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET position = excluded.position, fingerprint = excluded.fingerprint, state = excluded.state"
            )
            self._read = f"SELECT position, fingerprint, state FROM {self.TABLE} WHERE name = ?"
        self._query(self._create, (), commit=True)

    def write(self, name: str, position: int, fingerprint: str, state: bytes) -> None:
        self._query(self._write, (name, position, fingerprint, state), commit=True)

    def read(self, name: str) -> tuple[int, str, bytes] | None:
        row = self._query(self._read, (name,))
        return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]))


class ReadModelTables:
    """Tables of a read model kept on disk in the service's own database, for what would
    otherwise grow in memory with the years kept (closed work that a rule still reads now and
    then). The model writes them as it applies events, in the order applied: ``write`` buffers
    statements, ``flush`` commits them together (the application flushes after each page of a
    replay, each recording and each consumer's batch) and every read flushes first.

    Each write is idempotent (an upsert, or an update to the value an event gives), so that a
    start replaying from a read-model snapshot writes again what the tables hold already. They
    are committed without a sync of their own (SQLite: ``synchronous=NORMAL`` on a connection of
    their own, WAL; PostgreSQL: ``synchronous_commit`` off), and the commit of the next snapshot
    or event syncs them with it: a power cut loses at most what came after the last synced
    commit, which the next start replays. An application without a database (a handler test's
    store in memory) keeps them in an SQLite database in memory.

    ``schema`` is the tables' and indexes' ``CREATE ... IF NOT EXISTS`` statements. Every
    statement puts ``{name}`` before a table's name (the service's schema on PostgreSQL), takes
    its values as ``?`` (PostgreSQL's ``%s`` is put in for it) and is SQL both databases run
    (``INSERT ... ON CONFLICT``); ``{serial}`` is a column numbering the rows in the order
    inserted (SQLite's rowid, PostgreSQL's ``bigserial``), the primary key."""

    schema: tuple[str, ...] = ()

    def __init__(self, recorder: Any) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        datastore = getattr(recorder, "datastore", None)
        self._postgres = isinstance(recorder, PostgresAggregateRecorder)
        if self._postgres:
            self._datastore = datastore
            self._prefix = f'"{datastore.schema}".' if datastore.schema else ""
        else:
            import sqlite3

            self._prefix = ""
            path = datastore.pool.db_name if datastore is not None else ":memory:"
            self._sqlite = sqlite3.connect(path, uri=True, check_same_thread=False, isolation_level=None, timeout=10)
            # WAL (the library's setting of the file); a commit here does not sync, a
            # checkpoint does (NORMAL, not OFF: the events' pages must reach the disk)
            self._sqlite.execute("PRAGMA synchronous=NORMAL")
        self._statements: dict[str, str] = {}
        for statement in self.schema:
            self._run([(statement, ())])

    def _sql(self, statement: str) -> str:
        found = self._statements.get(statement)
        if found is None:
            found = statement.replace("{name}", self._prefix)
            if self._postgres:
                found = found.replace("?", "%s").replace("{serial}", "BIGSERIAL PRIMARY KEY")
            else:
                found = found.replace("{serial}", "INTEGER PRIMARY KEY")
            self._statements[statement] = found
        return found

    def _run(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        if self._postgres:
            with self._datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
                curs.execute("SET LOCAL synchronous_commit TO OFF")
                for statement, params in statements:
                    curs.execute(self._sql(statement), params)
            return
        c = self._sqlite
        c.execute("BEGIN IMMEDIATE")
        try:
            for statement, params in statements:
                c.execute(self._sql(statement), params)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def write(self, statement: str, *params: Any) -> None:
        """Buffer a write; ``flush`` commits it."""
        with self._lock:
            self._pending.append((statement, params))

    def flush(self) -> None:
        """Commit the writes buffered so far, in one transaction. If it fails, they stay
        buffered for the next flush (the model in memory has applied their events already)."""
        with self._lock:
            if self._pending:
                self._run(self._pending)
                self._pending = []

    def rows(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """The rows a query gives, after every buffered write."""
        self.flush()
        with self._lock:
            if self._postgres:
                with self._datastore.get_connection() as conn, conn.cursor() as curs:
                    curs.execute(self._sql(statement), params)
                    return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in curs.fetchall()]
            return self._sqlite.execute(self._sql(statement), params).fetchall()

    def close(self) -> None:
        if not self._postgres:
            self._sqlite.close()


@dataclass(frozen=True)
class SnapshotTaken:
    position: int
    size: int
    seconds: float


def release_memory() -> None:
    """Give the C allocator's free pages back to the system (glibc's ``malloc_trim``): after a
    replay or a snapshot, whose transient buffers and objects are gone, the process keeps only
    what its models hold. Elsewhere than glibc, nothing."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ServiceApplication(Application[Any]):
    """An Application that records through a process recorder, keeps the read models that
    follow its store up to date, and tells listeners it recorded."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()
        self._projections: list[Any] = []
        #: events replayed into the read models at start
        self.replayed = 0
        #: held while events are recorded and applied to the read models, so that the position
        #: applied (``applied``) is one below which every event is applied: what a read-model
        #: snapshot records
        self._record_lock = threading.Lock()
        self.applied = 0
        #: the read-model snapshot taken or restored last: its position and its consumers'
        #: sequences (``snapshot_read_models``); the fingerprint of the models' code and settings
        self.snapshot_marks: tuple[int, int] = (0, 0)
        self._fingerprint = ""

    @staticmethod
    def processing(aggregates: Any, tracking: Tracking | None = None) -> ProcessingEvent[Any]:
        """What ``aggregates`` changed, as one unit to record (with ``tracking``, for a consumer).

        The library's ``collect_events`` tells an aggregate from an event with an ``isinstance``
        check against a runtime protocol, which costs more than encoding the event; here only
        aggregates come. One that says ``cached = False`` (an idempotency record: read again only
        by a retry) is not put in the aggregate cache, so it does not push out what is read.
        """
        processing: ProcessingEvent[Any] = ProcessingEvent(tracking)
        for aggregate in aggregates:
            processing.events.extend(aggregate.collect_events())
            if getattr(aggregate, "cached", True):
                processing.aggregates[aggregate.id] = aggregate
        return processing

    def save(self, *aggregates: Any, **kwargs: Any) -> list[Recording[Any]]:
        """Record the new events of ``aggregates`` in one transaction."""
        processing = self.processing(aggregates)
        with self._record_lock:
            recordings = self._record(processing)
            self._take_snapshots(processing)
            self._notify(recordings)
        return recordings

    def stored_ids(self, aggregate_ids: Any) -> set[Any]:
        """Which of these aggregates the store holds, in one query (a batch of lookups that
        would otherwise cost a query each, most of them finding nothing)."""
        ids = list(aggregate_ids)
        if not ids:
            return set()
        recorder = self.recorder
        if isinstance(recorder, SQLiteAggregateRecorder):
            marks = ",".join("?" * len(ids))
            statement = (
                f"SELECT originator_id FROM {recorder.events_table_name} "
                f"WHERE originator_version = 1 AND originator_id IN ({marks})"
            )
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(statement, [i.hex for i in ids])
                return {recorder.convert_originator_id(row["originator_id"]) for row in c.fetchall()}
        if isinstance(recorder, PostgresAggregateRecorder):
            from psycopg.sql import SQL, Identifier

            statement = SQL(
                "SELECT originator_id FROM {schema}.{table} WHERE originator_version = 1 AND originator_id = ANY(%s)"
            ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
            with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(statement, [ids])
                return {row["originator_id"] for row in curs.fetchall()}
        return {i for i in ids if recorder.select_events(i, limit=1)}

    def count_after(
        self, position: int, topics: tuple[str, ...] = (), limit: int = 10_000, stop: int | None = None
    ) -> int:
        """How many events of ``topics`` (all, if none) the store holds after ``position`` (up to
        ``stop``), counted up to ``limit`` in one query that reads no event's state (a relay's
        lag: a scrape of ``/metrics`` must not read ten thousand events to count them)."""
        recorder = self.recorder
        end = 2**63 - 1 if stop is None else stop
        if isinstance(recorder, SQLiteAggregateRecorder):
            where = "rowid > ? AND rowid <= ?" + (f" AND topic IN ({','.join('?' * len(topics))})" if topics else "")
            statement = f"SELECT COUNT(*) FROM (SELECT 1 FROM {recorder.events_table_name} WHERE {where} LIMIT ?)"
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(statement, [position, end, *topics, limit])
                return int(c.fetchone()[0])
        if isinstance(recorder, PostgresAggregateRecorder):
            from psycopg.sql import SQL, Identifier

            statement = SQL(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {schema}.{table} WHERE notification_id > %s"
                " AND notification_id <= %s" + (" AND topic = ANY(%s)" if topics else "") + " LIMIT %s) AS t"
            ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
            with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(statement, [position, end, *([list(topics)] if topics else []), limit])
                return int(curs.fetchone()["n"])
        return len(self.recorder.select_notifications(position + 1, limit, stop=stop, topics=topics))  # type: ignore[attr-defined]

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(EnvelopeAsDict())

    def follow(self, *projections: Any, progress: Callable[[int, int], None] | None = None) -> None:
        """Build ``projections`` from the store, then keep them up to date with each recording;
        ``progress(replayed, last position)`` after each page read.

        They start from the latest read-model snapshot (``snapshot_read_models``) when its
        fingerprint is theirs (the same code of their modules, the same state before any event:
        the same settings), and replay what the store holds after it; else from the whole
        store."""
        assert not self._projections, "one set of read models per application"
        end = self.max_position()
        start = self._restore(projections) + 1
        metrics.replay_progress(self.name, 0, end - start + 1)
        for last, events in self._stored_pages(start):
            self._apply(projections, events)
            self.replayed += len(events)
            start = last + 1
            metrics.replay_progress(self.name, self.replayed, max(end - self.snapshot_marks[0], self.replayed))
            if progress is not None:
                progress(self.replayed, max(end - self.snapshot_marks[0], self.replayed))
        self.applied = start - 1
        self._projections.extend(projections)
        release_memory()

    def _stored_pages(self, start: int, stop: int | None = None) -> Iterator[tuple[int, list[Any]]]:
        """The stored events from position ``start`` (to ``stop``), a page at a time: (the page's
        last position, its events)."""
        while page := self.recorder.select_notifications(start, 1000, stop=stop):
            try:
                events = [self.mapper.to_domain_event(n) for n in page]
            except MapperDeserialisationError as e:
                if isinstance(e.__cause__, UnknownKey):  # a key not configured: say which
                    raise UnknownKey(f"{self.name}'s store: {e.__cause__}") from None
                raise
            yield page[-1].id, events
            start = page[-1].id + 1

    @staticmethod
    def _apply(projections: Any, events: list[Any]) -> None:
        """Apply ``events`` to each read model under its lock, then commit what it wrote to its
        tables on disk."""
        for projection in projections:
            with projection.lock:
                for event in events:
                    projection.apply(event)
                projection.flush()

    # ----------------------------------------------------------- read-model snapshots
    @staticmethod
    def _fingerprint_of(projections: tuple[Any, ...]) -> str:
        """What a snapshot must have been taken by: each model's class, its module's code, and
        its state before any event (the settings it was made with)."""
        digest = hashlib.sha256(f"format {SNAPSHOT_FORMAT}; python {sys.version_info[:2]}".encode())
        for projection in projections:
            cls = type(projection)
            digest.update(f"{cls.__module__}:{cls.__qualname__}".encode())
            for klass in cls.__mro__:
                module = sys.modules.get(klass.__module__)
                if module is not None and klass.__module__ != "builtins":
                    try:
                        digest.update(inspect.getsource(module).encode())
                    except (OSError, TypeError):  # no source to read: never trust a snapshot
                        digest.update(str(time.time_ns()).encode())
            projection.check_state()
            digest.update(repr(sorted(projection.state_fields().items(), key=lambda kv: kv[0])).encode())
            with projection.lock:
                digest.update(projection.snapshot_state())
        return digest.hexdigest()

    def _consumed(self, projections: Any = None) -> int:
        """The stream sequences the models' consumers have applied up to, summed: how far they
        moved since a snapshot."""
        return sum(seq for p in (projections or self._projections) for seq, _ in p.consumed.values())

    def _restore(self, projections: tuple[Any, ...]) -> int:
        """Take up the latest snapshot if it is the models'; the store position it reflects (0:
        none, replay the whole store)."""
        self._snapshots = _Snapshots(self.recorder) if hasattr(self.recorder, "datastore") else None
        self._fingerprint = self._fingerprint_of(projections)
        if self._snapshots is None or self.env.get(SNAPSHOTS_ENV, "y") == "n":
            return 0
        found = self._snapshots.read(READ_MODELS)
        if found is None:
            return 0
        position, fingerprint, data = found
        if fingerprint != self._fingerprint:
            log.info("read_models_snapshot_passed_over", position=position, why="taken by other code or settings")
            return 0
        started = time.perf_counter()
        # Millions of objects are made at once, none of them garbage: the collector's passes
        # over them would take longer than the decoding (seconds for 100k referrals).
        collecting = gc.isenabled()
        gc.disable()
        try:
            if self.mapper.cipher is not None:
                data = self.mapper.cipher.decrypt(data)
            states = _STATES.decode(zlib.decompress(data))
            if len(states) != len(projections):
                raise ValueError("a snapshot of other read models")
            decoded = [p.decode_state(state) for p, state in zip(projections, states, strict=True)]
        except Exception as e:  # noqa: BLE001 - a snapshot is a cache: the store is the truth
            log.warning("read_models_snapshot_unusable", position=position, error=type(e).__name__)
            return 0
        finally:
            if collecting:
                gc.enable()
        for projection, state in zip(projections, decoded, strict=True):
            projection.take_state(state)
        self.snapshot_marks = (position, self._consumed(projections))
        log.info(
            "read_models_restored", position=position, bytes=len(found[2]),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return position

    def changed_since_snapshot(self) -> int:
        """Events applied to the read models since the latest snapshot (own and consumed)."""
        return max(self.applied - self.snapshot_marks[0], 0) + max(self._consumed() - self.snapshot_marks[1], 0)

    def snapshot_read_models(self) -> SnapshotTaken | None:
        """Store the read models' state with the position it reflects (replacing the one
        before), if anything changed: a start then replays only what came after. Events are
        recorded and applied meanwhile only once the state is copied (pickled)."""
        if getattr(self, "_snapshots", None) is None or not self._projections or not self.changed_since_snapshot():
            return None
        started = time.perf_counter()
        with self._record_lock, ExitStack() as locks:
            for projection in self._projections:
                locks.enter_context(projection.lock)
                projection.flush()  # what its tables on disk still lack (a flush that failed): else no snapshot
            position, consumed = self.applied, self._consumed()
            data = msgspec.msgpack.encode([p.snapshot_state() for p in self._projections])
        held = time.perf_counter() - started
        data = zlib.compress(data, 1)
        if self.mapper.cipher is not None:
            data = self.mapper.cipher.encrypt(data)
        self._snapshots.write(READ_MODELS, position, self._fingerprint, data)
        self.snapshot_marks = (position, consumed)
        size = len(data)
        del data
        release_memory()
        taken = SnapshotTaken(position, size, time.perf_counter() - started)
        log.info(
            "read_models_snapshot", position=position, bytes=taken.size, duration_ms=round(taken.seconds * 1000, 1),
            held_ms=round(held * 1000, 1),
        )
        return taken

    def construct_recorder(self) -> ProcessRecorder:
        recorder = self.factory.process_recorder()
        self._cursors: _Cursors | None = None
        if not hasattr(recorder, "datastore"):  # in memory (handler tests): the library's record
            return recorder
        self._cursors = cursors = _Cursors(recorder)
        library_insert = recorder._insert_tracking  # type: ignore[attr-defined]

        def insert_tracking(c: Any, tracking: Tracking) -> None:
            if isinstance(tracking, ConsumerCursor):
                cursors.write(c, tracking)
            else:
                library_insert(c, tracking)

        recorder._insert_tracking = insert_tracking  # type: ignore[attr-defined]
        return recorder

    def cursor(self, stream: str) -> tuple[int, int | None]:
        """A consumer's cursor in ``stream``: (sequence, source position); the position is None
        for a store of before cursors (the library's tracking record holds the sequence)."""
        found = self._cursors.read(stream) if self._cursors is not None else None
        return found if found is not None else (self.tracking_position(stream), None)

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def add_listener(self, listener: Callable[[], None]) -> None:
        """``listener`` is called (from any thread) after new events are recorded."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def _catch_up(self, before: int) -> None:
        """Apply to the read models what the store holds after the position they have applied
        and before ``before`` (called with the record lock held). Such events were committed
        although their commit raised: the connection was lost at COMMIT (PostgreSQL crashed,
        say). Their batch was then passed over as applied already (its consumer's cursor had
        moved) or answered from its idempotency records, so no recording of them reached the
        models. Positions a rolled-back transaction took (PostgreSQL's) hold nothing."""
        if before <= self.applied + 1:
            return
        for last, events in self._stored_pages(self.applied + 1, stop=before - 1):
            self._apply(self._projections, events)
            self.applied = last
            log.warning("read_models_caught_up", events=len(events), position=self.applied, why="a commit raised but took effect")

    def catch_up_read_models(self) -> None:
        """Bring the read models up to the store's end: after a commit that raised (it may have
        taken effect), once the store answers again."""
        if self._projections:
            with self._record_lock:
                self._catch_up(self.max_position() + 1)

    def _notify(self, recordings: list[Recording[Any]]) -> None:
        if recordings and self._projections:
            self._catch_up(min(r.notification.id for r in recordings))
        self._apply(self._projections, [r.domain_event for r in recordings])
        if recordings:
            self.applied = max(self.applied, max(r.notification.id for r in recordings))
        super()._notify(recordings)
        if recordings:
            with self._listeners_lock:
                listeners = list(self._listeners)
            for listener in listeners:
                listener()

    def record_processed(
        self, processing_event: ProcessingEvent[Any]
    ) -> list[Recording[Any]]:
        """Record a consumer's new events with its tracking record, in one transaction."""
        with self._record_lock:
            recordings = self._record(processing_event)
            self._take_snapshots(processing_event)
            self._notify(recordings)
        return recordings

    def tracking_position(self, name: str) -> int:
        return self.process_recorder.max_tracking_id(name) or 0

    def record_position(self, name: str, position: int) -> None:
        self.process_recorder.insert_tracking(Tracking(name, position))

    def forget(self, aggregate_ids: list[Any]) -> None:
        """Drop aggregates from the cache (after a failed save), so they are read anew."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            try:
                cache.get(aggregate_id, evict=True)
            except KeyError:
                pass

    def cached(self, aggregate_id: Any) -> bool:
        """Whether the aggregate cache holds ``aggregate_id``: a read of it costs no query."""
        cache = self.repository.cache
        return cache is not None and aggregate_id in cache.cache

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0
