"""Reporting's rebuild streams: however long the streams and however slow the applying, what it
holds between reading and applying stays bounded (four transactions' worth), and the model it
builds is the one the live service has."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from nats.aio.client import Client

from polku.bus import connect
from polku.settings import Settings
from polku.stack import Stack
from services.reporting import rebuild as rebuilding
from services.reporting.main import build_view
from tests.helpers import distinct_referrals, send_referrals, wait_for_projection


class _Watched(asyncio.Queue):  # type: ignore[type-arg]
    largest = 0

    async def put(self, item: Any) -> None:
        await super().put(item)
        _Watched.largest = max(_Watched.largest, self.qsize())


async def test_a_slow_rebuild_holds_at_most_four_transactions_of_events(
    stack: Stack, nc: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    replies = await send_referrals(nc, distinct_referrals(41, 60))
    assert all(r["ok"] for r in replies)
    live = await wait_for_projection(nc, 60)

    monkeypatch.setattr(rebuilding, "Queue", _Watched)
    view = build_view(settings)
    applied: list[int] = []
    apply_next = view.apply_next

    def slow(stream: str, events: list[Any], position: int, source_position: int = 0) -> None:
        time.sleep(0.05)  # far slower than NATS delivers
        applied.append(len(events))
        apply_next(stream, events, position, source_position)

    monkeypatch.setattr(view, "apply_next", slow)
    operator = await connect(stack.url, name="polku-test-rebuild", user="operator", var_dir=stack.var)
    try:
        result = await rebuilding.rebuild(view, operator.jetstream(), batch=10)
    finally:
        await operator.close()
        view.close()
    assert result.events >= 4 * 60 and max(applied) <= 10
    assert 0 < _Watched.largest <= 4 * 10  # while the applying lagged, the hand-over stayed full, not growing
    assert (await wait_for_projection(nc, 60)).total == live.total
