"""``polku report``: reporting's indicators as one self-contained HTML file a manager opens.

:func:`fetch` asks reporting's indicators query (``polku.qry.reporting.indicators``) over NATS;
:func:`render` turns the reply into HTML: a section per indicator (``id="indicator-<name>"``)
with a chart (inline SVG drawn by matplotlib) and a small table, in Finnish, English or both.

What leaves Polku is suppressed: :func:`render` applies reporting's small-cell suppression to
every indicator itself (``services.reporting.suppression.suppress``, found through the entry
point group ``polku.suppression``: the runtime imports no service). A count from 1 to
``threshold - 1`` is shown as ``<threshold``, and the cells hidden with it (so that a small
count cannot be worked out from a total) as ``×``. A suppressed cell's median and 90th
percentile are not shown either. A per-worker indicator's cells are never shown by worker: the
caseload is shown by professional group. The reply holds aggregate counts only, so the file
names no client, no worker and holds no free text.

The file needs nothing from the network: no script, no stylesheet or font from elsewhere; the
charts are inline SVG with their text as text, drawn in the browser's own sans-serif font.
"""

from __future__ import annotations

import asyncio
import html
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from contracts.reporting import INDICATORS, Indicator, IndicatorSpec, IndicatorsReply
from polku import registry
from polku.report_labels import (
    MEASURE_LABELS,
    TEXT,
    UNIT_LABELS,
    VALUE_LABELS,
    Pair,
    dimension_label,
    indicator_label,
    value_label,
)

if TYPE_CHECKING:
    from polku.settings import Settings

LANGS = ("fi", "en", "both")
DEFAULT_THRESHOLD = 5
#: seconds to reach NATS before saying Polku is not up
CONNECT_WAIT = 5.0

#: Shown at the top, red unless zero.
MUST_BE_ZERO = "special_support_without_social_worker"
#: Aimed at zero: shown amber when not.
SHOULD_BE_ZERO = frozenset({"activation_fewer_than_two_options"})
#: The indicators whose chart shows the median and 90th percentile rather than the count.
#: (Every indicator with a ``measure`` has them in its table.)
CHART_MEASURE = frozenset({"waiting", "assessment_duration", "urgent_needs", "score_change"})

State = Literal["shown", "small", "hidden", "absent"]

PALETTE = ("#2f6f9f", "#e0913a", "#4f9a5b", "#b5495b", "#7a5ea8", "#8a6d3b", "#3e8e9e", "#777777")
MARKER_EDGE = "#555555"


# ------------------------------------------------------------------------------ fetching
async def fetch_async(
    settings: Settings,
    team: str | None = None,
    period_from: date | None = None,
    period_to: date | None = None,
    *,
    timeout: float = 30.0,
) -> IndicatorsReply:
    """Ask reporting for the indicators of ``team`` (all teams when None) and the period (the
    current year up to today when the dates are None). The query names no worker: no actor."""
    from polku.client import Client

    url = settings.resolved_nats_url()
    try:
        # nats-py keeps retrying a first connection that is refused: a deadline of our own
        client = await asyncio.wait_for(
            Client.connect(url, name="polku-report", user="integrator", var_dir=settings.var_dir, wait=3), CONNECT_WAIT
        )
    except TimeoutError:
        raise ConnectionError(f"NATS at {url} not reachable within {CONNECT_WAIT:.0f}s") from None
    try:
        return await client.indicators(team, period_from, period_to, timeout=timeout)
    finally:
        await client.close()


def fetch(
    settings: Settings, team: str | None = None, period_from: date | None = None, period_to: date | None = None
) -> IndicatorsReply:
    """:func:`fetch_async`, for callers without an event loop (the CLI)."""
    return asyncio.run(fetch_async(settings, team, period_from, period_to))


# ----------------------------------------------------------------------- what is shown
@dataclass(frozen=True)
class Shown:
    """One cell as the report shows it: its count's state and what of it may be shown."""

    key: dict[str, str]
    state: State
    count: int | None = None
    median: float | None = None
    p90: float | None = None
    capacity: int | None = None


