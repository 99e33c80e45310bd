"""The indicator snapshots on the REPORTING stream: reporting's own store, and its ticker.

Every tick (``POLKU_REPORTING_TICK_SECONDS``) the ticker publishes, for each team the
indicators view has seen and for all teams together:

- a "day" snapshot of every closed day not yet published, from the first day any event happened
  on, oldest first, at most ``max_per_tick`` snapshots a tick (a long catch-up logs its
  progress);
- a "month" snapshot of every closed month not yet published.

A day is closed when reporting's today has passed it: the wall clock's date (Helsinki), and in
demo and test mode (``POLKU_DEMO=1``) the latest day any event the view holds happened on,
since the demo's events are dated by followup's moved clock.

**Corrections.** Each tick recomputes the snapshots of the latest
``POLKU_REPORTING_CORRECTION_DAYS`` closed days and of the latest closed month. Where the
figures differ from the latest published for that period (events arrived late), a new snapshot
is published whose ``replaces`` names the one before. The same figures publish nothing.

**What is published.** The view's exact answer, without the per-worker indicators of the
catalogue (``INDICATORS``: those are never published), suppressed at
``POLKU_SUPPRESSION_THRESHOLD``, in the catalogue's order with each table's cells in the order
of their keys: the same events give the same bytes, and the same snapshot ids.

**Exactly once.** A snapshot is an event of reporting's own event store (a
:class:`~services.reporting.domain.SnapshotSeries` per team, period kind and period), stored
through the command pipeline as the internal use case ``publish_snapshot`` under the command id
``snapshot:<snapshot id>``; the relay publishes the store to REPORTING (the outbox). What was
published is known from the store (:class:`PublishedIndex`, rebuilt from it at start), so a
restart publishes nothing again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from contracts.reporting import INDICATORS, Indicator, IndicatorsQuery, IndicatorsReply
from polku import log as polku_log
from polku.domain import Envelope
from polku.pipeline import Pipeline
from polku.projections import Projection, on
from polku.settings import Settings
from polku.store import ServiceApplication, store_env
from polku.unit_of_work import UnitOfWork
from services.reporting import publishing
from services.reporting.domain import SnapshotSchedule, SnapshotSeries
from services.reporting.settings import ReportingSettings
from services.reporting.suppression import suppress

log = polku_log.get_logger("reporting.snapshots")

#: the time zone of reporting's days
HELSINKI = ZoneInfo("Europe/Helsinki")
#: snapshots published at most per tick (new periods; the corrections come on top)
MAX_PER_TICK = 200
#: snapshots computed and stored together (one group commit)
CHUNK = 32


class IndicatorsSource(Protocol):
    """What the ticker needs of the indicators view (``services.reporting.indicators``)."""

    def indicators(self, q: IndicatorsQuery) -> IndicatorsReply: ...

    def teams(self) -> list[str]: ...

    def latest_day(self) -> date | None: ...


# --------------------------------------------------------------------------- the store
class PublishedIndex(Projection):
    """What has been published, from the store: the latest snapshot (id, digest) of each series
    and the latest period published per team and period kind."""

    #: (team, period, period_from) → (snapshot id, digest)
    latest: dict[tuple[str | None, str, date], tuple[UUID, str]]
    #: (team, period) → the latest period_from published
    last_from: dict[tuple[str | None, str], date]
    #: where the snapshots begin (the schedule's first day)
    first_day: date | None
    published: int

    def __init__(self) -> None:
        self.latest = {}
        self.last_from = {}
        self.first_day = None
        self.published = 0

    @on(SnapshotSchedule.Began)
    def _began(self, event: SnapshotSchedule.Began) -> None:
        self.first_day = event.first_day

    @on(SnapshotSeries.Published)
    def _published(self, event: SnapshotSeries.Published) -> None:
        self.latest[(event.team, event.period, event.period_from)] = (event.snapshot_id, event.digest)
        key = (event.team, event.period)
        if key not in self.last_from or event.period_from > self.last_from[key]:
            self.last_from[key] = event.period_from
        self.published += 1

    def get(self, team: str | None, period: str, period_from: date) -> tuple[UUID, str] | None:
        with self.lock:
            return self.latest.get((team, period, period_from))

    def last(self, team: str | None, period: str) -> date | None:
        with self.lock:
            return self.last_from.get((team, period))


class SnapshotApplication(ServiceApplication):
    """Reporting's event store: the snapshots it published."""

    name = "reporting"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.index = PublishedIndex()
        self.follow(self.index)


