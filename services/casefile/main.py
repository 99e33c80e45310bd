"""Casefile's wiring: settings → store → application → consumer of intake and relay."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from contracts.intake import intake_decoder
from polku.service import ConsumerSpec, ServiceParts
from polku.settings import Settings
from polku.store import store_env
from services.casefile import publishing
from services.casefile.application import CasefileApplication
from services.casefile.domain import Policy
from services.casefile.handlers import build_router


def policy(settings: Settings) -> Policy:
    """Casefile's policy values, as the settings read them from the environment."""
    return Policy(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(Policy)})


def build_application(
    settings: Settings, progress: Callable[[int, int], None] | None = None
) -> CasefileApplication:
    return CasefileApplication(
        store_env(settings, "casefile"), roster=settings.roster, policy=policy(settings), progress=progress
    )


def build(settings: Settings) -> ServiceParts:
    app = build_application(settings)
    return ServiceParts(
        name="casefile",
        app=app,
        router=build_router(app),
        publishing=publishing.to_contract,
        published_topics=publishing.TOPICS,
        consumers=[ConsumerSpec("intake", intake_decoder, app)],
        close=app.close,
    )
