"""Reporting's wiring: settings → read model database → consumer of casefile, queries."""

from __future__ import annotations

from contracts.casefile import casefile_decoder
from polku.service import ConsumerSpec, ServiceParts
from polku.settings import Settings
from polku.sql import SqlDatabase
from services.reporting.handlers import build_router
from services.reporting.projections import OpenRelationshipsView


def build_view(settings: Settings) -> OpenRelationshipsView:
    return OpenRelationshipsView(SqlDatabase(settings, "reporting"))


def build(settings: Settings) -> ServiceParts:
    view = build_view(settings)
    return ServiceParts(
        name="reporting",
        router=build_router(view),
        consumers=[ConsumerSpec("casefile", casefile_decoder, view)],
        close=view.db.close,
    )