class SnapshotStored(msgspec.Struct, frozen=True, kw_only=True):
    """What ``publish_snapshot`` did (stored as the reply of its idempotency record)."""

    snapshot_id: UUID | None
    published: bool


class PublishSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The ticker's internal command: publish one snapshot. Never on the bus."""

    reply: ClassVar[type] = SnapshotStored

    team: str | None
    period: str
    period_from: date
    period_to: date
    threshold: int
    indicators: list[Indicator]
    digest: str
    #: the snapshot the ticker saw as the series' latest (None: the first)
    replaces: UUID | None = None


_encoder = msgspec.json.Encoder(order="sorted")


def publish_snapshot(_view: Any, uow: UnitOfWork, cmd: PublishSnapshot) -> SnapshotStored:
    """Publish a snapshot of a period unless the latest one has the same figures. A series that
    moved on since the ticker looked (``replaces`` is not its latest) is left to the next tick."""
    series_id = SnapshotSeries.id_for(cmd.team, cmd.period, cmd.period_from)
    series = uow.get(SnapshotSeries, series_id)
    if series is None:
        series = SnapshotSeries.open(
            uow.env, team=cmd.team, period=cmd.period, period_from=cmd.period_from, period_to=cmd.period_to
        )
        uow.add(series)
    if series.snapshot_id != cmd.replaces:
        return SnapshotStored(snapshot_id=series.snapshot_id, published=False)
    snapshot_id = series.publish(
        uow.env, threshold=cmd.threshold, indicators=_encoder.encode(cmd.indicators).decode(), digest=cmd.digest
    )
    return SnapshotStored(snapshot_id=snapshot_id or series.snapshot_id, published=snapshot_id is not None)


class Begun(msgspec.Struct, frozen=True, kw_only=True):
    first_day: date


class BeginSnapshots(msgspec.Struct, frozen=True, kw_only=True):
    """The ticker's internal command: the snapshots begin on ``first_day``. Never on the bus."""

    reply: ClassVar[type] = Begun

    first_day: date


def begin_snapshots(_view: Any, uow: UnitOfWork, cmd: BeginSnapshots) -> Begun:
    schedule = uow.get(SnapshotSchedule, SnapshotSchedule.ID)
    if schedule is None:
        schedule = SnapshotSchedule.begin(uow.env, first_day=cmd.first_day)
        uow.add(schedule)
    return Begun(first_day=schedule.first_day)


# ------------------------------------------------------------------------ the figures
def _cell_order(cell: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(cell.key.items()))


_ORDER = {name: i for i, name in enumerate(INDICATORS)}


def published_indicators(reply: IndicatorsReply, threshold: int) -> list[Indicator]:
    """What of the view's exact answer is published: the catalogue's indicators that are not per
    worker, suppressed, in the catalogue's order, each table's cells in the order of their keys."""
    kept = [i for i in reply.indicators if i.name in INDICATORS and not INDICATORS[i.name].per_worker]
    kept = [msgspec.structs.replace(i, cells=sorted(i.cells, key=_cell_order)) for i in kept]
    suppressed = suppress(kept, threshold)
    return sorted(
        (msgspec.structs.replace(i, cells=sorted(i.cells, key=_cell_order)) for i in suppressed),
        key=lambda i: _ORDER[i.name],
    )


def digest(threshold: int, indicators: list[Indicator]) -> str:
    """The digest of a snapshot's figures: the same figures, the same digest."""
    return hashlib.sha256(_encoder.encode({"threshold": threshold, "indicators": indicators})).hexdigest()


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def months(first: date, last: date) -> Iterator[date]:
    """The first days of the months from ``first``'s to ``last``'s, both included."""
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = month_end(month) + timedelta(days=1)


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@dataclass(frozen=True, order=True)
class Due:
    """One snapshot to compute: a period of one team (None: all teams)."""

    period_to: date
    period: str
    team_key: str
    period_from: date = field(compare=False)
    team: str | None = field(compare=False)

    @classmethod
    def of(cls, team: str | None, period: str, period_from: date) -> Due:
        period_to = period_from if period == "day" else month_end(period_from)
        return cls(period_to, period, team or "", period_from, team)


@dataclass
class TickResult:
    published: int = 0
    corrected: int = 0
    #: closed periods still to publish after this tick (a catch-up bounded per tick)
    remaining: int = 0


