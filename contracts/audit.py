"""The audit log's published language: the usage log of the Client Data Act.

Casefile publishes these events, one for every read of a client's record (granted or refused),
to the audit stream.
"""

from __future__ import annotations

from uuid import UUID

import msgspec

from contracts.base import Actor, ClientId, Event, event_union
from contracts.vocabulary import RecordPart, ViewPurpose


class ClientRecordViewed(Event, kw_only=True):
    """A worker read (or was refused) a client's record: the usage log of the Client Data Act.

    ``actor`` is the worker; ``granted`` is false when the worker had no access.
    """

    actor: Actor
    relationship_id: UUID
    client_id: ClientId
    part: RecordPart
    purpose: ViewPurpose
    granted: bool


#: The union of every event declared above (one, today), and its decoder.
AuditEvent = event_union(__name__)
audit_decoder = msgspec.json.Decoder(AuditEvent)
