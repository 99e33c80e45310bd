"""A hand-built indicators reply for the report's tests: every indicator of the catalogue, with
a small count, a zero and a two-dimensional one among them (no stack needed)."""

from __future__ import annotations

import itertools
from datetime import date

from contracts.reporting import INDICATORS, Indicator, IndicatorCell, IndicatorsReply
from polku.report_labels import VALUE_LABELS

#: worker ids the per-worker indicator carries: the report must show none of them
WORKER_IDS = ("sw-017", "sc-023", "sw-031")

#: the cells the tests look at: (indicator, key) → count
KNOWN: dict[str, dict[str, int]] = {
    # a small count (3), a zero and larger ones
    "active_by_nature": {"temporary": 42, "recurring": 3, "continuous": 0, "not_determined": 17},
    # no small count: nothing is hidden, the zero stays a zero
    "meetings": {"held": 30, "missed": 0},
    "ends_by_reason": {"goal_reached": 12, "no_service_need": 9, "transferred_to_work": 6, "moved": 2},
}

PERIOD_FROM = date(2026, 1, 1)
PERIOD_TO = date(2026, 6, 30)


def _values(dimension: str, n: int) -> list[str]:
    return list(VALUE_LABELS.get(dimension, {"x": ("x", "x"), "y": ("y", "y")}))[:n]


def _cells(name: str, dimensions: tuple[str, ...], measure: str | None) -> list[IndicatorCell]:
    counts = itertools.cycle([14, 8, 21, 6, 11, 35])
    if name in KNOWN:
        (dim,) = dimensions
        return [IndicatorCell(key={dim: v}, count=c) for v, c in KNOWN[name].items()]
    if name == "caseload_by_worker":
        return [IndicatorCell(key={"worker": w}, count=c, capacity=40) for w, c in zip(WORKER_IDS, (31, 2, 36))]
    if name == "caseload_by_group":
        return [
            IndicatorCell(key={"role": "social_worker"}, count=67, capacity=80),
            IndicatorCell(key={"role": "social_counsellor"}, count=91, capacity=100),
        ]
    if name == "special_support_without_social_worker":
        return [IndicatorCell(key={}, count=0)]
    if not dimensions:
        return [IndicatorCell(key={}, count=next(counts), median=12.0 if measure else None, p90=40.5 if measure else None)]
    if name == "equal_treatment":
        keys = [{"team": t, "quadrant": q, "path": p} for t in ("team-north", "team-south")
                for q in ("A", "C") for p in ("routed_social_worker", "routed_social_counsellor", "assessed")]
    elif name == "meetings_by_motivation":
        keys = [{"motivation": m, "outcome": o} for m in ("motivated", "ambivalent", "not_motivated") for o in ("held", "missed")]
    elif len(dimensions) == 2:
        keys = [dict(zip(dimensions, pair)) for pair in itertools.product(_values(dimensions[0], 3), _values(dimensions[1], 2))]
    else:
        keys = [{dimensions[0]: v} for v in _values(dimensions[0], 4)]
    cells = []
    for i, key in enumerate(keys):
        count = next(counts)
        if measure:
            cells.append(IndicatorCell(key=key, count=count, median=2.5 + i, p90=9.0 + 2 * i))
        else:
            cells.append(IndicatorCell(key=key, count=count))
    return cells


def sample_reply(team: str | None = None) -> IndicatorsReply:
    indicators = []
    for spec in INDICATORS.values():
        cells = _cells(spec.name, spec.dimensions, spec.measure)
        total = sum(c.count or 0 for c in cells) if spec.partition else None
        indicators.append(Indicator(
            name=spec.name, dimensions=list(spec.dimensions), unit=spec.unit, cells=cells, total=total,
            measure=spec.measure,
        ))
    return IndicatorsReply(
        team=team, period_from=PERIOD_FROM, period_to=PERIOD_TO, indicators=indicators,
        positions={"INTAKE": 739, "CASEFILE": 278, "FOLLOWUP": 51},
    )
