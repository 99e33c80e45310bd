"""The audit log's published language: the usage log of the Client Data Act.

Casefile and intake publish these events to the audit stream: one for every read of a client's
record (granted, refused, or of an id that names no record) and one for every disclosure of
client data to another authority. Ids, codes and counts only; no wording, no identity.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec

from contracts.base import Actor, ClientId, Event, event_union
from contracts.vocabulary import (
    DataCategory,
    DisclosureBasisKind,
    DisclosureStatute,
    IntakeRecordPart,
    RecipientAuthority,
    RecordPart,
    ViewPurpose,
)


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


class ClientRecordProbed(Event, kw_only=True):
    """A worker asked for a client's record by an id that names no relationship (casefile).

    Logged like a read, so that guessing ids leaves a trace; no client is named.
    """

    actor: Actor | None = None
    relationship_id: UUID
    part: RecordPart
    purpose: ViewPurpose


class IntakeRecordViewed(Event, kw_only=True):
    """A worker read (or was refused) intake's records: a referral's status and history, or a
    team's distribution queue (intake's usage log).

    ``referral_id``/``client_id`` name the referral read (``found`` false: no referral has the
    id, and no client is named); ``team`` names the queue read. ``items`` counts what was shown.
    """

    actor: Actor | None = None
    part: IntakeRecordPart
    purpose: ViewPurpose
    granted: bool
    found: bool = True
    referral_id: UUID | None = None
    client_id: ClientId | None = None
    team: str | None = None
    items: int = 0


class FollowupTasksViewed(Event, kw_only=True):
    """A worker read followup's list of due tasks (``polku.qry.followup.due``): whose
    relationships and clients were shown, for what purpose, and how many items (followup's
    usage log). ``scope`` is the worker's own tasks or their team's."""

    actor: Actor
    purpose: ViewPurpose
    scope: Literal["own", "team"]
    items: int = 0
    relationship_ids: list[UUID] = []
    client_ids: list[ClientId] = []


class ClientDataDisclosed(Event, kw_only=True):
    """Client data was disclosed to another authority: to whom, on what basis, which categories
    (the Client Data Act's disclosure log). Codes only; what was sent stays out of the log."""

    actor: Actor | None = None
    disclosure_id: UUID
    relationship_id: UUID
    client_id: ClientId
    recipient: RecipientAuthority
    basis: DisclosureBasisKind
    statute: DisclosureStatute | None = None
    consent: str | None = None
    categories: list[DataCategory]


#: The union of every event declared above, and its decoder.
AuditEvent = event_union(__name__)
audit_decoder = msgspec.json.Decoder(AuditEvent)
