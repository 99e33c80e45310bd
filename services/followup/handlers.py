"""Followup's registration table: its commands and its query → use cases; casefile's and
intake's events → its policies."""

from __future__ import annotations

from contracts import casefile as cf
from contracts import followup as c
from contracts.intake import RepeatReferralsFlagged, RosterWorkerRemoved, RosterWorkerSet
from polku import roster
from polku.pipeline import Logged, Table
from services.followup.application import FollowupApplication as Followup

TABLE = Table(
    commands={
        c.RecordContactAttempt: Followup.record_contact_attempt,
        c.ReportDisappearance: Followup.report_disappearance,
        c.RequestExecutiveAssistance: Followup.request_executive_assistance,
        c.RecordCheckIn: Followup.record_check_in,
        c.AdvanceClock: Followup.advance_clock,
    },
    queries={
        # a read of client data: each read stores what it showed (FollowupTasksViewed)
        c.DueQuery: Logged(Followup.read_due),
    },
    events={
        "casefile": {
            cf.RelationshipOpened: Followup.relationship_opened,
            cf.OwnWorkerNamed: Followup.own_worker_named,
            cf.SpecialSupportNeedDetermined: Followup.special_support_determined,
            cf.AssessmentStarted: Followup.assessment_started,
            cf.PlanUpdated: Followup.plan_updated,
            cf.WorkActivityStarted: Followup.work_activity_started,
            cf.WorkActivityEnded: Followup.work_activity_ended,
            cf.MeetingMissed: Followup.meeting_missed,
            cf.MeetingHeld: Followup.meeting_held,
            # an absence from work activity: a contact task (seed 003); a day attended: a contact
            cf.WorkActivityAbsent: Followup.work_activity_absent,
            cf.WorkActivityAttended: Followup.work_activity_attended,
            cf.RelationshipEnded: Followup.relationship_ended,
            cf.RelationshipReopened: Followup.relationship_reopened,
        },
        "intake": {
            RepeatReferralsFlagged: Followup.repeat_referrals_flagged,
            # intake owns the roster: followup applies its changes to who may act
            RosterWorkerSet: roster.worker_set,
            RosterWorkerRemoved: roster.worker_removed,
        },
    },
)
