"""The usage log of the Client Data Act: every read of a client's record, granted or refused."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from polku.domain import Envelope, PolkuAggregate


class RecordView(PolkuAggregate):
    """One read of a client's record: which relationship, which part, why, and whether the
    reader was let in. Who read it and when are the envelope's (actor, business time)."""

    # Stored events name their class by topic, ``services.casefile.domain:RecordView.Viewed``.
    __module__ = "services.casefile.domain"

    @event("Viewed")
    def __init__(self, *, env: Envelope, relationship_id: UUID, part: str, purpose: str, granted: bool) -> None:
        self.relationship_id = relationship_id
        self.client_id = env.client_id
        self.part = part
        self.purpose = purpose
        self.granted = granted
        self.actor = env.actor

    @classmethod
    def record(
        cls, view_id: UUID, env: Envelope, *, client_id: str, relationship_id: UUID, part: str, purpose: str,
        granted: bool,
    ) -> RecordView:
        return cls._create(
            cls.Viewed, id=view_id, env=env.about(client_id), relationship_id=relationship_id, part=part,
            purpose=purpose, granted=granted,
        )


class RecordProbe(PolkuAggregate):
    """A read asked for by an id that names no relationship: which id, which part, why. Who
    asked and when are the envelope's. No client is named (there is none)."""

    __module__ = "services.casefile.domain"

    @event("Probed")
    def __init__(self, *, env: Envelope, relationship_id: UUID, part: str, purpose: str) -> None:
        self.relationship_id = relationship_id
        self.part = part
        self.purpose = purpose
        self.actor = env.actor

    @classmethod
    def record(cls, probe_id: UUID, env: Envelope, *, relationship_id: UUID, part: str, purpose: str) -> RecordProbe:
        return cls._create(
            cls.Probed, id=probe_id, env=env, relationship_id=relationship_id, part=part, purpose=purpose
        )


class ReferralAttachment(PolkuAggregate):
    """A routed referral about a client who had an open relationship was attached to it: which
    relationship. Its id is keyed by the referral (``services.casefile.application.attachment_id_for``), so a redelivered
    referral finds where it went even after that relationship ended, and opens none of its own.
    Internal: never published; read again only by a redelivery, so it stays out of the cache."""

    __module__ = "services.casefile.domain"
    cached = False

    @event("Attached")
    def __init__(self, *, env: Envelope, relationship_id: UUID) -> None:
        self.relationship_id = relationship_id

    @classmethod
    def record(cls, attachment_id: UUID, env: Envelope, *, relationship_id: UUID) -> ReferralAttachment:
        return cls._create(cls.Attached, id=attachment_id, env=env, relationship_id=relationship_id)
