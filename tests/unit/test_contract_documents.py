"""The AsyncAPI document and the JSON Schemas an integrator validates against.

They are generated from the contract types; these tests check that they describe every event,
command and query, that they hang together, that they are valid AsyncAPI 3.0.0, and that a
schema accepts what the decoders accept and refuses what they refuse.

Needs ``jsonschema`` (test extra).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import jsonschema
import msgspec
import pytest

import contracts
from contracts import asyncapi, audit, base, casefile, followup, intake, reporting
from contracts.base import Actor
from contracts.casefile import OwnWorkerNamed, PlanUpdated, RelationshipEnded, RelationshipOpened
from contracts.followup import ClientDisappeared
from contracts.intake import (
    ReferralClosed,
    RosterWorkerRemoved,
    RosterWorkerSet,
    ReferralReceived,
    ReferralRouted,
    ReferralScreened,
    ReferralSource,
    RepeatReferralsFlagged,
    SupportNeedTriaged,
    UrgentNeedAssessed,
)

#: The official JSON Schema of AsyncAPI 3.0.0: `schemas/3.0.0.json` of the npm package
#: `@asyncapi/specs` 6.11.1 (https://github.com/asyncapi/spec-json-schemas), Apache-2.0,
#: vendored unchanged; see tests/data/README.md.
ASYNCAPI_META_SCHEMA = Path(__file__).parents[1] / "data" / "asyncapi-3.0.0.json"

CLIENT = "0123456789abcdef0123456789abcdef"
WORKER = Actor(worker_id="sw-001", role="social_worker", team="team-north")
NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def _event_base() -> dict[str, Any]:
    return {"event_id": uuid4(), "occurred_at": NOW, "actor": WORKER}


#: A real instance of every body on the wire, and one change that makes it wrong: a value outside
#: its closed vocabulary wherever the type has one.
EXAMPLES: dict[type, tuple[Any, tuple[Any, ...], Any]] = {
    ReferralReceived: (
        ReferralReceived(
            **_event_base(),
            referral_id=uuid4(),
            client_id=CLIENT,
            channel="phone",
            source=ReferralSource(kind="authority", authority="police"),
            concerns=["housing", "debt"],
            urgent=True,
            consent=False,
        ),
        ("channel",),
        "carrier_pigeon",
    ),
    RelationshipOpened: (
        RelationshipOpened(
            **_event_base(), relationship_id=uuid4(), client_id=CLIENT, referral_id=uuid4()
        ),
        ("actor", "role"),
        "wizard",
    ),
    OwnWorkerNamed: (
        OwnWorkerNamed(
            **_event_base(),
            relationship_id=uuid4(),
            client_id=CLIENT,
            worker_id="sw-002",
            role="social_worker",
            team="team-north",
            work_pair_id="sc-001",
            reason="initial",
        ),
        ("reason",),
        "on_a_whim",
    ),
    PlanUpdated: (
        PlanUpdated(
            **_event_base(),
            relationship_id=uuid4(),
            client_id=CLIENT,
            kind="client_plan",
            version=2,
            goal_count=3,
            measure_count=4,
            options_offered=2,
            option_chosen=True,
            next_review=date(2025, 6, 1),
            further_offered=["social_rehabilitation"],
            education="basic_education",
            work_history="under_one_year",
            earlier_plans="not_carried_out",
            participants=["client", "employment_services", "kela"],
            client_notified_on=date(2025, 3, 1),
        ),
        ("kind",),
        "wish_list",
    ),
    RelationshipEnded: (
        RelationshipEnded(
            **_event_base(), relationship_id=uuid4(), client_id=CLIENT, reason="goal_reached", formed=True
        ),
        ("reason",),
        "bored",
    ),
    ClientDisappeared: (
        ClientDisappeared(
            **_event_base(),
            relationship_id=uuid4(),
            client_id=CLIENT,
            detected_by="missed_meetings",
            last_contact=date(2025, 2, 1),
        ),
        ("detected_by",),
        "crystal_ball",
    ),
    intake.ReceiveReferral: (
        intake.ReceiveReferral(
            actor=base.ActingWorker(worker_id="sw-001", role="social_worker", team="team-north"),
            occurred_at=NOW,
            identity_code="131052-308T",
            channel="e_service",
            source=intake.Source(kind="worker_observation", further_kind="prolonged_unemployment"),
            concerns=["livelihood"],
            urgent=False,
            consent=True,
            summary="",
        ),
        ("concerns", 0),
        "astrology",
    ),
    intake.ReceiveReferralAccepted: (
        intake.ReceiveReferralAccepted(referral_id=uuid4(), client_id=CLIENT),
        ("ok",),
        False,
    ),
    reporting.OpenRelationshipsQuery: (
        reporting.OpenRelationshipsQuery(team="team-north"),
        ("team",),
        "",  # no vocabulary here: a team code is never empty
    ),
    reporting.OpenRelationshipsReply: (
        reporting.OpenRelationshipsReply(
            total=3,
            without_own_worker=1,
            workers=[
                reporting.WorkerCaseload(
                    worker_id="sw-001", role="social_worker", team="team-north", open_relationships=2
                )
            ],
            position=42,
        ),
        ("workers", 0, "role"),
        "wizard",
    ),
    ReferralScreened: (
        ReferralScreened(**_event_base(), referral_id=uuid4(), client_id=CLIENT, outcome="redirected",
                         redirected_to="kela", motivation="ambivalent"),
        ("outcome",), "shrugged",
    ),
    UrgentNeedAssessed: (
        UrgentNeedAssessed(**_event_base(), referral_id=uuid4(), client_id=CLIENT, actions=["crisis_work"]),
        ("actions", 0), "prayer",
    ),
    SupportNeedTriaged: (
        SupportNeedTriaged(**_event_base(), referral_id=uuid4(), client_id=CLIENT, quadrant="D",
                           special_support_suspected=True, required_role="social_worker"),
        ("required_role",), "wizard",
    ),
    ReferralRouted: (
        ReferralRouted(**_event_base(), referral_id=uuid4(), client_id=CLIENT, team="team-north",
                       required_role="social_worker", worker_id="sw-002", special_support_suspected=True,
                       override_reason="continuity"),
        ("override_reason",), "mood",
    ),
    ReferralClosed: (
        ReferralClosed(**_event_base(), referral_id=uuid4(), client_id=CLIENT, reason="advice_given"),
        ("reason",), "lost_interest",
    ),
    RosterWorkerSet: (
        RosterWorkerSet(**_event_base(), worker_id="sw-003", role="social_worker", team="team-north", capacity=20),
        ("role",), "chief",
    ),
    RosterWorkerRemoved: (
        RosterWorkerRemoved(**_event_base(), worker_id="sw-003"),
        ("worker_id",), "",
    ),
    RepeatReferralsFlagged: (
        RepeatReferralsFlagged(**_event_base(), referral_id=uuid4(), client_id=CLIENT, referrals=4,
                               unreached_or_declined=3),
        ("actor", "role"), "wizard",
    ),
    intake.ScreenReferral: (
        intake.ScreenReferral(actor=base.ActingWorker(worker_id="sg-001", role="service_guidance_worker", team="team-north"),
                                referral_id=uuid4(), outcome="assessment_needed", motivation="motivated"),
        ("motivation",), "eager",
    ),
    intake.AssessUrgentNeed: (
        intake.AssessUrgentNeed(actor=base.ActingWorker(worker_id="sw-001", role="social_worker", team="team-north"),
                                  referral_id=uuid4(), actions=["emergency_accommodation"]),
        ("actions", 0), "prayer",
    ),
    intake.TriageSupportNeed: (
        intake.TriageSupportNeed(actor=base.ActingWorker(worker_id="sw-001", role="social_worker", team="team-north"),
                                   referral_id=uuid4(), positions={"seeks_help": "unable", "needs": "multiple"}),
        ("actor", "role"), "wizard",
    ),
    intake.RouteReferral: (
        intake.RouteReferral(actor=base.ActingWorker(worker_id="tl-001", role="team_lead", team="team-north"),
                               referral_id=uuid4(), worker_id="sw-002", override_reason="competence"),
        ("override_reason",), "mood",
    ),
    intake.SetRosterWorker: (
        intake.SetRosterWorker(actor=base.ActingWorker(worker_id="tl-001", role="team_lead", team="team-north"),
                                 worker_id="sc-009", role="social_counsellor", team="team-north", capacity=25),
        ("role",), "wizard",
    ),
    intake.RemoveRosterWorker: (
        intake.RemoveRosterWorker(actor=base.ActingWorker(worker_id="tl-001", role="team_lead", team="team-north"),
                                    worker_id="sc-009"),
        ("actor", "role"), "wizard",
    ),
    intake.RecordAbsence: (
        intake.RecordAbsence(actor=base.ActingWorker(worker_id="tl-001", role="team_lead", team="team-north"),
                               worker_id="sw-002", starts=date(2025, 3, 10), ends=date(2025, 3, 14)),
        ("actor", "role"), "wizard",
    ),
    intake.Done: (
        intake.Done(referral_id=uuid4(), stage="awaiting_triage"),
        ("ok",), False,
    ),
    intake.ReferralRoutedReply: (
        intake.ReferralRoutedReply(referral_id=uuid4(), worker_id="sw-002", team="team-north",
                                     required_role="social_worker", special_support_suspected=True),
        ("required_role",), "wizard",
    ),
    intake.ReferralStatusQuery: (
        intake.ReferralStatusQuery(referral_id=uuid4()),
        ("referral_id",), 42,
    ),
    intake.ReferralStatusReply: (
        intake.ReferralStatusReply(
            referral_id=uuid4(), client_id=CLIENT, team="team-north", stage="routed",
            history=[intake.HistoryEntry(event="Received", occurred_at=NOW, recorded_at=NOW,
                                           worker_id="sg-001", role="service_guidance_worker")],
        ),
        ("history", 0, "role"), "wizard",
    ),
    intake.DistributionQueueQuery: (
        intake.DistributionQueueQuery(team="team-north"),
        ("team",), "",
    ),
    intake.DistributionQueueReply: (
        intake.DistributionQueueReply(
            team="team-north",
            items=[intake.QueueItem(referral_id=uuid4(), stage="urgent", urgent=True, received_at=NOW, waiting_minutes=12)],
        ),
        ("items", 0, "stage"), "forgotten",
    ),
    base.Refused: (
        base.Refused(
            error=base.Error(code="unknown_value", message="`channel` is not allowed", field="channel")
        ),
        ("ok",),
        True,
    ),
}


def _casefile_base() -> dict[str, Any]:
    return {**_event_base(), "relationship_id": uuid4(), "client_id": CLIENT}


ACTING = base.ActingWorker(worker_id="sc-001", role="social_counsellor", team="team-north")


def _command_base() -> dict[str, Any]:
    return {"actor": ACTING, "occurred_at": NOW, "relationship_id": uuid4()}


_ACCEPTED = casefile.CasefileAccepted(relationship_id=uuid4(), version=4, meeting_id=uuid4())
_RECORD_QUERY = casefile.RecordQuery(relationship_id=uuid4(), actor=ACTING, purpose="client_work")

EXAMPLES.update(
    {
        casefile.ReferralAttached: (casefile.ReferralAttached(**_casefile_base(), referral_id=uuid4()), ("actor", "role"), "wizard"),
        casefile.SpecialSupportNeedDetermined: (
            casefile.SpecialSupportNeedDetermined(**_casefile_base(), special_support=True, grounds=["substance_use"]),
            ("grounds", 0),
            "bad_luck",
        ),
        casefile.RelationshipNatureDetermined: (
            casefile.RelationshipNatureDetermined(**_casefile_base(), nature="continuous"),
            ("nature",),
            "eternal",
        ),
        casefile.AssessmentStarted: (casefile.AssessmentStarted(**_casefile_base()), ("actor", "role"), "wizard"),
        casefile.AssessmentCompleted: (
            casefile.AssessmentCompleted(**_casefile_base(), conclusion="service_need", started_at=NOW),
            ("conclusion",),
            "maybe",
        ),
        casefile.DecisionMade: (
            casefile.DecisionMade(
                **_casefile_base(), decision_id=uuid4(), kind="supported_living", granted=False,
                appealable=True, secures_care=True, maker_role="social_worker", outcome="denied",
                appeal_instructions_given=True, client_heard=True,
            ),
            ("kind",),
            "pony",
        ),
        casefile.RelationshipDecisionMade: (
            casefile.RelationshipDecisionMade(
                **_casefile_base(), decision_id=uuid4(), outcome="denied", appealable=True,
                maker_role="social_worker", appeal_instructions_given=True, client_heard=True,
            ),
            ("outcome",),
            "maybe",
        ),
        casefile.MeetingScheduled: (
            casefile.MeetingScheduled(
                **_casefile_base(), meeting_id=uuid4(), kind="first_meeting", channel="in_person", scheduled_for=NOW
            ),
            ("channel",),
            "telepathy",
        ),
        casefile.MeetingHeld: (
            casefile.MeetingHeld(**_casefile_base(), meeting_id=uuid4(), client_informed_of=["rights", "own_worker"]),
            ("client_informed_of", 0),
            "horoscope",
        ),
        casefile.MeetingMissed: (casefile.MeetingMissed(**_casefile_base(), meeting_id=uuid4()), ("actor", "role"), "wizard"),
        casefile.ConsultationRecorded: (
            casefile.ConsultationRecorded(
                **_casefile_base(), consultation_id=uuid4(), topic="special_support_need", consultant_id="sw-001",
                consultant_role="social_worker",
            ),
            ("topic",),
            "gossip",
        ),
        casefile.WorkActivityStarted: (
            casefile.WorkActivityStarted(
                **_casefile_base(), placement_id="activity-centre-1", days_per_week=3, hours_per_day=4.0,
                starts_on=date(2025, 3, 10), ends_on=date(2025, 9, 10), familiarisation_until=date(2025, 3, 7),
                evaluation_on=date(2025, 6, 10), shop_steward_notified=True, instructor="instructor-01",
            ),
            ("days_per_week",),
            0,
        ),
        casefile.WorkActivityAttended: (
            casefile.WorkActivityAttended(
                **_casefile_base(), placement_id="activity-centre-1", day=date(2025, 3, 11), reported_by="instructor-01"
            ),
            ("day",),
            "tuesday",
        ),
        casefile.WorkActivityAbsent: (
            casefile.WorkActivityAbsent(
                **_casefile_base(), placement_id="activity-centre-1", day=date(2025, 3, 12), reason="unannounced"
            ),
            ("reason",),
            "fishing",
        ),
        casefile.FamiliarisationVisitMade: (
            casefile.FamiliarisationVisitMade(**_casefile_base(), option="work_trial", visited_on=date(2025, 3, 3)),
            ("option",),
            "circus",
        ),
        casefile.WorkActivityEnded: (
            casefile.WorkActivityEnded(**_casefile_base(), reason="period_completed"),
            ("reason",),
            "got_bored",
        ),
        casefile.MeasurementRecorded: (
            casefile.MeasurementRecorded(**_casefile_base(), instrument="kykyviisari", scores={"work_ability": 6}),
            ("instrument",),
            "tea_leaves",
        ),
        casefile.ConsentRecorded: (
            casefile.ConsentRecorded(**_casefile_base(), kind="information_exchange"),
            ("kind",),
            "everything",
        ),
        casefile.ConsentWithdrawn: (
            casefile.ConsentWithdrawn(**_casefile_base(), kind="family_participation"),
            ("kind",),
            "everything",
        ),
        casefile.RelationshipClosed: (
            casefile.RelationshipClosed(**_casefile_base(), reason="check_in_no_need"),
            ("reason",),
            "forgotten",
        ),
        casefile.RelationshipReopened: (
            casefile.RelationshipReopened(**_casefile_base(), reason="client_returned", anew=True),
            ("reason",),
            "nostalgia",
        ),
        audit.ClientRecordViewed: (
            audit.ClientRecordViewed(**_casefile_base(), part="timeline", purpose="client_work", granted=False),
            ("purpose",),
            "curiosity",
        ),
        audit.ClientRecordProbed: (
            audit.ClientRecordProbed(**_event_base(), relationship_id=uuid4(), part="state", purpose="client_work"),
            ("part",),
            "everything",
        ),
        audit.IntakeRecordViewed: (
            audit.IntakeRecordViewed(
                **_event_base(), part="referral_status", purpose="client_work", granted=True, referral_id=uuid4(),
                client_id=CLIENT, items=3,
            ),
            ("part",),
            "the_whole_file",
        ),
        audit.ClientDataDisclosed: (
            audit.ClientDataDisclosed(
                **_casefile_base(), disclosure_id=uuid4(), recipient="kela", basis="law", statute="kela_laki",
                categories=["relationship_status"],
            ),
            ("recipient",),
            "the_press",
        ),
        casefile.RecordDisclosure: (
            casefile.RecordDisclosure(
                **_command_base(), recipient="employment_services", basis="consent", categories=["client_plan"]
            ),
            ("categories", 0),
            "everything",
        ),
        casefile.NameOwnWorker: (
            casefile.NameOwnWorker(
                **_command_base(), worker_id="sw-001", reason="initial", health_care_pair_id="hc-017",
                health_care_pair_profession="psychiatric_nurse",
            ),
            ("reason",),
            "on_a_whim",
        ),
        casefile.DetermineSpecialSupportNeed: (
            casefile.DetermineSpecialSupportNeed(
                **_command_base(), special_support=True, grounds=["multiple_needs"], grounds_text="stays in casefile"
            ),
            ("grounds", 0),
            "bad_luck",
        ),
        casefile.StartAssessment: (casefile.StartAssessment(**_command_base()), ("actor", "role"), "wizard"),
        casefile.CompleteAssessment: (
            casefile.CompleteAssessment(**_command_base(), conclusion="no_service_need"),
            ("conclusion",),
            "maybe",
        ),
        casefile.DetermineNature: (casefile.DetermineNature(**_command_base(), nature="recurring"), ("nature",), "eternal"),
        casefile.UpdatePlan: (
            casefile.UpdatePlan(
                **_command_base(),
                kind="activation_plan",
                goals=["a goal in the client's words"],
                measures=[casefile.PlanMeasure(text="visit two placements", responsible="client")],
                next_review=date(2025, 4, 1),
                options_offered=["rehabilitative_work_activity", "education"],
                further_options_offered=["work_coaching", "typ_service"],
                education="vocational",
                education_text="stays in casefile",
                work_history="over_five_years",
                earlier_plans="no_earlier_plans",
                participants=["client", "employment_services", "support_person"],
                client_notified_on=date(2025, 3, 1),
            ),
            ("measures", 0, "responsible"),
            "nobody",
        ),
        casefile.StartWorkActivity: (
            casefile.StartWorkActivity(
                **_command_base(), placement_id="activity-centre-1", days_per_week=3, hours_per_day=4.0,
                starts_on=date(2025, 3, 10), ends_on=date(2025, 9, 10), evaluation_on=date(2025, 6, 10),
                shop_steward_notified=True, instructor="instructor-01",
            ),
            ("hours_per_day",),
            0,
        ),
        casefile.RecordAttendance: (
            casefile.RecordAttendance(
                **_command_base(), day=date(2025, 3, 12), attended=False, absence_reason="illness",
                reported_by="instructor-01",
            ),
            ("absence_reason",),
            "hangover",
        ),
        casefile.RecordFamiliarisationVisit: (
            casefile.RecordFamiliarisationVisit(**_command_base(), option="rehabilitative_work_activity", visited_on=date(2025, 3, 3)),
            ("option",),
            "circus",
        ),
        casefile.EndWorkActivity: (
            casefile.EndWorkActivity(**_command_base(), reason="interrupted"),
            ("reason",),
            "got_bored",
        ),
        casefile.MakeDecision: (
            casefile.MakeDecision(
                **_command_base(), kind="activity_allowance", granted=True, outcome="partly_granted",
                appeal_instructions_given=True, client_heard=True,
            ),
            ("kind",),
            "pony",
        ),
        casefile.DecideOnRelationship: (
            casefile.DecideOnRelationship(
                **_command_base(), outcome="granted", appeal_instructions_given=True, grounds_text="a service need",
            ),
            ("outcome",),
            "perhaps",
        ),
        casefile.ScheduleMeeting: (
            casefile.ScheduleMeeting(**_command_base(), kind="activation_meeting", channel="phone", scheduled_for=NOW),
            ("kind",),
            "party",
        ),
        casefile.RecordMeetingOutcome: (
            casefile.RecordMeetingOutcome(**_command_base(), meeting_id=uuid4(), outcome="missed"),
            ("outcome",),
            "postponed",
        ),
        casefile.RecordConsultation: (
            casefile.RecordConsultation(**_command_base(), topic="division_of_work", profession="team_lead"),
            ("profession",),
            "fortune_teller",
        ),
        casefile.RecordMeasurement: (
            casefile.RecordMeasurement(**_command_base(), instrument="avain", scores={"housing": 3}),
            ("instrument",),
            "tea_leaves",
        ),
        casefile.RecordConsent: (
            casefile.RecordConsent(**_command_base(), kind="contact_other_authorities", given=True),
            ("kind",),
            "everything",
        ),
        casefile.EndRelationship: (
            casefile.EndRelationship(**_command_base(), reason="transferred_to_work"),
            ("reason",),
            "bored",
        ),
        casefile.ReopenRelationship: (
            casefile.ReopenRelationship(**_command_base(), reason="check_in_found_need"),
            ("reason",),
            "nostalgia",
        ),
        casefile.CasefileAccepted: (_ACCEPTED, ("ok",), False),
        casefile.RecordQuery: (_RECORD_QUERY, ("purpose",), "curiosity"),
        casefile.WorkActivityMonthQuery: (
            casefile.WorkActivityMonthQuery(relationship_id=uuid4(), actor=ACTING, purpose="client_work", month="2025-03"),
            ("month",),
            "2025-13",
        ),
        casefile.WorkActivityMonth: (
            casefile.WorkActivityMonth(
                relationship_id=uuid4(), month="2025-03", realised_days=10, absences=2,
                absences_by_reason={"illness": 1, "unannounced": 1}, allowance_days=10, activity_allowance_cents=9000,
                travel_days=10, travel_compensation_cents=0,
            ),
            ("absences_by_reason", "illness"),
            "one",
        ),
        casefile.RelationshipState: (
            casefile.RelationshipState(
                relationship_id=uuid4(), client_id=CLIENT, status="open", version=7, referral_ids=[uuid4()],
                own_worker_id="sw-001", own_worker_role="social_worker", team="team-north", special_support=True,
                nature="continuous", assessment="completed", assessment_conclusion="service_need",
                plans=[
                    casefile.PlanView(
                        kind="client_plan", version=1, goals=["a goal"], measures=[], next_review=date(2025, 6, 1)
                    )
                ],
                consents=["information_exchange"],
                familiarisation_visits=[
                    casefile.FamiliarisationVisitView(option="rehabilitative_work_activity", visited_on=date(2025, 3, 3))
                ],
                formed=True,
            ),
            ("nature",),
            "eternal",
        ),
        casefile.Timeline: (
            casefile.Timeline(
                relationship_id=uuid4(),
                entries=[
                    casefile.TimelineEntry(
                        version=1,
                        recorded_at=NOW,
                        event=RelationshipOpened(**_event_base(), relationship_id=uuid4(), client_id=CLIENT, referral_id=uuid4()),
                    )
                ],
            ),
            ("entries", 0, "event", "event"),
            "SomethingElse",
        ),
        casefile.RelationshipHistory: (
            casefile.RelationshipHistory(
                relationship_id=uuid4(),
                entries=[
                    casefile.RelationshipHistoryEntry(
                        version=1,
                        recorded_at=NOW,
                        event=RelationshipOpened(**_event_base(), relationship_id=uuid4(), client_id=CLIENT, referral_id=uuid4()),
                    )
                ],
            ),
            ("entries", 0, "event", "event"),
            "SomethingElse",
        ),
        casefile.SummaryQuery: (casefile.SummaryQuery(), ("unknown",), 1),
        casefile.CasefileSummary: (
            casefile.CasefileSummary(
                open=3, ended=2, by_nature={"temporary": 2, "continuous": 1}, without_nature=2,
                by_end_reason={"no_service_need": 1, "transferred_to_work": 1}, not_formed=1, closed=1,
            ),
            ("by_nature", "continuous"),
            "one",
        ),
    }
)
EXAMPLES.update(
    {
        followup.CheckInDue: (
            followup.CheckInDue(**_casefile_base(), due=date(2026, 12, 28), attempt=1), ("attempt",), "first"
        ),
        followup.CheckInCompleted: (
            followup.CheckInCompleted(**_casefile_base(), outcome="no_need", attempts=1), ("outcome",), "maybe"
        ),
        followup.ContactAttemptRecorded: (
            followup.ContactAttemptRecorded(
                **_casefile_base(), channel="phone", outcome="no_answer", attempted_on=date(2027, 1, 4)
            ),
            ("channel",),
            "carrier_pigeon",
        ),
        followup.ClientDisappeared: (
            followup.ClientDisappeared(
                **_casefile_base(), detected_by="missed_meetings", last_contact=date(2026, 12, 1)
            ),
            ("detected_by",),
            "gone",
        ),
        followup.ClientReached: (
            followup.ClientReached(**_casefile_base(), reached_on=date(2027, 1, 10), reached_by="home_visit", days_disappeared=12),
            ("days_disappeared",),
            -1,
        ),
        followup.EndProposed: (
            followup.EndProposed(**_casefile_base(), disappeared_on=date(2026, 12, 1), own_worker_id="sc-001"),
            ("reason",),
            "bored",
        ),
        followup.ExecutiveAssistanceRequested: (
            followup.ExecutiveAssistanceRequested(**_casefile_base(), ground="danger_to_life_or_health"),
            ("ground",),
            "curiosity",
        ),
        followup.ReviewOverdue: (
            followup.ReviewOverdue(**_casefile_base(), kind="client_plan", review_due=date(2027, 3, 1)),
            ("kind",),
            "wish_list",
        ),
        followup.AssessmentOverdue: (
            followup.AssessmentOverdue(**_casefile_base(), due=date(2027, 3, 31), working_days=7),
            ("working_days",),
            0,
        ),
        followup.EvaluationOverdue: (
            followup.EvaluationOverdue(**_casefile_base(), placement_id="activity-centre-1", evaluation_on=date(2027, 4, 1)),
            ("placement_id",),
            "",
        ),
        followup.OverdueCleared: (
            followup.OverdueCleared(**_casefile_base(), overdue="review", due=date(2027, 3, 1), days_late=3, how="done"),
            ("how",),
            "forgotten",
        ),
        followup.ClientMarkedRecurring: (
            followup.ClientMarkedRecurring(
                client_id=CLIENT, **_event_base(), relationship_id=uuid4(), grounds="relationships_restarted",
                count=3, window_days=365,
            ),
            ("count",),
            0,
        ),
        audit.FollowupTasksViewed: (
            audit.FollowupTasksViewed(
                **{**_event_base(), "actor": base.Actor(worker_id="sc-001", role="social_counsellor", team="team-north")},
                purpose="client_work", scope="own", items=1, relationship_ids=[uuid4()], client_ids=[CLIENT],
            ),
            ("scope",),
            "everyone",
        ),
        followup.RecordContactAttempt: (
            followup.RecordContactAttempt(**_command_base(), channel="letter", outcome="mail_returned"),
            ("outcome",),
            "lost",
        ),
        followup.ReportDisappearance: (
            followup.ReportDisappearance(**_command_base(), authority="police", last_contact=date(2026, 11, 2)),
            ("authority",),
            "neighbour",
        ),
        followup.RequestExecutiveAssistance: (
            followup.RequestExecutiveAssistance(**_command_base(), ground="risk_of_harm_to_others"),
            ("ground",),
            "hunch",
        ),
        followup.FollowupAccepted: (
            followup.FollowupAccepted(relationship_id=uuid4(), state="disappeared", disappeared=True),
            ("state",),
            "lost",
        ),
        followup.DueQuery: (followup.DueQuery(actor=ACTING, purpose="client_work", scope="team"), ("scope",), "all"),
        followup.DueTasks: (
            followup.DueTasks(
                today=date(2027, 1, 4),
                tasks=[
                    followup.DueTask(
                        kind="check_in", relationship_id=uuid4(), client_id=CLIENT, own_worker_id="sc-001",
                        team="team-north", due=date(2026, 12, 28), days_overdue=7, urgent=False,
                    )
                ],
            ),
            ("tasks", 0, "kind"),
            "chores",
        ),
        followup.RecordCheckIn: (
            followup.RecordCheckIn(actor=ACTING, occurred_at=NOW, relationship_id=uuid4(), outcome="not_reached"),
            ("outcome",),
            "ghosted",
        ),
        followup.CheckInRecorded: (
            followup.CheckInRecorded(relationship_id=uuid4(), state="retry", next_due=date(2027, 1, 4)),
            ("state",),
            "later",
        ),
        followup.AdvanceClock: (followup.AdvanceClock(days=30), ("days",), -1),
        followup.ClockAdvanced: (followup.ClockAdvanced(now=NOW), ("ok",), False),
    }
)

#: Reporting's indicators: one table as the query answers it (exact) and as a snapshot on the
#: REPORTING stream publishes it (a small count suppressed).
_SCREENING = reporting.Indicator(
    name="screening_outcomes",
    dimensions=["outcome"],
    unit="referrals",
    cells=[
        reporting.IndicatorCell(key={"outcome": "advice_given"}, count=12),
        reporting.IndicatorCell(key={"outcome": "redirected"}, count=None, suppressed=True),
    ],
    total=None,
    total_suppressed=True,
)
EXAMPLES.update(
    {
        reporting.IndicatorsQuery: (
            reporting.IndicatorsQuery(team="team-north", period_from=date(2027, 1, 1), period_to=date(2027, 1, 31)),
            ("period_to",),
            "end of january",
        ),
        reporting.IndicatorsReply: (
            reporting.IndicatorsReply(
                team=None,
                period_from=date(2027, 1, 1),
                period_to=date(2027, 1, 31),
                indicators=[
                    reporting.Indicator(
                        name="waiting", dimensions=["step"], unit="referrals", measure="days",
                        cells=[reporting.IndicatorCell(key={"step": "screened"}, count=3, median=2.0, p90=6.5)],
                    )
                ],
                positions={"INTAKE": 120, "CASEFILE": 80, "FOLLOWUP": 7},
            ),
            ("indicators", 0, "unit"),
            "cases",
        ),
        reporting.IndicatorSnapshotPublished: (
            reporting.IndicatorSnapshotPublished(
                event_id=uuid4(), occurred_at=NOW, snapshot_id=uuid4(), team="team-north", period="day",
                period_from=date(2027, 1, 4), period_to=date(2027, 1, 4), threshold=5, indicators=[_SCREENING],
                replaces=uuid4(),
            ),
            ("period",),
            "week",
        ),
    }
)

@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    # Through JSON, as an integrator reads it.
    return json.loads(json.dumps(asyncapi.build_asyncapi()))


def _resolve(root: Any, ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node = root
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and key in node, f"{ref} does not resolve (at {key!r})"
        node = node[key]
    return node


def _deref(root: Any, ref: str) -> Any:
    """What a reference points at, following references on the way (a channel's messages are)."""
    node = _resolve(root, ref)
    while isinstance(node, dict) and set(node) == {"$ref"}:
        node = _resolve(root, node["$ref"])
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def _wire(instance: Any) -> Any:
    return json.loads(msgspec.json.encode(instance))


def _spoiled(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    body = copy.deepcopy(body)
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


def _payload_validator(document: dict[str, Any], name: str) -> jsonschema.Validator:
    # AsyncAPI schemas are a JSON Schema draft-07 superset; refs resolve against the document.
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def _all_types() -> list[type]:
    types = [spec.type for spec in contracts.EVENTS]
    for spec in contracts.COMMANDS:
        types += [spec.request, spec.reply]
    return [*dict.fromkeys([*types, base.Refused])]


# ------------------------------------------------------------------------------ the document
def test_the_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    meta = json.loads(ASYNCAPI_META_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(meta)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []

    # The meta-schema does bite: an AsyncAPI 2 action is refused.
    broken = copy.deepcopy(document)
    broken["operations"]["receive.ReferralReceived"]["action"] = "subscribe"
    assert not validator.is_valid(broken)


def test_the_document_names_polku_and_its_servers(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Polku"
    assert document["info"]["version"]
    assert document["servers"]["embedded"] | {"description": None} == {
        "host": "127.0.0.1:14222",
        "protocol": "nats",
        "description": None,
    }
    assert document["servers"]["production"]["host"] == "nats-1:4222"
    assert document["servers"]["production"]["protocol"] == "nats"


def test_every_event_is_a_channel_at_its_subject_with_a_receive_operation(
    document: dict[str, Any],
) -> None:
    channels = document["channels"]
    for spec in contracts.EVENTS:
        by_address = [c for c in channels.values() if c.get("address") == spec.subject]
        assert len(by_address) == 1, f"{spec.name}: no single channel at {spec.subject}"
        channel = by_address[0]
        assert channel["x-polku-stream"] == contracts.SERVICE_STREAM[spec.service]
        [message_ref] = channel["messages"].values()
        message = _deref(document, message_ref["$ref"])
        assert message["payload"] == {"$ref": f"#/components/schemas/{spec.name}"}
        assert message["headers"]["properties"][contracts.H_EVENT]["const"] == spec.name
        assert set(message["headers"]["properties"]) == {
            contracts.H_MSG_ID,
            contracts.H_EVENT,
            contracts.H_SCHEMA,
            contracts.H_CORRELATION,
            contracts.H_CAUSATION,
            contracts.H_POSITION,
            contracts.H_TRACEPARENT,
            "Nats-Expected-Last-Sequence",
            "Nats-Batch-Id",
            "Nats-Batch-Sequence",
            "Nats-Batch-Commit",
        }
        operations = [
            op
            for op in document["operations"].values()
            if _resolve(document, op["channel"]["$ref"]) is channel
        ]
        assert [op["action"] for op in operations] == ["receive"], spec.name


def test_every_command_and_query_is_a_request_with_a_reply_or_a_refusal(
    document: dict[str, Any],
) -> None:
    channels = document["channels"]
    for spec in contracts.COMMANDS:
        [channel] = [c for c in channels.values() if c.get("address") == spec.subject]
        [operation] = [
            op
            for op in document["operations"].values()
            if _resolve(document, op["channel"]["$ref"]) is channel
        ]
        assert operation["action"] == "send"
        [request] = [_deref(document, m["$ref"]) for m in operation["messages"]]
        assert request["payload"] == {"$ref": f"#/components/schemas/{spec.request.__name__}"}
        header_schema = request["headers"]
        assert base.COMMAND_ID_HEADER in header_schema["properties"]
        assert contracts.H_CORRELATION in header_schema["properties"]
        assert (base.COMMAND_ID_HEADER in header_schema["required"]) == (spec.kind == "cmd")

        reply_channel = _resolve(document, operation["reply"]["channel"]["$ref"])
        replies = [_deref(document, m["$ref"]) for m in operation["reply"]["messages"]]
        assert [m["payload"]["$ref"].rsplit("/", 1)[1] for m in replies] == [
            spec.reply.__name__,
            "Refused",
        ]
        # An operation's messages are the channel's (AsyncAPI 3 requires a subset).
        for ref in operation["reply"]["messages"]:
            assert ref["$ref"].startswith(operation["reply"]["channel"]["$ref"] + "/messages/")
        assert reply_channel["address"] is None  # the requester's inbox


def test_the_refusal_documents_every_error_code(document: dict[str, Any]) -> None:
    refused = document["components"]["messages"]["Refused"]
    assert refused["x-polku-error-codes"] == contracts.ERROR_CODES
    for code in contracts.ERROR_CODES:
        assert f"`{code}`" in refused["description"]


def test_dead_letters_have_a_channel_per_consumer(document: dict[str, Any]) -> None:
    [channel] = [c for c in document["channels"].values() if c["address"] == "polku.dlq.{consumer}"]
    assert set(channel["parameters"]) == {"consumer"}
    assert channel["x-polku-stream"] == "DLQ"


def test_every_ref_resolves_inside_the_document(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert len(refs) > 20
    for ref in refs:
        _resolve(document, ref)


def test_every_schema_component_is_used(document: dict[str, Any]) -> None:
    used = {ref.rsplit("/", 1)[1] for ref in _refs(document) if ref.startswith("#/components/schemas/")}
    assert set(document["components"]["schemas"]) == used


# --------------------------------------------------------------------------------- payloads
def test_every_body_on_the_wire_has_an_example_here() -> None:
    assert set(EXAMPLES) == set(_all_types()), "add an example (and a spoiling change) above"


@pytest.mark.parametrize("tp", list(EXAMPLES), ids=lambda tp: tp.__name__)
def test_a_schema_accepts_a_real_body_and_refuses_what_the_decoder_refuses(
    document: dict[str, Any], tp: type
) -> None:
    instance, path, bad_value = EXAMPLES[tp]
    body = _wire(instance)
    bad = _spoiled(body, path, bad_value)
    standalone = asyncapi.json_schemas()[tp.__name__]
    validators = [
        _payload_validator(document, tp.__name__),
        jsonschema.Draft202012Validator(
            standalone, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ),
    ]
    for validator in validators:
        assert list(validator.iter_errors(body)) == []
        assert not validator.is_valid(bad)
    # ... and they agree with the decoder.
    assert msgspec.json.decode(json.dumps(body), type=tp) == instance
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(json.dumps(bad), type=tp)


def test_an_event_schema_names_its_event_and_refuses_another_name(document: dict[str, Any]) -> None:
    for spec in contracts.EVENTS:
        validator = _payload_validator(document, spec.name)
        instance = EXAMPLES[spec.type][0]
        body = _wire(instance)
        assert body["event"] == spec.name
        assert not validator.is_valid(body | {"event": "SomethingElse"})


def test_a_reply_matches_one_and_only_one_of_its_messages(document: dict[str, Any]) -> None:
    for spec in contracts.COMMANDS:
        accepted = _wire(EXAMPLES[spec.reply][0])
        refused = _wire(EXAMPLES[base.Refused][0])
        reply_v = _payload_validator(document, spec.reply.__name__)
        refused_v = _payload_validator(document, "Refused")
        assert (reply_v.is_valid(accepted), refused_v.is_valid(accepted)) == (True, False)
        assert (reply_v.is_valid(refused), refused_v.is_valid(refused)) == (False, True)


def test_a_command_refuses_unknown_fields_like_its_decoder(document: dict[str, Any]) -> None:
    body = _wire(EXAMPLES[intake.ReceiveReferral][0]) | {"chanel": "phone"}
    assert not _payload_validator(document, "ReceiveReferral").is_valid(body)


# ---------------------------------------------------------------------------------- headers
def _header_validator(document: dict[str, Any], message: str) -> jsonschema.Validator:
    return jsonschema.Draft7Validator(document["components"]["messages"][message]["headers"])


def test_the_headers_the_relay_writes_match_the_event_headers(document: dict[str, Any]) -> None:
    from polku.bus import event_headers

    for spec in contracts.EVENTS:
        validator = _header_validator(document, spec.name)
        headers = event_headers(
            msg_id=f"{uuid4()}:7",
            event_name=spec.name,
            schema_version=spec.schema_version,
            position=1234,
            correlation_id="corr-1",
            causation_id=None,
        )
        assert list(validator.iter_errors(headers)) == []
        assert not validator.is_valid(headers | {contracts.H_EVENT: "Other"})
        assert not validator.is_valid({k: v for k, v in headers.items() if k != contracts.H_MSG_ID})


@pytest.mark.parametrize(
    "command_id", ["c-1", "x" * 128, "", "x" * 129, "two words", "ä", "tab\there"]
)
def test_the_command_id_header_is_the_one_commands_accept(
    document: dict[str, Any], command_id: str
) -> None:
    from polku.commands import CommandRefused, command_id as accept_command_id

    validator = _header_validator(document, "ReceiveReferral")
    try:
        accept_command_id({base.COMMAND_ID_HEADER: command_id})
        accepted = True
    except CommandRefused:
        accepted = False
    assert validator.is_valid({base.COMMAND_ID_HEADER: command_id}) == accepted
    assert not validator.is_valid({})  # a command without its id is refused


# ------------------------------------------------------------------------ standalone schemas
def test_there_is_a_standalone_schema_for_every_body() -> None:
    schemas = asyncapi.json_schemas()
    assert set(schemas) == {tp.__name__ for tp in _all_types()}
    for name, schema in schemas.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"https://polku.invalid/schemas/{name}.json"
        jsonschema.Draft202012Validator.check_schema(schema)
        for ref in _refs(schema):
            _resolve(schema, ref)


def test_write_writes_deterministic_json_files(tmp_path: Path, document: dict[str, Any]) -> None:
    paths = asyncapi.write(tmp_path / "a")
    again = asyncapi.write(tmp_path / "b")
    assert paths[0] == tmp_path / "a" / "asyncapi.json"
    assert {p.name for p in paths[1:]} == {f"{name}.json" for name in asyncapi.json_schemas()}
    assert all(p.parent == tmp_path / "a" / "schemas" for p in paths[1:])
    for path, twin in zip(paths, again, strict=True):
        text = path.read_text(encoding="utf-8")
        assert text == twin.read_text(encoding="utf-8")
        json.loads(text)
    assert json.loads(paths[0].read_text(encoding="utf-8")) == document
