"""Reporting's registration table: its queries → the read models that answer them."""

from __future__ import annotations

from contracts.reporting import OpenRelationshipsQuery
from polku.pipeline import Table
from services.reporting.projections import OpenRelationshipsView

TABLE = Table(queries={OpenRelationshipsQuery: OpenRelationshipsView.open_relationships})
