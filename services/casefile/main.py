"""Casefile's wiring: settings → store → application → pipeline, relay and consumer of intake."""

from __future__ import annotations

import time
from collections.abc import Callable

from contracts.followup import followup_decoder
from contracts.intake import intake_decoder
from polku.actor import Verifier
from polku.pipeline import Pipeline
from polku.progress import Progress
from polku.service import ConsumerSpec, RepublishSource, ServiceDefinition, ServiceParts
from polku.settings import Settings
from polku.store import SNAPSHOTS_ENV, store_env
from services.casefile import publishing
from services.casefile.application import CasefileApplication
from services.casefile.handlers import TABLE
from services.casefile.settings import CasefileSettings


def build_application(
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
    casefile: CasefileSettings | None = None,
    *,
    whole: bool = False,
) -> CasefileApplication:
    """Casefile's application; ``whole``: its read models replayed from the whole store, not
    from their snapshot (``polku rebuild casefile``)."""
    casefile = casefile or CasefileSettings.from_env()
    env = store_env(settings, "casefile") | ({SNAPSHOTS_ENV: "n"} if whole else {})
    return CasefileApplication(
        env, roster=settings.roster, id_secret=settings.pseudonym_key, policy=casefile.policy, progress=progress,
    )


def build_pipeline(app: CasefileApplication, settings: Settings, verifier: Verifier | None = None) -> Pipeline:
    """Casefile's pipeline: the acting worker's role and team from casefile's roster."""
    return Pipeline(
        "casefile", app, TABLE, digest_secret=settings.pseudonym_key, roster=app.roster_role, verifier=verifier,
        bounds=settings.time_bounds,
    )


def republish_source(settings: Settings) -> RepublishSource:
    """The store ``polku republish casefile`` publishes again, read as the relay reads it."""
    return RepublishSource(build_application(settings), publishing.to_contract, publishing.TOPICS)


def build(settings: Settings) -> ServiceParts:
    app = build_application(settings)
    pipeline = build_pipeline(app, settings, Verifier.from_env(settings.var_dir))
    return ServiceParts(
        name="casefile",
        app=app,
        pipeline=pipeline,
        publishing=publishing.to_contract,
        published_topics=publishing.TOPICS,
        # Intake's routed referrals open relationships; what they change is stored with the
        # tracking record of the INTAKE stream, in one transaction.
        consumers=[
            ConsumerSpec("intake", intake_decoder, pipeline.consumer("intake")),
            ConsumerSpec("followup", followup_decoder, pipeline.consumer("followup")),
        ],
        close=app.close,
    )


def rebuild(settings: Settings) -> int:
    """``polku rebuild casefile``. Casefile's read models (caseload, the open relationship of
    each client, counts by nature and end reason) live in memory: a start takes up their latest
    snapshot and replays what came after it; its timeline is read from the store itself.
    Rebuilding replays the whole store into them, stores their snapshot anew, and reports."""
    started = time.perf_counter()
    progress = Progress("casefile events replayed")
    app = build_application(settings, progress=lambda replayed, end: progress.update(replayed, end), whole=True)
    try:
        progress.done()
        events = app.replayed
        counts = app.summary()
        app.snapshot_read_models()
    finally:
        app.close()
    seconds = time.perf_counter() - started
    rate = events / seconds if seconds else 0.0
    print(
        f"casefile rebuilt its read models from its store: {events} events in {seconds:.2f}s "
        f"({rate:,.0f} events/s); {counts.open} open and {counts.ended} ended relationships. "
        "Timelines are read from the store itself. The next start begins from the read models' new snapshot."
    )
    return 0


#: Registered under the entry point group ``polku.services`` (pyproject.toml).
SERVICE = ServiceDefinition(
    name="casefile",
    build=build,
    settings=CasefileSettings.from_env,
    rebuild=rebuild,
    republish_source=republish_source,
)
