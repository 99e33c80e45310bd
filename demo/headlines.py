"""The headline indicators the demo prints: asked of reporting (``polku.qry.reporting.indicators``)
once it has read everything the demo caused, never counted by the demo itself."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from contracts.reporting import Indicator, IndicatorsReply
from polku.client import as_client

SOURCES = ("INTAKE", "CASEFILE", "FOLLOWUP")


async def settled_indicators(client: Any, timeout: float = 120.0, **query: Any) -> IndicatorsReply:
    """Reporting's indicators once it has read all that INTAKE, CASEFILE and FOLLOWUP hold (and
    they have stopped growing)."""
    client = as_client(client)
    js = client.nc.jetstream()

    async def heads() -> dict[str, int]:
        return {s: (await js.stream_info(s)).state.last_seq for s in SOURCES}

    deadline = time.monotonic() + timeout
    while True:
        before = await heads()
        reply = await client.indicators(**query, timeout=30)
        if reply.positions == before:
            await asyncio.sleep(0.3)
            if await heads() == before:
                return reply
        if time.monotonic() > deadline:
            raise TimeoutError(f"reporting stands at {reply.positions}, the streams at {before}")
        await asyncio.sleep(0.1)


def _counts(indicator: Indicator) -> dict[str, int]:
    return {"/".join(c.key.values()) or "": c.count or 0 for c in indicator.cells}


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def headline_lines(reply: IndicatorsReply) -> list[str]:
    got = {i.name: i for i in reply.indicators}
    screened = _counts(got["screening_outcomes"])
    answered = screened.get("advice_given", 0) + screened.get("redirected", 0)
    total = sum(screened.values())
    nature = _counts(got["active_by_nature"])
    owner = _counts(got["active_by_own_worker"])
    meetings = _counts(got["meetings"])
    held, missed = meetings.get("held", 0), meetings.get("missed", 0)
    disappeared = got["disappeared"]
    lines = [
        f"Headline indicators (reporting's query, all teams, {reply.period_from} .. {reply.period_to}):",
        f"  Answered by service guidance: {answered} of {total} screened ({answered / max(total, 1):.0%}; "
        f"advice_given: {screened.get('advice_given', 0)}, redirected: {screened.get('redirected', 0)}); "
        f"not reached: {screened.get('not_reached', 0)}, declined: {screened.get('declines', 0)}, "
        f"repeat-referral flags: {got['repeat_referral_flags'].total or 0}",
        "  Active relationships by nature: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in nature.items()),
        f"  Active relationships with a named own worker: {owner.get('named', 0)}, without: {owner.get('not_named', 0)}",
        f"  Special-support clients without a social worker (must be 0): {got['special_support_without_social_worker'].total}",
        "  Waiting from receipt, days (median / 90th percentile): "
        + ", ".join(
            f"{c.key['step'].replace('_', ' ')} {_days(c.median)} / {_days(c.p90)}" for c in got["waiting"].cells
        ),
        f"  Meetings held {held}, missed {missed} (no-show rate {missed / max(held + missed, 1):.0%})",
        "  Ends by reason: " + (", ".join(f"{k} {v}" for k, v in _counts(got["ends_by_reason"]).items()) or "none"),
        f"  Ended without a client relationship (no service need found): {got['ends_not_formed'].total or 0}",
        "  One-month check-ins: " + (", ".join(f"{k} {v}" for k, v in _counts(got["check_ins"]).items()) or "none"),
        "  Closed for good: " + (", ".join(f"{k} {v}" for k, v in _counts(got["closes_by_reason"]).items()) or "none"),
        f"  Disappeared at the period's end: {disappeared.total} (median {_days(disappeared.cells[0].median)} days); "
        f"end proposals: {got['end_proposals'].total}",
    ]
    return lines