def _key(key: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(key.items()))


def _small(count: int | None, threshold: int) -> bool:
    return count is not None and 0 < count < threshold


def _state(after_count: int | None, after_suppressed: bool, before_count: int | None, threshold: int) -> State:
    """How a count is shown: its number, ``<threshold`` (it was 1 .. threshold-1), or hidden (it
    was hidden to protect another, or it came suppressed and what it was is not known)."""
    if _small(before_count, threshold):
        return "small"  # whatever suppress() made of it: a small count is never shown
    if after_suppressed or after_count is None:
        return "hidden"
    return "shown"


def shown_cells(original: Indicator, suppressed: Indicator, threshold: int) -> list[Shown]:
    """The suppressed indicator's cells, each with its state (compared with the original)."""
    before = {_key(c.key): c.count for c in original.cells}
    out: list[Shown] = []
    for cell in suppressed.cells:
        state = _state(cell.count, cell.suppressed, before.get(_key(cell.key)), threshold)
        if state == "shown":
            out.append(Shown(cell.key, state, cell.count, cell.median, cell.p90, cell.capacity))
        else:  # neither the count nor what was measured of so few
            out.append(Shown(cell.key, state, capacity=cell.capacity))
    return out


def shown_total(original: Indicator, suppressed: Indicator, threshold: int) -> Shown | None:
    if suppressed.total is None and not suppressed.total_suppressed and original.total is None:
        return None
    state = _state(suppressed.total, suppressed.total_suppressed, original.total, threshold)
    return Shown({}, state, suppressed.total if state == "shown" else None)


def _order(dimension: str, values: Iterable[str]) -> list[str]:
    """Values in the vocabulary's order, unknown ones after them in the order met."""
    known = list(VALUE_LABELS.get(dimension, {}))
    seen = list(dict.fromkeys(values))
    return [v for v in known if v in seen] + [v for v in seen if v not in known]


def _sorted_cells(cells: list[Shown], dimensions: Sequence[str]) -> list[Shown]:
    orders = {d: _order(d, (c.key.get(d, "") for c in cells)) for d in dimensions}
    return sorted(cells, key=lambda c: tuple(orders[d].index(c.key.get(d, "")) for d in dimensions))


