"""Small-cell suppression of reporting's indicators before they leave the service.

This is the standard primary and complementary cell suppression used in official statistics
(statistical disclosure control of tables, as in Statistics Finland's and Eurostat's practice
and the tau-ARGUS tool): a count of fewer than ``threshold`` people is never published, and
enough other cells are hidden with it that no hidden count can be worked out from what is
published.

The rules, for one indicator:

* **Primary suppression.** A cell counting 1 .. threshold-1 is published as ``count=None,
  suppressed=True``. A zero is published as 0: it says nothing about anyone. So every hidden cell
  is at least 1, and the checks below assume the reader knows that.
* **Medians.** A hidden cell's ``median`` and ``p90`` are hidden too: a median of a handful of
  things is close to one person's value, and a median next to a hidden count would hint at it.
* **Non-partition indicators** (one thing may be counted in several cells, ``partition=False``
  in the catalogue) have no linear relation between their cells: primary suppression only, and
  no total is published.
* **Partition indicators** (disjoint cells adding up to the published total). A reader knows
  the total and, conservatively, every *line sum* (in a 2-D table the row and column sums, as
  if the margins were published; in n-D the sum along each dimension with the others fixed).
  A line's hidden cells add up to its sum minus its published cells, so:

  - a line holds zero hidden cells or at least two;
  - the hidden cells of a line add up to at least ``threshold`` (two hidden ones of 1 each in a
    line whose hidden part is 2 are each 1), and to more than their number (each is ≥ 1);
  - complementary cells are chosen deterministically: the smallest nonzero published cells of
    the line, ties by the cells' keys, so that a rebuild publishes the same snapshot. A cell
    that is the only nonzero cell of some line is never chosen: that line's sum shows it;
  - the line rules are not enough in 2-D (hidden cells of a rectangle can still be pinned by
    the rows and columns crossing them), so an exact auditor (:func:`cell_ranges`) computes
    each hidden cell's smallest and largest value consistent with everything published, and
    the suppression adds complementary cells until no hidden cell is pinned to one value;
  - if the total, or any line sum, is 1 .. threshold-1, or the table cannot be protected at
    all, the total is suppressed (``total=None, total_suppressed=True``) and every nonzero cell
    with it; no line sum is then taken as known.

The auditor solves, for each hidden cell, two small linear programmes (minimise and maximise
the cell subject to the line sums, every hidden cell ≥ 1) by an exact simplex over fractions.
The line constraints of a table of one or two dimensions form a totally unimodular system, so
the bounds found are the exact integer bounds; for three dimensions or more (no such partition
indicator is in the catalogue yet) a branch and bound over the same simplex makes them exact.

The threshold is the caller's: the service reads the setting ``POLKU_SUPPRESSION_THRESHOLD``
(default 5) and passes it here; this module reads no environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import ceil, floor

import msgspec

from contracts.reporting import INDICATORS, Indicator, IndicatorCell, IndicatorSpec

DEFAULT_THRESHOLD = 5

#: A cell's feasible range: the smallest and the largest value (None: no upper bound).
Range = tuple[int, int | None]


# ------------------------------------------------------------------------------ public API
def suppress(
    indicators: list[Indicator],
    threshold: int = DEFAULT_THRESHOLD,
    *,
    specs: Mapping[str, IndicatorSpec] = INDICATORS,
) -> list[Indicator]:
    """The indicators as they may be published: new structs, the inputs are left as they are.

    ``indicators`` carry exact counts. ``specs`` says which indicators partition their total
    (the catalogue unless a test says otherwise). Per-worker indicators are suppressed like any
    partition; whether to publish them is the caller's decision."""
    _check_threshold(threshold)
    return [_suppress_one(indicator, threshold, _is_partition(indicator, specs)) for indicator in indicators]


def cell_ranges(
    published: Indicator,
    original: Indicator,
    *,
    specs: Mapping[str, IndicatorSpec] = INDICATORS,
) -> dict[int, Range]:
    """What a reader can tell about each hidden cell (by its index in ``cells``): the smallest
    and largest count consistent with the published cells, the published total and, for a
    partition whose total is published, every line sum (taken from ``original``, as if the
    margins were published). Every hidden cell is taken to be ≥ 1, since zeros are published;
    where a zero was hidden all the same, ≥ 0."""
    hidden = [i for i, cell in enumerate(published.cells) if cell.suppressed]
    if not hidden:
        return {}
    counts = _counts(original)
    least = 1 if all(counts[i] > 0 for i in hidden) else 0
    if not _is_partition(published, specs) or published.total_suppressed or published.total is None:
        return {i: (least, None) for i in hidden}
    lines = _lines(original, _ranks(original))
    return dict(zip(hidden, _hidden_ranges(hidden, counts, lines, least), strict=True))


