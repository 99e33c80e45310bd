"""Followup's scheduler: firing many due deadlines at once, and the cost of one timer check.

Two measurements, both in this process on a real SQLite store in a fresh var dir:

``scheduler_fire_rate``: deadlines are set the way the service sets them (casefile's
``RelationshipEnded`` contract events through followup's pipeline, in batches of the consumer's
size, each batch committed with its tracking record as the ``StoreConsumer`` does), made due by
moving followup's controllable clock (``advance_clock`` through the pipeline, as a team lead in
demo mode), then ``Scheduler.fire_due()`` is timed until every one has fired. The raw baseline,
in the same run, inserts as many rows as the firing stored, in transactions of the size the group
commit made, into plain SQLite (WAL, synchronous=FULL), after the firing (its shape is known only
then), in two halves, each after os.sync() and a rest.

``timer_check_us``: what the scheduler's tick costs when nothing is due, ``DueIndex.take_due``,
with 10k, 100k and 1M deadlines pending (not due), each in the index of a followup application of
its own, timed in rounds over the sizes in turn. The pending deadlines are loaded into the index
straight from synthetic ``DeadlineSet`` events (copies of one the store really holds, with new
ids and due dates): storing a million through the store would take more than ten minutes here and
measure the store, not the check. For contrast, the same run times one scan of the pending
deadlines (what a check without the index would do).
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import sqlite3
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import Figure, fresh_var, progress, say
from bench.raw import PAYLOAD_BYTES
from contracts.casefile import RelationshipEnded
from contracts.followup import AdvanceClock
from polku.consumer import Delivery
from services.followup.domain import CheckIn
from services.followup.main import build_application, build_pipeline
from services.followup.scheduler import Scheduler

#: followup's clock is moved by a team lead (the default roster's)
TEAM_LEAD = "tl-001"
#: the check-in dates are spread over this many days, so the index holds many due dates
SPREAD_DAYS = 20
#: timer checks timed per round, and rounds (the best round is reported)
CHECKS = 50_000
REPEATS = 9


def _ended(i: int, today: date) -> RelationshipEnded:
    rid = uuid.uuid4()
    return RelationshipEnded(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        relationship_id=rid,
        client_id=uuid.uuid4().hex,
        reason="goal_reached",
        check_in_due=today + timedelta(days=30 + i % SPREAD_DAYS),
    )


def set_deadlines(app: Any, pipeline: Any, count: int, batch: int) -> float:
    """``count`` relationships ended, through followup's casefile policy in batches of ``batch``
    (a consumer's fetch), each batch committed with its tracking record. Returns the seconds."""
    consumer = pipeline.consumer("casefile")
    today = app.today()
    bar = progress("deadlines set (setup)", count)
    started = time.perf_counter()
    seq = consumer.position("CASEFILE")
    done = 0
    while done < count:
        deliveries = []
        for i in range(done, min(done + batch, count)):
            seq += 1
            deliveries.append(
                Delivery(seq=seq, subject="polku.casefile.relationship_ended", headers={}, data=b"", event=_ended(i, today))
            )
        prepared = consumer.prepare(deliveries)
        if prepared.failures:
            raise RuntimeError(f"{len(prepared.failures)} RelationshipEnded refused by followup's policy")
        consumer.commit(prepared, "CASEFILE", seq)
        done += len(deliveries)
        bar.update(done)
    seconds = time.perf_counter() - started
    bar.done()
    if len(app.due_index.pending) < count:
        raise RuntimeError(f"{len(app.due_index.pending)} deadlines pending after setting {count}")
    return seconds


def _raw_sqlite(path: str, rows: int, per_transaction: int) -> float:
    """``rows`` rows of an event's size inserted in transactions of ``per_transaction``, after
    os.sync() and a rest; seconds."""
    os.sync()
    time.sleep(0.5)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS stored_events (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        state = os.urandom(PAYLOAD_BYTES)
        topic = "services.followup.domain:CheckIn.DeadlineFired"
        ids = [uuid.uuid4().hex for _ in range(rows)]
        bar = progress("raw sqlite inserts", rows)
        started = time.perf_counter()
        for start in range(0, rows, per_transaction):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, 2, ?, ?)",
                [(oid, topic, state) for oid in ids[start : start + per_transaction]],
            )
            conn.execute("COMMIT")
            bar.update(min(start + per_transaction, rows))
        seconds = time.perf_counter() - started
        bar.done()
        return seconds
    finally:
        conn.close()