# --------------------------------------------------------------------------- language
class _Lang:
    """Labels in the report's language: ``fi``, ``en`` or ``both`` (Finnish, then English)."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
        self.lang = lang

    def html(self, pair: Pair) -> str:
        fi, en = (html.escape(s, quote=False) for s in pair)
        if self.lang == "fi":
            return f'<span lang="fi">{fi}</span>'
        if self.lang == "en":
            return f'<span lang="en">{en}</span>'
        if fi == en:
            return f"<span>{fi}</span>"
        return f'<span lang="fi">{fi}</span><span class="en" lang="en"> / {en}</span>'

    def plain(self, pair: Pair, sep: str = "\n") -> str:
        if self.lang == "fi":
            return pair[0]
        if self.lang == "en":
            return pair[1]
        return pair[0] if pair[0] == pair[1] else f"{pair[0]}{sep}{pair[1]}"

    def number(self, value: float | int | None) -> str:
        if value is None:
            return "–"
        if isinstance(value, int) or float(value).is_integer():
            return str(int(value))
        text = f"{value:.1f}"
        return text if self.lang == "en" else text.replace(".", ",")

    def day(self, d: date) -> str:
        fi = f"{d.day}.{d.month}.{d.year}"
        return {"fi": fi, "en": d.isoformat()}.get(self.lang, f"{fi} ({d.isoformat()})")

    def period(self, start: date, end: date) -> str:
        fi = f"{start.day}.{start.month}.{start.year}–{end.day}.{end.month}.{end.year}"
        en = f"{start.isoformat()} to {end.isoformat()}"
        return self.html((fi, en))


def _marker(state: State, threshold: int) -> str:
    return f"<{threshold}" if state == "small" else "×"


def _count_html(shown: Shown, threshold: int, lang: _Lang) -> str:
    if shown.state == "shown":
        return lang.number(shown.count)
    if shown.state == "small":
        return f'<span class="small">{html.escape(_marker("small", threshold))}</span>'
    return f'<span class="hidden" title="{html.escape(lang.plain(TEXT["hidden"], " / "))}">×</span>'


# ------------------------------------------------------------------------------ charts
@dataclass(frozen=True)
class Series:
    label: str
    values: list[tuple[float | None, State]]


def chart_svg(
    chart_id: str,
    title: str,
    categories: list[str],
    series: list[Series],
    *,
    threshold: int,
    xlabel: str,
    counts: bool,
    hidden_label: str,
) -> str:
    """Horizontal bars, grouped when there are several series, as an inline ``<svg>`` with
    ``id=chart_id``. A suppressed value is a hatched marker labelled ``<threshold`` (a small
    count) or ``×`` (hidden with it), never a bar of zero."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    n_cat, n_ser = max(len(categories), 1), max(len(series), 1)
    lines = max((c.count("\n") + 1 for c in categories), default=1)
    shown = [v for s in series for v, st in s.values if st == "shown" and v is not None]
    high = max([*shown, 0.0])
    low = min([*shown, 0.0])
    span = max(high - low, float(threshold) if counts else 1.0)
    # a small count is below the threshold: its marker reaches the threshold, or is seen
    marker = max(float(threshold), span * 0.04) if counts else span * 0.06
    row = max(0.28 * n_ser + 0.12, 0.22 * lines + 0.12)
    bar = 0.8 / n_ser
    rc = {
        "svg.fonttype": "none",  # text stays text: the browser's font, nothing to fetch
        "svg.hashsalt": chart_id,  # ids unique to this chart within the page
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
        "font.size": 9,
        "hatch.linewidth": 0.8,
        "hatch.color": MARKER_EDGE,
    }
    with rc_context(rc):
        legend_rows = (n_ser + 2) // 3 if n_ser > 1 else 1
        fig = Figure(figsize=(8.0, 0.8 + n_cat * row + 0.25 * legend_rows), layout="constrained")
        ax = fig.add_subplot()
        any_small = any_hidden = False
        for j, s in enumerate(series):
            colour = PALETTE[j % len(PALETTE)]
            for i, (value, state) in enumerate(s.values):
                y = i + (j - (n_ser - 1) / 2) * bar
                if state == "shown" and value is not None:
                    ax.barh(y, value, height=bar * 0.9, color=colour)
                    text = _chart_number(value, counts, hidden_label)
                    ax.text(value, y, f" {text} " if value >= 0 else f" {text} ", va="center",
                            ha="left" if value >= 0 else "right", fontsize=8)
                elif state in ("small", "hidden"):
                    any_small |= state == "small"
                    any_hidden |= state == "hidden"
                    ax.barh(y, marker, height=bar * 0.9, facecolor="white", edgecolor=colour, hatch="///",
                            linewidth=0.8)
                    ax.text(marker, y, " " + _marker(state, threshold), va="center", ha="left", fontsize=8,
                            fontweight="bold")
        ax.set_yticks(range(len(categories)), categories)
        ax.set_ylim(n_cat - 0.5, -0.5)
        ax.set_xlim(min(low * 1.15, 0), max(high, marker) * 1.18 or 1)
        ax.axvline(0, color="#333333", linewidth=0.8)
        ax.set_xlabel(xlabel)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        handles = [Patch(color=PALETTE[j % len(PALETTE)], label=s.label) for j, s in enumerate(series)] if n_ser > 1 else []
        if any_small:
            handles.append(Patch(facecolor="white", edgecolor=MARKER_EDGE, hatch="///", label=f"<{threshold}: 1–{threshold - 1}"))
        if any_hidden:
            handles.append(Patch(facecolor="white", edgecolor=MARKER_EDGE, hatch="///", label=f"×: {hidden_label}"))
        if handles:
            # below the chart, where it covers no bar
            fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), fontsize=8, frameon=False)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _inline(buffer.getvalue(), chart_id, title)


