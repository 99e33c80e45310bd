"""Start-up and memory with a long history behind the services (issue goals 3 and 4).

Intake's store is filled in process through intake's own pipeline (receive, screen, triage and
route, in group commits: the events and idempotency records a year of referrals leaves), to
about ``events`` stored events. Then intake and casefile run as processes: intake's relay
publishes the history, casefile opens a relationship for every routed referral, and intake
follows casefile's relationships into its caseload, until every lag is zero. That is the
*first start*: each service replays its whole store (no read-model snapshot yet). They stop
(each stores a snapshot of its read models as it stops) and start again: the *second start*,
the figures:

- ``startup_s``: the slower of the two, from ``polku serve`` to ``/readyz`` ready;
- ``rss_mb``: the larger of the two services' resident memory once ready and settled, with the
  aggregate cache at its default.
"""

from __future__ import annotations

import json
import random
import time

import msgspec

from bench.common import Figure, fresh_var, progress, say, stop_stack
from contracts.intake import ReceiveReferral, RouteReferral, ScreenReferral, TriageSupportNeed
from demo.main import routing_commands
from demo.population import distinct_demo_referrals
from polku.endpoints import get
from polku.settings import Settings
from polku.stack import Stack
from services.intake.main import build_application, build_pipeline

SERVICES = ("intake", "casefile")
#: referrals per group commit while the history is written
CHUNK = 500
COMMANDS = {
    "intake.screen_referral": ScreenReferral,
    "intake.triage_support_need": TriageSupportNeed,
    "intake.route_referral": RouteReferral,
}


def write_history(settings: Settings, events: int) -> tuple[int, int]:
    """Intake's store with about ``events`` events: (referrals routed, events stored)."""
    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    rng = random.Random(13)
    seen: set[str] = set()
    bar = progress("history: intake events stored", events)
    referrals = 0
    try:
        while app.max_position() < events:
            bodies = distinct_demo_referrals(rng, CHUNK, seen)
            received = pipeline.execute_batch(
                [(msgspec.convert(b, ReceiveReferral), f"history-{referrals + i}") for i, b in enumerate(bodies)]
            )
            ids = [str(reply.referral_id) for ok, reply in received if ok]
            steps = [routing_commands(rid, special=i % 5 == 0, prefix=f"history-{referrals + i}") for i, rid in enumerate(ids)]
            for step in range(3):
                done = pipeline.execute_batch(
                    [(msgspec.convert(s[step][1], COMMANDS[s[step][0]]), s[step][2]) for s in steps]
                )
                assert all(ok for ok, _ in done), [r for ok, r in done if not ok][:3]
            referrals += len(ids)
            bar.update(app.max_position())
        bar.done()
        return referrals, app.max_position()
    finally:
        app.close()


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _samples(url: str) -> dict[str, float]:
    """The lag gauges of a service's /metrics, summed by name."""
    found: dict[str, float] = {}
    for line in get(url + "/metrics", timeout=30)[1].decode().splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in ("polku_relay_lag", "polku_consumer_lag"):
            found[name] = found.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return found


def _settle(stack: Stack, timeout: float) -> None:
    """Until every relay and consumer of the stack has nothing left to do (periodic counts)."""
    started = time.monotonic()
    told = started
    while True:
        lags = {name: _samples(stack.http_url(name) or "") for name in SERVICES}
        if all(v == 0 for lag in lags.values() for v in lag.values()):
            return
        now = time.monotonic()
        if now - told >= 5:
            say(f"   settling: {json.dumps(lags)} after {now - started:.0f}s")
            told = now
        assert now - started < timeout, f"not settled after {timeout}s: {lags}"
        time.sleep(0.5)


def _start(stack: Stack) -> dict[str, float]:
    """Start the services together; seconds from each one's start to its /readyz ready."""
    began = {name: time.monotonic() for name in SERVICES if stack.start_service(name)}
    ready: dict[str, float] = {}
    while len(ready) < len(SERVICES):
        for name in SERVICES:
            if name in ready:
                continue
            assert stack.processes[name].process.poll() is None, f"{name} exited: see {stack.var / 'log'}"
            url = stack.http_url(name)
            if url is not None and get(url + "/readyz")[0] == 200:
                ready[name] = time.monotonic() - began[name]
        time.sleep(0.02)
    return ready


def _stop_services(stack: Stack) -> None:
    for name in SERVICES:
        stack.stop_service(name, timeout=120)


def startup(events: int) -> list[Figure]:
    with fresh_var("startup") as settings:
        t = time.perf_counter()
        referrals, stored = write_history(settings, events)
        say(f"   history: {referrals} referrals routed, {stored} events in intake's store ({time.perf_counter() - t:.0f}s)")
        stack = Stack(settings, services=SERVICES)
        try:
            stack.start_nats()
            say("   first start (no snapshot): replaying, publishing, casefile opening the relationships")
            first = _start(stack)
            _settle(stack, timeout=max(600, events / 200))
            first_rss = {name: _rss_mb(stack.processes[name].process.pid) for name in SERVICES}
            _stop_services(stack)
            say("   second start (from the snapshots the services stored as they stopped)")
            second = _start(stack)
            _settle(stack, timeout=120)
            time.sleep(1.0)
            rss = {name: _rss_mb(stack.processes[name].process.pid) for name in SERVICES}
            casefile_events = _store_events(stack, "casefile")
        finally:
            stop_stack(stack)
    slowest = max(second, key=second.get)
    largest = max(rss, key=rss.get)
    shown = ", ".join(f"{n} {second[n]:.2f} s" for n in SERVICES)
    return [
        Figure("startup_s", second[slowest], "s", [
            f"#   {stored:,} events in intake's store ({referrals:,} referrals through the four commands), "
            f"about {casefile_events:,} in casefile's ({referrals:,} relationships, opened by casefile's consumer)",
            f"#   second start, from the read-model snapshots: {shown}",
            "#   first start, replaying every event (before snapshots, every start was this): "
            + ", ".join(f"{n} {first[n]:.2f} s" for n in SERVICES),
        ]),
        Figure("rss_mb", rss[largest], "MB", [
            "#   resident memory once ready and caught up, aggregate cache at its default: "
            + ", ".join(f"{n} {rss[n]:.0f} MB" for n in SERVICES),
            "#   after the first start and the history's publishing: "
            + ", ".join(f"{n} {first_rss[n]:.0f} MB" for n in SERVICES),
        ]),
    ]


def _store_events(stack: Stack, name: str) -> int:
    """About how many events a service's store holds: its relay's position (the store position
    of the last event published; records that are never published may follow it)."""
    for line in get((stack.http_url(name) or "") + "/metrics")[1].decode().splitlines():
        if line.startswith("polku_relay_position"):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


if __name__ == "__main__":  # python -m bench.startup [events]
    import sys

    for figure in startup(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000):
        print(figure.line(), *figure.notes, sep="\n")
