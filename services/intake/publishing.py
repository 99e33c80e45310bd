"""Stored domain event → contract event: the one mapping, a table, 1:1.

The roster's changes are published too (intake owns the roster; casefile starts from the same
configured roster and applies them, to know who acts, in which role and team); absences are not.

Free text (the referral's summary) and the identity code never leave intake: no mapping here
reads them.
"""

from __future__ import annotations

from typing import Any

from contracts import audit
from contracts import intake as wire
from polku.relay import envelope, published_topics
from services.intake.domain import IntakeRecordView, Referral, Roster


def _base(e: Any) -> dict[str, Any]:
    return {**envelope(e), "referral_id": e.originator_id, "client_id": e.env.client_id}


def referral_received(e: Referral.Received) -> wire.ReferralReceived:
    return wire.ReferralReceived(
        **_base(e),
        channel=e.channel,
        source=wire.ReferralSource(
            kind=e.source_kind, authority=e.authority,
            further_kind=getattr(e, "further_source_kind", None),  # None: stored before it was carried
        ),
        concerns=list(e.concerns),
        urgent=e.urgent,
        consent=e.consent,
        team=getattr(e, "team", None),
        repeat_of=list(getattr(e, "repeat_of", None) or []),
        open_relationship_id=getattr(e, "open_relationship_id", None),
    )


def referral_screened(e: Any) -> wire.ReferralScreened:
    return wire.ReferralScreened(
        **_base(e), outcome=e.outcome, redirected_to=e.redirected_to, motivation=e.motivation
    )


def referral_closed(e: Any) -> wire.ReferralClosed:
    return wire.ReferralClosed(**_base(e), reason=e.reason)


def urgent_need_assessed(e: Any) -> wire.UrgentNeedAssessed:
    return wire.UrgentNeedAssessed(**_base(e), actions=list(e.actions))


def support_need_triaged(e: Any) -> wire.SupportNeedTriaged:
    return wire.SupportNeedTriaged(
        **_base(e), quadrant=e.quadrant, special_support_suspected=e.special_support_suspected,
        required_role=e.required_role,
    )


def referral_routed(e: Any) -> wire.ReferralRouted:
    return wire.ReferralRouted(
        **_base(e), team=e.team,
        required_role="social_worker" if e.special_support_suspected else e.required_role,
        worker_id=e.worker_id, special_support_suspected=e.special_support_suspected,
        override_reason=e.override_reason,
    )


def repeats_flagged(e: Any) -> wire.RepeatReferralsFlagged:
    return wire.RepeatReferralsFlagged(
        **_base(e), referrals=e.referrals, unreached_or_declined=e.unreached_or_declined
    )


def intake_record_viewed(e: IntakeRecordView.Viewed) -> audit.IntakeRecordViewed:
    """Intake's usage log, on the AUDIT stream. Its Nats-Msg-Id is ``<view id>:1`` (a fresh
    uuid4 a read), so it cannot collide with casefile's views on the same stream."""
    return audit.IntakeRecordViewed(
        **envelope(e), part=e.part, purpose=e.purpose, granted=e.granted, found=e.found,
        referral_id=e.referral_id, client_id=e.env.client_id, team=e.team, items=e.items,
    )


def roster_worker_set(e: Any) -> wire.RosterWorkerSet:
    return wire.RosterWorkerSet(**envelope(e), worker_id=e.worker_id, role=e.role, team=e.team, capacity=e.capacity)


def roster_worker_removed(e: Any) -> wire.RosterWorkerRemoved:
    return wire.RosterWorkerRemoved(**envelope(e), worker_id=e.worker_id)


TABLE: dict[type, Any] = {
    Roster.WorkerSet: roster_worker_set,
    Roster.WorkerRemoved: roster_worker_removed,
    Referral.Received: referral_received,
    Referral.Screened: referral_screened,
    Referral.Closed: referral_closed,
    Referral.UrgentNeedAssessed: urgent_need_assessed,
    Referral.SupportNeedTriaged: support_need_triaged,
    Referral.Routed: referral_routed,
    Referral.RepeatsFlagged: repeats_flagged,
    IntakeRecordView.Viewed: intake_record_viewed,
}


#: What the relay reads from the store: the topics of the events in the table.
TOPICS = published_topics(TABLE)


def to_contract(domain_event: Any) -> wire.Event | None:
    """The roster's changes are published (ids, role, team, capacity: the one roster the other
    services project); its seed and absences stay inside intake."""
    mapping = TABLE.get(type(domain_event))
    return mapping(domain_event) if mapping else None
