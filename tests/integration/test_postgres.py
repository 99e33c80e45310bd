"""The same path on PostgreSQL: the production store, where its behaviour is what is tested.

Each test gets schemas of its own (``<prefix>_intake``, ``<prefix>_casefile``,
``<prefix>_reporting``), dropped afterwards.
"""

from __future__ import annotations

import asyncio
import random
import time

import msgspec
import psycopg
import pytest
from nats.aio.client import Client

from polku.settings import Settings
from polku.stack import Stack
from services.casefile.main import build_application as build_casefile
from demo.headlines import settled_indicators
from demo.main import route_through
import contracts
from tests.helpers import RECEIVE_REFERRAL, distinct_referrals, polku_rebuild_reporting, referral_body, request, send_referrals, stored_events, stream_messages, wait_for_projection

pytestmark = pytest.mark.postgres


async def test_on_postgresql_referrals_survive_a_casefile_crash_exactly_once(
    postgres_env: str, stack: Stack, nc: Client, settings: Settings, postgres_dsn: str
) -> None:
    # postgres_env comes first: the stack is built from an environment pointing at PostgreSQL.
    assert settings.store == "postgres"
    n = 300
    replies = await send_referrals(nc, distinct_referrals(21, n), concurrency=32)
    assert all(r["ok"] for r in replies)
    deadline = time.monotonic() + 60
    while (await nc.jetstream().stream_info("CASEFILE")).state.messages < 50:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    stack.kill_service("casefile")
    stack.start_service("casefile")
    stack.wait_ready(("casefile",))

    reply = await wait_for_projection(nc, n, timeout=90)
    assert reply.total == n
    assert len(await stream_messages(nc, "CASEFILE")) == 2 * n

    # A retried command on PostgreSQL returns the first answer and stores nothing new.
    body = msgspec.json.encode(referral_body(random.Random(22)))
    first = await request(nc, RECEIVE_REFERRAL, body, "pg-retry-1")
    again = await request(nc, RECEIVE_REFERRAL, body, "pg-retry-1")
    assert first["ok"] is True and again == first
    await route_through(nc, first["referral_id"], special=False, prefix="pg-retry-1")
    assert (await wait_for_projection(nc, n + 1)).total == n + 1
    n += 1

    last_intake_event = max(int(m.headers[contracts.H_POSITION]) for m in await stream_messages(nc, "INTAKE"))
    stack.stop()
    with psycopg.connect(postgres_dsn) as conn:
        schemas = {r[0] for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (postgres_env + "\\_%",)
        )}
        assert schemas == {
            f"{postgres_env}_intake", f"{postgres_env}_casefile", f"{postgres_env}_followup", f"{postgres_env}_reporting"
        }
        (rows,) = conn.execute(f'SELECT COUNT(*) FROM "{postgres_env}_reporting".ri_spell WHERE ended_at IS NULL').fetchone()
        assert rows == n
    app = build_casefile(settings)
    try:
        # Count the stored events, not the highest notification id: a PostgreSQL sequence is not
        # transactional, so the batch that was in flight when casefile was killed left a gap.
        assert stored_events(app) == {"Relationship.Opened": n, "Relationship.OwnWorkerNamed": n}
        # the cursor: every intake event (not only ReferralRouted), and the store position of the last
        seq, source = app.cursor("INTAKE")
        assert seq == 4 * n
        assert source == last_intake_event
    finally:
        app.close()



async def test_on_postgresql_polku_rebuild_reporting_swaps_in_the_projection_it_had(
    postgres_env: str, stack: Stack, nc: Client, settings: Settings
) -> None:
    """``polku rebuild reporting`` on PostgreSQL: its second process (which decodes and applies)
    opens the same schema on a connection of its own, and the model swapped in answers as the
    live one did, to the last indicator."""
    assert settings.store == "postgres"
    replies = await send_referrals(nc, distinct_referrals(23, 120), concurrency=16)
    assert all(r["ok"] for r in replies)
    before = await wait_for_projection(nc, 120)
    indicators = await settled_indicators(nc)
    events = sum(indicators.positions.values())

    result = await asyncio.to_thread(polku_rebuild_reporting, stack)
    assert result.returncode == 0, result.stderr
    assert f"{events} events" in result.stdout

    assert await wait_for_projection(nc, 120) == before
    assert await settled_indicators(nc) == indicators
