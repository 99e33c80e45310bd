"""`polku bench` writes scratch stores only: never the configured PostgreSQL schemas, and its
own are dropped afterwards."""

from __future__ import annotations

import psycopg
import pytest

from bench.common import fresh_var
from polku.store import store_env
from services.intake.application import IntakeApplication
from tests.conftest import POSTGRES_DSN


def _schemas(prefix: str) -> list[str]:
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",))]


@pytest.mark.postgres
def test_a_benchmark_on_postgresql_writes_schemas_of_its_own_and_drops_them(postgres_env: str) -> None:
    configured = postgres_env  # the prefix the environment names: a production's, here the test's
    with fresh_var("scratch") as settings:
        scratch = settings.postgres_schema_prefix
        assert scratch != configured and scratch.startswith("polku_bench_")
        app = IntakeApplication(store_env(settings, "intake"), pseudonym_key=settings.pseudonym_key)
        try:
            app.record_position("polku-relay", 42)  # as the relay benchmark does
        finally:
            app.close()
        assert _schemas(scratch) == [f"{scratch}_intake"]
    assert _schemas(scratch) == []
    assert _schemas(configured) == []  # nothing written where the environment points
