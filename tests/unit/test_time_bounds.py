"""The bounds of a command's business time and dates (polku/bounds.py), and their settings."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from contracts import casefile as cmd
from polku.bounds import EARLIEST_DATE, OutOfBounds, check, dates
from polku.settings import SettingsError, TimeBounds

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SW1 = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}


def plan(**fields: object) -> cmd.UpdatePlan:
    body = {"relationship_id": str(uuid.uuid4()), "actor": SW1, "kind": "client_plan", "next_review": "2026-12-24", **fields}
    return msgspec.convert(body, cmd.UpdatePlan, strict=False)


def refused_field(command: object, now: datetime = NOW, bounds: TimeBounds = TimeBounds()) -> str | None:
    with pytest.raises(OutOfBounds) as e:
        check(command, now, bounds)
    assert e.value.code == "invalid_value"
    return e.value.field


def test_business_time_within_the_policy_passes() -> None:
    check(plan(occurred_at=(NOW - timedelta(days=31)).isoformat(), next_review="2026-11-01"), NOW, TimeBounds())
    check(plan(occurred_at=(NOW + timedelta(minutes=5)).isoformat()), NOW, TimeBounds())
    check(plan(), NOW, TimeBounds())  # no occurred_at: the clock's time


def test_business_time_backdated_beyond_the_policy_is_refused() -> None:
    assert refused_field(plan(occurred_at=(NOW - timedelta(days=31, seconds=1)).isoformat())) == "occurred_at"
    assert refused_field(plan(occurred_at=(NOW - timedelta(days=8)).isoformat()), bounds=TimeBounds(backdate_max_days=7)) == "occurred_at"


def test_business_time_ahead_of_the_clock_beyond_the_skew_is_refused() -> None:
    assert refused_field(plan(occurred_at=(NOW + timedelta(minutes=6)).isoformat())) == "occurred_at"
    # relative to the clock the service has (followup's demo clock moved ahead)
    moved = NOW + timedelta(days=60)
    check(plan(occurred_at=moved.isoformat(), next_review="2027-02-01"), moved, TimeBounds())
    assert refused_field(plan(occurred_at=NOW.isoformat()), now=moved) == "occurred_at"


def test_a_date_is_bounded_by_1900_and_the_years_ahead_of_business_time() -> None:
    assert refused_field(plan(next_review="9999-12-31")) == "next_review"
    assert refused_field(plan(valid_until="1899-12-31")) == "valid_until"
    check(plan(valid_until=EARLIEST_DATE.isoformat()), NOW, TimeBounds())
    check(plan(next_review="2036-11-24"), NOW, TimeBounds())
    assert refused_field(plan(next_review="2036-11-25")) == "next_review"
    # ten years after a backdated business time
    assert refused_field(plan(occurred_at=(NOW - timedelta(days=20)).isoformat(), next_review="2036-11-20")) == "next_review"


def test_ten_years_after_29_february_is_28_february() -> None:
    leap = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    check(plan(occurred_at=leap.isoformat(), next_review="2038-02-28"), leap, TimeBounds())
    assert refused_field(plan(occurred_at=leap.isoformat(), next_review="2038-03-01"), now=leap) == "next_review"


def test_every_date_of_a_command_is_found_with_its_path() -> None:
    meeting = msgspec.convert(
        {"relationship_id": str(uuid.uuid4()), "actor": SW1, "kind": "first_meeting", "channel": "phone",
         "scheduled_for": "9999-12-31T23:00:00-05:00"},
        cmd.ScheduleMeeting, strict=False,
    )
    assert [path for path, _ in dates(meeting)] == ["scheduled_for"]
    assert refused_field(meeting) == "scheduled_for"
    nested = {"a": [{"b": date(2026, 1, 1)}], "c": "2026-01-01"}
    assert list(dates(nested, "x")) == [("x.a[0].b", date(2026, 1, 1))]


def test_the_bounds_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POLKU_BACKDATE_MAX_DAYS", "POLKU_FUTURE_SKEW_MINUTES", "POLKU_DATE_MAX_YEARS_AHEAD"):
        monkeypatch.delenv(name, raising=False)
    assert TimeBounds.from_env() == TimeBounds(31, 5, 10)
    monkeypatch.setenv("POLKU_BACKDATE_MAX_DAYS", "7")
    monkeypatch.setenv("POLKU_FUTURE_SKEW_MINUTES", "0")
    monkeypatch.setenv("POLKU_DATE_MAX_YEARS_AHEAD", "2")
    assert TimeBounds.from_env() == TimeBounds(7, 0, 2)
    monkeypatch.setenv("POLKU_BACKDATE_MAX_DAYS", "-1")
    with pytest.raises(SettingsError, match="POLKU_BACKDATE_MAX_DAYS"):
        TimeBounds.from_env()
