"""Intake's registration table: each command and query of its contract → its use case.

The runtime (``polku.pipeline``) subscribes each subject, decodes, checks the command id, runs
the use case in a group commit, replies and logs. Casefile's events feed intake's loads. The
reads of client data (``referral_status``, ``distribution_queue``) are logged reads: each stores
an IntakeRecordView (published as IntakeRecordViewed on AUDIT), granted or refused.
"""

from __future__ import annotations

from contracts import intake as c
from polku.pipeline import Logged, Table
from services.intake.application import IntakeApplication as Intake

TABLE = Table(
    commands={
        c.ReceiveReferral: Intake.receive_referral,
        c.ScreenReferral: Intake.screen_referral,
        c.AssessUrgentNeed: Intake.assess_urgent_need,
        c.TriageSupportNeed: Intake.triage_support_need,
        c.RouteReferral: Intake.route_referral,
        c.SetRosterWorker: Intake.set_roster_worker,
        c.RemoveRosterWorker: Intake.remove_roster_worker,
        c.RecordAbsence: Intake.record_absence,
    },
    queries={
        c.ReferralStatusQuery: Logged(Intake.read_referral_status),
        c.DistributionQueueQuery: Logged(Intake.read_distribution_queue),
    },
)
