"""Reporting's indicator snapshots on a real SQLite store, with a view that answers from a list:
a day snapshot of every closed day per team and for all teams, a month snapshot when a month
closes, no per-worker indicator, small cells suppressed, corrections that name what they
replace, and nothing published twice (across a restart too)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
import pytest

import contracts
from contracts.reporting import (
    IndicatorCell,
    Indicator,
    IndicatorSnapshotPublished,
    IndicatorsQuery,
    IndicatorsReply,
)
from polku.pipeline import Pipeline, Table
from polku.relay import to_outgoing
from polku.settings import Settings
from services.reporting import publishing
from services.reporting.settings import ReportingSettings
from services.reporting.snapshots import SnapshotApplication, SnapshotTicker, build_application

NOV_1 = date(2026, 11, 1)


@dataclass
class FakeView:
    """Referrals as (day, team, channel, worker); answers two indicators: referrals by channel
    (published) and the caseload per worker (per worker: never published)."""

    referrals: list[tuple[date, str, str, str]] = field(default_factory=list)

    def add(self, day: date, team: str, channel: str, n: int = 1, worker: str = "sw-001") -> None:
        self.referrals += [(day, team, channel, worker)] * n

    def indicators(self, q: IndicatorsQuery) -> IndicatorsReply:
        assert q.period_from is not None and q.period_to is not None
        self.asked += 1
        rows = [
            r for r in self.referrals
            if q.period_from <= r[0] <= q.period_to and (q.team is None or r[1] == q.team)
        ]
        channels = Counter(r[2] for r in rows)
        workers = Counter(r[3] for r in rows)
        return IndicatorsReply(
            team=q.team, period_from=q.period_from, period_to=q.period_to, positions={"INTAKE": len(self.referrals)},
            indicators=[
                Indicator(
                    name="caseload_by_worker", dimensions=["worker"], unit="relationships",
                    cells=[IndicatorCell(key={"worker": w}, count=n) for w, n in workers.items()],
                    total=sum(workers.values()),
                ),
                Indicator(
                    name="referral_channels", dimensions=["channel"], unit="referrals",
                    # in reverse order: the snapshot orders them by key
                    cells=[IndicatorCell(key={"channel": c}, count=n) for c, n in sorted(channels.items(), reverse=True)],
                    total=len(rows),
                ),
            ],
        )

    def teams(self) -> list[str]:
        return sorted({r[1] for r in self.referrals})

    def latest_day(self) -> date | None:
        return max((r[0] for r in self.referrals), default=None)

    asked: int = 0

    def positions(self) -> dict[str, int]:
        return {"INTAKE": len(self.referrals)}


def _unanswered(_app: Any, _q: Any) -> None:  # the test serves no query
    raise AssertionError("not asked")


def _pipeline(view: FakeView, app: SnapshotApplication) -> Pipeline:
    table = Table(queries={s.request: _unanswered for s in contracts.COMMANDS if s.service == "reporting"})
    return Pipeline("reporting", view, table, digest_secret="test-secret", store=app)


@dataclass
class Clock:
    today: date

    def __call__(self) -> datetime:
        return datetime.combine(self.today, time(12, 0), tzinfo=UTC)


def make(settings: Settings, view: FakeView, clock: Clock, **kw: Any) -> tuple[SnapshotApplication, SnapshotTicker]:
    app = build_application(settings)
    return app, SnapshotTicker(app, view, _pipeline(view, app), ReportingSettings(threshold=5, correction_days=7), clock=clock, **kw)


def published(app: SnapshotApplication) -> list[IndicatorSnapshotPublished]:
    """What the relay would publish from the store, decoded as a reader of REPORTING would."""
    out = to_outgoing(app, publishing.to_contract, app.recorder.select_notifications(1, 100_000))
    assert {o.subject for o in out} <= {contracts.event_spec(IndicatorSnapshotPublished).subject}
    return [msgspec.json.decode(o.payload, type=IndicatorSnapshotPublished) for o in out]


def channels(s: IndicatorSnapshotPublished) -> dict[str, int | None]:
    [indicator] = [i for i in s.indicators if i.name == "referral_channels"]
    return {c.key["channel"]: c.count for c in indicator.cells}


@pytest.fixture
def view() -> FakeView:
    v = FakeView()
    v.add(NOV_1, "team-north", "phone", 6)
    return v


async def test_a_day_snapshot_for_every_closed_day_per_team_and_for_all_teams(settings: Settings, view: FakeView) -> None:
    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock)
    assert (await ticker.tick()).published == 0  # today is not closed: the schedule begins with it
    view.add(date(2026, 11, 2), "team-south", "e_service", 7)
    view.add(date(2026, 11, 3), "team-north", "letter", 5)
    clock.today = date(2026, 11, 4)
    result = (await ticker.tick())
    snapshots = published(app)
    by_period = {(s.team, s.period_from) for s in snapshots if s.period == "day"}
    days = [NOV_1, date(2026, 11, 2), date(2026, 11, 3)]
    assert by_period == {(team, d) for team in (None, "team-north", "team-south") for d in days}
    assert result.published == len(snapshots) == 9
    assert all(s.period_to == s.period_from and s.replaces is None and s.threshold == 5 for s in snapshots)
    everyone = {s.period_from: channels(s) for s in snapshots if s.team is None}
    assert everyone == {NOV_1: {"phone": 6}, date(2026, 11, 2): {"e_service": 7}, date(2026, 11, 3): {"letter": 5}}
    south = {s.period_from: channels(s) for s in snapshots if s.team == "team-south"}
    assert south[NOV_1] == {} and south[date(2026, 11, 2)] == {"e_service": 7}
    # cells in the order of their keys, the same bytes for the same figures
    assert len({s.snapshot_id for s in snapshots}) == 9
    app.close()


async def test_a_month_snapshot_when_the_month_closes(settings: Settings, view: FakeView) -> None:
    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock)
    (await ticker.tick())
    view.add(date(2026, 11, 20), "team-north", "phone", 4)
    clock.today = date(2026, 11, 30)
    (await ticker.tick())
    assert not [s for s in published(app) if s.period == "month"]
    clock.today = date(2026, 12, 1)
    (await ticker.tick())
    months = [s for s in published(app) if s.period == "month"]
    assert {(s.team, s.period_from, s.period_to) for s in months} == {
        (team, NOV_1, date(2026, 11, 30)) for team in (None, "team-north")
    }
    assert channels(months[0]) == {"phone": 10}
    days = [s for s in published(app) if s.period == "day" and s.team is None]
    assert [s.period_from for s in days] == [NOV_1 + timedelta(days=i) for i in range(30)]
    app.close()


async def test_no_per_worker_indicator_and_no_small_count_is_published(settings: Settings, view: FakeView) -> None:
    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock)
    (await ticker.tick())
    view.add(date(2026, 11, 2), "team-north", "letter", 2)
    view.add(date(2026, 11, 2), "team-north", "phone", 9)
    clock.today = date(2026, 11, 3)
    (await ticker.tick())
    snapshots = published(app)
    assert snapshots
    for s in snapshots:
        assert [i.name for i in s.indicators] == ["referral_channels"]  # caseload_by_worker is per worker
        for i in s.indicators:
            for cell in i.cells:
                assert cell.count is None or cell.count == 0 or cell.count >= s.threshold
                assert "worker" not in cell.key
    [day2] = [s for s in snapshots if s.team is None and s.period_from == date(2026, 11, 2)]
    [cell] = [c for c in day2.indicators[0].cells if c.key == {"channel": "letter"}]
    assert cell.count is None and cell.suppressed
    # the wire names no worker
    raw = msgspec.json.encode(snapshots)
    assert b"sw-001" not in raw and b"worker" not in raw
    app.close()


async def test_an_identical_recomputation_publishes_nothing(settings: Settings, view: FakeView) -> None:
    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock)
    (await ticker.tick())
    clock.today = date(2026, 11, 5)
    assert (await ticker.tick()).published == 8  # Nov 1..4, for all teams and for team-north
    before = app.max_position()
    result = (await ticker.tick())
    assert (result.published, result.corrected) == (0, 0)
    assert app.max_position() == before
    app.close()


async def test_a_late_event_on_a_past_day_publishes_a_correction_that_names_what_it_replaces(
    settings: Settings, view: FakeView
) -> None:
    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock)
    (await ticker.tick())
    clock.today = date(2026, 11, 5)
    (await ticker.tick())
    first = {(s.team, s.period_from): s for s in published(app)}
    view.add(date(2026, 11, 3), "team-north", "letter", 5)  # arrived late
    result = (await ticker.tick())
    assert result.corrected == 2  # Nov 3 for team-north and for all teams
    corrections = [s for s in published(app) if s.replaces is not None]
    assert {(s.team, s.period_from) for s in corrections} == {(None, date(2026, 11, 3)), ("team-north", date(2026, 11, 3))}
    for s in corrections:
        assert s.replaces == first[(s.team, s.period_from)].snapshot_id
        assert channels(s) == {"letter": 5}
    # the first snapshot stays as it was: a correction is a new event
    assert channels(first[(None, date(2026, 11, 3))]) == {}
    assert (await ticker.tick()).corrected == 0
    # a day beyond the correction window is not recomputed
    clock.today = date(2026, 11, 20)
    (await ticker.tick())
    view.add(date(2026, 11, 2), "team-north", "phone", 5)
    assert (await ticker.tick()).corrected == 0
    app.close()


async def test_nothing_is_recomputed_while_the_view_has_read_nothing_new(settings: Settings, view: FakeView) -> None:
    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock)
    (await ticker.tick())
    clock.today = date(2026, 11, 5)
    (await ticker.tick())
    asked = view.asked
    assert (await ticker.tick()).corrected == 0 and view.asked == asked  # nothing read since
    view.add(date(2026, 11, 3), "team-north", "letter", 5)
    assert (await ticker.tick()).corrected == 2 and view.asked > asked
    app.close()


async def test_a_restart_publishes_nothing_again(settings: Settings, view: FakeView) -> None:
    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock)
    (await ticker.tick())
    clock.today = date(2026, 11, 5)
    (await ticker.tick())
    count, position = len(published(app)), app.max_position()
    app.close()
    app, ticker = make(settings, view, clock)  # what was published comes from the store
    result = (await ticker.tick())
    assert (result.published, result.corrected) == (0, 0)
    assert app.max_position() == position and len(published(app)) == count
    # ... and it goes on where it left off
    clock.today = date(2026, 11, 6)
    assert (await ticker.tick()).published == 2
    app.close()


async def test_a_long_catch_up_is_bounded_per_tick(settings: Settings, view: FakeView) -> None:
    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock, max_per_tick=10)
    (await ticker.tick())
    clock.today = date(2026, 12, 1)  # 30 days and a month, for all teams and team-north
    first = (await ticker.tick())
    assert (first.published, first.remaining) == (10, 52)
    while (await ticker.tick()).remaining:
        pass
    snapshots = published(app)
    assert len(snapshots) == 62
    assert len({(s.team, s.period, s.period_from) for s in snapshots}) == 62
    app.close()


async def test_the_same_events_give_the_same_snapshots(settings: Settings, view: FakeView, tmp_path: Any) -> None:
    """A rebuild from the same events publishes the same snapshots, with the same ids."""
    import dataclasses

    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock)
    (await ticker.tick())
    clock.today = date(2026, 11, 4)
    (await ticker.tick())
    other = dataclasses.replace(settings, var_dir=tmp_path / "other")
    app2, ticker2 = make(other, view, Clock(NOV_1))
    (await ticker2.tick())
    ticker2.clock = clock
    (await ticker2.tick())

    def figures(a: SnapshotApplication) -> list[bytes]:
        return [
            msgspec.json.encode(msgspec.structs.replace(s, event_id=s.snapshot_id, occurred_at=datetime(2000, 1, 1, tzinfo=UTC)))
            for s in published(a)
        ]

    assert figures(app) == figures(app2)
    app.close()
    app2.close()


async def test_in_demo_mode_today_is_the_latest_day_of_the_events(settings: Settings, view: FakeView) -> None:
    """The demo's events are dated by followup's moved clock: a day closes when events of a
    later day arrive, whatever the wall clock says."""
    app, ticker = make(settings, view, Clock(date(2020, 1, 1)), demo=True)
    assert (await ticker.tick()).published == 0
    view.add(date(2026, 11, 3), "team-north", "phone", 5)
    assert (await ticker.tick()).published == 4  # Nov 1 and 2, for all teams and team-north
    assert {s.period_from for s in published(app)} == {NOV_1, date(2026, 11, 2)}
    view.add(date(2026, 12, 2), "team-north", "phone", 5)
    await ticker.tick()
    assert {(s.team, s.period_from) for s in published(app) if s.period == "month"} == {
        (None, NOV_1), ("team-north", NOV_1)
    }
    app.close()


async def test_the_ticker_runs_until_stopped(settings: Settings, view: FakeView) -> None:
    import asyncio

    clock = Clock(NOV_1)
    app, ticker = make(settings, view, clock)
    ticker.settings = ReportingSettings(tick_seconds=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(ticker.run(stop))
    await asyncio.sleep(0.1)
    clock.today = date(2026, 11, 3)
    for _ in range(100):
        if ticker.published == 4:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert ticker.published == 4
    app.close()


def test_the_threshold_is_at_least_two(monkeypatch: pytest.MonkeyPatch) -> None:
    from polku.settings import SettingsError

    assert ReportingSettings.from_env(demo=False) == ReportingSettings(threshold=5, tick_seconds=60.0, correction_days=7)
    assert ReportingSettings.from_env(demo=True).tick_seconds == 2.0
    monkeypatch.setenv("POLKU_SUPPRESSION_THRESHOLD", "1")
    with pytest.raises(SettingsError, match="POLKU_SUPPRESSION_THRESHOLD"):
        ReportingSettings.from_env()
    monkeypatch.setenv("POLKU_SUPPRESSION_THRESHOLD", "10")
    monkeypatch.setenv("POLKU_REPORTING_TICK_SECONDS", "0")
    with pytest.raises(SettingsError, match="POLKU_REPORTING_TICK_SECONDS"):
        ReportingSettings.from_env()
