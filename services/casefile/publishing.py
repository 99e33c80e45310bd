"""Stored domain event → contract event: the one mapping, a table, 1:1.

What stays in casefile: the wording of plans, grounds, summaries and notes. The wire gets ids,
codes, counts and dates only.
"""

from __future__ import annotations

from typing import Any

from contracts import audit
from contracts import casefile as wire
from polku.relay import envelope, published_topics
from services.casefile.domain import RecordProbe, RecordView, Relationship


def _base(e: Any) -> dict[str, Any]:
    """The common fields of a relationship's events: the envelope's, the relationship, the client."""
    return {**envelope(e), "relationship_id": e.originator_id, "client_id": e.env.client_id}


def relationship_opened(e: Relationship.Opened) -> wire.RelationshipOpened:
    return wire.RelationshipOpened(
        **_base(e), referral_id=e.referral_id,
        special_support_suspected=getattr(e, "special_support_suspected", False),  # False: stored before it was carried
    )


def referral_attached(e: Any) -> wire.ReferralAttached:
    return wire.ReferralAttached(
        **_base(e), referral_id=e.referral_id,
        special_support_suspected=getattr(e, "special_support_suspected", False),  # False: stored before it was carried
    )


def own_worker_named(e: Relationship.OwnWorkerNamed) -> wire.OwnWorkerNamed:
    return wire.OwnWorkerNamed(
        **_base(e),
        worker_id=e.worker_id,
        role=e.role,
        team=e.team,
        work_pair_id=e.work_pair_id,
        reason=e.reason,
        # None: stored before a health-care work pair could be named
        health_care_pair_id=getattr(e, "health_care_pair_id", None),
        health_care_pair_profession=getattr(e, "health_care_pair_profession", None),
    )


def special_support_need_determined(e: Any) -> wire.SpecialSupportNeedDetermined:
    return wire.SpecialSupportNeedDetermined(
        **_base(e), special_support=e.special_support, grounds=list(e.grounds)
    )


def nature_determined(e: Any) -> wire.RelationshipNatureDetermined:
    return wire.RelationshipNatureDetermined(**_base(e), nature=e.nature)


def assessment_started(e: Any) -> wire.AssessmentStarted:
    return wire.AssessmentStarted(**_base(e), family_participates=getattr(e, "family_participates", False))


def assessment_completed(e: Any) -> wire.AssessmentCompleted:
    return wire.AssessmentCompleted(
        **_base(e), conclusion=e.conclusion, started_at=e.started_at or e.env.occurred_at
    )


def plan_updated(e: Any) -> wire.PlanUpdated:
    """The plan's codes, counts and dates; the wording (``content``, the texts of education, work
    history and earlier plans too) stays in casefile. Fields added since v1 are read with their
    defaults from an event stored before them."""
    content = e.content
    further = list(getattr(e, "further_offered", None) or [])
    further_chosen = getattr(e, "further_chosen_option", None)
    return wire.PlanUpdated(
        **_base(e),
        kind=e.kind,
        version=e.version,
        goal_count=len(content.get("goals", [])),
        measure_count=len(content.get("measures", [])),
        strength_count=len(content.get("strengths", [])),
        options_offered=len(e.options_offered) + len(further),
        offered=list(e.options_offered),
        further_offered=further,
        further_chosen_option=further_chosen,
        education=getattr(e, "education", None),
        work_history=getattr(e, "work_history", None),
        earlier_plans=getattr(e, "earlier_plans", None),
        participants=list(getattr(e, "participants", None) or []),
        client_notified_on=getattr(e, "client_notified_on", None),
        option_chosen=e.chosen_option is not None or further_chosen is not None,
        chosen_option=e.chosen_option,
        all_options_refused=e.all_options_refused,
        consequences_told=e.consequences_told,
        client_dissents=e.client_dissents,
        next_review=e.next_review,
        valid_until=e.valid_until,
    )


def decision_made(e: Any) -> wire.DecisionMade:
    return wire.DecisionMade(
        **_base(e),
        decision_id=e.decision_id,
        kind=e.kind,
        granted=e.granted,
        appealable=e.appealable,
        secures_care=e.secures_care,
        maker_role=e.maker_role,
        outcome=getattr(e, "outcome", None),
        appeal_instructions_given=e.appeal_instructions_given,
        client_heard=getattr(e, "client_heard", False),
    )


def relationship_decision_made(e: Any) -> wire.RelationshipDecisionMade:
    return wire.RelationshipDecisionMade(
        **_base(e),
        decision_id=e.decision_id,
        outcome=e.outcome,
        appealable=e.appealable,
        secures_care=e.secures_care,
        maker_role=e.maker_role,
        appeal_instructions_given=e.appeal_instructions_given,
        client_heard=e.client_heard,
    )


def meeting_scheduled(e: Any) -> wire.MeetingScheduled:
    return wire.MeetingScheduled(
        **_base(e), meeting_id=e.meeting_id, kind=e.kind, channel=e.channel,
        scheduled_for=e.scheduled_for,
    )


def meeting_held(e: Any) -> wire.MeetingHeld:
    return wire.MeetingHeld(
        **_base(e), meeting_id=e.meeting_id, client_informed_of=list(getattr(e, "informed_of", None) or ()),
    )


def meeting_missed(e: Any) -> wire.MeetingMissed:
    return wire.MeetingMissed(**_base(e), meeting_id=e.meeting_id)


