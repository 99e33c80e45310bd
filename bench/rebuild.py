"""Rebuilding reporting's read model by replaying the CASEFILE stream from sequence 1."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import contracts
from bench.common import Figure, fresh_var, own_nats, progress, say
from contracts.base import encoder
from contracts.casefile import OwnWorkerNamed, RelationshipOpened
from polku.bus import connect, ensure_streams, event_headers
from polku.relay import event_id
from services.reporting.main import build_view
from services.reporting.projections import LIVE, rebuild

WORKERS = (
    ("sw-001", "social_worker"),
    ("sw-002", "social_worker"),
    ("sc-001", "social_counsellor"),
    ("sc-002", "social_counsellor"),
)


async def fill_casefile(js: object, events: int) -> int:
    """Publish ``events`` synthetic, valid casefile events: pairs of RelationshipOpened and
    OwnWorkerNamed, as casefile's relay would (subjects, headers, Nats-Msg-Id). Returns the
    number of relationships."""
    opened = contracts.EVENTS_BY_NAME["RelationshipOpened"]
    named = contracts.EVENTS_BY_NAME["OwnWorkerNamed"]
    relationships = events // 2
    now = datetime.now(UTC)
    bar = progress("CASEFILE events published (setup)", relationships * 2)
    position = 0
    for i in range(relationships):
        rid = uuid.uuid4()
        client = uuid.uuid4().hex
        worker, role = WORKERS[i % len(WORKERS)]
        for version, spec, event in (
            (1, opened, RelationshipOpened(
                event_id=event_id(rid, 1), occurred_at=now, relationship_id=rid,
                client_id=client, referral_id=uuid.uuid4(),
            )),
            (2, named, OwnWorkerNamed(
                event_id=event_id(rid, 2), occurred_at=now, relationship_id=rid, client_id=client,
                worker_id=worker, role=role, team="team-north", reason="initial",
            )),
        ):
            position += 1
            headers = event_headers(
                msg_id=f"{rid}:{version}", event_name=spec.name, schema_version=spec.schema_version,
                position=position, correlation_id=None, causation_id=None,
            )
            await js.publish_async(spec.subject, encoder.encode(event), headers=headers)  # type: ignore[attr-defined]
        if i % 500 == 0:
            bar.update(position)
    await js.publish_async_completed()  # type: ignore[attr-defined]
    bar.count = position
    bar.done()
    return relationships


def rebuild_rate(events: int) -> Figure:
    with fresh_var("rebuild") as settings, own_nats(settings) as server:

        async def run() -> Figure:
            nc = await connect(server.url, name="polku-bench-rebuild", user="operator", var_dir=settings.var_dir)
            view = build_view(settings)
            try:
                js = nc.jetstream(publish_async_max_pending=4000)
                await ensure_streams(js, 1)
                relationships = await fill_casefile(js, events)
                info = await js.stream_info("CASEFILE")
                if info.state.messages != relationships * 2:
                    raise RuntimeError(f"CASEFILE holds {info.state.messages}, expected {relationships * 2}")
                bar = progress("events replayed (rebuild)", info.state.messages)
                started = time.perf_counter()
                result = await rebuild(view, js, progress=lambda n, total: bar.update(n, total))
                wall = time.perf_counter() - started
                bar.count = result.events
                bar.done()
                with view.db.reading() as cur:
                    (rows,) = cur.execute(f"SELECT COUNT(*) FROM {LIVE} WHERE worker_id IS NOT NULL").fetchone()
                if rows != relationships or result.events != relationships * 2:
                    raise RuntimeError(
                        f"rebuilt model holds {rows} relationships from {result.events} events; "
                        f"expected {relationships} from {relationships * 2}"
                    )
                say(f"  {result.events} events in {result.seconds:.2f}s ({wall:.2f}s around the call)")
            finally:
                await nc.close()
                view.db.close()
            return Figure(
                "rebuild_rate",
                result.rate,
                "events/s",
                [
                    f"# rebuild_rate: services.reporting.projections.rebuild (what `polku rebuild reporting` runs) "
                    f"over {result.events} synthetic RelationshipOpened/OwnWorkerNamed events in CASEFILE, "
                    "from the reset of the new table to the swap, as RebuildResult.rate reports it"
                ],
            )

        return asyncio.run(run())