def _chart_number(value: float, counts: bool, hidden_label: str) -> str:
    if counts or float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}"


def _inline(svg: str, chart_id: str, title: str) -> str:
    """matplotlib's SVG document as an element of the page: no prolog, doctype or metadata, no
    namespace URLs (the HTML parser knows SVG's), the chart's id and an accessible name."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'<svg\s+width="[^"]*"\s+height="[^"]*"', "<svg", svg, count=1)
    # matplotlib numbers its ids per figure (axes_1, patch_2...): the chart's id makes them the page's
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", chart_id) + "-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'((?:xlink:)?href="#|url\(#)([^")]+)', lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)
    return svg.replace(
        "<svg", f'<svg id="{html.escape(chart_id)}" class="chart" role="img" aria-label="{html.escape(title)}"', 1
    ).strip()


# ---------------------------------------------------------------------------- sections
def _cell_label(lang: _Lang, dimensions: Sequence[str], key: dict[str, str], sep: str = "\n") -> str:
    return " · ".join(lang.plain(value_label(d, key.get(d, "")), sep) for d in dimensions)


def _chart_for(
    name: str, indicator: Indicator, cells: list[Shown], lang: _Lang, threshold: int, title: str
) -> str:
    dims = list(indicator.dimensions)
    hidden = lang.plain(TEXT["hidden"], " / ")
    unit = lang.plain(UNIT_LABELS.get(indicator.unit, (indicator.unit, indicator.unit)), " / ")
    if indicator.measure and (name in CHART_MEASURE or name not in INDICATORS):
        # the chart shows what was measured, a bar each for the median and the 90th percentile
        categories = [_cell_label(lang, dims, c.key) for c in cells]
        series = [
            Series(lang.plain(TEXT["median"], " / "), [(c.median, c.state) if c.state != "shown" or c.median is not None else (None, "absent") for c in cells]),
            Series(lang.plain(TEXT["p90"], " / "), [(c.p90, c.state) if c.state != "shown" or c.p90 is not None else (None, "absent") for c in cells]),
        ]
        xlabel = lang.plain(MEASURE_LABELS.get(indicator.measure, (indicator.measure, indicator.measure)), " / ")
        return chart_svg(f"chart-{name}", title, categories, series, threshold=threshold, xlabel=xlabel,
                         counts=False, hidden_label=hidden)
    if len(dims) == 1:
        categories = [_cell_label(lang, dims, c.key) for c in cells]
        series = [Series(lang.plain(TEXT["count"], " / "), [(c.count, c.state) for c in cells])]
        if any(c.capacity is not None for c in cells):
            series.append(Series(
                lang.plain(TEXT["capacity"], " / "),
                [(c.capacity, "shown") if c.capacity is not None else (None, "absent") for c in cells],
            ))
        return chart_svg(f"chart-{name}", title, categories, series, threshold=threshold, xlabel=unit,
                         counts=True, hidden_label=hidden)
    # two dimensions or more: the last one's values are the series, the others' the groups
    groups_dims, series_dim = dims[:-1], dims[-1]
    group_keys = list(dict.fromkeys(tuple(c.key.get(d, "") for d in groups_dims) for c in cells))
    series_values = _order(series_dim, (c.key.get(series_dim, "") for c in cells))
    by_key = {_key(c.key): c for c in cells}
    series = []
    for value in series_values:
        values: list[tuple[float | None, State]] = []
        for group in group_keys:
            cell = by_key.get(_key({**dict(zip(groups_dims, group)), series_dim: value}))
            values.append((None, "absent") if cell is None else (cell.count, cell.state))
        series.append(Series(lang.plain(value_label(series_dim, value), " / "), values))
    categories = [_cell_label(lang, groups_dims, dict(zip(groups_dims, g))) for g in group_keys]
    return chart_svg(f"chart-{name}", title, categories, series, threshold=threshold, xlabel=unit,
                     counts=True, hidden_label=hidden)


def _table(indicator: Indicator, cells: list[Shown], total: Shown | None, lang: _Lang, threshold: int) -> str:
    dims = list(indicator.dimensions)
    measure = indicator.measure is not None
    capacity = any(c.capacity is not None for c in cells)
    head = [lang.html(dimension_label(d)) for d in dims] + [lang.html(TEXT["count"])]
    if measure:
        unit = MEASURE_LABELS.get(indicator.measure or "", (indicator.measure or "", indicator.measure or ""))
        head += [f'{lang.html(TEXT["median"])} <span class="unit">({lang.html(unit)})</span>',
                 f'{lang.html(TEXT["p90"])} <span class="unit">({lang.html(unit)})</span>']
    if capacity:
        head.append(lang.html(TEXT["capacity"]))
    rows = ["<tr>" + "".join(f"<th scope=\"col\">{h}</th>" for h in head) + "</tr>"]
    for c in cells:
        tds = [f"<td>{lang.html(value_label(d, c.key.get(d, '')))}</td>" for d in dims]
        tds.append(f'<td class="num">{_count_html(c, threshold, lang)}</td>')
        if measure:
            tds += [f'<td class="num">{lang.number(c.median)}</td>', f'<td class="num">{lang.number(c.p90)}</td>']
        if capacity:
            tds.append(f'<td class="num">{lang.number(c.capacity)}</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    if total is not None and dims:
        span = len(dims)
        tds = [f'<th scope="row" colspan="{span}">{lang.html(TEXT["total"])}</th>',
               f'<td class="num">{_count_html(total, threshold, lang)}</td>']
        tds += ["<td></td>"] * ((2 if measure else 0) + (1 if capacity else 0))
        rows.append('<tr class="total">' + "".join(tds) + "</tr>")
    return '<table class="cells">' + "".join(rows) + "</table>"


def _figure(cells: list[Shown], total: Shown | None, threshold: int, lang: _Lang) -> Shown:
    """A dimensionless indicator's one figure: its cell, else its total."""
    if cells:
        return cells[0]
    return total if total is not None else Shown({}, "shown", 0)


