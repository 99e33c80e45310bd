"""The whole of Polku on one machine: the embedded NATS and one process per service.

Used by ``polku up`` / ``polku demo`` and by the integration tests, which need real processes
(to SIGKILL one in the middle of a batch, say).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from polku import registry
from polku.actor import ensure_demo_issuer
from polku.endpoints import readiness, service_url
from polku.natsserver import EmbeddedNats
from polku.settings import Settings


class StackError(RuntimeError):
    pass


#: what ``polku serve`` exits with on a wrong setting or key (polku/service.py)
EXIT_CONFIG = 78


def _last_line(path: Path) -> str:
    """The last line a service printed (its reason, when it stopped on a setting), or nothing."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f": {lines[-1]}" if lines else ""


def create_streams(url: str, var_dir: Path | None, replicas: int, *, apply: bool = False) -> list[str]:
    """Create or update the streams as the ``operator`` (the only user NATS lets change them):
    what changed or differs from Polku's defaults, a line each (:func:`polku.bus.ensure_streams`).

    Run in a thread of its own so that it works whether or not the caller has an event loop."""
    import asyncio
    import threading

    from polku.bus import connect, ensure_streams

    async def run() -> None:
        nc = await connect(url, name="polku-streams", user="operator", var_dir=var_dir, wait=10)
        try:
            report.extend(await ensure_streams(nc.jetstream(), replicas, apply=apply))
        finally:
            await nc.close()

    errors: list[BaseException] = []
    report: list[str] = []

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            errors.append(e)

    t = threading.Thread(target=target, name="polku-streams")
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return report


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    restarts: int = 0


