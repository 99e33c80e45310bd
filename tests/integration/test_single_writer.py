"""One writer per service: a second instance on the same store refuses to start, saying why.

The lease is a file lock beside the SQLite database, or a PostgreSQL advisory lock keyed by the
service's schema (polku/lease.py); either is dropped when its holder ends, however it ends."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from polku import lease
from polku.settings import Settings
from polku.stack import EXIT_CONFIG, Stack


def _serve(service: str, stack: Stack) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLKU_VAR_DIR": str(stack.var), "POLKU_NATS_URL": stack.url}
    return subprocess.run(
        [sys.executable, "-m", "polku", "serve", service], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("service", ["casefile", "followup"])
def test_a_second_instance_of_a_running_service_refuses_to_start_and_says_why(stack: Stack, service: str) -> None:
    second = _serve(service, stack)
    assert second.returncode == EXIT_CONFIG, second.stderr
    assert f"another {service} is running" in second.stderr
    assert "one writer" in second.stderr
    assert f"pid {stack.processes[service].process.pid}" in second.stderr
    # the first goes on serving
    stack.wait_ready((service,))


def test_the_lease_is_free_again_once_its_holder_is_killed(stack: Stack) -> None:
    stack.kill_service("casefile")
    stack.start_service("casefile")  # would exit EXIT_CONFIG if the dead one's lease were still held
    stack.wait_ready(("casefile",))


def test_on_sqlite_a_second_lease_is_refused_until_the_first_is_released(settings: Settings) -> None:
    first = lease.acquire("casefile", settings)
    with pytest.raises(lease.LeaseHeld, match=f"another casefile is running .*pid {os.getpid()}"):
        lease.acquire("casefile", settings)
    lease.acquire("intake", settings).release()  # each service has its own
    first.release()
    lease.acquire("casefile", settings).release()


@pytest.mark.postgres
def test_on_postgresql_a_second_lease_is_refused_until_the_first_is_released(postgres_env: str) -> None:
    settings = Settings.from_env()
    first = lease.acquire("casefile", settings)
    with pytest.raises(lease.LeaseHeld, match=f"another casefile is running on schema {postgres_env}_casefile"):
        lease.acquire("casefile", settings)
    lease.acquire("intake", settings).release()
    first.release()
    lease.acquire("casefile", settings).release()
