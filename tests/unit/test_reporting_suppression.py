"""Small-cell suppression of reporting's indicators (services/reporting/suppression.py).

Hand-written cases for each rule, then property tests: random partitions suppressed and audited
exactly, and the auditor's ranges checked against enumerating every integer filling."""

from __future__ import annotations

import random
from collections.abc import Sequence

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.reporting import INDICATORS, Indicator, IndicatorCell
from services.reporting.suppression import audit, cell_ranges, suppress


# --------------------------------------------------------------------------------- helpers
def one_dim(counts: Sequence[int], name: str = "active_by_nature", dim: str = "nature") -> Indicator:
    cells = [IndicatorCell(key={dim: f"v{i}"}, count=c) for i, c in enumerate(counts)]
    return Indicator(name=name, dimensions=[dim], unit="relationships", cells=cells, total=sum(counts))


def two_dim(rows: Sequence[Sequence[int]]) -> Indicator:
    """meetings_by_motivation: motivation (rows) × outcome (columns)."""
    cells = [
        IndicatorCell(key={"motivation": f"m{r}", "outcome": f"o{c}"}, count=v)
        for r, row in enumerate(rows)
        for c, v in enumerate(row)
    ]
    total = sum(sum(row) for row in rows)
    return Indicator(name="meetings_by_motivation", dimensions=["motivation", "outcome"], unit="meetings", cells=cells, total=total)


def shown(indicator: Indicator) -> list[int | None]:
    return [cell.count for cell in indicator.cells]


def hidden_keys(indicator: Indicator) -> list[dict[str, str]]:
    return sorted((cell.key for cell in indicator.cells if cell.suppressed), key=lambda k: sorted(k.items()))


def hide(original: Indicator, hidden: set[int]) -> Indicator:
    """The original with these cells hidden and nothing else changed (no complementary)."""
    cells = [IndicatorCell(key=c.key, count=None, suppressed=True) if i in hidden else c for i, c in enumerate(original.cells)]
    return msgspec.structs.replace(original, cells=cells)


def only(indicator: Indicator, threshold: int = 5) -> Indicator:
    (out,) = suppress([indicator], threshold)
    assert audit(out, indicator, threshold) == []
    return out


# ------------------------------------------------------------------------------ 1-D cases
def test_one_small_cell_takes_the_smallest_other_nonzero_cell_with_it() -> None:
    out = only(one_dim([2, 20, 10, 0]))
    assert shown(out) == [None, 20, None, 0]
    assert [c.suppressed for c in out.cells] == [True, False, True, False]
    assert out.total == 32 and not out.total_suppressed
    assert cell_ranges(out, one_dim([2, 20, 10, 0])) == {0: (1, 11), 2: (1, 11)}


def test_two_small_cells_adding_up_below_the_threshold_take_a_third() -> None:
    # 1 and 2 hidden alone: a reader knows they add up to 3 and each is ≥ 1
    out = only(one_dim([1, 2, 30, 10]))
    assert shown(out) == [None, None, 30, None]


def test_two_small_cells_adding_up_to_the_threshold_need_no_third() -> None:
    out = only(one_dim([2, 3, 30, 10]))
    assert shown(out) == [None, None, 30, 10]


def test_many_ones_need_more_than_the_threshold_in_their_line() -> None:
    # five hidden cells of 1 add up to 5, and each is ≥ 1: each would be 1
    out = only(one_dim([1, 1, 1, 1, 1, 30, 40]))
    assert shown(out) == [None] * 6 + [40]


def test_a_total_below_the_threshold_is_suppressed_with_every_nonzero_cell() -> None:
    out = only(one_dim([1, 2, 0]))
    assert shown(out) == [None, None, 0]
    assert out.total is None and out.total_suppressed


def test_a_zero_total_is_published() -> None:
    out = only(one_dim([0, 0]))
    assert shown(out) == [0, 0] and out.total == 0 and not out.total_suppressed


def test_an_indicator_without_dimensions_is_its_total() -> None:
    small = Indicator(name="disappeared", dimensions=[], unit="clients", cells=[IndicatorCell(key={}, count=3, median=40.0)], total=3)
    out = only(small)
    assert out.cells[0].count is None and out.cells[0].median is None and out.total_suppressed
    big = msgspec.structs.replace(small, cells=[msgspec.structs.replace(small.cells[0], count=7)], total=7)
    assert only(big) == big


def test_a_cell_counting_the_threshold_is_published() -> None:
    assert shown(only(one_dim([5, 30]))) == [5, 30]