def _meta(spec: IndicatorSpec | None, indicator: Indicator, lang: _Lang, period_to: date) -> str:
    parts = []
    if spec is not None:
        when = lang.html(TEXT[spec.kind])
        parts.append(when + (f": {lang.day(period_to)}" if spec.kind == "stock" else ""))
    parts.append(lang.html(UNIT_LABELS.get(indicator.unit, (indicator.unit, indicator.unit))))
    if spec is not None and not spec.partition and indicator.dimensions:
        parts.append(lang.html(TEXT["not_partition"]))
    return '<p class="meta">' + " · ".join(parts) + "</p>"


def _section(
    name: str, spec: IndicatorSpec | None, original: Indicator, suppressed: Indicator, lang: _Lang, threshold: int,
    period_to: date,
) -> str:
    title_pair = indicator_label(name)
    heading = f"<h2>{lang.html(title_pair)}</h2>"
    per_worker = (spec is not None and spec.per_worker) or "worker" in original.dimensions
    if per_worker:
        # never by worker: the caseload is shown by professional group
        link = f'<a href="#indicator-caseload_by_group">{lang.html(TEXT["see_group"])}</a>'
        return (f'<section id="indicator-{html.escape(name)}" class="indicator per-worker">{heading}'
                f'<p class="note">{lang.html(TEXT["per_worker"])} {link}.</p></section>')
    cells = _sorted_cells(shown_cells(original, suppressed, threshold), original.dimensions)
    total = shown_total(original, suppressed, threshold)
    body: list[str] = [_meta(spec, original, lang, period_to)]
    if not original.dimensions:
        figure = _figure(cells, total, threshold, lang)
        css = ""
        note = ""
        if name in SHOULD_BE_ZERO:
            css = " ok" if figure.state == "shown" and figure.count == 0 else " warn"
            note = f' <span class="aim">{lang.html(TEXT["should_be_zero"])}</span>'
        body.append(f'<p class="figure{css}"><span class="value">{_count_html(figure, threshold, lang)}</span>{note}</p>')
        if original.measure:
            body.append(_table(original, [figure], None, lang, threshold))
    elif not cells:
        body.append(f'<p class="note">{lang.html(TEXT["no_cells"])}</p>')
    else:
        title = lang.plain(title_pair, " / ")
        body.append(f'<figure>{_chart_for(name, original, cells, lang, threshold, title)}</figure>')
        body.append(_table(original, cells, total, lang, threshold))
        if original.measure and any(c.state != "shown" for c in cells):
            body.append(f'<p class="note">{lang.html(TEXT["measure_hidden"])}</p>')
    return f'<section id="indicator-{html.escape(name)}" class="indicator">{heading}{"".join(body)}</section>'


