"""``polku bench``: every figure measured in one run on this machine.

stdout: one line per figure, ``name value unit``, and ``#`` lines saying how each was measured,
then a summary of the goals. stderr: progress (counts and rates) while it works.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from bench.common import Figure, say


@dataclass(frozen=True)
class Sizes:
    raw_nats: int
    relay: int
    raw_sqlite: int
    e2e: int
    latency_rate: float
    latency_seconds: float
    rebuild: int
    #: events in intake's store behind the start-up and memory figures (bench/startup.py)
    startup_events: int = 1_000_000
    #: deadlines all due at once for the scheduler, and the pending counts of the timer check
    scheduler_due: int = 100_000
    timer_check: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    low_rate: float = 20
    low_seconds: float = 5
    #: commands per round, and rounds, of the metrics on / off comparison
    metrics_commands: int = 2_000
    metrics_rounds: int = 3
    #: four-command paths of the bare eventsourcing baseline (bench/baseline.py)
    es_baseline: int = 1_500
    #: the search for the highest steady rate with p99 <= 50 ms: seconds per level, levels
    search_seconds: float = 5
    search_steps: int = 6


FULL = Sizes(raw_nats=50_000, relay=20_000, raw_sqlite=6_000, e2e=2_000, latency_rate=200, latency_seconds=10, rebuild=1_000_000)
QUICK = Sizes(raw_nats=5_000, relay=2_000, raw_sqlite=1_500, e2e=300, latency_rate=200, latency_seconds=3, rebuild=20_000, low_seconds=3,
              scheduler_due=5_000, timer_check=(1_000, 10_000, 100_000), metrics_commands=300, metrics_rounds=1,
              es_baseline=300, search_seconds=2, search_steps=4, startup_events=20_000)

#: (name, ratio or figure, goal, comparison): met when value >= goal ("min") or <= goal ("max")
GOALS = (
    ("relay_ratio", 0.8, "min", "relay_events / raw_nats_publish_async"),
    ("e2e_ratio", 0.3, "min", "e2e_referrals / raw_sqlite_insert"),
    ("e2e_es_ratio", 1.0, "min", "e2e_referrals / es_baseline_paths: the whole path against a bare eventsourcing app"),
    ("latency_p99_ms", 50.0, "max", "command sent -> relationship visible in reporting, at 200 referrals/s"),
    ("rebuild_rate", 50_000.0, "min", "events/s of `polku rebuild reporting`"),
    ("startup_s", 5.0, "max", "seconds from `polku serve` to ready with 1M stored events (quick: 20k)"),
    ("rss_mb", 300.0, "max", "the largest service RSS with 100k relationships (quick: 2k)"),
    ("timer_check_growth", 2.0, "max", "a timer check at 100x the pending deadlines: it must not scan them"),
)


def _emit(lines: list[str]) -> None:
    for line in lines:
        print(line, flush=True)


def _nats_version() -> str:
    from polku.natsserver import nats_server_binary

    try:
        out = subprocess.run([nats_server_binary(), "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or out.stderr.strip()
    except Exception as e:  # noqa: BLE001
        return f"unknown ({type(e).__name__})"


def _configure_logging() -> None:
    """The in-process relay and rebuild log like a service does (JSON), but to nowhere."""
    from polku import log

    log.configure("bench", fmt="json", level=os.environ.get("POLKU_LOG_LEVEL", "info"), stream=open(os.devnull, "w"))  # noqa: SIM115


def main(args: argparse.Namespace) -> int:
    quick = bool(getattr(args, "quick", False))
    sizes = QUICK if quick else FULL
    _configure_logging()

    from bench import baseline, e2e, metrics_cost, raw, rebuild, relay, scheduler, startup

    started = time.perf_counter()
    store = os.environ.get("POLKU_STORE", "sqlite")
    _emit(
        [
            f"# polku bench{' --quick' if quick else ''}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{_nats_version()}, store {store}, events encrypted at rest",
            "# each benchmark: a fresh temporary POLKU_VAR_DIR and its own nats-server on free ports",
        ]
    )
    figures: dict[str, Figure] = {}
    failed: list[str] = []

    def measure(title: str, fn: Callable[[], Figure | list[Figure]]) -> None:
        say(f"== {title}")
        t = time.perf_counter()
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001 - report it, go on with the others
            failed.append(title)
            say(traceback.format_exc())
            _emit([f"# {title} FAILED: {type(e).__name__}: {e}"])
            return
        for figure in result if isinstance(result, list) else [result]:
            figures[figure.name] = figure
            _emit([figure.line(), *figure.notes])
        say(f"   ({title} took {time.perf_counter() - t:.1f}s)")

    def ratio(name: str, top: str, bottom: str, note: str) -> None:
        if top in figures and bottom in figures and figures[bottom].value:
            figure = Figure(name, figures[top].value / figures[bottom].value, "ratio", [note])
            figures[name] = figure
            _emit([figure.line(), *figure.notes])

    measure("raw_nats_publish_async + relay_events", lambda: relay.publish_figures(sizes.raw_nats, sizes.relay))
    ratio("relay_ratio", "relay_events", "raw_nats_publish_async", "# relay_ratio = relay_events / raw_nats_publish_async (goal >= 0.8)")
    # The baselines (raw sqlite, the bare eventsourcing app) in three chunks each, around the
    # stack benchmarks: the disk is shared.
    def thirds(total: int) -> list[int]:
        return [total // 3, total // 3, total - 2 * (total // 3)]

    with raw.SqliteBaseline(sizes.raw_sqlite) as sqlite_baseline, baseline.EsBaseline(sizes.es_baseline) as es_baseline:
        sqlite_chunks, es_chunks = thirds(sizes.raw_sqlite), thirds(sizes.es_baseline)
        say("== raw_sqlite_insert (1/3)")
        sqlite_baseline.run(sqlite_chunks[0])
        say("== es_baseline_paths (1/3)")
        es_baseline.run(es_chunks[0])
        measure("e2e_referrals", lambda: e2e.e2e_referrals(sizes.e2e))
        say("== es_baseline_paths (2/3)")
        es_baseline.run(es_chunks[1])
        say("== raw_sqlite_insert (2/3)")
        sqlite_baseline.run(sqlite_chunks[1])
        measure("latency", lambda: e2e.latency(
            sizes.latency_rate, sizes.latency_seconds, sizes.low_rate, sizes.low_seconds, sizes.search_seconds,
            sizes.search_steps,
        ))
        say("== raw_sqlite_insert (3/3)")
        sqlite_baseline.run(sqlite_chunks[2])
        say("== es_baseline_paths (3/3)")
        es_baseline.run(es_chunks[2])
        measure("raw_sqlite_insert", sqlite_baseline.figure)
        measure("es_baseline_paths", es_baseline.figure)
    ratio("e2e_ratio", "e2e_referrals", "raw_sqlite_insert", "# e2e_ratio = e2e_referrals / raw_sqlite_insert (goal >= 0.3)")
    ratio("e2e_es_ratio", "e2e_referrals", "es_baseline_paths", "# e2e_es_ratio = e2e_referrals / es_baseline_paths (goal >= 1.0)")
    measure("rebuild_rate", lambda: rebuild.rebuild_rate(sizes.rebuild))
    measure("startup_s + rss_mb", lambda: startup.startup(sizes.startup_events))
    measure("scheduler_fire_rate", lambda: scheduler.fire_rate(sizes.scheduler_due))
    measure("timer_check", lambda: scheduler.timer_check(sizes.timer_check))
    measure("metrics_counting_us", metrics_cost.counting_us)
    measure("tracing_us", metrics_cost.tracing_us)
    measure("metrics on and off", lambda: metrics_cost.on_and_off(sizes.metrics_commands, sizes.metrics_rounds))

    lines = ["#", "# goals"]
    for name, goal, kind, what in GOALS:
        if name not in figures:
            lines.append(f"# goal {name} {'>=' if kind == 'min' else '<='} {goal:g}: not measured ({what})")
            continue
        value = figures[name].value
        met = value >= goal if kind == "min" else value <= goal
        unit = figures[name].unit
        if unit == "ratio":
            shown = f"{value:.3f}"
        elif unit in ("ms", "s"):
            shown = f"{value:.1f} {unit}"
        else:
            shown = f"{value:,.0f} {unit}"
        lines.append(
            f"# goal {name} {'>=' if kind == 'min' else '<='} {goal:g}: {shown} -> {'met' if met else 'NOT met'} ({what})"
        )
    lines.append(f"# wall time {time.perf_counter() - started:.0f}s{'; FAILED: ' + ', '.join(failed) if failed else ''}")
    _emit(lines)
    return 1 if failed else 0


if __name__ == "__main__":  # python -m bench.run [--quick]
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--quick", action="store_true")
    sys.exit(main(parser.parse_args()))
