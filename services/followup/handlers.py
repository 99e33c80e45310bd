"""Followup's registration table: its commands → use cases, casefile's events → its policies."""

from __future__ import annotations

from contracts import followup as c
from contracts.casefile import RelationshipEnded, RelationshipReopened
from polku.pipeline import Table
from services.followup.application import FollowupApplication as Followup

TABLE = Table(
    commands={
        c.RecordCheckIn: Followup.record_check_in,
        c.AdvanceClock: Followup.advance_clock,
    },
    events={
        "casefile": {
            RelationshipEnded: Followup.relationship_ended,
            RelationshipReopened: Followup.relationship_reopened,
        }
    },
)