# ------------------------------------------------------------------------------ 2-D cases
def test_meetings_by_motivation_hides_a_rectangle() -> None:
    # held / missed / cancelled by three motivations; one small cell at (m0, o0)
    original = two_dim([[2, 10, 10], [10, 10, 10], [10, 10, 10]])
    out = only(original)
    # its row and its column each take one cell, and the cell where they cross closes the
    # rectangle (ties by key order: o1 before o2, m1 before m2)
    assert shown(out) == [None, None, 10, None, None, 10, 10, 10, 10]
    assert out.total == 82
    ranges = cell_ranges(out, original)
    assert all(high is not None and low < high for low, high in ranges.values())


def test_a_cycle_that_satisfies_every_line_rule_but_pins_its_cells_is_caught_by_the_audit() -> None:
    # The line rules hide the six cells of a cycle: (m0,o0)=6 (m0,o2)=4 (m1,o0)=1 (m1,o1)=20
    # (m2,o1)=5 (m2,o2)=1. Each line then holds two hidden cells adding up to ≥ 5, yet moving
    # one unit round the cycle would take a 1 to 0 in either direction: every cell is pinned.
    original = two_dim([[6, 8, 4], [1, 20, 0], [12, 5, 1]])
    line_rules_only = hide(original, {0, 2, 3, 4, 7, 8})
    problems = audit(line_rules_only, original)
    assert len(problems) == 6 and all("can be worked out" in p for p in problems)
    out = only(original)
    assert shown(out) == [None, None, None, None, None, 0, 12, None, None]


def test_a_small_line_sum_suppresses_the_whole_table() -> None:
    # the row m0 adds up to 3: a reader who knows the row sums knows (m0, o0) is 3
    out = only(two_dim([[3, 0], [10, 20], [30, 40]]))
    assert out.total_suppressed and out.total is None
    assert shown(out) == [None, 0, None, None, None, None]


def test_a_cell_alone_in_its_line_is_not_taken_as_complementary() -> None:
    # (m1, o0)=6 is the only nonzero cell of row m1: its row sum shows it, so hiding it would
    # protect nothing; the column's other cells are taken instead
    original = two_dim([[2, 7, 30], [6, 0, 0], [8, 9, 30]])
    out = only(original)
    assert out.cells[3].count == 6
    assert not out.total_suppressed


# --------------------------------------------------------------------- other indicator kinds
def test_a_non_partition_indicator_gets_primary_suppression_only_and_no_total() -> None:
    waiting = Indicator(
        name="waiting",
        dimensions=["step"],
        unit="referrals",
        measure="days",
        cells=[
            IndicatorCell(key={"step": "screened"}, count=3, median=2.0, p90=6.0),
            IndicatorCell(key={"step": "triaged"}, count=12, median=4.0, p90=9.0),
            IndicatorCell(key={"step": "routed"}, count=0),
        ],
    )
    out = only(waiting)
    assert shown(out) == [None, 12, 0]
    assert out.total is None and not out.total_suppressed
    assert out.cells[0].median is None and out.cells[0].p90 is None
    assert out.cells[1].median == 4.0 and out.cells[1].p90 == 9.0


def test_medians_go_with_their_hidden_counts_and_stay_with_published_ones() -> None:
    urgent = Indicator(
        name="urgent_needs",
        dimensions=["assessed"],
        unit="referrals",
        measure="hours",
        cells=[
            IndicatorCell(key={"assessed": "yes"}, count=4, median=5.0, p90=20.0),
            IndicatorCell(key={"assessed": "no"}, count=9, median=30.0, p90=70.0),
            IndicatorCell(key={"assessed": "late"}, count=11, median=80.0, p90=90.0),
        ],
        total=24,
    )
    out = only(urgent)
    assert [(c.count, c.median, c.p90) for c in out.cells] == [(None, None, None), (None, None, None), (11, 80.0, 90.0)]


def test_per_worker_caseloads_are_suppressed_like_any_partition() -> None:
    caseload = Indicator(
        name="caseload_by_worker",
        dimensions=["worker"],
        unit="relationships",
        cells=[
            IndicatorCell(key={"worker": "w1"}, count=3, capacity=30),
            IndicatorCell(key={"worker": "w2"}, count=25, capacity=30),
            IndicatorCell(key={"worker": "w3"}, count=28, capacity=30),
        ],
        total=56,
    )
    out = only(caseload)
    assert shown(out) == [None, None, 28]
    assert [c.capacity for c in out.cells] == [30, 30, 30]


def test_the_threshold_is_the_callers() -> None:
    original = one_dim([3, 7, 40])
    assert shown(only(original, threshold=3)) == [3, 7, 40]
    assert shown(only(original, threshold=5)) == [None, None, 40]
    assert shown(only(original, threshold=10)) == [None, None, 40]  # 3 + 7 reaches 10
    assert shown(only(original, threshold=12)) == [None, None, None]  # 3 + 7 does not reach 12
    with pytest.raises(ValueError):
        suppress([original], threshold=1)