def _special_support(original: Indicator, suppressed: Indicator, lang: _Lang, threshold: int) -> str:
    cells = shown_cells(original, suppressed, threshold)
    figure = _figure(cells, shown_total(original, suppressed, threshold), threshold, lang)
    zero = figure.state == "shown" and figure.count == 0
    verdict = lang.html(TEXT["is_zero"] if zero else TEXT["not_zero"])
    return (
        f'<section id="indicator-{MUST_BE_ZERO}" class="indicator alert {"ok" if zero else "bad"}">'
        f"<h2>{lang.html(indicator_label(MUST_BE_ZERO))}</h2>"
        f'<p class="figure"><span class="value">{_count_html(figure, threshold, lang)}</span> '
        f'<span class="verdict">{verdict}</span></p>'
        f'<p class="meta">{lang.html(TEXT["must_be_zero"])}</p></section>'
    )


def suppression_rule(threshold: int) -> Pair:
    """The rule as the report states it."""
    if threshold == 2:
        fi_small, en_small = "Lukumäärä 1 näytetään muodossa <2", "A count of 1 is shown as <2"
    else:
        fi_small = f"Lukumäärät 1–{threshold - 1} näytetään muodossa <{threshold}"
        en_small = f"Counts from 1 to {threshold - 1} are shown as <{threshold}"
    return (
        f"{fi_small}, ja osa muista soluista on piilotettu (×), jotta niitä ei voi laskea summista. "
        f"Nollat näytetään. Pienten lukujen mediaania ja 90. persentiiliä ei näytetä. Raja: {threshold}.",
        f"{en_small}, and some other cells are hidden (×) so that they cannot be worked out from totals. "
        f"Zeros are shown. No median or 90th percentile is shown for a small count. Threshold: {threshold}.",
    )


