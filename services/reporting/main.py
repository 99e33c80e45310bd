"""Reporting's wiring: settings → read model database → consumer of casefile, queries; and its
own store of indicator snapshots, relayed to REPORTING (services/reporting/snapshots.py)."""

from __future__ import annotations

import asyncio
import sys

from contracts.casefile import casefile_decoder
from polku.bus import connect
from polku.progress import Progress
from polku.service import ConsumerSpec, ServiceDefinition, ServiceParts
from polku.settings import Settings
from polku.sql import SqlDatabase
from services.reporting import projections
from polku.pipeline import Pipeline
from services.reporting.handlers import TABLE
from services.reporting.projections import OpenRelationshipsView
from services.reporting.settings import ReportingSettings
from services.reporting.snapshots import SnapshotParts, build_application
from polku.service import RepublishSource
from services.reporting import publishing


def build_view(settings: Settings) -> OpenRelationshipsView:
    return OpenRelationshipsView(SqlDatabase(settings, "reporting"))


def build(settings: Settings) -> ServiceParts:
    view = build_view(settings)
    # the indicator snapshots (issue #10): reporting's own store, its ticker, the relay to REPORTING;
    # ``view`` here is the read model that answers IndicatorsQuery (teams(), latest_day())
    snapshots = SnapshotParts.build(settings, view)
    pipeline = Pipeline("reporting", view, TABLE, digest_secret=settings.pseudonym_key, store=snapshots.app)
    return ServiceParts(
        name="reporting",
        pipeline=pipeline,
        consumers=[ConsumerSpec("casefile", casefile_decoder, view)],
        # app, publishing, published_topics, tasks, and close (the view's db, then the store)
        **snapshots.parts(pipeline, close=view.db.close),
    )


def republish_source(settings: Settings) -> RepublishSource:
    return RepublishSource(build_application(settings), publishing.to_contract, publishing.TOPICS)


def rebuild(settings: Settings) -> int:
    """``polku rebuild reporting``: replay CASEFILE from sequence 1 into a new model beside the
    live one, then swap it in (see :func:`services.reporting.projections.rebuild`)."""

    async def run() -> int:
        nc = await connect(settings.resolved_nats_url(), name="polku-rebuild", user="operator", var_dir=settings.var_dir, wait=5)
        view = build_view(settings)
        progress = Progress("events replayed")
        try:
            result = await projections.rebuild(
                view, nc.jetstream(), progress=lambda n, total: progress.update(n, total)
            )
        finally:
            await nc.drain()
            view.db.close()
        progress.count = result.events
        progress.done()
        print(
            f"reporting rebuilt from CASEFILE: {result.events} events to position {result.position} "
            f"in {result.seconds:.2f}s ({result.rate:,.0f} events/s)"
        )
        return 0

    try:
        return asyncio.run(run())
    except ConnectionError as e:
        print(f"polku: {e}. Is Polku up (polku up)?", file=sys.stderr)
        return 1


#: Registered under the entry point group ``polku.services`` (pyproject.toml). Reporting's own
#: store holds the indicator snapshots it published: those it republishes.
SERVICE = ServiceDefinition(
    name="reporting", build=build, rebuild=rebuild, settings=ReportingSettings.from_env,
    republish_source=republish_source,
)
