"""Small-cell suppression of reporting's indicators (PLACEHOLDER: primary suppression only).

This minimal version lets ``polku report`` (polku/report.py) be written and tested before
reporting's own suppression lands; that version, with complementary suppression (hiding other
cells so that a small count cannot be worked out from the total and the rest), replaces this
file.

Primary suppression: a count from 1 to ``threshold - 1`` becomes ``count=None,
suppressed=True``; so does such a total. Zeros stay. A cell already suppressed stays so.
"""

from __future__ import annotations

import msgspec

from contracts.reporting import Indicator, IndicatorCell


def _small(count: int | None, threshold: int) -> bool:
    return count is not None and 0 < count < threshold


def _cell(cell: IndicatorCell, threshold: int) -> IndicatorCell:
    if not _small(cell.count, threshold):
        return cell
    # median and p90 of fewer than ``threshold`` things could name one person's value
    return msgspec.structs.replace(cell, count=None, suppressed=True, median=None, p90=None)


def suppress(indicators: list[Indicator], threshold: int = 5) -> list[Indicator]:
    """The indicators with their small counts (1 .. threshold-1) suppressed."""
    if threshold < 2:
        raise ValueError("the suppression threshold is at least 2")
    out: list[Indicator] = []
    for indicator in indicators:
        cells = [_cell(c, threshold) for c in indicator.cells]
        total, total_suppressed = indicator.total, indicator.total_suppressed
        if _small(total, threshold):
            total, total_suppressed = None, True
        out.append(msgspec.structs.replace(indicator, cells=cells, total=total, total_suppressed=total_suppressed))
    return out