def audit(
    published: Indicator,
    original: Indicator,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    specs: Mapping[str, IndicatorSpec] = INDICATORS,
) -> list[str]:
    """The problems of a published indicator against its exact original; empty when it may be
    published. Checks that no count of 1 .. threshold-1 is shown, that what is shown is true,
    that hidden cells show no median, and, exactly, that no hidden cell can be worked out."""
    _check_threshold(threshold)
    problems = _shape_problems(published, original)
    if problems:
        return problems
    partition = _is_partition(published, specs)
    problems += _total_problems(published, original, threshold, partition)
    if partition and published.total is not None:
        problems += _line_problems(original, threshold)
    for i, (cell, exact) in enumerate(zip(published.cells, original.cells, strict=True)):
        problems += _cell_problems(published.name, i, cell, exact, threshold)
    for i, (low, high) in cell_ranges(published, original, specs=specs).items():
        name = f"{published.name} cell {i} {published.cells[i].key}"
        exact = original.cells[i].count or 0
        if high is not None and low >= high:
            problems.append(f"{name} can be worked out: it is {low}")
        if exact < low or (high is not None and exact > high):
            problems.append(f"{name} is {exact}, outside its range {low} .. {high}")
    return problems


# ---------------------------------------------------------------------------- one indicator
def _check_threshold(threshold: int) -> None:
    if threshold < 2:
        raise ValueError(f"a suppression threshold is at least 2, not {threshold}")


def _is_partition(indicator: Indicator, specs: Mapping[str, IndicatorSpec]) -> bool:
    """From the catalogue: an indicator unknown to it is a bug, not something to guess about."""
    spec = specs.get(indicator.name)
    if spec is None:
        raise ValueError(f"no indicator {indicator.name!r} in the catalogue")
    return spec.partition


def _suppress_one(indicator: Indicator, threshold: int, partition: bool) -> Indicator:
    counts = _counts(indicator)
    primary = {i for i, count in enumerate(counts) if 0 < count < threshold}
    if not partition:
        return _publish(indicator, primary, total=None)
    total = sum(counts)
    if indicator.total is not None and indicator.total != total:
        raise ValueError(f"{indicator.name}: the cells add up to {total}, the total says {indicator.total}")
    ranks = _ranks(indicator)
    lines = _lines(indicator, ranks)
    if any(0 < sum(counts[i] for i in line) < threshold for line in lines) or 0 < total < threshold:
        return _hide_all(indicator, counts)
    hidden = _protect(counts, lines, ranks, primary, threshold)
    if hidden is None:
        return _hide_all(indicator, counts)
    return _publish(indicator, hidden, total=total)


def _counts(indicator: Indicator) -> list[int]:
    """The exact counts; suppression starts from an exact answer, never from a published one."""
    counts = []
    for cell in indicator.cells:
        if cell.count is None or cell.suppressed or cell.count < 0:
            raise ValueError(f"{indicator.name}: suppression needs exact counts, not {cell}")
        counts.append(cell.count)
    return counts


def _ranks(indicator: Indicator) -> list[int]:
    """Each cell's place in the order of the keys: every tie is broken by it, so the outcome
    does not depend on the order the cells came in."""
    dims = indicator.dimensions

    def key(i: int) -> tuple[tuple[str, ...], int]:
        cell = indicator.cells[i]
        return tuple(cell.key.get(d, "") for d in dims), i

    order = sorted(range(len(indicator.cells)), key=key)
    ranks = [0] * len(order)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks


def _lines(indicator: Indicator, ranks: Sequence[int]) -> list[tuple[int, ...]]:
    """The groups of cells whose sums a reader knows: the whole table (its total) and, for each
    dimension, the cells sharing the values of all the other dimensions. Each line lists its
    cells by rank; the lines come in a fixed order."""
    everything = tuple(sorted(range(len(indicator.cells)), key=ranks.__getitem__))
    lines: set[tuple[int, ...]] = {everything} if everything else set()
    dims = indicator.dimensions
    for d in dims:
        groups: dict[tuple[str, ...], list[int]] = {}
        for i in everything:
            key = indicator.cells[i].key
            groups.setdefault(tuple(key.get(e, "") for e in dims if e != d), []).append(i)
        lines.update(tuple(group) for group in groups.values())
    return sorted(lines, key=lambda line: [ranks[i] for i in line])