def consultation_recorded(e: Any) -> wire.ConsultationRecorded:
    return wire.ConsultationRecorded(
        **_base(e), consultation_id=e.consultation_id, topic=e.topic, consultant_id=e.consultant_id,
        consultant_role=e.consultant_role, profession=e.profession,
    )


def work_activity_started(e: Any) -> wire.WorkActivityStarted:
    return wire.WorkActivityStarted(
        **_base(e),
        placement_id=e.placement_id,
        days_per_week=e.days_per_week,
        hours_per_day=e.hours_per_day,
        starts_on=e.starts_on,
        ends_on=e.ends_on,
        familiarisation_until=e.familiarisation_until,
        evaluation_on=e.evaluation_on,
        shop_steward_notified=e.shop_steward_notified,
        instructor=getattr(e, "instructor", None),  # None: stored before an instructor was named
    )


def work_activity_attended(e: Any) -> wire.WorkActivityAttended:
    return wire.WorkActivityAttended(**_base(e), placement_id=e.placement_id, day=e.day, reported_by=e.reported_by)


def work_activity_absent(e: Any) -> wire.WorkActivityAbsent:
    return wire.WorkActivityAbsent(
        **_base(e), placement_id=e.placement_id, day=e.day, reason=e.reason, reported_by=e.reported_by
    )


def familiarisation_visit_made(e: Any) -> wire.FamiliarisationVisitMade:
    return wire.FamiliarisationVisitMade(**_base(e), option=e.option, visited_on=e.visited_on)


def work_activity_ended(e: Any) -> wire.WorkActivityEnded:
    return wire.WorkActivityEnded(**_base(e), reason=e.reason)


def measurement_recorded(e: Any) -> wire.MeasurementRecorded:
    return wire.MeasurementRecorded(**_base(e), instrument=e.instrument, scores=dict(e.scores))


def consent_recorded(e: Any) -> wire.ConsentRecorded:
    return wire.ConsentRecorded(**_base(e), kind=e.kind)


def consent_withdrawn(e: Any) -> wire.ConsentWithdrawn:
    return wire.ConsentWithdrawn(**_base(e), kind=e.kind)


def relationship_ended(e: Any) -> wire.RelationshipEnded:
    return wire.RelationshipEnded(
        **_base(e), reason=e.reason, check_in_due=e.check_in_due,
        formed=getattr(e, "formed", None),  # None: stored before it was carried
    )


def relationship_closed(e: Any) -> wire.RelationshipClosed:
    return wire.RelationshipClosed(**_base(e), reason=e.reason)


def relationship_reopened(e: Any) -> wire.RelationshipReopened:
    return wire.RelationshipReopened(**_base(e), reason=e.reason, anew=getattr(e, "anew", False))


def client_record_viewed(e: RecordView.Viewed) -> audit.ClientRecordViewed:
    return audit.ClientRecordViewed(
        **envelope(e),
        relationship_id=e.relationship_id,
        client_id=e.env.client_id,
        part=e.part,
        purpose=e.purpose,
        granted=e.granted,
    )


def client_record_probed(e: RecordProbe.Probed) -> audit.ClientRecordProbed:
    return audit.ClientRecordProbed(
        **envelope(e), relationship_id=e.relationship_id, part=e.part, purpose=e.purpose
    )


def client_data_disclosed(e: Any) -> audit.ClientDataDisclosed:
    return audit.ClientDataDisclosed(
        **envelope(e),
        disclosure_id=e.disclosure_id,
        relationship_id=e.originator_id,
        client_id=e.env.client_id,
        recipient=e.recipient,
        basis=e.basis,
        statute=e.statute,
        consent=e.consent,
        categories=list(e.categories),
    )


TABLE: dict[type, Any] = {
    Relationship.Opened: relationship_opened,
    Relationship.ReferralAttached: referral_attached,
    Relationship.OwnWorkerNamed: own_worker_named,
    Relationship.SpecialSupportNeedDetermined: special_support_need_determined,
    Relationship.RelationshipNatureDetermined: nature_determined,
    Relationship.AssessmentStarted: assessment_started,
    Relationship.AssessmentCompleted: assessment_completed,
    Relationship.PlanUpdated: plan_updated,
    Relationship.DecisionMade: decision_made,
    Relationship.RelationshipDecisionMade: relationship_decision_made,
    Relationship.MeetingScheduled: meeting_scheduled,
    Relationship.MeetingHeld: meeting_held,
    Relationship.MeetingMissed: meeting_missed,
    Relationship.ConsultationRecorded: consultation_recorded,
    Relationship.FamiliarisationVisitMade: familiarisation_visit_made,
    Relationship.WorkActivityStarted: work_activity_started,
    Relationship.WorkActivityAttended: work_activity_attended,
    Relationship.WorkActivityAbsent: work_activity_absent,
    Relationship.WorkActivityEnded: work_activity_ended,
    Relationship.MeasurementRecorded: measurement_recorded,
    Relationship.ConsentRecorded: consent_recorded,
    Relationship.ConsentWithdrawn: consent_withdrawn,
    Relationship.Ended: relationship_ended,
    Relationship.Closed: relationship_closed,
    Relationship.Reopened: relationship_reopened,
    Relationship.DataDisclosed: client_data_disclosed,
    RecordView.Viewed: client_record_viewed,
    RecordProbe.Probed: client_record_probed,
}


#: What the relay reads from the store: the topics of the events in the table.
TOPICS = published_topics(TABLE)


def to_contract(domain_event: Any) -> wire.Event | None:
    mapping = TABLE.get(type(domain_event))
    return mapping(domain_event) if mapping else None
