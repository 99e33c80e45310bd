"""Followup's working days: Finnish public holidays from the ``holidays`` FI calendar."""

from __future__ import annotations

from datetime import date

from services.followup import workdays


def test_a_check_in_due_on_christmas_eve_2026_moves_to_28_december() -> None:
    # 24-26 December are holidays, 27 is a Sunday
    assert workdays.on_or_after(date(2026, 12, 24)) == date(2026, 12, 28)


def test_a_working_day_stays() -> None:
    assert workdays.on_or_after(date(2026, 12, 23)) == date(2026, 12, 23)


def test_a_deadline_across_easter_2027_counts_good_friday_and_easter_monday_out() -> None:
    assert not workdays.is_working_day(date(2027, 3, 26))  # Good Friday
    assert not workdays.is_working_day(date(2027, 3, 29))  # Easter Monday
    # from Thursday 25 March, 1 working day: Tuesday 30 March; 3: Thursday 1 April
    assert workdays.add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)
    assert workdays.add_working_days(date(2027, 3, 25), 3) == date(2027, 4, 1)
    assert workdays.on_or_after(date(2027, 3, 26)) == date(2027, 3, 30)