def _publish(indicator: Indicator, hidden: Iterable[int], total: int | None) -> Indicator:
    hide = set(hidden)
    cells = [_hidden_cell(cell) if i in hide else cell for i, cell in enumerate(indicator.cells)]
    return msgspec.structs.replace(indicator, cells=cells, total=total, total_suppressed=False)


def _hide_all(indicator: Indicator, counts: Sequence[int]) -> Indicator:
    """The table can only be published with its total and every nonzero cell hidden."""
    cells = [_hidden_cell(cell) if count else cell for cell, count in zip(indicator.cells, counts, strict=True)]
    return msgspec.structs.replace(indicator, cells=cells, total=None, total_suppressed=True)


def _hidden_cell(cell: IndicatorCell) -> IndicatorCell:
    return msgspec.structs.replace(cell, count=None, suppressed=True, median=None, p90=None)


# ------------------------------------------------------------------ complementary suppression
def _protect(
    counts: Sequence[int],
    lines: Sequence[tuple[int, ...]],
    ranks: Sequence[int],
    primary: set[int],
    threshold: int,
) -> set[int] | None:
    """The cells to hide in a partition, or None when no choice protects the table.

    First the line rules, then the exact audit: while some hidden cell is pinned to one value,
    hide one more cell of a line through it and apply the line rules again. Each round hides at
    least one more cell, so it ends."""
    hidden = set(primary)
    lines_of = _lines_of(lines, len(counts))
    exposed = _exposed(counts, lines)
    while True:
        if not _close_lines(hidden, counts, lines, ranks, exposed, threshold):
            return None
        pinned = _first_pinned(hidden, counts, lines, ranks)
        if pinned is None:
            return hidden
        around = sorted({i for line in lines_of[pinned] for i in line})
        extra = _smallest(around, hidden, counts, ranks, exposed)
        if extra is None:
            return None
        hidden.add(extra)


def _lines_of(lines: Sequence[tuple[int, ...]], n: int) -> list[list[tuple[int, ...]]]:
    through: list[list[tuple[int, ...]]] = [[] for _ in range(n)]
    for line in lines:
        for i in line:
            through[i].append(line)
    return through


def _exposed(counts: Sequence[int], lines: Sequence[tuple[int, ...]]) -> set[int]:
    """Cells that are the only nonzero cell of some line: that line's sum is their count, so
    hiding them as complementary cells would protect nothing."""
    exposed = set()
    for line in lines:
        nonzero = [i for i in line if counts[i]]
        if len(nonzero) == 1:
            exposed.add(nonzero[0])
    return exposed


def _line_safe(values: Sequence[int], threshold: int) -> bool:
    """A line's hidden cells are safe from its sum alone: none, or at least two adding up to at
    least the threshold and to more than their number (each is known to be ≥ 1)."""
    return not values or (len(values) >= 2 and sum(values) >= threshold and sum(values) > len(values))


def _close_lines(
    hidden: set[int],
    counts: Sequence[int],
    lines: Sequence[tuple[int, ...]],
    ranks: Sequence[int],
    exposed: set[int],
    threshold: int,
) -> bool:
    """Hide complementary cells until every line is safe by :func:`_line_safe`; False when some
    line runs out of cells to hide. A cell hidden for one line may unsettle another, hence the
    repetition until nothing changes."""
    changed = True
    while changed:
        changed = False
        for line in lines:
            while not _line_safe([counts[i] for i in line if i in hidden], threshold):
                extra = _smallest(line, hidden, counts, ranks, exposed)
                if extra is None:
                    return False
                hidden.add(extra)
                changed = True
    return True


def _smallest(
    cells: Iterable[int], hidden: set[int], counts: Sequence[int], ranks: Sequence[int], exposed: set[int]
) -> int | None:
    """The complementary cell to hide: the smallest nonzero published one (the least lost),
    ties by key order."""
    candidates = [i for i in cells if i not in hidden and i not in exposed and counts[i] > 0]
    return min(candidates, key=lambda i: (counts[i], ranks[i]), default=None)


def _first_pinned(
    hidden: set[int], counts: Sequence[int], lines: Sequence[tuple[int, ...]], ranks: Sequence[int]
) -> int | None:
    """The first hidden cell, in key order, whose count a reader could work out."""
    order = sorted(hidden, key=ranks.__getitem__)
    for i, (low, high) in zip(order, _hidden_ranges(order, counts, lines), strict=True):
        if high is not None and low >= high:
            return i
    return None


