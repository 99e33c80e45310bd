"""Casefile's wiring: settings → store → application → pipeline, relay and consumer of intake."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from contracts.events import intake_decoder
from polku.pipeline import Pipeline
from polku.service import ConsumerSpec, ServiceParts
from polku.settings import Settings
from polku.store import store_env
from services.casefile import publishing
from services.casefile.application import CasefileApplication
from services.casefile.domain import Policy
from services.casefile.handlers import TABLE


def policy(settings: Settings) -> Policy:
    """Casefile's policy values, as the settings read them from the environment."""
    return Policy(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(Policy)})


def build_application(
    settings: Settings, progress: Callable[[int, int], None] | None = None
) -> CasefileApplication:
    return CasefileApplication(
        store_env(settings, "casefile"), roster=settings.roster, policy=policy(settings), progress=progress
    )


def build_pipeline(app: CasefileApplication, settings: Settings) -> Pipeline:
    return Pipeline("casefile", app, TABLE, digest_secret=settings.pseudonym_key)


def build(settings: Settings) -> ServiceParts:
    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    return ServiceParts(
        name="casefile",
        app=app,
        pipeline=pipeline,
        publishing=publishing.to_contract,
        published_topics=publishing.TOPICS,
        # Intake's routed referrals open relationships; what they change is stored with the
        # tracking record of the INTAKE stream, in one transaction.
        consumers=[ConsumerSpec("intake", intake_decoder, pipeline.consumer("intake"))],
        close=app.close,
    )
