"""Followup's wiring: settings → store → application → pipeline, relay, casefile's and intake's
events, and the scheduler."""

from __future__ import annotations

import time
from collections.abc import Callable

from contracts.casefile import casefile_decoder
from contracts.intake import intake_decoder
from polku.actor import Verifier
from polku.pipeline import Pipeline
from polku.progress import Progress
from polku.service import ConsumerSpec, RepublishSource, ServiceDefinition, ServiceParts
from polku.settings import Settings
from polku.store import store_env
from services.followup import publishing
from services.followup.application import FollowupApplication
from services.followup.handlers import TABLE
from services.followup.scheduler import Scheduler
from services.followup.settings import FollowupSettings


def build_application(
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
    followup: FollowupSettings | None = None,
) -> FollowupApplication:
    followup = followup or FollowupSettings.from_env()
    return FollowupApplication(
        store_env(settings, "followup"), roster=settings.roster, policy=followup.policy, demo=settings.demo,
        progress=progress,
    )


def build_pipeline(app: FollowupApplication, settings: Settings, verifier: Verifier | None = None) -> Pipeline:
    return Pipeline(
        "followup", app, TABLE, digest_secret=settings.pseudonym_key, roster=app.roster_role, verifier=verifier,
        clock=app.now, bounds=settings.time_bounds,
    )


def republish_source(settings: Settings) -> RepublishSource:
    return RepublishSource(build_application(settings), publishing.to_contract, publishing.TOPICS)


def build(settings: Settings) -> ServiceParts:
    followup = FollowupSettings.from_env()
    app = build_application(settings, followup=followup)
    pipeline = build_pipeline(app, settings, Verifier.from_env(settings.var_dir))
    scheduler = Scheduler(app, pipeline, followup.tick_seconds)
    return ServiceParts(
        name="followup",
        app=app,
        pipeline=pipeline,
        publishing=publishing.to_contract,
        published_topics=publishing.TOPICS,
        consumers=[
            ConsumerSpec("casefile", casefile_decoder, pipeline.consumer("casefile")),
            ConsumerSpec("intake", intake_decoder, pipeline.consumer("intake")),
        ],
        close=app.close,
        tasks=[scheduler.run],
        gauges={
            "polku_deadlines_pending": ("Deadlines set and not yet fired or cancelled", lambda: len(app.due_index.pending)),
            "polku_deadlines_overdue": (
                "Pending deadlines due by followup's clock and not fired yet (the scheduler fires them each tick)",
                lambda: app.due_index.overdue(app.today()),
            ),
        },
    )


def rebuild(settings: Settings) -> int:
    """``polku rebuild followup``: its index of pending deadlines and its clock live in memory and
    are built from its store whenever it starts; rebuilding replays the store into them."""
    started = time.perf_counter()
    progress = Progress("followup events replayed")
    app = build_application(settings, progress=lambda replayed, end: progress.update(replayed, end))
    try:
        progress.done()
        events, pending = app.replayed, len(app.due_index.pending)
    finally:
        app.close()
    seconds = time.perf_counter() - started
    print(f"followup rebuilt its read models from its store: {events} events in {seconds:.2f}s; {pending} deadlines pending.")
    return 0


#: Registered under the entry point group ``polku.services`` (pyproject.toml).
SERVICE = ServiceDefinition(
    name="followup",
    build=build,
    settings=FollowupSettings.from_env,
    rebuild=rebuild,
    republish_source=republish_source,
)
