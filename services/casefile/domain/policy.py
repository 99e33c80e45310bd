"""Casefile's policy values (the bounds the law and the Aava model give, configurable), and the
rules of the law that are not configurable: who may be the own worker of a client with special
support need, and why an own worker is named."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date


SOCIAL_WORKER = "social_worker"
OWN_WORKER_REASONS = ("initial", "support_need_changed", "competence", "absence", "clients_request")

#: Each instrument's scale: the least and the greatest score of an item. The seeds name the
#: instruments (Kykyviisari, AVAIN) but not their scales, so these are stated assumptions:
#: Kykyviisari scores each of its areas 0-10 (THL's form: 0 worst, 10 best); AVAIN's statements
#: on a five-point scale, 1-5; an instrument Polku does not know (``other``) 0-100, room for a
#: percentage or a sum of items. A score outside its scale is refused ``invalid_value``.
SCORE_SCALES: dict[str, tuple[int, int]] = {"kykyviisari": (0, 10), "avain": (1, 5), "other": (0, 100)}


def qualifies_for_special_support(role: str | None, work_pair_role: str | None) -> bool:
    """SHL 42 §: a social worker, or a social counsellor with a social worker as work pair."""
    return role == SOCIAL_WORKER or (role == "social_counsellor" and work_pair_role == SOCIAL_WORKER)


@dataclass(frozen=True)
class Policy:
    """Policy values (configuration, ``POLKU_*``), with the defaults the Aava model cites."""

    activation_min_options: int = 2
    work_activity_min_months: int = 3
    work_activity_max_months: int = 12
    work_activity_min_days: int = 1
    work_activity_max_days: int = 5
    work_activity_min_hours: float = 4.0
    familiarisation_max_days: int = 14
    check_in_after_days: int = 30
    #: the activity allowance (*toimintaraha*) a realised day, in cents: €9 as seed 003 cites
    #: KTTL; due by a granted ``activity_allowance`` decision
    activity_allowance_cents: int = 900
    #: travel compensation a realised day, in cents, by a granted ``travel_compensation``
    #: decision. Seed 003 says the worker decides on it with the activity allowance but names no
    #: amount. Assumption: a flat amount for each realised day (travel happens on the days the
    #: client attends; the unit's own rate, e.g. a return ticket), 0 until a unit configures it,
    #: so that no amount is made up; the month's ``travel_days`` are counted either way.
    travel_compensation_cents: int = 0
    #: the end reasons after which no one-month check-in is due (``POLKU_NO_CHECK_IN_REASONS``):
    #: by default only a client who died. Seed 003 contacts every client a month after the end,
    #: and nothing in the seeds skips it for a move (the worker calls the client's number).
    no_check_in_reasons: tuple[str, ...] = ("died",)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
