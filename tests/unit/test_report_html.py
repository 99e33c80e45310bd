"""`polku report`'s page (polku/report.py), rendered from a hand-built indicators reply: no stack."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import get_args

import msgspec
import pytest

from contracts import followup, vocabulary
from contracts.reporting import INDICATORS, IndicatorCell
from polku.report import render
from polku.report_labels import INDICATOR_LABELS, VALUE_LABELS, value_label
from tests.report_helpers import WORKER_IDS, sample_reply

WRITTEN = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def page() -> str:
    return render(sample_reply(), threshold=5, lang="both", written_at=WRITTEN)


def section(page: str, name: str) -> str:
    match = re.search(rf'<section id="indicator-{name}"[^>]*>(.*?)</section>', page, re.S)
    assert match, f"no section for {name}"
    return match.group(1)


def row(section_html: str, label: str) -> str:
    """The table row whose first cell holds ``label``."""
    rows = re.findall(r"<tr>(.*?)</tr>", section_html, re.S)
    found = [r for r in rows if label in r.split("</td>")[0]]
    assert len(found) == 1, f"{label!r}: {len(found)} rows"
    return found[0]


def counts_of(row_html: str) -> list[str]:
    return re.findall(r'<td class="num">(.*?)</td>', row_html)


def test_the_page_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page  # not even a namespace URL
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()  # no stylesheet, font or icon from elsewhere
    assert "@import" not in page and "url(http" not in page
    # every reference inside the page is to an id inside it (a chart's clip path, a section)
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    assert ids and len(ids) == len(re.findall(r'\bid="([^"]+)"', page)), "an id used twice"
    for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', page):
        assert ref in ids, ref


def test_a_section_per_indicator_with_its_labels_in_both_languages(page: str) -> None:
    for name in INDICATORS:
        body = section(page, name)
        fi, en = INDICATOR_LABELS[name]
        assert html.escape(fi, quote=False) in body and html.escape(en, quote=False) in body, name
    assert 'lang="fi"' in page and 'lang="en"' in page
    # values are labelled in both languages too
    nature = section(page, "active_by_nature")
    assert "Tilapäinen" in nature and "Temporary" in nature and "Jatkuva" in nature and "Continuous" in nature


def test_the_charts_are_inline_svg_with_ids(page: str) -> None:
    for name in ("active_by_nature", "waiting", "ends_by_reason", "meetings_by_motivation", "equal_treatment", "caseload_by_group"):
        body = section(page, name)
        assert f'<svg id="chart-{name}"' in body, name
    # a two-dimensional indicator's chart groups its bars: the second dimension's values are the legend
    motivation = section(page, "meetings_by_motivation")
    assert "Toteutunut" in motivation and "Held" in motivation


def test_a_small_count_is_shown_as_below_the_threshold_never_as_itself(page: str) -> None:
    nature = section(page, "active_by_nature")
    recurring = row(nature, "Toistuva")
    assert counts_of(recurring) == ['<span class="small">&lt;5</span>']
    assert ">3<" not in recurring
    assert counts_of(row(nature, "Tilapäinen")) == ["42"]
    # the chart marks it too (hatched, labelled <5), and has no bar labelled 3
    chart = re.search(r"<svg.*?</svg>", nature, re.S).group(0)
    assert "&lt;5" in chart
    assert not re.search(r">\s*3\s*<", chart)
    # the bars' labels: 42 is shown; 17, the smallest other count, is hidden with the small one
    # (else the total would give the 3 away) and marked as hidden, never as itself
    assert re.search(r">\s*42\s*<", chart) and not re.search(r">\s*17\s*<", chart)
    assert "hidden" in row(nature, "Ei vielä määritelty") and "17" not in row(nature, "Ei vielä määritelty")


def test_a_zero_is_shown_as_zero(page: str) -> None:
    meetings = section(page, "meetings")
    assert counts_of(row(meetings, "Käyttämättä jäänyt")) == ["0"]
    assert counts_of(row(meetings, "Toteutunut")) == ["30"]
    assert "<" + "span class=\"small\"" not in meetings


def test_the_period_team_time_positions_and_suppression_rule_are_stated(page: str) -> None:
    assert "1.1.2026–30.6.2026" in page and "2026-01-01 to 2026-06-30" in page
    assert "Kaikki tiimit" in page and "All teams" in page
    assert "2026-07-01 08:30 UTC" in page
    positions = re.search(r'<dd id="positions">(.*?)</dd>', page).group(1)
    assert positions == "INTAKE 739, CASEFILE 278, FOLLOWUP 51"
    rule = re.search(r'<p class="rule" id="suppression-rule">(.*?)</p>', page, re.S).group(1)
    assert "Counts from 1 to 4 are shown as &lt;5" in rule
    assert "cannot be worked out from totals" in rule
    assert "Lukumäärät 1–4 näytetään muodossa &lt;5" in rule


def test_the_threshold_is_configurable() -> None:
    page = render(sample_reply("team-north"), threshold=10, lang="en", written_at=WRITTEN)
    assert "Counts from 1 to 9 are shown as &lt;10" in page
    ends = section(page, "ends_by_reason")
    assert counts_of(row(ends, "Goal reached")) == ["12"]
    assert counts_of(row(ends, "No service need")) == ['<span class="small">&lt;10</span>']
    assert counts_of(row(ends, "Moved on to work")) == ['<span class="small">&lt;10</span>']
    assert 'lang="fi"' not in page.split("<body>")[1]  # English only
    assert "team-north" in page
    with pytest.raises(ValueError):
        render(sample_reply(), threshold=1, lang="fi", written_at=WRITTEN)
    with pytest.raises(ValueError):
        render(sample_reply(), threshold=5, lang="sv", written_at=WRITTEN)


def test_no_worker_is_shown_and_caseload_is_by_professional_group(page: str) -> None:
    for worker in WORKER_IDS:
        assert worker not in page
    per_worker = section(page, "caseload_by_worker")
    assert "<svg" not in per_worker and "<table" not in per_worker
    assert 'href="#indicator-caseload_by_group"' in per_worker
    group = section(page, "caseload_by_group")
    assert counts_of(row(group, "Sosiaalityöntekijä")) == ["67", "80"]  # count and capacity


def test_special_support_without_a_social_worker_is_prominent_and_red_unless_zero(page: str) -> None:
    head = page.split("<nav>")[0]
    assert 'id="indicator-special_support_without_social_worker" class="indicator alert ok"' in head
    reply = sample_reply()
    indicators = [
        msgspec.structs.replace(i, cells=[IndicatorCell(key={}, count=2)], total=2)
        if i.name == "special_support_without_social_worker" else i
        for i in reply.indicators
    ]
    bad = render(msgspec.structs.replace(reply, indicators=indicators), threshold=5, lang="fi", written_at=WRITTEN)
    alert = section(bad, "special_support_without_social_worker")
    assert 'class="indicator alert bad"' in bad and "&lt;5" in alert and ">2<" not in alert


def test_a_measured_indicator_has_median_and_p90_and_hides_them_with_the_count(page: str) -> None:
    waiting = section(page, "waiting")
    assert "Mediaani" in waiting and "Median" in waiting and "90th percentile" in waiting
    screened = row(waiting, "Käsitelty palveluohjauksessa")
    assert counts_of(screened) == ["14", "2,5", "9"]
    # a small cell's median could be one person's wait: not shown
    reply = sample_reply()
    indicators = [
        msgspec.structs.replace(i, cells=[
            c if c.key != {"step": "routed"} else IndicatorCell(key=c.key, count=2, median=17.0, p90=30.0) for c in i.cells
        ])
        if i.name == "waiting" else i
        for i in reply.indicators
    ]
    page2 = render(msgspec.structs.replace(reply, indicators=indicators), threshold=5, lang="en", written_at=WRITTEN)
    routed = row(section(page2, "waiting"), "Routed to a worker")
    assert counts_of(routed) == ['<span class="small">&lt;5</span>', "–", "–"]


def test_every_vocabulary_value_has_a_label_and_an_unknown_one_reads_raw() -> None:
    dimension_vocabularies = {
        "role": vocabulary.WorkerRole, "target": vocabulary.RedirectTarget, "motivation": vocabulary.Motivation,
        "kind": vocabulary.PlanKind, "option": vocabulary.ActivationOption, "reason": vocabulary.EndReason,
        "instrument": vocabulary.Instrument, "channel": vocabulary.Channel, "source": vocabulary.SourceKind,
        "concern": vocabulary.ConcernCategory,
    }
    outcome = (vocabulary.ScreeningOutcome, vocabulary.MeetingOutcome, followup.ContactOutcome,
               followup.CheckInResult, followup.CheckInOutcome)
    for dimension, literal in dimension_vocabularies.items():
        for value in get_args(literal):
            assert value in VALUE_LABELS[dimension], (dimension, value)
    for literal in outcome:
        for value in get_args(literal):
            assert value in VALUE_LABELS["outcome"], value
    for dimension, literal in (("option", vocabulary.FurtherActivationOption), ("source", vocabulary.FurtherSourceKind)):
        for value in get_args(literal):  # values added since v1, counted with v1's
            assert value in VALUE_LABELS[dimension], (dimension, value)
    for value in (*get_args(vocabulary.WorkActivityEndReason), *get_args(vocabulary.CloseReason)):
        assert value in VALUE_LABELS["reason"]
    for value in (*get_args(vocabulary.RelationshipNature), "not_determined"):
        assert value in VALUE_LABELS["nature"]
    assert set(INDICATOR_LABELS) == set(INDICATORS)
    assert value_label("reason", "left_for_mars") == ("left_for_mars", "left_for_mars")
    assert value_label("team", "team-north") == ("team-north", "team-north")


def test_a_cell_hidden_with_a_small_one_is_marked_hidden_and_one_that_came_suppressed_too() -> None:
    """Complementary suppression hides a larger cell too: shown as ×, never as <5 nor as itself."""
    from contracts.reporting import Indicator
    from polku.report import shown_cells, shown_total

    before = Indicator(name="ends_by_reason", dimensions=["reason"], unit="relationships", total=45, cells=[
        IndicatorCell(key={"reason": "goal_reached"}, count=30),
        IndicatorCell(key={"reason": "moved"}, count=3),
        IndicatorCell(key={"reason": "died"}, count=12),
        IndicatorCell(key={"reason": "unreachable"}, count=None, suppressed=True),
    ])
    after = msgspec.structs.replace(before, total=None, total_suppressed=True, cells=[
        before.cells[0],
        IndicatorCell(key={"reason": "moved"}, count=None, suppressed=True),
        IndicatorCell(key={"reason": "died"}, count=None, suppressed=True),
        before.cells[3],
    ])
    states = {c.key["reason"]: (c.state, c.count) for c in shown_cells(before, after, 5)}
    assert states == {
        "goal_reached": ("shown", 30), "moved": ("small", None), "died": ("hidden", None), "unreachable": ("hidden", None),
    }
    assert shown_total(before, after, 5).state == "hidden"
    # a suppress() that let a small count through would still not get it onto the page
    leaky = msgspec.structs.replace(after, cells=[IndicatorCell(key={"reason": "moved"}, count=3)])
    assert [(c.state, c.count) for c in shown_cells(before, leaky, 5)] == [("small", None)]