def test_an_indicator_unknown_to_the_catalogue_is_refused() -> None:
    with pytest.raises(ValueError):
        suppress([one_dim([1, 9], name="no_such_indicator")])


def test_a_total_that_is_not_the_cells_sum_is_refused() -> None:
    with pytest.raises(ValueError):
        suppress([msgspec.structs.replace(one_dim([6, 9]), total=14)])


def test_the_audit_catches_primary_suppression_alone() -> None:
    original = one_dim([2, 20, 10])
    naive = hide(original, {0})
    assert audit(naive, original) == ["active_by_nature cell 0 {'nature': 'v0'} can be worked out: it is 2"]
    assert any("below the threshold" in p for p in audit(original, original))


def test_the_audit_catches_a_small_line_sum_and_a_hidden_zero() -> None:
    original = two_dim([[3, 0], [10, 20], [30, 40]])
    problems = audit(hide(original, {0, 2, 4}), original)
    assert any("adds up to 3, below the threshold" in p for p in problems)
    original = one_dim([0, 20, 30])
    problems = audit(hide(original, {0, 1, 2}), original)
    assert problems == ["active_by_nature cell 0 {'nature': 'v0'} hides a zero: readers are told hidden cells are at least 1"]
    assert cell_ranges(hide(original, {0, 1, 2}), original) == {0: (0, 50), 1: (0, 50), 2: (0, 50)}


# ----------------------------------------------------------------------------- determinism
def test_the_same_input_gives_the_same_output_and_leaves_the_input_alone() -> None:
    original = two_dim([[2, 8, 0, 3], [5, 2, 4, 8], [12, 6, 6, 8], [1, 20, 12, 6]])
    before = original
    first = suppress([original, one_dim([1, 2, 30, 10])])
    second = suppress([original, one_dim([1, 2, 30, 10])])
    assert first == second
    assert original == before and original.cells[0].count == 2


def test_the_cells_order_does_not_change_what_is_hidden() -> None:
    original = two_dim([[2, 8, 0, 3], [5, 2, 4, 8], [12, 6, 6, 8], [1, 20, 12, 6]])
    (out,) = suppress([original])
    shuffled_cells = list(original.cells)
    random.Random(7).shuffle(shuffled_cells)
    (again,) = suppress([msgspec.structs.replace(original, cells=shuffled_cells)])
    assert hidden_keys(again) == hidden_keys(out)


# ------------------------------------------------------------------------ property tests
counts = st.one_of(st.just(0), st.integers(1, 4), st.integers(5, 30))


