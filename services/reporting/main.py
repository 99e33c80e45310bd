"""Reporting's wiring: settings → read model database → consumer of casefile, queries."""

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


def build_view(settings: Settings) -> OpenRelationshipsView:
    return OpenRelationshipsView(SqlDatabase(settings, "reporting"))


def build(settings: Settings) -> ServiceParts:
    view = build_view(settings)
    return ServiceParts(
        name="reporting",
        pipeline=Pipeline("reporting", view, TABLE, digest_secret=settings.pseudonym_key),
        consumers=[ConsumerSpec("casefile", casefile_decoder, view)],
        close=view.db.close,
    )


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


#: Registered under the entry point group ``polku.services`` (pyproject.toml). Reporting keeps
#: no event store of its own, so it has nothing to republish.
SERVICE = ServiceDefinition(name="reporting", build=build, rebuild=rebuild)
