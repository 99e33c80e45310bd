"""Intake's wiring: settings → store → application → pipeline, relay and consumer of casefile."""

from __future__ import annotations

from contracts.casefile import casefile_decoder
from polku.actor import Verifier
from polku.pipeline import Pipeline
from polku.projections import ProjectionConsumer
from polku.service import ConsumerSpec, RepublishSource, ServiceDefinition, ServiceParts
from polku.settings import Settings
from polku.store import store_env
from services.intake import publishing
from services.intake.application import IntakeApplication
from services.intake.handlers import TABLE
from services.intake.settings import IntakeSettings


def build_application(settings: Settings, intake: IntakeSettings | None = None) -> IntakeApplication:
    intake = intake or IntakeSettings.from_env()
    return IntakeApplication(
        store_env(settings, "intake"),
        pseudonym_key=settings.pseudonym_key,
        roster=settings.roster,
        triage_grid=intake.triage_grid,
        default_team=intake.default_team,
        repeat_referrals_flag=intake.repeat_referrals_flag,
    )


def build_pipeline(app: IntakeApplication, settings: Settings, verifier: Verifier | None = None) -> Pipeline:
    """Intake's pipeline: the acting worker's role and team from intake's own roster."""
    return Pipeline(
        "intake", app, TABLE, digest_secret=settings.pseudonym_key, roster=app.roster_role, verifier=verifier,
        bounds=settings.time_bounds,
    )


def republish_source(settings: Settings) -> RepublishSource:
    """The store ``polku republish intake`` publishes again, read as the relay reads it."""
    return RepublishSource(build_application(settings), publishing.to_contract, publishing.TOPICS)


def build(settings: Settings) -> ServiceParts:
    app = build_application(settings)
    return ServiceParts(
        name="intake",
        app=app,
        pipeline=build_pipeline(app, settings, Verifier.from_env(settings.var_dir)),
        publishing=publishing.to_contract,
        published_topics=publishing.TOPICS,
        # Casefile's relationships tell intake each worker's load and each client's open
        # relationship; the loads are kept in memory and replayed from the stream at start,
        # before intake takes commands, so that no referral is routed by a partial load.
        consumers=[ConsumerSpec("casefile", casefile_decoder, ProjectionConsumer(app.loads), before_commands=True)],
        close=app.close,
    )


#: Registered under the entry point group ``polku.services`` (pyproject.toml). Intake keeps no
#: read model outside its event store: its in-memory models are rebuilt from the store whenever
#: it starts, so it has no ``rebuild``.
SERVICE = ServiceDefinition(
    name="intake", build=build, settings=IntakeSettings.from_env, republish_source=republish_source
)
