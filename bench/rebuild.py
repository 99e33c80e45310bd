"""Reporting's indicators: rebuilding them by replaying INTAKE, CASEFILE and FOLLOWUP from
sequence 1 (what ``polku rebuild reporting`` runs), and the indicators query for a team and a
year over what was rebuilt."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import contracts
from bench.common import Figure, fresh_var, own_nats, progress, say
from contracts import casefile as cf
from contracts import followup as fu
from contracts import intake as it
from contracts.base import encoder
from contracts.reporting import IndicatorsQuery
from polku.bus import connect, ensure_streams, event_headers
from services.reporting.main import build_view
from polku.service import run_loop
from services.reporting.rebuild import rebuild

TEAMS = ("team-north", "team-south", "team-east")
START = datetime(2025, 1, 1, 8, tzinfo=UTC)
#: the synthetic paths are spread over two years
SPAN = timedelta(days=730)
QUERIES = 40


def path(i: int, paths: int) -> Iterator[tuple[str, Any]]:
    """One client's path as the services would have published it: (stream, event)."""
    team = TEAMS[i % len(TEAMS)]
    worker, role = (f"sw-{i % 7}", "social_worker") if i % 3 else (f"sc-{i % 5}", "social_counsellor")
    t0 = START + SPAN * (i / paths)
    ref, rel, client = uuid.uuid4(), uuid.uuid4(), uuid.uuid4().hex

    def at(days: float) -> datetime:
        return t0 + timedelta(days=days)

    def e(cls: type, days: float, **fields: Any) -> Any:
        return cls(event_id=uuid.uuid4(), occurred_at=at(days), **fields)

    screened = ("assessment_needed", "assessment_needed", "advice_given", "redirected")[i % 4]
    yield "INTAKE", e(it.ReferralReceived, 0, referral_id=ref, client_id=client, channel=("phone", "e_service", "outreach")[i % 3],
                      source=it.ReferralSource(kind="client"), concerns=["livelihood", "housing"][: 1 + i % 2], urgent=False, consent=True, team=team)
    yield "INTAKE", e(it.ReferralScreened, 1, referral_id=ref, client_id=client, outcome=screened,
                      redirected_to="kela" if screened == "redirected" else None, motivation="motivated")
    if screened != "assessment_needed":
        return
    yield "INTAKE", e(it.SupportNeedTriaged, 2, referral_id=ref, client_id=client, quadrant=f"q{1 + i % 4}", special_support_suspected=False, required_role=role)
    yield "INTAKE", e(it.ReferralRouted, 3, referral_id=ref, client_id=client, team=team, required_role=role, worker_id=worker, special_support_suspected=False)
    yield "CASEFILE", e(cf.RelationshipOpened, 3, relationship_id=rel, client_id=client, referral_id=ref)
    yield "CASEFILE", e(cf.OwnWorkerNamed, 3, relationship_id=rel, client_id=client, worker_id=worker, role=role, team=team, reason="initial")
    yield "CASEFILE", e(cf.SpecialSupportNeedDetermined, 5, relationship_id=rel, client_id=client, special_support=i % 5 == 0)
    yield "CASEFILE", e(cf.AssessmentStarted, 6, relationship_id=rel, client_id=client)
    yield "CASEFILE", e(cf.MeetingHeld, 8, relationship_id=rel, client_id=client, meeting_id=uuid.uuid4())
    yield "CASEFILE", e(cf.MeasurementRecorded, 8, relationship_id=rel, client_id=client, instrument="avain", scores={"a": i % 5, "b": 3})
    yield "CASEFILE", e(cf.AssessmentCompleted, 30, relationship_id=rel, client_id=client, conclusion="service_need", started_at=at(6))
    yield "CASEFILE", e(cf.RelationshipNatureDetermined, 30, relationship_id=rel, client_id=client, nature=("temporary", "recurring", "continuous")[i % 3])
    yield "CASEFILE", e(cf.PlanUpdated, 31, relationship_id=rel, client_id=client, kind="client_plan", version=1, goal_count=2, measure_count=2,
                        next_review=(at(31) + timedelta(days=180)).date())
    yield "CASEFILE", e(cf.MeetingMissed, 60, relationship_id=rel, client_id=client, meeting_id=uuid.uuid4())
    yield "FOLLOWUP", e(fu.ContactAttemptRecorded, 61, relationship_id=rel, client_id=client, channel="phone", outcome="reached", attempted_on=at(61).date())
    yield "CASEFILE", e(cf.MeasurementRecorded, 90, relationship_id=rel, client_id=client, instrument="avain", scores={"a": 4, "b": 4})
    if i % 2:
        yield "CASEFILE", e(cf.RelationshipEnded, 120, relationship_id=rel, client_id=client, reason="goal_reached")
        yield "FOLLOWUP", e(fu.CheckInCompleted, 151, relationship_id=rel, client_id=client, outcome="no_need", attempts=1)


