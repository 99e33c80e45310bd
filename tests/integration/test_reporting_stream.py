"""Reporting's indicator snapshots on the REPORTING stream, read as a statistics system reads
them: the NATS user ``reporting-consumer``, a durable consumer of its own, plain nats-py, with
the very snippet the README shows (it is read from the README and run here).

Real processes (``polku serve``), a real ``nats-server`` with JetStream, real SQLite files.
"""

from __future__ import annotations

import ast
import asyncio
import json
import random
import re
import time as clock
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from nats.aio.client import Client

import contracts
from contracts.reporting import Indicator, IndicatorCell, IndicatorSnapshotPublished
from polku import nats_auth
from polku.natsserver import EmbeddedNats
from polku.settings import Settings
from polku.stack import Stack
from tests.helpers import SENT_CODES, SENT_NAMES, referral_body, send_referrals

HELSINKI = ZoneInfo("Europe/Helsinki")
README = Path(__file__).parents[2] / "README.md"
SUBJECT = contracts.event_spec(IndicatorSnapshotPublished).subject


def readme_snippet() -> str:
    """The README's reporting-consumer snippet (the python block after its marker)."""
    text = README.read_text()
    found = re.search(r"<!-- reporting-consumer snippet[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert found, "the README shows how to read the REPORTING stream"
    return found.group(1)


async def run_snippet(url: str, var: Path) -> list[dict[str, Any]]:
    """Run the README's snippet against this Polku (its URL and var dir); the snapshots it read
    (none when the stream has nothing new for its durable consumer)."""
    source = readme_snippet().replace("nats://127.0.0.1:14222", url).replace('"var/', f'"{var}/')
    code = compile(source, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {}
    try:
        result = eval(code, namespace)  # noqa: S307 - the README's own snippet
        if asyncio.iscoroutine(result):
            await result
    except (TimeoutError, asyncio.TimeoutError):
        pass  # nothing new yet
    finally:
        if namespace.get("nc") is not None:
            await namespace["nc"].close()
    return list(namespace.get("snapshots", []))


async def snapshots_when(
    url: str, var: Path, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 90.0
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = clock.monotonic() + timeout
    while not done(got) and clock.monotonic() < deadline:
        got += await run_snippet(url, var)
        await asyncio.sleep(0.5)
    return got


def assert_names_nobody(snapshots: list[dict[str, Any]], worker_ids: set[str], codes: set[str], names: set[str]) -> None:
    raw = json.dumps(snapshots)
    for field in ("client_id", "relationship_id", "worker_id", "identity_code", "referral_id"):
        assert f'"{field}"' not in raw, field
    for value in (*worker_ids, *codes, *names):
        assert value not in raw, "a snapshot names a worker, a client's code or a name"


# --------------------------------------------------------------- the README's snippet alone


def _snapshot(**overrides: Any) -> IndicatorSnapshotPublished:
    fields: dict[str, Any] = {
        "event_id": "00000000-0000-4000-8000-000000000001", "occurred_at": datetime(2027, 1, 5, tzinfo=UTC),
        "snapshot_id": "00000000-0000-4000-8000-000000000002", "team": None, "period": "day",
        "period_from": "2027-01-04", "period_to": "2027-01-04", "threshold": 5,
        "indicators": [
            Indicator(
                name="referral_channels", dimensions=["channel"], unit="referrals", total=7,
                cells=[IndicatorCell(key={"channel": "phone"}, count=7)],
            )
        ],
    }
    fields.update(overrides)
    return msgspec.convert(fields, IndicatorSnapshotPublished, from_attributes=True)


async def test_the_readme_snippet_reads_reporting_with_a_durable_consumer_of_its_own(
    secure: tuple[EmbeddedNats, Path],
) -> None:
    server, var = secure
    import nats

    op = await nats.connect(server.url, **nats_auth.credentials("operator", var).nats_options())
    first = _snapshot()
    await op.jetstream().publish(SUBJECT, msgspec.json.encode(first), headers={contracts.H_MSG_ID: "a:1"})
    [read] = await run_snippet(server.url, var)
    assert msgspec.convert(read, IndicatorSnapshotPublished, strict=False) == first
    # the durable consumer remembers what it acknowledged: the next run reads only what is new
    second = _snapshot(snapshot_id="00000000-0000-4000-8000-000000000003", replaces=first.snapshot_id)
    await op.jetstream().publish(SUBJECT, msgspec.json.encode(second), headers={contracts.H_MSG_ID: "a:2"})
    [read] = await run_snippet(server.url, var)
    assert read["replaces"] == str(first.snapshot_id)
    info = await op.jetstream().consumer_info("REPORTING", "statistics")
    assert info.config.durable_name == "statistics" and info.num_pending == 0
    await op.close()


# ------------------------------------------------------------------------- the whole stack
@pytest.fixture
def stack(polku_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("POLKU_REPORTING_TICK_SECONDS", "0.5")
    s = Stack(Settings.from_env())
    try:
        s.start()
        yield s
    finally:
        s.stop()


async def test_after_referrals_flow_their_snapshots_are_on_reporting_and_name_nobody(
    stack: Stack, nc: Client, settings: Settings
) -> None:
    """Referrals received on the last three days (business time): the closed days' snapshots
    appear for all teams and for the team they were received for. None names a client, a
    relationship or a worker, and none holds a per-worker indicator or a small count."""
    today = datetime.now(HELSINKI).date()
    yesterday = str(today - timedelta(days=1))
    rng = random.Random(10)
    bodies = [
        referral_body(
            rng, occurred_at=datetime.combine(today - timedelta(days=days_ago), time(9, i), tzinfo=HELSINKI).isoformat()
        )
        for days_ago in (3, 2, 1)
        for i in range(8)
    ]
    codes = {b["identity_code"] for b in bodies}
    # received only: every event of theirs is dated on a closed day
    replies = await send_referrals(nc, bodies, route=False)
    assert all(r["ok"] for r in replies), [r for r in replies if not r["ok"]][:3]

    def yesterday_for_all_and_each_team(snapshots: list[dict[str, Any]]) -> bool:
        """Yesterday's for all teams and for a team (intake's default team receives them)."""
        seen = {s["team"] for s in snapshots if s["period"] == "day" and s["period_from"] == yesterday}
        return None in seen and len(seen) >= 2

    snapshots = await snapshots_when(stack.url, stack.var, yesterday_for_all_and_each_team)
    assert yesterday_for_all_and_each_team(snapshots), [(s["team"], s["period_from"]) for s in snapshots]
    [first] = [s for s in snapshots if s["team"] is None and s["period_from"] == yesterday and not s.get("replaces")]
    [channels] = [i for i in first["indicators"] if i["name"] == "referral_channels"]
    assert channels.get("total") is None or channels["total"] >= 8

    for s in snapshots:
        snapshot = msgspec.convert(s, IndicatorSnapshotPublished, strict=False)
        assert snapshot.period in ("day", "month") and snapshot.period_to < today
        assert not [i.name for i in snapshot.indicators if contracts.reporting.INDICATORS[i.name].per_worker]
        for indicator in snapshot.indicators:
            for cell in indicator.cells:
                assert cell.count is None or cell.count == 0 or cell.count >= snapshot.threshold
    worker_ids = {entry.worker_id for entry in settings.roster}
    assert_names_nobody(snapshots, worker_ids, codes | SENT_CODES, SENT_NAMES)