def fire_rate(due: int) -> list[Figure]:
    with fresh_var("scheduler") as settings:
        if not settings.demo:
            raise RuntimeError("the scheduler benchmark moves followup's clock: it needs demo mode (POLKU_DEMO=1)")
        app = build_application(settings)
        try:
            pipeline = build_pipeline(app, settings)
            set_seconds = set_deadlines(app, pipeline, due, settings.consumer_batch)
            say(f"  {due} deadlines set through the pipeline in {set_seconds:.1f}s ({due / set_seconds:,.0f}/s)")

            if app.due_index.take_due(app.today(), 1):  # the first check-in is a month away
                raise RuntimeError("a deadline was due before the clock moved")
            # Every one due: followup's clock moved past the last check-in date.
            pipeline.execute(
                AdvanceClock(days=30 + SPREAD_DAYS + 10), command_id=f"bench:{uuid.uuid4()}", as_worker=TEAM_LEAD
            )

            rows_before = app.max_position()
            batches_before = pipeline.committer.batches
            scheduler = Scheduler(app, pipeline)
            bar = progress("deadlines fired", due)

            async def fire() -> float:
                # fire_due() fires everything due; it is timed whole. The bar follows from a task.
                async def watch() -> None:
                    while True:
                        bar.update(scheduler.fired)
                        await asyncio.sleep(0.5)

                watcher = asyncio.create_task(watch())
                started = time.perf_counter()
                fired = await scheduler.fire_due()
                seconds = time.perf_counter() - started
                watcher.cancel()
                if fired != due:
                    raise RuntimeError(f"fire_due() fired {fired} of {due} due deadlines")
                return seconds

            seconds = asyncio.run(fire())
            bar.count = scheduler.fired
            bar.done()
            rows = app.max_position() - rows_before
            transactions = pipeline.committer.batches - batches_before
            if app.due_index.pending:
                raise RuntimeError(f"{len(app.due_index.pending)} deadlines still pending after fire_due()")
            if app.due_index.take_due(app.today(), 1):
                raise RuntimeError("a deadline was still due after fire_due()")
            per_transaction = max(1, round(rows / transactions))
            say(f"  {due} fired in {seconds:.2f}s: {rows} events stored in {transactions} transactions")
            # The baseline's shape is the firing's, known only once it has run: so after it.
            raw_db = str(settings.var_dir / "raw-scheduler.db")
            half = rows // 2
            raw_seconds = _raw_sqlite(raw_db, half, per_transaction) + _raw_sqlite(raw_db, rows - half, per_transaction)
        finally:
            app.close()

    rate = due / seconds
    raw_rate = rows / raw_seconds
    return [
        Figure(
            "scheduler_fire_rate",
            rate,
            "deadlines/s",
            [
                f"# scheduler_fire_rate: {due:,} check-in deadlines all due at once, fired by Scheduler.fire_due() "
                f"through the command pipeline (each: DeadlineFired + its idempotency record, group commit), "
                f"real SQLite store, events encrypted at rest; {seconds:.2f}s",
                f"#   set beforehand (not timed) as followup sets them: {due:,} casefile RelationshipEnded events through "
                f"followup's pipeline (StoreConsumer prepare/commit, batches of {settings.consumer_batch}), "
                f"{due / set_seconds:,.0f}/s; made due with advance_clock (demo mode)",
                f"#   the firing stored {rows:,} events in {transactions:,} transactions ({rows / transactions:.0f} per transaction); "
                f"followup's aggregate cache holds {settings.aggregate_cache:,} (POLKU_AGGREGATE_CACHE): a CheckIn "
                "beyond it is read back from the store before it fires",
            ],
        ),
        Figure(
            "raw_sqlite_batch_insert",
            raw_rate,
            "rows/s",
            [
                f"# raw_sqlite_batch_insert: {rows:,} rows of {PAYLOAD_BYTES} B (as many as the firing stored) in "
                f"transactions of {per_transaction} rows (the firing's average), sqlite3 WAL, synchronous=FULL; "
                "half just after the firing, half after that, each after os.sync() and 0.5 s of rest",
            ],
        ),
        Figure(
            "scheduler_fire_ratio",
            (rows / seconds) / raw_rate,
            "ratio",
            [
                "# scheduler_fire_ratio = rows stored per second while firing / raw_sqlite_batch_insert "
                f"(the firing stores {rows / due:.0f} events per deadline: {rate:,.0f} deadlines/s is "
                f"{rows / seconds:,.0f} rows/s)"
            ],
        ),
    ]


# ------------------------------------------------------------------------------ timer check
def _template(app: Any) -> Any:
    """One ``CheckIn.DeadlineSet`` that the store really holds: the shape of the synthetic ones."""
    start = 1
    while page := app.recorder.select_notifications(start, 1000):
        for notification in page:
            event = app.mapper.to_domain_event(notification)
            if isinstance(event, CheckIn.DeadlineSet):
                return event
        start = page[-1].id + 1
    raise RuntimeError("followup's store holds no DeadlineSet")


