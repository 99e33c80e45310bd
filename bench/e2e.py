"""The whole stack in real processes: throughput, and latency from command to projection."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import contracts
from bench.common import Figure, cpu_budget, cpu_seconds, fresh_var, percentile, progress, say, stop_stack
from demo.main import route_through
from demo.main import send_referral as _receive_referral
from demo.population import distinct_demo_referrals
from polku.actor import Issuer
from polku.client import Client
from polku.settings import Settings
from polku.stack import Stack
from services.casefile.application import relationship_id_for
from services.intake.application import referral_id_for

WARMUP = 20


@asynccontextmanager
async def running_stack(settings: Settings) -> AsyncIterator[tuple[Stack, Client]]:
    """Stack with NATS on free ports; a client connection; torn down quickly afterwards."""
    stack = Stack(settings, nats_port=0, nats_monitor_port=0)
    started = time.perf_counter()
    try:
        await asyncio.to_thread(stack.start)
        say(f"  stack up in {time.perf_counter() - started:.1f}s (NATS {stack.url})")
        client = await Client.connect(
            stack.url, name="polku-bench-client", var_dir=stack.var,
            issuer=Issuer.from_var(stack.var), default_worker="sg-001",
        )
        try:
            await client.open_relationships(timeout=30)  # reporting answers
            yield stack, client
        finally:
            await client.nc.close()
    finally:
        await asyncio.to_thread(stop_stack, stack)


#: Identity codes used in this run: every referral is about a client of its own.
SEEN: set[str] = set()


async def send_referral(client: Client, body: dict[str, Any], command_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The client path to a relationship: receive, screen, triage and route (four commands)."""
    reply = await _receive_referral(client, body, command_id, timeout=timeout)
    if reply.get("ok"):
        await route_through(client, reply["referral_id"], special=False, prefix=command_id)
    return reply


async def _warm_up(client: Client, rng: random.Random, run_id: str) -> None:
    """A few referrals through the whole path first, so the figures are of a warm stack."""
    before = (await client.open_relationships()).total
    replies = await asyncio.gather(
        *(send_referral(client, b, f"bench-{run_id}-warm-{i}") for i, b in enumerate(distinct_demo_referrals(rng, WARMUP, SEEN)))
    )
    accepted = sum(1 for r in replies if r.get("ok"))
    await _wait_projected(client, before + accepted, poll=0.02, timeout=60)


