"""Small-cell suppression of what leaves reporting (a placeholder: primary suppression only).

A cell counting more than none but fewer than ``threshold`` is published as ``count: null``
with ``suppressed: true``, and so is a total in that range. Complementary suppression (hiding
one more cell so that a suppressed one cannot be derived from the total) is the full version's.
"""

from __future__ import annotations

from msgspec import structs

from contracts.reporting import Indicator


def _small(count: int | None, threshold: int) -> bool:
    return count is not None and 0 < count < threshold


def suppress(indicators: list[Indicator], threshold: int = 5) -> list[Indicator]:
    out = []
    for indicator in indicators:
        cells = [
            structs.replace(cell, count=None, suppressed=True, median=None, p90=None)
            if _small(cell.count, threshold) else cell
            for cell in indicator.cells
        ]
        if _small(indicator.total, threshold):
            indicator = structs.replace(indicator, total=None, total_suppressed=True)
        out.append(structs.replace(indicator, cells=cells))
    return out