async def fill(js: Any, events: int) -> dict[str, int]:
    """Publish about ``events`` synthetic, valid events of client paths to the three streams, as
    the services' relays would (subjects, headers, Nats-Msg-Id). Returns the count per stream."""
    paths = max(1, round(events / 9.5))  # a path averages 9.5 events
    counts = {"INTAKE": 0, "CASEFILE": 0, "FOLLOWUP": 0}
    bar = progress("events published (setup)", events)
    published = 0
    for i in range(paths):
        for stream, event in path(i, paths):
            spec = contracts.EVENTS_BY_NAME[type(event).__name__]
            counts[stream] += 1
            headers = event_headers(
                msg_id=str(event.event_id), event_name=spec.name, schema_version=spec.schema_version,
                position=counts[stream], correlation_id=None, causation_id=None,
            )
            await js.publish_async(spec.subject, encoder.encode(event), headers=headers)
            published += 1
        if i % 500 == 0:
            bar.update(published, max(events, published))
    await js.publish_async_completed()
    bar.count = published
    bar.done()
    return counts


def rebuild_rate(events: int) -> list[Figure]:
    with fresh_var("rebuild") as settings, own_nats(settings) as server:

        async def run() -> list[Figure]:
            nc = await connect(server.url, name="polku-bench-rebuild", user="operator", var_dir=settings.var_dir)
            view = build_view(settings)
            try:
                js = nc.jetstream(publish_async_max_pending=4000)
                await ensure_streams(js, 1)
                counts = await fill(js, events)
                for stream, n in counts.items():
                    held = (await js.stream_info(stream)).state.messages
                    if held != n:
                        raise RuntimeError(f"{stream} holds {held}, expected {n}")
                total = sum(counts.values())
                bar = progress("events replayed (rebuild)", total)
                result = await rebuild(view, js, progress=lambda n, t: bar.update(n, t), settings=settings)
                bar.count = result.events
                bar.done()
                if result.events != total or result.positions != counts:
                    raise RuntimeError(f"rebuilt {result.events} events to {result.positions}; expected {total} to {counts}")
                say(f"  {result.events} events in {result.seconds:.2f}s")
                timings = []
                year = IndicatorsQuery(team=TEAMS[0], period_from=date(2025, 1, 1), period_to=date(2025, 12, 31))
                for _ in range(QUERIES):
                    t = time.perf_counter()
                    reply = await asyncio.to_thread(view.indicators, year)
                    timings.append((time.perf_counter() - t) * 1000)
                active = next(i for i in reply.indicators if i.name == "active_by_nature").total
                if not active:
                    raise RuntimeError("the year's query counted no active relationship")
            finally:
                await nc.close()
                view.close()
            p99 = statistics.quantiles(timings, n=100, method="inclusive")[98]
            return [
                Figure(
                    "rebuild_rate",
                    result.rate,
                    "events/s",
                    [
                        f"# rebuild_rate: services.reporting.rebuild.rebuild (what `polku rebuild reporting` runs) over "
                        f"{result.events} synthetic events of client paths in INTAKE, CASEFILE and FOLLOWUP "
                        f"({', '.join(f'{s} {n}' for s, n in counts.items())}), from the reset of the new tables to the swap"
                    ],
                ),
                Figure(
                    "indicators_query_p99_ms",
                    p99,
                    "ms",
                    [
                        f"# indicators_query_p99_ms: IndicatorsView.indicators for one team and the year 2025, every "
                        f"indicator, {QUERIES} times over the rebuilt model (median {statistics.median(timings):.0f} ms; "
                        f"{active} relationships of the team active at the year's end)"
                    ],
                ),
            ]

        return run_loop(run())  # the event loop `polku rebuild reporting` runs on
