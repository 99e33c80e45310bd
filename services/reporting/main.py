"""Reporting's wiring: settings → read model database → consumers of intake, casefile and
followup, queries; and its own store of indicator snapshots, relayed to REPORTING
(services/reporting/snapshots.py)."""

from __future__ import annotations

import sys

from polku.bus import connect
from polku.progress import Progress
from polku.pipeline import Pipeline
from polku.service import ConsumerSpec, RepublishSource, ServiceDefinition, ServiceParts, run_loop
from polku.settings import Settings
from polku.sql import SqlDatabase
from services.reporting import publishing
from services.reporting import rebuild as rebuilding
from services.reporting.handlers import TABLE
from services.reporting.indicators import IndicatorsView
from services.reporting.settings import ReportingSettings
from services.reporting.snapshots import SnapshotParts, build_application


def build_view(settings: Settings) -> IndicatorsView:
    return IndicatorsView(SqlDatabase(settings, "reporting"), reader=SqlDatabase(settings, "reporting", snapshot_reads=True))


def build(settings: Settings) -> ServiceParts:
    view = build_view(settings)
    # the indicator snapshots: reporting's own store, its ticker, the relay to REPORTING
    snapshots = SnapshotParts.build(settings, view)
    pipeline = Pipeline(
        "reporting", view, TABLE, digest_secret=settings.pseudonym_key, store=snapshots.app,
        bounds=settings.time_bounds,
    )
    return ServiceParts(
        name="reporting",
        pipeline=pipeline,
        consumers=[
            ConsumerSpec(source, decoder, view)
            for source, decoder in (
                ("intake", rebuilding.DECODERS["INTAKE"]),
                ("casefile", rebuilding.DECODERS["CASEFILE"]),
                ("followup", rebuilding.DECODERS["FOLLOWUP"]),
            )
        ],
        # app, publishing, published_topics, tasks, and close (the view's db, then the store)
        **snapshots.parts(pipeline, close=view.close),
    )


def republish_source(settings: Settings) -> RepublishSource:
    return RepublishSource(build_application(settings), publishing.to_contract, publishing.TOPICS)


def rebuild(settings: Settings) -> int:
    """``polku rebuild reporting``: replay INTAKE, CASEFILE and FOLLOWUP from sequence 1 into a
    new model beside the live one, then swap it in (see :mod:`services.reporting.rebuild`)."""

    async def run() -> int:
        nc = await connect(settings.resolved_nats_url(), name="polku-rebuild", user="operator", var_dir=settings.var_dir, wait=5)
        view = build_view(settings)
        progress = Progress("events replayed")
        try:
            result = await rebuilding.rebuild(
                view, nc.jetstream(), progress=lambda n, total: progress.update(n, total), settings=settings
            )
        finally:
            await nc.drain()
            view.close()
        progress.count = result.events
        progress.done()
        print(
            f"reporting rebuilt from {', '.join(f'{s} to {p}' for s, p in result.positions.items())}: "
            f"{result.events} events "
            f"in {result.seconds:.2f}s ({result.rate:,.0f} events/s)"
        )
        return 0

    try:
        return run_loop(run())
    except ConnectionError as e:
        print(f"polku: {e}. Is Polku up (polku up)?", file=sys.stderr)
        return 1


#: Registered under the entry point group ``polku.services`` (pyproject.toml). Reporting's own
#: store holds the indicator snapshots it published: those it republishes.
SERVICE = ServiceDefinition(
    name="reporting", build=build, rebuild=rebuild, settings=ReportingSettings.from_env,
    republish_source=republish_source,
)