# ----------------------------------------------------------------------------- the ticker
class SnapshotTicker:
    def __init__(
        self,
        app: SnapshotApplication,
        view: IndicatorsSource,
        pipeline: Pipeline,
        settings: ReportingSettings | None = None,
        *,
        demo: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_per_tick: int = MAX_PER_TICK,
    ) -> None:
        self.app = app
        self.view = view
        self.pipeline = pipeline
        self.settings = settings or ReportingSettings()
        self.demo = demo
        self.clock = clock
        self.max_per_tick = max_per_tick
        self.published = 0
        self.corrected = 0
        self._catch_up_started: float | None = None
        #: the view's positions when the recent periods were last recomputed
        self._recomputed_at: dict[str, int] | None = None
        self._catch_up_published = 0

    # ------------------------------------------------------------------ days
    def today(self) -> date | None:
        """Reporting's today: the wall clock's, or in demo and test mode the latest day of the
        events the view holds (None: no event yet)."""
        if self.demo:
            return self.view.latest_day()
        return self.clock().astimezone(HELSINKI).date()

    def view_first_day(self) -> date | None:
        """The first day of the view's events, where the view says so (a ``first_day()``)."""
        first = getattr(self.view, "first_day", None)
        return first() if callable(first) else None

    async def first_day(self) -> date | None:
        """The first day to publish: the view's first day where it says so, else the day the
        schedule began on: the latest day of the view's events when reporting first saw one,
        stored (``begin_snapshots``) so that it holds across restarts."""
        found = await asyncio.to_thread(self.view_first_day)
        if found is not None:
            return found
        if self.app.index.first_day is not None:
            return self.app.index.first_day
        latest = await asyncio.to_thread(self.view.latest_day)
        if latest is None:
            return None
        command_id = "snapshots:begin"
        begun: Begun = await self.pipeline.internal(
            "begin_snapshots", begin_snapshots, BeginSnapshots(first_day=latest), command_id=command_id,
            env=Envelope(occurred_at=datetime.now(UTC), causation_id=command_id),
        )
        return begun.first_day

    def view_positions(self) -> dict[str, int] | None:
        """Where the view stands in its source streams, where it says so (a ``positions()``)."""
        positions = getattr(self.view, "positions", None)
        return positions() if callable(positions) else None

    def scopes(self) -> list[str | None]:
        return [None, *sorted(set(self.view.teams()))]

    def due(self, today: date, first: date) -> list[Due]:
        """The closed periods not yet published, oldest first."""
        out: list[Due] = []
        yesterday = today - timedelta(days=1)
        last_month = today.replace(day=1) - timedelta(days=1)
        for team in self.scopes():
            last_day = self.app.index.last(team, "day")
            start = max(first, last_day + timedelta(days=1)) if last_day else first
            out += [Due.of(team, "day", d) for d in days(start, yesterday)]
            if last_month >= first:
                last = self.app.index.last(team, "month")
                start_month = max(first.replace(day=1), month_end(last) + timedelta(days=1)) if last else first
                out += [Due.of(team, "month", m) for m in months(start_month, last_month)]
        return sorted(out)

    def recent(self, today: date, first: date) -> list[Due]:
        """The published periods that are recomputed: the latest closed days and month."""
        out: list[Due] = []
        start = max(first, today - timedelta(days=self.settings.correction_days))
        last_month = today.replace(day=1) - timedelta(days=1)
        for team in self.scopes():
            if self.settings.correction_days:
                out += [Due.of(team, "day", d) for d in days(start, today - timedelta(days=1))]
            if last_month >= first:
                out.append(Due.of(team, "month", last_month.replace(day=1)))
        return [d for d in out if self.app.index.get(d.team, d.period, d.period_from) is not None]

    # --------------------------------------------------------------- figures
    def compute(self, due: Due) -> PublishSnapshot:
        reply = self.view.indicators(IndicatorsQuery(team=due.team, period_from=due.period_from, period_to=due.period_to))
        threshold = self.settings.threshold
        indicators = published_indicators(reply, threshold)
        latest = self.app.index.get(due.team, due.period, due.period_from)
        return PublishSnapshot(
            team=due.team, period=due.period, period_from=due.period_from, period_to=due.period_to,
            threshold=threshold, indicators=indicators, digest=digest(threshold, indicators),
            replaces=latest[0] if latest else None,
        )

    async def _store(self, command: PublishSnapshot) -> SnapshotStored:
        series_id = SnapshotSeries.id_for(command.team, command.period, command.period_from)
        snapshot_id = SnapshotSeries.snapshot_id_for(series_id, command.digest, command.replaces)
        command_id = f"snapshot:{snapshot_id}"
        result: SnapshotStored = await self.pipeline.internal(
            "publish_snapshot", publish_snapshot, command, command_id=command_id,
            env=Envelope(occurred_at=datetime.now(UTC), causation_id=command_id),
        )
        return result

    async def _publish(self, dues: list[Due], *, corrections: bool) -> int:
        """Compute and store ``dues``, a chunk at a time; how many snapshots were published."""
        published = 0
        for i in range(0, len(dues), CHUNK):
            chunk = dues[i : i + CHUNK]
            commands = await asyncio.to_thread(lambda chunk=chunk: [self.compute(d) for d in chunk])
            if corrections:  # only where the figures changed
                commands = [
                    c for c in commands
                    if (latest := self.app.index.get(c.team, c.period, c.period_from)) is None or latest[1] != c.digest
                ]
            results = await asyncio.gather(*(self._store(c) for c in commands))
            published += sum(r.published for r in results)
        return published

    async def tick(self) -> TickResult:
        result = TickResult()
        today = await asyncio.to_thread(self.today)
        first = await self.first_day() if today is not None else None
        if today is None or first is None:
            return result
        due = await asyncio.to_thread(self.due, today, first)
        now_due, later = due[: self.max_per_tick], due[self.max_per_tick :]
        if later and self._catch_up_started is None:
            self._catch_up_started, self._catch_up_published = time.monotonic(), 0
        result.published = await self._publish(now_due, corrections=False)
        result.remaining = len(later)
        # the recent periods are recomputed only when the view has read something since they
        # last were: figures of events already read do not change
        positions = await asyncio.to_thread(self.view_positions)
        if positions is None or positions != self._recomputed_at:
            just_published = set(now_due)
            recent = [d for d in await asyncio.to_thread(self.recent, today, first) if d not in just_published]
            result.corrected = await self._publish(recent, corrections=True)
            self._recomputed_at = positions
        self.published += result.published
        self.corrected += result.corrected
        if self._catch_up_started is not None:
            self._catch_up_published += result.published
            elapsed = max(time.monotonic() - self._catch_up_started, 1e-6)
            log.info(
                "snapshots_catching_up", published=self._catch_up_published, remaining=result.remaining,
                through=str(now_due[-1].period_to) if now_due else None,
                rate=round(self._catch_up_published / elapsed, 1),
            )
            if not later:
                self._catch_up_started = None
        return result

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            catching_up = False
            try:
                result = await self.tick()
                if result.published or result.corrected:
                    log.info("snapshots_published", published=result.published, corrected=result.corrected)
                catching_up = result.remaining > 0
            except Exception as e:  # noqa: BLE001 - the store or the view away for a moment; next tick
                log.error("snapshots_failed", error=type(e).__name__)
            if catching_up:
                await asyncio.sleep(0)  # a catch-up goes on at once
                continue
            try:
                await asyncio.wait_for(stop.wait(), self.settings.tick_seconds)
            except TimeoutError:
                pass


