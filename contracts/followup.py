"""Followup's published language: its events."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import msgspec

from contracts.base import ClientId, Event, event_union
from contracts.vocabulary import DisappearanceDetection


class ClientDisappeared(Event, kw_only=True):
    """The client could not be reached through the familiar channels."""

    relationship_id: UUID
    client_id: ClientId
    detected_by: DisappearanceDetection
    last_contact: date | None = None


#: The union of every event declared above (one, today), and its decoder.
FollowupEvent = event_union(__name__)
followup_decoder = msgspec.json.Decoder(FollowupEvent)
