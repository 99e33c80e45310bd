"""A read model on PostgreSQL outlives its connection: PostgreSQL restarted, a network cut or an
administrator's ``pg_terminate_backend`` breaks it, and the next transaction makes a new one."""

from __future__ import annotations

import psycopg
import pytest

from polku.settings import Settings
from polku.sql import SqlDatabase

pytestmark = pytest.mark.postgres


def test_a_read_model_connection_cut_by_postgresql_is_made_anew_by_the_next_transaction(
    postgres_env: str, postgres_dsn: str
) -> None:
    db = SqlDatabase(Settings.from_env(), "reporting", snapshot_reads=True)
    try:
        with db.transaction() as cur:
            cur.execute("CREATE TABLE counted (n INTEGER)")
            cur.execute("INSERT INTO counted VALUES (?)", (1,))
            cur.set_position("INTAKE", 7)
        with db.reading() as cur:
            (pid,) = cur.execute("SELECT pg_backend_pid()").fetchone()
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        # the transaction that finds the connection cut fails (its caller retries it) ...
        with pytest.raises(psycopg.OperationalError):
            with db.reading() as cur:
                cur.execute("SELECT 1")
        # ... and the next ones run on a new connection, in the service's schema, with its
        # isolation level
        with db.transaction() as cur:
            cur.execute("INSERT INTO counted VALUES (?)", (2,))
        with db.reading() as cur:
            assert cur.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
            assert [r[0] for r in cur.execute("SELECT n FROM counted ORDER BY n").fetchall()] == [1, 2]
            assert cur.position("INTAKE") == 7
            assert cur.execute("SHOW transaction_isolation").fetchone()[0] == "repeatable read"
    finally:
        db.close()
