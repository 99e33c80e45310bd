"""Reporting's wiring: settings → read model database → consumer of casefile, queries."""

from __future__ import annotations

from contracts.casefile import casefile_decoder
from polku.service import ConsumerSpec, ServiceParts
from polku.settings import Settings
from polku.sql import SqlDatabase
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