class Stack:
    def __init__(
        self,
        settings: Settings,
        *,
        services: tuple[str, ...] | None = None,
        env: dict[str, str] | None = None,
        nats_port: int | None = None,
        nats_monitor_port: int | None = None,
    ) -> None:
        self.settings = settings
        #: one process per installed service (polku/registry.py), in start order, unless named
        self.services = services if services is not None else registry.names()
        self.env = env or {}
        self.var = settings.var_dir
        self.nats: EmbeddedNats | None = None
        self.url = settings.nats_url or ""
        self._nats_port = nats_port if nats_port is not None else settings.nats_port
        self._monitor_port = nats_monitor_port if nats_monitor_port is not None else settings.nats_monitor_port
        self.processes: dict[str, ServiceProcess] = {}

    # ------------------------------------------------------------------ NATS
    def demo_actor_keys(self) -> None:
        """Without ``POLKU_ACTOR_PUBLIC_KEYS`` (the demo and embedded mode): an issuer key pair
        under ``var/keys`` that the services trust and the demo, the benchmarks and the tests
        sign with. Production configures its identity provider's keys instead."""
        if not (self.env.get("POLKU_ACTOR_PUBLIC_KEYS") or os.environ.get("POLKU_ACTOR_PUBLIC_KEYS")):
            ensure_demo_issuer(self.var)

    def start_nats(self) -> str:
        self.demo_actor_keys()
        if self.settings.nats_url:
            self.url = self.settings.nats_url
            return self.url
        self.nats = EmbeddedNats(
            self.var / "nats",
            port=self._nats_port or None,
            monitor_port=self._monitor_port or None,
            log_file=self.var / "log" / "nats.log",
            secure_dir=self.var,
        )
        self.nats.start()
        self.url = self.nats.url
        run = self.var / "run"
        run.mkdir(parents=True, exist_ok=True)
        (run / "nats.url").write_text(self.url + "\n")
        # The operator makes the streams; the services only look them up. A stream set up
        # otherwise than Polku's configuration is said, not changed (`polku streams --apply`).
        for line in create_streams(self.url, self.var, self.settings.stream_replicas):
            if not line.endswith(": created"):
                print(f"polku: stream {line}", file=sys.stderr, flush=True)
        return self.url

    # -------------------------------------------------------------- services
    def _ready_file(self, name: str) -> Path:
        return self.var / "run" / f"{name}.ready"

    def http_port(self, name: str) -> int:
        """The port of a service's HTTP endpoints: POLKU_HTTP_BASE_PORT + its place, else a free one."""
        base = self.settings.http_base_port
        names = list(self.services)
        return base + (names.index(name) if name in names else len(names)) if base else 0

    def http_url(self, name: str) -> str | None:
        """Where a started service serves /metrics, /healthz and /readyz (from var/run/<name>.http)."""
        return service_url(self.var, name)

    def start_service(self, name: str) -> ServiceProcess:
        (self.var / "log").mkdir(parents=True, exist_ok=True)
        (self.var / "run").mkdir(parents=True, exist_ok=True)
        ready = self._ready_file(name)
        ready.unlink(missing_ok=True)
        (self.var / "run" / f"{name}.http").unlink(missing_ok=True)
        env = {
            **os.environ,
            **self.env,
            "POLKU_VAR_DIR": str(self.var),
            "POLKU_NATS_URL": self.url,
            "POLKU_LOG_FILE": str(self.var / "log" / f"{name}.jsonl"),
            "POLKU_LOG_FORMAT": "json",
            "POLKU_READY_FILE": str(ready),
            "POLKU_HTTP_PORT": str(self.http_port(name)),
        }
        out = (self.var / "log" / f"{name}.out").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "polku", "serve", name],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        previous = self.processes.get(name)
        sp = ServiceProcess(name, process, restarts=previous.restarts if previous else 0)
        self.processes[name] = sp
        return sp

    def wait_ready(
        self,
        names: tuple[str, ...] | None = None,
        timeout: float | None = 60.0,
        *,
        waiting: Callable[[str, float], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        """Wait until each service's ``/readyz`` says it is ready. ``timeout`` None: as long as it
        lives (a service replaying a long history takes its time); ``waiting(name, seconds)`` is
        called every 5 s meanwhile; ``cancelled()`` true stops the wait."""
        started = time.monotonic()
        told = started
        for name in names or tuple(self.processes):
            sp = self.processes[name]
            while not (readiness(self.var, name) or {}).get("ready"):
                if sp.process.poll() is not None:
                    raise StackError(
                        f"service {name} exited with {sp.process.returncode}; see {self.var / 'log' / (name + '.out')}"
                        + _last_line(self.var / "log" / f"{name}.out")
                    )
                now = time.monotonic()
                if timeout is not None and now - started > timeout:
                    raise StackError(f"service {name} not ready after {timeout}s")
                if cancelled():
                    raise StackError(f"stopped while waiting for {name}")
                if waiting is not None and now - told >= 5.0:
                    waiting(name, now - started)
                    told = now
                time.sleep(0.05)

    def start(self) -> None:
        self.start_nats()
        for name in self.services:
            self.start_service(name)
        self.wait_ready()

    def stop_service(self, name: str, *, timeout: float = 15.0) -> int | None:
        sp = self.processes.get(name)
        if sp is None or sp.process.poll() is not None:
            return sp.process.returncode if sp else None
        sp.process.send_signal(signal.SIGTERM)
        try:
            return sp.process.wait(timeout)
        except subprocess.TimeoutExpired:
            sp.process.kill()
            return sp.process.wait()

    def kill_service(self, name: str) -> None:
        sp = self.processes[name]
        if sp.process.poll() is None:
            sp.process.send_signal(signal.SIGKILL)
            sp.process.wait()

    def supervise(self) -> list[str]:
        """Restart a service that died; return what was restarted (for the caller to report)."""
        restarted = []
        for name, sp in list(self.processes.items()):
            if sp.process.poll() is None:
                continue
            if sp.process.returncode == EXIT_CONFIG:
                # A wrong setting or key (a store encrypted with a key not configured, say):
                # starting it again would fail the same way. Say so instead of a crash loop.
                raise StackError(
                    f"service {name} stopped: a setting or key it needs is wrong; "
                    f"see {self.var / 'log' / (name + '.out')}"
                )
            backoff = min(2 ** sp.restarts, 30)
            if time.monotonic() - sp.started < backoff:
                continue
            new = self.start_service(name)
            new.restarts = sp.restarts + 1
            restarted.append(name)
        return restarted

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop_service(name)
        if self.nats is not None:
            self.nats.stop()
            (self.var / "run" / "nats.url").unlink(missing_ok=True)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