@st.composite
def partition_tables(draw: st.DrawFn) -> Indicator:
    if draw(st.booleans()):
        return one_dim(draw(st.lists(counts, min_size=1, max_size=8)))
    rows, columns = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    return two_dim(draw(st.lists(st.lists(counts, min_size=columns, max_size=columns), min_size=rows, max_size=rows)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=partition_tables(), threshold=st.integers(2, 10))
def test_suppressed_tables_protect_every_hidden_cell(table: Indicator, threshold: int) -> None:
    (out,) = suppress([table], threshold)
    # nothing small is shown
    assert all(not (c.count is not None and 0 < c.count < threshold) for c in out.cells)
    assert out.total is None or not 0 < out.total < threshold
    # the exact audit finds no hidden cell a reader could work out
    assert audit(out, table, threshold) == []
    # the same input, the same snapshot
    assert suppress([table], threshold) == [out]
    # what is shown is true, and each hidden cell's range holds its count
    ranges = cell_ranges(out, table)
    for i, (shown_cell, exact) in enumerate(zip(out.cells, table.cells, strict=True)):
        if shown_cell.suppressed:
            low, high = ranges[i]
            assert exact.count is not None and low <= exact.count and (high is None or exact.count <= high)
            assert high is None or low < high
        else:
            assert shown_cell.count == exact.count
    if not out.total_suppressed:
        assert out.total == table.total


def three_dim(cube: Sequence[Sequence[Sequence[int]]]) -> Indicator:
    """equal_treatment (team × quadrant × path), as if it were a partition (see ``CUBE_SPECS``)."""
    cells = [
        IndicatorCell(key={"team": f"t{a}", "quadrant": f"q{b}", "path": f"p{c}"}, count=v)
        for a, plane in enumerate(cube)
        for b, row in enumerate(plane)
        for c, v in enumerate(row)
    ]
    total = sum(v for plane in cube for row in plane for v in row)
    return Indicator(name="equal_treatment", dimensions=["team", "quadrant", "path"], unit="referrals", cells=cells, total=total)


#: The catalogue with equal_treatment made a partition: no partition of three dimensions is in
#: the catalogue, and this one exercises the auditor where its simplex can stop at a fraction.
CUBE_SPECS = {**INDICATORS, "equal_treatment": msgspec.structs.replace(INDICATORS["equal_treatment"], partition=True)}


def brute_force_ranges(indicator: Indicator, hidden: set[int]) -> dict[int, tuple[int, int]]:
    """Every integer filling of the hidden cells (each ≥ 1) that keeps the total and every line
    sum (the cells sharing all keys but one), found by enumeration."""
    counts = [cell.count or 0 for cell in indicator.cells]
    dims = indicator.dimensions
    lines: list[list[int]] = [list(range(len(counts)))]
    for d in dims:
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, cell in enumerate(indicator.cells):
            groups.setdefault(tuple(cell.key[e] for e in dims if e != d), []).append(i)
        lines += groups.values()
    order = sorted(hidden)
    hidden_lines = [[i for i in line if i in hidden] for line in lines]
    left = [sum(counts[i] for i in line) for line in hidden_lines]  # what the hidden cells add up to
    unfilled = [len(line) for line in hidden_lines]
    through = {i: [n for n, line in enumerate(hidden_lines) if i in line] for i in order}
    seen: dict[int, set[int]] = {i: set() for i in order}
    values: list[int] = []

    def fill(k: int) -> None:
        if k == len(order):
            for i, v in zip(order, values, strict=True):
                seen[i].add(v)
            return
        mine = through[order[k]]
        for n in mine:
            unfilled[n] -= 1
        for v in range(1, min((left[n] for n in mine), default=1) + 1):
            # each line keeps at least 1 for each of its unfilled cells, and exactly 0 at the end
            if all(left[n] - v >= unfilled[n] and (unfilled[n] or left[n] == v) for n in mine):
                for n in mine:
                    left[n] -= v
                values.append(v)
                fill(k + 1)
                values.pop()
                for n in mine:
                    left[n] += v
        for n in mine:
            unfilled[n] += 1

    fill(0)
    return {i: (min(s), max(s)) for i, s in seen.items()}


@settings(max_examples=300, deadline=None)
@given(
    rows=st.integers(1, 3).flatmap(
        lambda w: st.lists(st.lists(st.integers(0, 6), min_size=w, max_size=w), min_size=1, max_size=3)
    ),
    picks=st.lists(st.booleans(), min_size=9, max_size=9),
)
def test_the_auditors_ranges_are_those_of_every_integer_filling(rows: list[list[int]], picks: list[bool]) -> None:
    """The auditor's simplex against brute force, on any choice of hidden nonzero cells."""
    original = two_dim(rows)
    hidden = {i for i, cell in enumerate(original.cells) if cell.count and picks[i]}
    assert cell_ranges(hide(original, hidden), original) == brute_force_ranges(original, hidden)


@settings(max_examples=200, deadline=None)
@given(
    cube=st.lists(st.lists(st.lists(st.integers(0, 5), min_size=2, max_size=2), min_size=2, max_size=2), min_size=2, max_size=3),
    picks=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_the_auditor_is_exact_in_three_dimensions_too(cube: list[list[list[int]]], picks: list[bool]) -> None:
    """Three-way tables are where the simplex may stop at a fractional vertex; branch and bound
    must still give the integer ranges."""
    original = three_dim(cube)
    hidden = {i for i, cell in enumerate(original.cells) if cell.count and picks[i]}
    assert cell_ranges(hide(original, hidden), original, specs=CUBE_SPECS) == brute_force_ranges(original, hidden)


def test_a_fractional_vertex_in_three_dimensions_is_branched_on() -> None:
    """A 3×3×3 table hidden whole, one 2 and two 1s in every line (a Latin square of 2s): the
    simplex stops at a fractional vertex on the way, and branch and bound still finds that
    each cell is 1 or 2, as enumeration does."""
    cube = [[[2 if c == (a + b) % 3 else 1 for c in range(3)] for b in range(3)] for a in range(3)]
    original = three_dim(cube)
    ranges = cell_ranges(hide(original, set(range(27))), original, specs=CUBE_SPECS)
    assert ranges == brute_force_ranges(original, set(range(27))) == {i: (1, 2) for i in range(27)}


@settings(max_examples=100, deadline=None)
@given(
    cube=st.integers(2, 3).flatmap(
        lambda w: st.lists(st.lists(st.lists(counts, min_size=w, max_size=w), min_size=2, max_size=2), min_size=2, max_size=3)
    )
)
def test_three_way_partitions_are_protected_too(cube: list[list[list[int]]]) -> None:
    original = three_dim(cube)
    (out,) = suppress([original], specs=CUBE_SPECS)
    assert audit(out, original, specs=CUBE_SPECS) == []
    hidden = {i for i, cell in enumerate(out.cells) if cell.suppressed}
    if not out.total_suppressed and len(hidden) <= 8:
        assert all(low < high for low, high in brute_force_ranges(original, hidden).values())