def _checks(index: Any, today: date) -> float:
    """Seconds per ``take_due(today)`` with nothing due, over CHECKS checks."""
    take_due = index.take_due
    started = time.perf_counter()
    for _ in range(CHECKS):
        if take_due(today, 1000):
            raise RuntimeError("a deadline was due in the timer-check benchmark")
    return (time.perf_counter() - started) / CHECKS


def _scan(dues: list[tuple[date, str]], today: date) -> float:
    """Seconds for one scan of every pending deadline for the due ones."""
    started = time.perf_counter()
    found = [d for d in dues if d[0] <= today]
    seconds = time.perf_counter() - started
    if found:
        raise RuntimeError("a deadline was due in the scan")
    return seconds


def _load(index: Any, template: Any, size: int, today: date, rng: random.Random, bar: Any, loaded: int) -> list[tuple[date, str]]:
    """Fill ``index`` up to ``size`` pending deadlines from synthetic DeadlineSet events: copies of
    ``template`` with a new aggregate, deadline id and due date (1-365 days ahead: none due)."""
    dues: list[tuple[date, str]] = []
    while len(index.pending) < size:
        aggregate_id = uuid.uuid4()
        event = copy.copy(template)
        due = today + timedelta(days=rng.randint(1, 365))
        deadline_id = f"{aggregate_id}:1:1"
        object.__setattr__(event, "originator_id", aggregate_id)
        object.__setattr__(event, "deadline_id", deadline_id)
        object.__setattr__(event, "due", due)
        index.apply(event)
        dues.append((due, deadline_id))
        if len(dues) % 10_000 == 0:
            bar.update(loaded + len(dues))
    return dues


def timer_check(sizes: tuple[int, ...]) -> list[Figure]:
    """One followup application per size (the same store, one DeadlineSet in it), its index filled
    to that size; then the checks are timed in rounds over the sizes in turn, so that every size
    sees the same load on the machine, and each size's best round is reported."""
    with fresh_var("timer-check") as settings:
        first = build_application(settings)
        apps = [first]
        try:
            pipeline = build_pipeline(first, settings)
            set_deadlines(first, pipeline, 1, settings.consumer_batch)  # one real one, through the store
            template = _template(first)
            apps += [build_application(settings) for _ in sizes[1:]]
            today = first.today()
            rng = random.Random(9)
            bar = progress("pending deadlines loaded into the DueIndex", sum(sizes))
            dues: list[list[tuple[date, str]]] = []
            loaded = 0
            for app, size in zip(apps, sizes, strict=True):
                if len(app.due_index.pending) != 1:
                    raise RuntimeError("the store's one DeadlineSet is not pending in a fresh index")
                dues.append([(template.due, template.deadline_id), *_load(app.due_index, template, size, today, rng, bar, loaded)])
                loaded += size
            bar.count = loaded
            bar.done()
            checks: list[list[float]] = [[] for _ in sizes]
            scans: list[list[float]] = [[] for _ in sizes]
            bar = progress(f"timer checks ({CHECKS:,} a round)", REPEATS * len(sizes))
            for r in range(REPEATS):
                for i, app in enumerate(apps):
                    checks[i].append(_checks(app.due_index, today))
                    scans[i].append(_scan(dues[i], today))
                    bar.update(r * len(sizes) + i + 1)
            bar.done()
            results = [(len(app.due_index.pending), min(c), min(sc)) for app, c, sc in zip(apps, checks, scans, strict=True)]
        finally:
            for app in apps:
                app.close()

    (small, small_check, _), (large, large_check, _) = results[0], results[-1]
    per_size = "; ".join(f"{n:,} pending: {check * 1e6:.2f} us (a scan: {scan * 1e3:.1f} ms)" for n, check, scan in results)
    return [
        Figure(
            "timer_check_us",
            large_check * 1e6,
            "us",
            [
                f"# timer_check_us: one DueIndex.take_due(today) with nothing due and {large:,} deadlines pending; "
                f"{REPEATS} rounds of {CHECKS:,} checks, each round over every size in turn, the best round",
                f"#   {per_size}",
                "#   the pending deadlines: one set through the store, the rest loaded into each index straight from "
                "synthetic DeadlineSet events (copies of the stored one with new ids and due dates 1-365 days ahead), "
                "not stored; a scan: one pass over every pending (due, id) for the due ones, what a check without the "
                "index would do",
            ],
        ),
        Figure(
            "timer_check_growth",
            large_check / small_check,
            "ratio",
            [
                f"# timer_check_growth = timer check at {large:,} pending / at {small:,} pending "
                f"({large // small}x as many; flat is 1, goal <= 2)"
            ],
        ),
    ]
