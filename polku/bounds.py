"""Business time and dates in a command, bounded (every service's commands, in the pipeline).

A command's ``occurred_at`` (its business time) may be at most ``POLKU_BACKDATE_MAX_DAYS`` days
before the service's clock and at most ``POLKU_FUTURE_SKEW_MINUTES`` minutes after it: a late
record is allowed, rewriting history is not (a plan dated months back would get round the rule
that its review date lies ahead). Every other date or time in the command (a plan's review date,
a work activity's period, a meeting's time, an absence, a contact attempt's day...) lies between
:data:`EARLIEST_DATE` and ``POLKU_DATE_MAX_YEARS_AHEAD`` years after the business time: a date
like 9999-12-31 is refused here, before any date arithmetic of a service could overflow.

A date out of bounds is refused ``invalid_value`` with the field's path; the message names the
rule and never the value. The bounds are relative to the service's clock (followup's demo clock
where it has been moved).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from polku.commands import CommandRefused
from polku.settings import TimeBounds

#: No date in a command lies before this day.
EARLIEST_DATE = date(1900, 1, 1)

_fields: dict[type, tuple[tuple[str, str], ...]] = {}


class OutOfBounds(CommandRefused):
    code = "invalid_value"


def _names(struct_type: type) -> tuple[tuple[str, str], ...]:
    """A struct's fields: attribute name and name on the wire."""
    names = _fields.get(struct_type)
    if names is None:
        names = tuple((f.name, f.encode_name) for f in msgspec.structs.fields(struct_type))
        _fields[struct_type] = names
    return names


def dates(value: Any, path: str | None = None) -> Iterator[tuple[str, date]]:
    """Every date and datetime in a decoded command, with its path (``a.b[0].c``)."""
    if isinstance(value, date):  # a datetime is a date too
        yield path or "body", value
    elif isinstance(value, msgspec.Struct):
        for name, wire in _names(type(value)):
            yield from dates(getattr(value, name), f"{path}.{wire}" if path else wire)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from dates(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from dates(item, f"{path}.{key}")


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def check(command: Any, now: datetime, bounds: TimeBounds) -> None:
    """Refuse (:class:`OutOfBounds`) a command whose business time or a date of which lies
    outside ``bounds`` relative to ``now`` (the service's clock)."""
    occurred = getattr(command, "occurred_at", None)
    if occurred is not None:
        if occurred < now - timedelta(days=bounds.backdate_max_days):
            raise OutOfBounds(
                f"`occurred_at` is more than {bounds.backdate_max_days} days in the past: a command is "
                "recorded at most that late (POLKU_BACKDATE_MAX_DAYS)",
                "occurred_at",
            )
        if occurred > now + timedelta(minutes=bounds.future_skew_minutes):
            raise OutOfBounds(
                f"`occurred_at` is more than {bounds.future_skew_minutes} minutes in the future "
                "(POLKU_FUTURE_SKEW_MINUTES): business time is not ahead of the service's clock",
                "occurred_at",
            )
    business = (occurred or now).date()
    latest = _years_after(business, bounds.date_years_ahead)
    for path, value in dates(command):
        if path == "occurred_at":
            continue
        day = value.date() if isinstance(value, datetime) else value
        if not EARLIEST_DATE <= day <= latest:
            raise OutOfBounds(
                f"`{path}` must lie between {EARLIEST_DATE.isoformat()} and {bounds.date_years_ahead} years "
                "after the command's business time (POLKU_DATE_MAX_YEARS_AHEAD)",
                path,
            )