async def _wait_projected(client: Client, target: int, *, poll: float, timeout: float, bar: Any = None, base: int = 0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        total = (await client.open_relationships()).total
        if bar is not None:
            bar.update(total - base)
        if total >= target:
            return total
        if time.monotonic() > deadline:
            raise TimeoutError(f"reporting shows {total} of {target} relationships after {timeout}s")
        await asyncio.sleep(poll)


# ------------------------------------------------------------------------ e2e throughput
def e2e_referrals(count: int, concurrency: int = 32) -> Figure:
    with fresh_var("e2e") as settings:

        async def run() -> Figure:
            async with running_stack(settings) as (stack, client):
                rng = random.Random(11)
                run_id = uuid.uuid4().hex[:8]
                await _warm_up(client, rng, run_id)
                before = (await client.open_relationships()).total
                bodies = distinct_demo_referrals(rng, count, SEEN)
                semaphore = asyncio.Semaphore(concurrency)
                sent = accepted = 0
                bar = progress("e2e referrals answered", count)

                async def one(i: int, body: dict[str, Any]) -> None:
                    nonlocal sent, accepted
                    async with semaphore:
                        reply = await send_referral(client, body, f"bench-{run_id}-{i}", timeout=60)
                    sent += 1
                    accepted += bool(reply.get("ok"))
                    bar.update(sent)

                cpu_before = cpu_seconds(stack)
                started = time.perf_counter()
                await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
                answered = time.perf_counter() - started
                bar.done()
                if accepted != count:
                    raise RuntimeError(f"{count - accepted} of {count} referrals refused")
                waiting = progress("e2e relationships projected", count)
                await _wait_projected(client, before + count, poll=0.01, timeout=180, bar=waiting, base=before)
                seconds = time.perf_counter() - started
                budget = cpu_budget(cpu_before, cpu_seconds(stack), count, "referral")
                waiting.count = count
                waiting.done()
                say(f"  {count} referrals: all answered after {answered:.2f}s, all projected after {seconds:.2f}s")
                return Figure(
                    "e2e_referrals",
                    count / seconds,
                    "referrals/s",
                    [
                        f"# e2e_referrals: polku.stack.Stack (intake, casefile, followup, reporting as processes, "
                        f"own nats-server); {count} referrals through the four commands (receive, screen, triage, "
                        f"route), at most {concurrency} in flight "
                        f"(after {WARMUP} warm-up referrals), timed from the first send until "
                        "polku.qry.reporting.open_relationships (polled every 10 ms once all were answered) "
                        "shows all of them",
                        f"#   commands alone: {count / answered:,.0f} referrals/s answered by intake "
                        f"({answered:.2f}s); projection lag after the last reply: {seconds - answered:.2f}s",
                        budget,
                    ],
                )

        return asyncio.run(run())


# ------------------------------------------------------------------------------ latency
class ProjectionWatcher(threading.Thread):
    """Reads reporting's view DB (its own connection, WAL: never blocks the writer) every
    ``interval`` seconds and timestamps each relationship row the moment it is first seen."""

    def __init__(self, db: Path, interval: float = 0.002) -> None:
        super().__init__(name="projection-watcher", daemon=True)
        self.db = db
        self.interval = interval
        self.seen: dict[str, float] = {}
        self.polls = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False, timeout=10)
        last = 0
        try:
            while not self.stop.is_set():
                rows = conn.execute(
                    "SELECT rowid, relationship_id FROM ri_relationship WHERE rowid > ? ORDER BY rowid",
                    (last,),
                ).fetchall()
                now = time.perf_counter()
                for rowid, rid in rows:
                    self.seen.setdefault(rid, now)
                    last = rowid
                self.polls += 1
                time.sleep(self.interval)
        finally:
            conn.close()


@dataclass
class Phase:
    rate: float
    count: int
    send_span: float
    total: list[float]
    reply: list[float]
    stages: list[tuple[str, list[float]]]
    polls: int

    @property
    def achieved(self) -> float:
        return self.count / self.send_span if self.send_span else 0.0


