"""Working days: Monday to Friday, less the Finnish public holidays (``holidays``' FI calendar,
which counts Christmas Eve and Midsummer Eve in, as Finnish offices do)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("FI", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def on_or_after(day: date) -> date:
    """``day`` if it is a working day, else the next working day."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (``n`` ≥ 0; 0: ``day`` moved to a working day)."""
    day = on_or_after(day)
    for _ in range(n):
        day = on_or_after(day + timedelta(days=1))
    return day
