"""The published language of Polku: every event, command, query and reply on the wire."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from contracts import commands, events

SCHEMA_VERSION = 1


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class EventSpec:
    name: str
    service: str
    type: type
    schema_version: int = SCHEMA_VERSION

    @cached_property
    def subject(self) -> str:
        return f"polku.{self.service}.{snake(self.name)}"


@dataclass(frozen=True)
class CommandSpec:
    name: str
    service: str
    kind: str  # "cmd" or "qry"
    request: type
    reply: type
    summary: str

    @property
    def subject(self) -> str:
        return f"polku.{self.kind}.{self.service}.{self.name}"


EVENTS: tuple[EventSpec, ...] = (
    EventSpec("ReferralReceived", "intake", events.ReferralReceived),
    EventSpec("ReferralScreened", "intake", events.ReferralScreened),
    EventSpec("UrgentNeedAssessed", "intake", events.UrgentNeedAssessed),
    EventSpec("SupportNeedTriaged", "intake", events.SupportNeedTriaged),
    EventSpec("ReferralRouted", "intake", events.ReferralRouted),
    EventSpec("ReferralClosed", "intake", events.ReferralClosed),
    EventSpec("RepeatReferralsFlagged", "intake", events.RepeatReferralsFlagged),
    EventSpec("RelationshipOpened", "casefile", events.RelationshipOpened),
    EventSpec("ReferralAttached", "casefile", events.ReferralAttached),
    EventSpec("OwnWorkerNamed", "casefile", events.OwnWorkerNamed),
    EventSpec("SpecialSupportNeedDetermined", "casefile", events.SpecialSupportNeedDetermined),
    EventSpec("RelationshipNatureDetermined", "casefile", events.RelationshipNatureDetermined),
    EventSpec("AssessmentStarted", "casefile", events.AssessmentStarted),
    EventSpec("AssessmentCompleted", "casefile", events.AssessmentCompleted),
    EventSpec("PlanUpdated", "casefile", events.PlanUpdated),
    EventSpec("DecisionMade", "casefile", events.DecisionMade),
    EventSpec("MeetingScheduled", "casefile", events.MeetingScheduled),
    EventSpec("MeetingHeld", "casefile", events.MeetingHeld),
    EventSpec("MeetingMissed", "casefile", events.MeetingMissed),
    EventSpec("WorkActivityStarted", "casefile", events.WorkActivityStarted),
    EventSpec("WorkActivityEnded", "casefile", events.WorkActivityEnded),
    EventSpec("MeasurementRecorded", "casefile", events.MeasurementRecorded),
    EventSpec("ConsentRecorded", "casefile", events.ConsentRecorded),
    EventSpec("ConsentWithdrawn", "casefile", events.ConsentWithdrawn),
    EventSpec("RelationshipEnded", "casefile", events.RelationshipEnded),
    EventSpec("RelationshipReopened", "casefile", events.RelationshipReopened),
    EventSpec("ClientDisappeared", "followup", events.ClientDisappeared),
    EventSpec("ClientRecordViewed", "audit", events.ClientRecordViewed),
)
EVENTS_BY_NAME = {spec.name: spec for spec in EVENTS}

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "receive_referral",
        "intake",
        "cmd",
        commands.ReceiveReferral,
        commands.ReceiveReferralAccepted,
        "Record a referral or a notification about a client (header Polku-Command-Id).",
    ),
    *(
        CommandSpec(name, "casefile", "cmd", request, commands.CasefileAccepted, summary)
        for name, request, summary in (
            ("name_own_worker", commands.NameOwnWorker, "Name the client's own worker, with a work pair when needed."),
            ("determine_special_support_need", commands.DetermineSpecialSupportNeed, "Determine whether the client has special support need."),
            ("start_assessment", commands.StartAssessment, "Start the service need assessment."),
            ("complete_assessment", commands.CompleteAssessment, "Complete the service need assessment with its conclusion."),
            ("determine_nature", commands.DetermineNature, "Determine the nature of the relationship."),
            ("update_plan", commands.UpdatePlan, "Record a new version of the client plan or the activation plan."),
            ("start_work_activity", commands.StartWorkActivity, "Start a period of rehabilitative work activity."),
            ("end_work_activity", commands.EndWorkActivity, "End the period of rehabilitative work activity."),
            ("make_decision", commands.MakeDecision, "Record a written decision, granted or denied."),
            ("schedule_meeting", commands.ScheduleMeeting, "Book a meeting with the client."),
            ("record_meeting_outcome", commands.RecordMeetingOutcome, "Record that a meeting was held or missed."),
            ("record_measurement", commands.RecordMeasurement, "Record an instrument's scores."),
            ("record_consent", commands.RecordConsent, "Record a consent given or withdrawn."),
            ("end_relationship", commands.EndRelationship, "End the relationship, with its reason."),
            ("reopen_relationship", commands.ReopenRelationship, "Open an ended relationship again."),
        )
    ),
    CommandSpec(
        "relationship",
        "casefile",
        "qry",
        commands.RecordQuery,
        commands.RelationshipState,
        "A relationship as it is now (the read is logged as ClientRecordViewed).",
    ),
    CommandSpec(
        "timeline",
        "casefile",
        "qry",
        commands.RecordQuery,
        commands.Timeline,
        "Every event of a relationship: who, what, when (the read is logged as ClientRecordViewed).",
    ),
    CommandSpec(
        "summary",
        "casefile",
        "qry",
        commands.SummaryQuery,
        commands.CasefileSummary,
        "Relationships by nature and by end reason (counts only).",
    ),
    CommandSpec(
        "screen_referral", "intake", "cmd", commands.ScreenReferral, commands.Done,
        "Service guidance's screening: outcome, where redirected, the client's motivation.",
    ),
    CommandSpec(
        "assess_urgent_need", "intake", "cmd", commands.AssessUrgentNeed, commands.Done,
        "Record an urgent need's assessment and what was done at once.",
    ),
    CommandSpec(
        "triage_support_need", "intake", "cmd", commands.TriageSupportNeed, commands.Done,
        "Place the referral on the four-field grid of special support need.",
    ),
    CommandSpec(
        "route_referral", "intake", "cmd", commands.RouteReferral, commands.ReferralRoutedReply,
        "Route the referral to a responsible worker (the roster's pick, or a team lead's override).",
    ),
    CommandSpec(
        "set_roster_worker", "intake", "cmd", commands.SetRosterWorker, commands.Done,
        "Add a worker to the roster or change their role, team or capacity.",
    ),
    CommandSpec(
        "remove_roster_worker", "intake", "cmd", commands.RemoveRosterWorker, commands.Done,
        "Take a worker off the roster.",
    ),
    CommandSpec(
        "record_absence", "intake", "cmd", commands.RecordAbsence, commands.Done,
        "Record a worker's absence: nothing is routed to them on those days.",
    ),
    CommandSpec(
        "referral_status", "intake", "qry", commands.ReferralStatusQuery, commands.ReferralStatusReply,
        "A referral's stage and its history (every event, who, when).",
    ),
    CommandSpec(
        "distribution_queue", "intake", "qry", commands.DistributionQueueQuery, commands.DistributionQueueReply,
        "A team's referrals waiting for screening, urgent assessment, triage or routing, oldest first.",
    ),
    CommandSpec(
        "open_relationships",
        "reporting",
        "qry",
        commands.OpenRelationshipsQuery,
        commands.OpenRelationshipsReply,
        "Open client relationships per own worker.",
    ),
)

#: Streams: name, subjects. Events of a service, the audit logs, the dead letters.
STREAMS: dict[str, str] = {
    "INTAKE": "polku.intake.>",
    "CASEFILE": "polku.casefile.>",
    "FOLLOWUP": "polku.followup.>",
    "REPORTING": "polku.reporting.>",
    "AUDIT": "polku.audit.>",
    "DLQ": "polku.dlq.>",
}
SERVICE_STREAM = {
    "intake": "INTAKE",
    "casefile": "CASEFILE",
    "followup": "FOLLOWUP",
    "reporting": "REPORTING",
    "audit": "AUDIT",
}

# Headers on every event.
H_MSG_ID = "Nats-Msg-Id"
H_EVENT = "Polku-Event"
H_SCHEMA = "Polku-Schema"
H_CORRELATION = "Polku-Correlation-Id"
H_CAUSATION = "Polku-Causation-Id"
H_POSITION = "Polku-Position"

# Headers a dead letter carries besides the original message's own.
H_DLQ_CONSUMER = "Polku-Dlq-Consumer"
H_DLQ_STREAM = "Polku-Dlq-Stream"
H_DLQ_SEQUENCE = "Polku-Dlq-Sequence"
H_DLQ_SUBJECT = "Polku-Dlq-Subject"
H_DLQ_ERROR_CODE = "Polku-Dlq-Error-Code"
H_DLQ_ERROR = "Polku-Dlq-Error"
#: Why a message was dead-lettered: it could not be decoded, or its handling kept failing;
#: a service's own rule codes (e.g. ``relationship_ended``) appear here too.
DLQ_UNDECODABLE = "undecodable"
DLQ_HANDLER_FAILED = "handler_failed"
