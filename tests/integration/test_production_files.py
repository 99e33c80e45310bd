"""docker-compose.yml and deploy/nats/nats.conf run the shape the fault tests run
(tests/production_shape.py): a JetStream cluster of three synced on every write, R3 streams,
PostgreSQL stores. Checked as far as a machine without a container engine allows: the real
``nats-server -t`` on the node's configuration, ``docker compose config`` on the compose file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from polku import nats_auth
from polku.natsserver import nats_server_binary

ROOT = Path(__file__).parents[2]
NATS_CONF = ROOT / "deploy" / "nats" / "nats.conf"
COMPOSE = ROOT / "docker-compose.yml"
NODES = ("nats-1", "nats-2", "nats-3")

#: what the compose file needs from the environment, dummies for a check
COMPOSE_ENV = {
    "POLKU_PSEUDONYM_KEY": "x", "POLKU_CIPHER_KEY": "x", "POLKU_NATS_CERTS_DIR": "/nonexistent",
    "POLKU_NATS_JETSTREAM_KEY": "x", "POLKU_GRAFANA_ADMIN_PASSWORD": "x",
    **{nats_auth.password_variable(u): "x" for u in nats_auth.USERS},
}


def _block(text: str, name: str) -> str:
    """The body of ``name { ... }`` (no nested braces inside what the tests read)."""
    start = text.index(f"\n{name} {{") + len(name) + 3
    depth, i = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start:i - 1]


def test_the_production_nats_config_is_a_valid_node_of_a_cluster_of_three_that_syncs_every_write(tmp_path: Path) -> None:
    conf = NATS_CONF.read_text()
    assert "sync_interval: always" in _block(conf, "jetstream")
    cluster = _block(conf, "cluster")
    assert re.search(r"^\s*name: polku$", cluster, re.M)
    assert re.findall(r"nats-route://(nats-\d):6222", cluster) == list(NODES)

    # the real server checks the file, with certificates and a store of the test's in place
    # of the mounted ones, and the environment the compose file gives each node
    secrets = nats_auth.ensure(tmp_path)
    local = conf.replace("/etc/nats/certs", str(secrets.dir)).replace("/data/jetstream", str(tmp_path / "js"))
    (tmp_path / "nats.conf").write_text(local)
    shutil.copy(NATS_CONF.parent / "auth.conf", tmp_path / "auth.conf")
    for node in NODES:
        env = {**os.environ, **COMPOSE_ENV, "NATS_SERVER_NAME": node}
        result = subprocess.run(  # noqa: S603 - our own binary
            [nats_server_binary(), "-t", "-c", str(tmp_path / "nats.conf")],
            env=env, capture_output=True, text=True, timeout=30, check=False,
        )
        assert result.returncode == 0 and "is valid" in result.stdout + result.stderr, result.stderr


def test_docker_compose_runs_three_nats_nodes_r3_streams_and_postgresql() -> None:
    compose = COMPOSE.read_text()
    for node in NODES:
        assert re.search(rf"^  {node}:\n    <<: \*nats\n", compose, re.M), node
        assert f"NATS_SERVER_NAME: {node}" in compose
    assert "POLKU_NATS_URL: " + ",".join(f"nats://{n}:4222" for n in NODES) in compose
    assert 'POLKU_STREAM_REPLICAS: "3"' in compose
    assert "POLKU_STORE: postgres" in compose
    assert "./deploy/nats/nats.conf:/etc/nats/nats.conf:ro" in compose


def _compose_command() -> list[str] | None:
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) and subprocess.run(  # noqa: S603
            [*command, "version"], capture_output=True, timeout=30, check=False
        ).returncode == 0:
            return command
    return None


def test_docker_compose_config_is_valid() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    result = subprocess.run(  # noqa: S603
        [*command, "-f", str(COMPOSE), "config", "-q"],
        env={**os.environ, **COMPOSE_ENV}, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