# ------------------------------------------------------------------------------- page
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:0 auto;
max-width:62rem;padding:1.5rem;color:#1d1d1d;line-height:1.4}
h1{font-size:1.6rem;margin:0 0 .5rem}h2{font-size:1.15rem;margin:0 0 .3rem}
.en{color:#555;font-weight:normal}
header dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
header dt{font-weight:600}header dd{margin:0}
.rule{background:#f4f6f8;border-left:4px solid #2f6f9f;padding:.6rem .8rem}
nav ol{columns:2;font-size:.9rem}
section.indicator{border-top:1px solid #ddd;padding:1rem 0;break-inside:avoid}
.meta{color:#555;font-size:.85rem;margin:.1rem 0 .6rem}
.note{color:#555;font-size:.9rem}
figure{margin:0}svg.chart{max-width:100%;height:auto;display:block}
table.cells{border-collapse:collapse;font-size:.85rem;margin-top:.5rem}
table.cells th,table.cells td{border-bottom:1px solid #e3e3e3;padding:.2rem .6rem;text-align:left}
table.cells td.num{text-align:right;font-variant-numeric:tabular-nums}
table.cells tr.total th,table.cells tr.total td{font-weight:600;border-top:2px solid #999}
.small,.hidden{font-weight:600;color:#444}
.unit{font-weight:normal;color:#666}
.figure .value{font-size:2rem;font-weight:700}
.figure.ok .value{color:#2e7d32}.figure.warn .value{color:#b26a00}
.alert{border:2px solid;border-radius:6px;padding:1rem;margin:1rem 0}
.alert.ok{border-color:#2e7d32;background:#eef7ee}
.alert.bad{border-color:#c62828;background:#fdecea}.alert.bad .value,.alert.bad .verdict{color:#c62828;font-weight:700}
footer{border-top:1px solid #ddd;color:#555;font-size:.85rem;padding-top:.5rem}
@media print{nav{display:none}}
"""


def render(reply: IndicatorsReply, *, threshold: int = DEFAULT_THRESHOLD, lang: str = "both", written_at: datetime) -> str:
    """The report as one self-contained HTML page. Pure: the same reply, threshold, language
    and time give the same page. Suppresses every indicator itself (``threshold``, at least 2)."""
    if threshold < 2:
        raise ValueError("the suppression threshold is at least 2")
    t = _Lang(lang)
    originals = {i.name: i for i in reply.indicators}
    suppress = registry.suppression()  # reporting's rule (services/reporting/suppression.py)
    suppressed = {i.name: i for i in suppress(list(reply.indicators), threshold)}
    # only what came back from suppression is shown
    names = [n for n in INDICATORS if n in suppressed] + [n for n in suppressed if n not in INDICATORS and n in originals]

    team = t.html(TEXT["all_teams"]) if reply.team is None else html.escape(reply.team)
    positions = ", ".join(f"{html.escape(s)} {p}" for s, p in reply.positions.items()) or "–"
    when = written_at.strftime("%Y-%m-%d %H:%M") + (f" {written_at.tzname()}" if written_at.tzinfo else "")
    rule = suppression_rule(threshold)
    page_lang = "en" if lang == "en" else "fi"

    parts = [
        f'<!DOCTYPE html><html lang="{page_lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(t.plain(TEXT['title'], ' / '))} {reply.period_from.isoformat()}–{reply.period_to.isoformat()}</title>",
        f"<style>{CSS}</style></head><body>",
        f'<header><h1>{t.html(TEXT["title"])}</h1><dl>',
        f'<dt>{t.html(TEXT["period"])}</dt><dd id="period">{t.period(reply.period_from, reply.period_to)}</dd>',
        f'<dt>{t.html(TEXT["team"])}</dt><dd id="team">{team}</dd>',
        f'<dt>{t.html(TEXT["written"])}</dt><dd id="written">{html.escape(when)}</dd>',
        f'<dt>{t.html(TEXT["positions"])}</dt><dd id="positions">{positions}</dd>',
        "</dl>",
        f'<p class="rule" id="suppression-rule"><strong>{t.html(TEXT["suppression"])}.</strong> {t.html(rule)}</p>',
        "</header>",
    ]
    if MUST_BE_ZERO in names:
        parts.append(_special_support(originals[MUST_BE_ZERO], suppressed[MUST_BE_ZERO], t, threshold))
    contents = [n for n in names if n != MUST_BE_ZERO]
    parts.append(f'<nav><h2>{t.html(TEXT["contents"])}</h2><ol>')
    parts += [f'<li><a href="#indicator-{html.escape(n)}">{t.html(indicator_label(n))}</a></li>' for n in contents]
    parts.append("</ol></nav><main>")
    for name in contents:
        parts.append(_section(name, INDICATORS.get(name), originals[name], suppressed[name], t, threshold, reply.period_to))
    parts.append(f'</main><footer><p>{t.html(TEXT["footer"])}</p></footer></body></html>')
    return "\n".join(parts)