async def _latency_phase(client: Client, settings: Settings, rng: random.Random, tag: str, rate: float, seconds: float) -> Phase:
    """Send ``rate * seconds`` referrals open-loop at ``rate``; time each to its projection."""
    count = max(int(rate * seconds), 2)
    command_ids = [f"bench-{tag}-{i}" for i in range(count)]
    # The ids are keyed with the pseudonym key: the bench runs the stack, so it holds the key.
    key = settings.pseudonym_key
    referral_keys = [str(referral_id_for(c, key)) for c in command_ids]
    relationship_ids = [str(relationship_id_for(referral_id_for(c, key), key)) for c in command_ids]
    bodies = distinct_demo_referrals(rng, count, SEEN)

    # Stages, from core NATS subscriptions on the events as their relays publish them (the
    # aggregate id is the first part of Nats-Msg-Id): for the breakdown only.
    on_intake: dict[str, float] = {}
    on_casefile: dict[str, float] = {}

    def stamper(into: dict[str, float]) -> Any:
        async def cb(msg: Any) -> None:
            msg_id = (msg.headers or {}).get(contracts.H_MSG_ID, "")
            into.setdefault(msg_id.split(":")[0], time.perf_counter())

        return cb

    subs = [
        await client.nc.subscribe(contracts.EVENTS_BY_NAME["ReferralRouted"].subject, cb=stamper(on_intake)),
        await client.nc.subscribe(contracts.EVENTS_BY_NAME["OwnWorkerNamed"].subject, cb=stamper(on_casefile)),
    ]
    await client.nc.flush()
    watcher = ProjectionWatcher(settings.var_dir / "store" / "reporting-views.db")
    watcher.start()
    sent_at = [0.0] * count
    replied_at = [0.0] * count
    refused = 0
    bar = progress(f"latency referrals sent at {rate:.0f}/s", count)

    async def one(i: int) -> None:
        nonlocal refused
        sent_at[i] = time.perf_counter()
        reply = await send_referral(client, bodies[i], command_ids[i], timeout=120)
        replied_at[i] = time.perf_counter()
        refused += not reply.get("ok")

    tasks = []
    t0 = time.perf_counter() + 0.05
    for i in range(count):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
        bar.update(i + 1)
    bar.done()
    answered = progress("latency referrals answered", count)
    for n, task in enumerate(asyncio.as_completed(tasks), 1):
        await task
        answered.update(n)
    answered.done()
    if refused:
        raise RuntimeError(f"{refused} of {count} referrals refused")

    waiting = progress("latency relationships projected", count)
    deadline = time.monotonic() + 180
    while True:
        seen = sum(1 for r in relationship_ids if r in watcher.seen)
        waiting.update(seen)
        if seen == count or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    watcher.stop.set()
    await asyncio.to_thread(watcher.join)
    waiting.done()
    for sub in subs:
        await sub.unsubscribe()
    if seen != count:
        raise RuntimeError(f"only {seen} of {count} relationships projected within 180s")

    projected = [watcher.seen[r] for r in relationship_ids]

    def ms(a: list[float], b: list[float]) -> list[float]:
        return [(y - x) * 1000 for x, y in zip(a, b, strict=True)]

    stages: list[tuple[str, list[float]]] = []
    if all(k in on_intake for k in referral_keys) and all(r in on_casefile for r in relationship_ids):
        intake = [on_intake[k] for k in referral_keys]
        casefile = [on_casefile[r] for r in relationship_ids]
        stages = [
            ("route reply -> ReferralRouted on the bus (intake relay)", ms(replied_at, intake)),
            ("-> OwnWorkerNamed on the bus (casefile consumer + relay)", ms(intake, casefile)),
            ("-> row in reporting's view (reporting consumer)", ms(casefile, projected)),
        ]
    phase = Phase(rate, count, sent_at[-1] - sent_at[0], ms(sent_at, projected), ms(sent_at, replied_at), stages, watcher.polls)
    say(f"  at {rate:.0f}/s: p50 {percentile(phase.total, 50):.1f} ms, p99 {percentile(phase.total, 99):.1f} ms, "
        f"max {max(phase.total):.1f} ms; reply p50 {percentile(phase.reply, 50):.1f} ms")
    return phase


def _pp(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.1f} / p99 {percentile(values, 99):.1f} ms"


#: The p99 a steady rate must keep to count for ``latency_max_rate_50ms``.
P99_BOUND_MS = 50.0


async def _max_rate(
    client: Client, settings: Settings, rng: random.Random, run_id: str, known: dict[float, float],
    seconds: float, steps: int,
) -> tuple[float, list[tuple[float, float, int]]]:
    """The highest steady rate whose p99 (first command -> reporting row) stays within
    :data:`P99_BOUND_MS`: a search over steady rates of ``seconds`` each, at most ``steps`` of
    them, on the same stack, each started once the last one's referrals were all projected.
    ``known``: p99 by rate, measured already. Up from the highest good rate known (doubling)
    until one is over, then bisecting; below the lowest (halving, down to 5/s) if none is good.
    Returns the rate (0 if none was good) and every level tried (rate, p99, referrals)."""
    tried: list[tuple[float, float, int]] = []

    async def level(rate: float) -> float:
        say(f"  max rate search: {rate:.0f}/s for {seconds:g}s")
        phase = await _latency_phase(client, settings, rng, f"{run_id}-max{len(tried)}", rate, seconds)
        p99 = percentile(phase.total, 99)
        tried.append((rate, p99, phase.count))
        known[rate] = p99
        return p99

    good = [r for r, p in known.items() if p <= P99_BOUND_MS]
    bad = [r for r, p in known.items() if p > P99_BOUND_MS]
    lo = max(good) if good else 0.0
    hi = min([r for r in bad if r > lo], default=0.0)
    while steps > 0 and lo == 0.0:  # nothing good yet: halve down from the lowest rate tried
        rate = max(min(known) / 2, 5.0) if known else 20.0
        steps -= 1
        if await level(rate) <= P99_BOUND_MS:
            lo = rate
        else:
            hi = rate
            if rate <= 5.0:
                return 0.0, tried
    while steps > 0 and hi == 0.0:  # nothing bad above: double up from the highest good rate
        rate = lo * 2
        steps -= 1
        if await level(rate) <= P99_BOUND_MS:
            lo = rate
        else:
            hi = rate
    while steps > 0 and hi - lo > max(5.0, lo * 0.05):
        rate = float(round((lo + hi) / 2))
        steps -= 1
        if await level(rate) <= P99_BOUND_MS:
            lo = rate
        else:
            hi = rate
    return lo, tried


