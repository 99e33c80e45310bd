"""Reporting's registration table: its queries → the read model that answers them."""

from __future__ import annotations

from contracts.reporting import IndicatorsQuery, OpenRelationshipsQuery
from polku.pipeline import Table
from services.reporting.indicators import IndicatorsView

TABLE = Table(
    queries={
        OpenRelationshipsQuery: IndicatorsView.open_relationships,
        IndicatorsQuery: IndicatorsView.indicators,
    }
)
