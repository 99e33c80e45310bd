"""Intake's wiring: settings → store → application → pipeline, relay and consumer of casefile."""

from __future__ import annotations

from contracts.casefile import casefile_decoder
from polku.pipeline import Pipeline
from polku.projections import ProjectionConsumer
from polku.service import ConsumerSpec, ServiceParts
from polku.settings import Settings
from polku.store import store_env
from services.intake import publishing
from services.intake.application import IntakeApplication
from services.intake.handlers import TABLE


def build_application(settings: Settings) -> IntakeApplication:
    return IntakeApplication(
        store_env(settings, "intake"),
        pseudonym_key=settings.pseudonym_key,
        roster=settings.roster,
        triage_grid=settings.triage_grid,
        default_team=settings.default_team,
        repeat_referrals_flag=settings.repeat_referrals_flag,
    )


def build_pipeline(app: IntakeApplication, settings: Settings) -> Pipeline:
    return Pipeline("intake", app, TABLE, digest_secret=settings.pseudonym_key)


def build(settings: Settings) -> ServiceParts:
    app = build_application(settings)
    return ServiceParts(
        name="intake",
        app=app,
        pipeline=build_pipeline(app, settings),
        publishing=publishing.to_contract,
        published_topics=publishing.TOPICS,
        # Casefile's relationships tell intake each worker's load and each client's open
        # relationship; the loads are kept in memory and replayed from the stream at start,
        # before intake takes commands, so that no referral is routed by a partial load.
        consumers=[ConsumerSpec("casefile", casefile_decoder, ProjectionConsumer(app.loads), before_commands=True)],
        close=app.close,
    )