# ------------------------------------------------------------------------------ the auditor
def _hidden_ranges(
    hidden: Sequence[int], counts: Sequence[int], lines: Sequence[tuple[int, ...]], least: int = 1
) -> list[Range]:
    """Each hidden cell's range, given that each line's hidden cells add up to the line's sum
    minus its published cells, and each hidden cell is an integer ≥ ``least``.

    With x = least + z, z ≥ 0, each line gives one equation over the z of its hidden cells."""
    position = {cell: k for k, cell in enumerate(hidden)}
    rows: list[list[Fraction]] = []
    rhs: list[Fraction] = []
    for line in lines:
        inside = [i for i in line if i in position]
        if not inside:
            continue
        row = [Fraction(0)] * len(hidden)
        for i in inside:
            row[position[i]] = Fraction(1)
        rows.append(row)
        rhs.append(Fraction(sum(counts[i] for i in inside) - least * len(inside)))
    start = _Simplex.feasible(rows, rhs, len(hidden))
    ranges: list[Range] = []
    for k in range(len(hidden)):
        low = _integer_optimum(start, rows, rhs, k, maximise=False)
        high = _integer_optimum(start, rows, rhs, k, maximise=True)
        assert low is not None  # z ≥ 0 bounds every minimum
        ranges.append((least + int(low), None if high is None else least + int(high)))
    return ranges


def _integer_optimum(
    start: _Simplex, a: list[list[Fraction]], b: list[Fraction], k: int, *, maximise: bool
) -> Fraction | None:
    """The least (or greatest) integer z_k over integer points of ``A z = b, z ≥ 0``; None when
    unbounded; :class:`_Infeasible` when there is no integer point.

    The simplex from ``start`` gives the relaxation's optimum. For one or two dimensions its
    vertices are integral (the system is totally unimodular) and that is the answer. Otherwise,
    branch and bound: on the first fractional variable v, the two problems with z_v ≤ ⌊v⌋ and
    z_v ≥ ⌈v⌉, each written as an equation with one more nonnegative slack variable. Every
    hidden cell lies in the whole table's line, so the region is bounded and the search ends."""
    found = start.solve(k, maximise=maximise)
    if found is None:
        return None
    value, point = found
    fractional = next((j for j, v in enumerate(point) if v.denominator != 1), None)
    if fractional is None:
        return value
    n = start.n
    best: Fraction | None = None
    for sign, bound in ((1, floor(point[fractional])), (-1, ceil(point[fractional]))):
        extra = [Fraction(int(j == fractional)) for j in range(n)] + [Fraction(sign)]
        a2 = [row + [Fraction(0)] for row in a] + [extra]
        b2 = [*b, Fraction(bound)]
        try:
            branch = _integer_optimum(_Simplex.feasible(a2, b2, n + 1), a2, b2, k, maximise=maximise)
        except _Infeasible:
            continue
        if branch is None:
            return None
        if best is None or (branch > best if maximise else branch < best):
            best = branch
    if best is None:
        raise _Infeasible
    return best


class _Infeasible(ValueError):
    """No point satisfies the equations: the published numbers contradict the line sums."""