# ----------------------------------------------------------------------------- wiring
def build_application(settings: Settings) -> SnapshotApplication:
    return SnapshotApplication(store_env(settings, "reporting"))


@dataclass
class SnapshotParts:
    """Reporting's snapshots as main.build wires them: the store (the pipeline's ``store``), then,
    once the pipeline is made, what :class:`~polku.service.ServiceParts` takes (``parts``)."""

    settings: Settings
    view: IndicatorsSource
    reporting: ReportingSettings
    app: SnapshotApplication

    @classmethod
    def build(cls, settings: Settings, view: IndicatorsSource) -> SnapshotParts:
        return cls(settings, view, ReportingSettings.from_env(settings.demo), build_application(settings))

    def parts(self, pipeline: Pipeline, close: Callable[[], None] = lambda: None) -> dict[str, Any]:
        """``app``, ``publishing``, ``published_topics``, ``tasks`` and ``close`` (which closes
        the store after ``close``) of the service's parts."""
        ticker = SnapshotTicker(self.app, self.view, pipeline, self.reporting, demo=self.settings.demo)

        def closing() -> None:
            try:
                close()
            finally:
                self.app.close()

        return {
            "app": self.app,
            "publishing": publishing.to_contract,
            "published_topics": publishing.TOPICS,
            "tasks": [ticker.run],
            "close": closing,
        }
