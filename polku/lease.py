"""One writer per service: a lease held for as long as ``polku serve <service>`` runs.

A service assumes it is the only writer of its store: its aggregate cache, its consumers'
tracking positions and its relay's position are only right if nobody else writes. A second
instance started by mistake (a second terminal, an orchestrator scaling to two) would corrupt
that quietly, so it refuses to start, saying why:

- SQLite: an exclusive ``flock`` on ``<store>.lock`` beside the database file (the lock file
  names the holder's pid and host, for the message). The kernel drops the lock when the process
  ends, however it ends, so a crash leaves nothing to clean up.
- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) keyed by the service's
  schema, held on a connection of its own; PostgreSQL drops it when the connection ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from typing import Any

from polku.settings import Settings, SettingsError


class LeaseHeld(SettingsError):
    """Another instance of the service holds the store's lease."""


class Lease:
    def __init__(self, release: Any, holder: str) -> None:
        self._release = release
        self.holder = holder

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


def advisory_key(schema: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` from the service's schema name."""
    return int.from_bytes(hashlib.sha256(f"polku-lease:{schema}".encode()).digest()[:8], "big", signed=True)


def acquire(service: str, settings: Settings) -> Lease:
    """Take ``service``'s lease on its store, or raise :class:`LeaseHeld` naming the holder."""
    if settings.store == "postgres":
        return _postgres(service, settings)
    return _sqlite(service, settings)


def _sqlite(service: str, settings: Settings) -> Lease:
    path = settings.sqlite_path(service).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise LeaseHeld(
            f"another {service} is running on {path.parent} ({holder}): a service has one writer; "
            f"stop that one first"
        ) from None
    me = f"pid {os.getpid()} on {socket.gethostname()}"
    os.ftruncate(fd, 0)
    os.pwrite(fd, me.encode(), 0)

    def release() -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return Lease(release, me)


def _postgres(service: str, settings: Settings) -> Lease:
    import psycopg

    from polku.store import postgres_schema

    schema = postgres_schema(settings, service)
    conn = psycopg.connect(settings.postgres_dsn or "", autocommit=True, application_name=f"polku-{service}-lease")
    key = advisory_key(schema)
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if not (row and row[0]):
        conn.close()
        raise LeaseHeld(
            f"another {service} is running on schema {schema} (it holds advisory lock {key}): a service has "
            "one writer; stop that one first"
        )
    return Lease(conn.close, f"advisory lock {key} on schema {schema}")
