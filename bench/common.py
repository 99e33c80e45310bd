"""What every benchmark shares: a fresh var dir, our own NATS, the figures, the progress."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from polku.natsserver import EmbeddedNats
from polku.progress import Progress
from polku.settings import Settings
from polku.store import drop_postgres_schemas

#: Settings that would point a benchmark away from its own var dir and its own NATS.
_ISOLATE = (
    "POLKU_VAR_DIR",
    "POLKU_NATS_URL",
    "POLKU_NATS_PORT",
    "POLKU_NATS_MONITOR_PORT",
    "POLKU_LOG_FILE",
    "POLKU_READY_FILE",
)


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    #: '#' lines printed under the figure: how it was measured, what else was seen
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        if self.unit == "ratio":
            shown = f"{self.value:.3f}"
        elif self.unit == "ms":
            shown = f"{self.value:.1f}"
        elif self.unit in ("us", "s"):
            shown = f"{self.value:.2f}"
        else:
            shown = f"{self.value:.0f}"
        return f"{self.name} {shown} {self.unit}"


def say(message: str) -> None:
    """Progress and stage messages: stderr, so stdout holds only figures and '#' lines."""
    print(message, file=sys.stderr, flush=True)


def progress(label: str, total: int | None = None) -> Progress:
    return Progress(label, total, stream=sys.stderr, every=1.0)


@contextmanager
def fresh_var(name: str) -> Iterator[Settings]:
    """A new temporary POLKU_VAR_DIR for one benchmark, and Settings read from it.

    Settings that would reach a NATS or a var dir other than the benchmark's own are removed
    for the duration; the rest (POLKU_STORE, POLKU_CIPHER_KEY, ...) are honoured. A benchmark
    only ever writes scratch stores: on PostgreSQL, schemas of a prefix of its own (dropped
    afterwards), never the configured ones.
    """
    saved = dict(os.environ)
    var = Path(tempfile.mkdtemp(prefix=f"polku-bench-{name}-"))
    for key in _ISOLATE:
        os.environ.pop(key, None)
    os.environ["POLKU_VAR_DIR"] = str(var)
    # Without keys of its own, a benchmark runs as the demo does: keys made in its var dir.
    os.environ.setdefault("POLKU_DEMO", "1")
    scratch = None
    if os.environ.get("POLKU_STORE", "sqlite").strip().lower() == "postgres":
        scratch = f"polku_bench_{uuid.uuid4().hex[:10]}"
        os.environ["POLKU_POSTGRES_PREFIX"] = scratch
    try:
        yield Settings.from_env()
    finally:
        dsn = os.environ.get("POLKU_POSTGRES_DSN")
        os.environ.clear()
        os.environ.update(saved)
        if scratch and dsn and not saved.get("POLKU_BENCH_KEEP"):
            drop_postgres_schemas(dsn, scratch)
        if not saved.get("POLKU_BENCH_KEEP"):
            shutil.rmtree(var, ignore_errors=True)
        else:
            say(f"  kept {var}")


@contextmanager
def own_nats(settings: Settings, *, sync_always: bool = True) -> Iterator[EmbeddedNats]:
    """An embedded nats-server on free ports, JetStream under the var dir, secured as `polku up`
    secures it (users, TLS, encryption at rest, each write synced): the figures are those of the
    real thing. ``sync_always=False`` only to measure what syncing costs."""
    server = EmbeddedNats(
        settings.var_dir / "nats",
        log_file=settings.var_dir / "log" / "nats.log",
        server_name="polku-bench",
        secure_dir=settings.var_dir,
        sync_always=sync_always,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def stop_stack(stack: object, grace: float = 10.0) -> None:
    """Stop a polku.stack.Stack: SIGTERM every service at once, SIGKILL what is left after
    ``grace`` seconds, then the NATS server. (Stack.stop does them one by one, up to 15 s each.)
    """
    processes = [sp.process for sp in getattr(stack, "processes").values()]
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in processes:
        try:
            p.wait(max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    nats = getattr(stack, "nats", None)
    if nats is not None:
        nats.stop()


class ChunkedBaseline:
    """A baseline measured in chunks spread around the stack benchmarks, so that it sees the same
    load on the machine (the disk is shared); its figure is total done / total time."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.seconds = 0.0
        #: the rate of each chunk, for the figure's note
        self.chunks: list[float] = []

    def timed(self, count: int, label: str, one: Callable[[int], object], every: int) -> float:
        """Time ``one(i)`` for ``i`` in ``range(count)``, with progress; the chunk's seconds.

        What ran before (a stopped nats-server flushing its streams, the services' stores) is
        written back first, so it is not billed to this baseline."""
        os.sync()
        time.sleep(0.5)
        bar = progress(label, count)
        started = time.perf_counter()
        for i in range(count):
            one(i)
            if i % every == 0:
                bar.update(i)
        seconds = time.perf_counter() - started
        bar.count = count
        bar.done()
        self.done += count
        self.seconds += seconds
        self.chunks.append(count / seconds)
        return seconds


def cpu_seconds(stack: Any) -> dict[str, float]:
    """CPU time (user + system, from ``/proc``) each process of a running stack has used: its
    services by name, ``nats-server``, and ``client`` (this process: the load generator)."""
    tick = os.sysconf("SC_CLK_TCK")

    def of(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone, or no /proc: counted as nothing
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick

    out = {name: of(p.process.pid) for name, p in stack.processes.items()}
    if stack.nats is not None and stack.nats.process is not None:
        out["nats-server"] = of(stack.nats.process.pid)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["client"] = usage.ru_utime + usage.ru_stime
    return out


def cpu_budget(before: dict[str, float], after: dict[str, float], count: int, what: str) -> str:
    """A ``#`` line: the CPU each process spent per ``what`` between two :func:`cpu_seconds`,
    and the most the machine's cores could carry at that cost."""
    spent = {name: (after[name] - before.get(name, 0.0)) * 1000 / count for name in after}
    total = sum(spent.values())
    cores = os.cpu_count() or 1
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in spent.items())
    return (
        f"#   CPU per {what} (ms, user + system from /proc): {parts}; total {total:.2f} ms, so "
        f"{cores} cores carry at most {cores * 1000 / total:,.0f} {what}s/s"
    )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank: a value that was actually observed."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