def latency(
    rate: float, seconds: float, low_rate: float = 20, low_seconds: float = 5, search_seconds: float = 5,
    search_steps: int = 5,
) -> list[Figure]:
    """The figures at ``rate``; then, as notes, the same at ``low_rate`` (well under capacity);
    then the highest steady rate whose p99 stays within 50 ms (:func:`_max_rate`)."""
    with fresh_var("latency") as settings:

        async def run() -> list[Figure]:
            async with running_stack(settings) as (_stack, client):
                rng = random.Random(13)
                run_id = uuid.uuid4().hex[:8]
                await _warm_up(client, rng, run_id)
                main = await _latency_phase(client, settings, rng, f"{run_id}-lat", rate, seconds)
                low = await _latency_phase(client, settings, rng, f"{run_id}-low", low_rate, low_seconds)
                known = {rate: percentile(main.total, 99), low_rate: percentile(low.total, 99)}
                best, tried = await _max_rate(client, settings, rng, run_id, known, search_seconds, search_steps)
            notes = [
                f"# latency: {main.count} referrals sent open-loop on a fixed schedule at {rate:.0f}/s "
                f"(achieved {main.achieved:,.0f}/s over {main.send_span:.1f}s; a send never waits for a reply), "
                "each timed from just before its request is published until its relationship row is first "
                "seen in reporting's view DB (var/store/reporting-views.db, table ri_relationship, "
                "relationship_id = uuid5 of the referral id): a thread in this process reads that DB "
                f"every 2 ms ({main.polls} polls), so a figure is late by at most ~2 ms plus one read",
                f"#   the four commands answered (receive, screen, triage, route; intake stored each): {_pp(main.reply)}",
                *(f"#   {name}: {_pp(values)}" for name, values in main.stages),
                "#   (stages from core NATS subscriptions in this process on the relays' events)",
            ]
            low_notes = [
                f"#   max {max(main.total):.1f} ms; p90 {percentile(main.total, 90):.1f} ms",
                f"#   not a figure: the same at {low_rate:.0f}/s ({low.count} referrals, well under capacity): "
                f"end to end {_pp(low.total)}, max {max(low.total):.1f} ms; four commands answered {_pp(low.reply)}",
                *(f"#     {name}: {_pp(values)}" for name, values in low.stages),
            ]
            levels = ", ".join(f"{r:.0f}/s {p:.0f} ms" for r, p, _n in tried)
            search_notes = [
                f"# latency_max_rate_50ms: the highest steady rate whose p99 (as latency_p99_ms: first command -> "
                f"reporting row) stayed <= {P99_BOUND_MS:g} ms, on the same stack: from {rate:.0f}/s and "
                f"{low_rate:.0f}/s above, then up (doubling) or down (halving) and bisecting, at most "
                f"{search_steps} levels of {search_seconds:g}s, each sent open-loop once the level before was "
                "all projected",
                f"#   levels: {levels or 'none needed'}",
            ]
            return [
                Figure("latency_p50_ms", percentile(main.total, 50), "ms", notes),
                Figure("latency_p99_ms", percentile(main.total, 99), "ms", low_notes),
                Figure("latency_max_rate_50ms", best, "referrals/s", search_notes),
            ]

        return asyncio.run(run())
