"""Casefile's registration table: each command and query of its contract → its use case, and
intake's routed referrals → the policy that opens relationships.

The runtime (``polku.pipeline``) subscribes each subject, decodes, checks the command id, runs
the use case in a group commit, replies and logs. The reads of a client's record
(``relationship``, ``timeline``, ``history``, ``work_activity_month``) are logged reads: each stores a ClientRecordViewed, granted or
refused.
"""

from __future__ import annotations

from contracts import casefile as c
from contracts.followup import CheckInCompleted, ClientDisappeared, ClientMarkedRecurring, ClientReached
from contracts.intake import ReferralRouted, RosterWorkerRemoved, RosterWorkerSet
from polku import roster
from polku.pipeline import Logged, Table
from services.casefile.application import CasefileApplication as Casefile

TABLE = Table(
    commands={
        c.NameOwnWorker: Casefile.name_own_worker,
        c.DetermineSpecialSupportNeed: Casefile.determine_special_support_need,
        c.StartAssessment: Casefile.start_assessment,
        c.CompleteAssessment: Casefile.complete_assessment,
        c.DetermineNature: Casefile.determine_nature,
        c.UpdatePlan: Casefile.update_plan,
        c.RecordFamiliarisationVisit: Casefile.record_familiarisation_visit,
        c.StartWorkActivity: Casefile.start_work_activity,
        c.RecordAttendance: Casefile.record_attendance,
        c.EndWorkActivity: Casefile.end_work_activity,
        c.MakeDecision: Casefile.make_decision,
        c.DecideOnRelationship: Casefile.decide_on_relationship,
        c.ScheduleMeeting: Casefile.schedule_meeting,
        c.RecordMeetingOutcome: Casefile.record_meeting_outcome,
        c.RecordConsultation: Casefile.record_consultation,
        c.RecordMeasurement: Casefile.record_measurement,
        c.RecordConsent: Casefile.record_consent,
        c.RecordDisclosure: Casefile.record_disclosure,
        c.EndRelationship: Casefile.end_relationship,
        c.ReopenRelationship: Casefile.reopen_relationship,
    },
    queries={
        "relationship": Logged(Casefile.read_relationship),
        "timeline": Logged(Casefile.read_timeline),
        "history": Logged(Casefile.read_history),
        c.WorkActivityMonthQuery: Logged(Casefile.read_work_activity_month),
        c.SummaryQuery: Casefile.summary,
    },
    events={
        "intake": {
            ReferralRouted: Casefile.referral_routed,
            # intake owns the roster: casefile applies its changes to who may act
            RosterWorkerSet: roster.worker_set,
            RosterWorkerRemoved: roster.worker_removed,
        },
        "followup": {
            # followup's view of the client: shown on the relationship; a check-in that found a
            # need reopens it, one that found none (or did not reach the client) closes it
            ClientDisappeared: Casefile.client_disappeared,
            ClientReached: Casefile.client_reached,
            CheckInCompleted: Casefile.check_in_completed,
            ClientMarkedRecurring: Casefile.client_marked_recurring,
        },
    },
)