@dataclass
class _Simplex:
    """A tableau of ``A z = b, z ≥ 0`` at a basic feasible solution, in exact fractions.

    Small on purpose: tables have tens of cells. Bland's rule (the lowest index enters, ties in
    the ratio test by the lowest basic index) keeps degenerate pivots from cycling."""

    rows: list[list[Fraction]]  # each row: the coefficients, then the right-hand side
    basis: list[int]
    n: int

    @classmethod
    def feasible(cls, a: list[list[Fraction]], b: list[Fraction], n: int) -> _Simplex:
        """Phase one: artificial variables, minimise their sum, then drive them out of the basis
        (dropping rows that turn out redundant, as a table's row and column sums do)."""
        m = len(a)
        rows = []
        for r in range(m):
            sign = -1 if b[r] < 0 else 1
            artificial = [Fraction(int(r == s)) for s in range(m)]
            rows.append([sign * v for v in a[r]] + artificial + [sign * b[r]])
        tableau = cls(rows, [n + r for r in range(m)], n + m)
        bounded = tableau._run([Fraction(0)] * n + [Fraction(1)] * m)
        assert bounded
        if any(tableau.rows[r][-1] != 0 for r in range(m) if tableau.basis[r] >= n):
            raise _Infeasible("the published numbers contradict the line sums")
        r = 0
        while r < len(tableau.rows):
            if tableau.basis[r] >= n:
                column = next((j for j in range(n) if tableau.rows[r][j] != 0), None)
                if column is None:
                    del tableau.rows[r], tableau.basis[r]
                    continue
                tableau._pivot(r, column)
            r += 1
        return cls([row[:n] + row[-1:] for row in tableau.rows], tableau.basis, n)

    def solve(self, k: int, *, maximise: bool) -> tuple[Fraction, list[Fraction]] | None:
        """The least (or greatest) z_k and the vertex where it is reached; None when z_k has
        no upper bound."""
        copy = _Simplex([row[:] for row in self.rows], self.basis[:], self.n)
        cost = [Fraction(0)] * self.n
        cost[k] = Fraction(-1 if maximise else 1)
        if not copy._run(cost):
            return None
        point = [Fraction(0)] * self.n
        for row, j in zip(copy.rows, copy.basis, strict=True):
            point[j] = row[-1]
        return point[k], point

    def _run(self, cost: Sequence[Fraction]) -> bool:
        """Minimise ``cost · z`` from the current basis; False when unbounded."""
        while True:
            basic = set(self.basis)
            entering = next(
                (
                    j
                    for j in range(self.n)
                    if j not in basic
                    and cost[j] - sum((cost[b] * row[j] for row, b in zip(self.rows, self.basis, strict=True)), Fraction(0)) < 0
                ),
                None,
            )
            if entering is None:
                return True
            leaving: tuple[Fraction, int, int] | None = None
            for r, row in enumerate(self.rows):
                if row[entering] > 0:
                    candidate = (row[-1] / row[entering], self.basis[r], r)
                    if leaving is None or candidate < leaving:
                        leaving = candidate
            if leaving is None:
                return False
            self._pivot(leaving[2], entering)

    def _pivot(self, r: int, j: int) -> None:
        pivot_row = self.rows[r]
        factor = pivot_row[j]
        pivot_row[:] = [v / factor for v in pivot_row]
        for s, row in enumerate(self.rows):
            if s != r and row[j] != 0:
                scale = row[j]
                row[:] = [v - scale * p for v, p in zip(row, pivot_row, strict=True)]
        self.basis[r] = j


# ------------------------------------------------------------------------- audit's checks
def _shape_problems(published: Indicator, original: Indicator) -> list[str]:
    if published.name != original.name:
        return [f"{published.name} is audited against {original.name}"]
    if [c.key for c in published.cells] != [c.key for c in original.cells]:
        return [f"{published.name}: the published cells are not the original's"]
    return []


def _total_problems(published: Indicator, original: Indicator, threshold: int, partition: bool) -> list[str]:
    name = published.name
    if not partition:
        return [f"{name}: a non-partition indicator publishes no total"] if published.total is not None else []
    if published.total_suppressed:
        return [f"{name}: a suppressed total is shown"] if published.total is not None else []
    exact = sum(c.count or 0 for c in original.cells)
    if published.total is None:
        return [f"{name}: the total is neither published nor suppressed"]
    if published.total != exact:
        return [f"{name}: the total is {published.total}, the cells add up to {exact}"]
    if 0 < published.total < threshold:
        return [f"{name}: a total of {published.total} is below the threshold"]
    return []


def _line_problems(original: Indicator, threshold: int) -> list[str]:
    """A published total makes every line sum known (conservatively): none may be small."""
    counts = _counts(original)
    problems = []
    for line in _lines(original, _ranks(original)):
        line_sum = sum(counts[i] for i in line)
        if 0 < line_sum < threshold:
            keys = [original.cells[i].key for i in line]
            problems.append(f"{original.name}: the line {keys} adds up to {line_sum}, below the threshold")
    return problems


def _cell_problems(name: str, i: int, cell: IndicatorCell, exact: IndicatorCell, threshold: int) -> list[str]:
    where = f"{name} cell {i} {cell.key}"
    if cell.suppressed:
        if cell.count is not None or cell.median is not None or cell.p90 is not None:
            return [f"{where} is suppressed but shows a count or a median"]
        if exact.count == 0:
            return [f"{where} hides a zero: readers are told hidden cells are at least 1"]
        return []
    if cell.count != exact.count:
        return [f"{where} shows {cell.count}, the count is {exact.count}"]
    if cell.count is not None and 0 < cell.count < threshold:
        return [f"{where} shows a count of {cell.count}, below the threshold"]
    return []
