"""Wrote the v1 fixture stores of this folder (run once, against commit 9199b68 only).

Intake and casefile as they stored events before the command pipeline: each use case with its
own envelope fields and its own idempotency record inside the aggregates. The stores are SQLite,
encrypted with the key derived from ``PSEUDONYM_KEY``; ``expected.json`` holds what today's
queries answered from them (the wire replies), which the replay test compares after any change.
It is kept for the record; it does not run against later code.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import msgspec

from contracts import casefile as cmd
from contracts import intake as intake_cmd
from contracts.intake import ReferralRouted
from polku.consumer import Delivery
from polku.settings import RosterEntry
from polku.store import store_env
from services.casefile.application import CasefileApplication, relationship_id_for
from services.intake.application import IntakeApplication

PSEUDONYM_KEY = "fixture-pseudonym-key"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROSTER = (
    RosterEntry("sw-001", "social_worker", "team-north", 30),
    RosterEntry("sw-002", "social_worker", "team-north", 30),
    RosterEntry("sc-001", "social_counsellor", "team-north", 30),
)
GUIDE = {"worker_id": "sg-001", "role": "service_guidance_worker", "team": "team-north"}
LEAD = {"worker_id": "tl-001", "role": "team_lead", "team": "team-north"}
SW1 = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}
SC1 = {"worker_id": "sc-001", "role": "social_counsellor", "team": "team-north"}
#: synthetic identity codes (individual numbers 900-999: temporary and test codes)
CODES = ("010170-902L", "020280-9141", "030390-9463", "040485-992R")


def env(folder: Path, service: str) -> dict[str, str]:
    from polku.settings import Settings
    import dataclasses

    settings = dataclasses.replace(Settings.from_env(), var_dir=folder, store="sqlite", pseudonym_key=PSEUDONYM_KEY,
                                   cipher_key=None, aggregate_cache=0)
    e = store_env(settings, service)
    e["SQLITE_DBNAME"] = str(folder / f"{service}.db")
    return e


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    intake = IntakeApplication(env(folder, "intake"), pseudonym_key=PSEUDONYM_KEY, roster=ROSTER)
    casefile = CasefileApplication(env(folder, "casefile"), roster=ROSTER)

    def do(decide, tp, body, cid):  # noqa: ANN001, ANN202
        result, aggregates = decide(msgspec.convert(body, tp), trace={"correlation_id": f"corr-{cid}", "causation_id": cid})
        if aggregates:
            intake.save(*aggregates)
        return result

    referrals = []
    for i, code in enumerate(CODES):
        body = {"identity_code": code, "channel": "phone", "source": {"kind": "authority", "authority": "police"} if i == 1 else {"kind": "client"},
                "concerns": ["housing", "debt"][: 1 + i % 2], "urgent": i == 2, "consent": True,
                "summary": "Fixture summary.", "contact_details": "Fixture contact", "actor": GUIDE, "occurred_at": at(i)}
        received = intake.receive_referral(msgspec.convert(body, intake_cmd.ReceiveReferral), command_id=f"rcv-{i}",
                                           trace={"correlation_id": f"corr-{i}", "causation_id": f"rcv-{i}"})
        referrals.append(received)
    r0, r1, r2, r3 = (r.referral_id for r in referrals)
    do(intake.decide_screening, intake_cmd.ScreenReferral, {"actor": GUIDE, "referral_id": str(r0), "outcome": "assessment_needed", "motivation": "motivated", "occurred_at": at(10)}, "s0")
    do(intake.decide_screening, intake_cmd.ScreenReferral, {"actor": GUIDE, "referral_id": str(r1), "outcome": "assessment_needed", "occurred_at": at(11)}, "s1")
    do(intake.decide_screening, intake_cmd.ScreenReferral, {"actor": GUIDE, "referral_id": str(r2), "outcome": "urgent_need", "occurred_at": at(12)}, "s2")
    do(intake.decide_screening, intake_cmd.ScreenReferral, {"actor": GUIDE, "referral_id": str(r3), "outcome": "redirected", "redirected_to": "kela", "occurred_at": at(13)}, "s3")
    do(intake.decide_urgent_assessment, intake_cmd.AssessUrgentNeed, {"actor": SW1, "referral_id": str(r2), "actions": ["emergency_accommodation"], "occurred_at": at(14)}, "u2")
    do(intake.decide_triage, intake_cmd.TriageSupportNeed, {"actor": SW1, "referral_id": str(r0), "positions": {"seeks_help": "unable", "needs": "multiple"}, "occurred_at": at(20)}, "t0")
    do(intake.decide_triage, intake_cmd.TriageSupportNeed, {"actor": SW1, "referral_id": str(r1), "positions": {"seeks_help": "able", "needs": "single"}, "occurred_at": at(21)}, "t1")
    do(intake.decide_set_worker, intake_cmd.SetRosterWorker, {"actor": LEAD, "worker_id": "sc-002", "role": "social_counsellor", "team": "team-north", "capacity": 20, "occurred_at": at(22)}, "w1")
    do(intake.decide_absence, intake_cmd.RecordAbsence, {"actor": LEAD, "worker_id": "sw-002", "starts": "2026-03-01", "ends": "2026-03-31", "occurred_at": at(23)}, "a1")
    routed0 = do(intake.decide_routing, intake_cmd.RouteReferral, {"actor": SW1, "referral_id": str(r0), "occurred_at": at(30)}, "r0")
    routed1 = do(intake.decide_routing, intake_cmd.RouteReferral, {"actor": LEAD, "referral_id": str(r1), "worker_id": "sc-001", "override_reason": "competence", "occurred_at": at(31)}, "r1")
    do(intake.decide_remove_worker, intake_cmd.RemoveRosterWorker, {"actor": LEAD, "worker_id": "sc-002", "occurred_at": at(32)}, "w2")

    # Casefile: the routed referrals arrive as intake's events.
    deliveries = []
    for seq, routed in enumerate((routed0, routed1), start=1):
        referral = intake.get_referral(routed.referral_id)
        event = ReferralRouted(event_id=UUID(int=seq), occurred_at=T0 + timedelta(minutes=29 + seq), referral_id=routed.referral_id,
                               client_id=referral.client_id, team=routed.team, required_role=routed.required_role,
                               worker_id=routed.worker_id, special_support_suspected=routed.special_support_suspected)
        deliveries.append(Delivery(seq, "polku.intake.referral_routed", {"Polku-Correlation-Id": f"corr-route-{seq}"}, b"", event))
    casefile.commit(casefile.prepare(deliveries), "INTAKE", 2)
    rel_a = relationship_id_for(routed0.referral_id)  # special support suspected: sw
    rel_b = relationship_id_for(routed1.referral_id)  # counsellor

    def c(tp, rid, cid, actor=SW1, minutes=60, **fields):  # noqa: ANN001, ANN202
        command = msgspec.convert({"relationship_id": str(rid), "actor": actor, "occurred_at": at(minutes), **fields}, tp)
        return casefile.execute(command, command_id=cid, trace={"correlation_id": f"corr-{cid}", "causation_id": cid})

    review = (T0.date() + timedelta(days=90)).isoformat()
    c(cmd.NameOwnWorker, rel_a, "a1", worker_id="sc-001", work_pair_id="sw-001", reason="competence", minutes=40)
    c(cmd.DetermineSpecialSupportNeed, rel_a, "a2", special_support=True, grounds=["multiple_needs"], grounds_text="Fixture grounds.", minutes=41)
    c(cmd.RecordConsent, rel_a, "a3", kind="information_exchange", given=True, minutes=42)
    m = c(cmd.ScheduleMeeting, rel_a, "a4", kind="first_meeting", channel="in_person", scheduled_for=at(60 * 24), minutes=43)
    c(cmd.RecordMeetingOutcome, rel_a, "a5", meeting_id=m["meeting_id"], outcome="held", notes="Fixture notes.", minutes=60 * 24 + 60)
    m2 = c(cmd.ScheduleMeeting, rel_a, "a6", kind="follow_up", channel="phone", scheduled_for=at(60 * 48), minutes=60 * 24 + 61)
    c(cmd.RecordMeetingOutcome, rel_a, "a7", meeting_id=m2["meeting_id"], outcome="missed", minutes=60 * 48 + 30)
    c(cmd.StartAssessment, rel_a, "a8", minutes=60 * 48 + 31)
    c(cmd.CompleteAssessment, rel_a, "a9", conclusion="service_need", summary="Fixture summary.", minutes=60 * 50)
    c(cmd.UpdatePlan, rel_a, "a10", kind="client_plan", strengths=["s"], goals=["g1", "g2"], support_needed=["n"],
      measures=[{"text": "weekly visits", "responsible": "own_worker"}], next_review=review, client_view="Fixture view.", minutes=60 * 50 + 1)
    c(cmd.DetermineNature, rel_a, "a11", nature="continuous", minutes=60 * 50 + 2)
    c(cmd.MakeDecision, rel_a, "a12", kind="supported_living", granted=True, secures_care=True, minutes=60 * 50 + 3)
    c(cmd.RecordMeasurement, rel_a, "a13", instrument="kykyviisari", scores={"work": 3, "health": 4}, minutes=60 * 50 + 4)
    c(cmd.UpdatePlan, rel_a, "a14", kind="activation_plan", goals=["work"], next_review=review,
      options_offered=["rehabilitative_work_activity", "education"], minutes=60 * 50 + 5)
    c(cmd.UpdatePlan, rel_a, "a15", kind="activation_plan", goals=["work"], next_review=review,
      chosen_option="rehabilitative_work_activity", minutes=60 * 50 + 6)
    start = T0.date() + timedelta(days=14)
    c(cmd.StartWorkActivity, rel_a, "a16", placement_id="activity-centre-1", days_per_week=3, hours_per_day=4.0,
      starts_on=start.isoformat(), ends_on=(start + timedelta(days=183)).isoformat(), familiarisation_until=(start + timedelta(days=7)).isoformat(),
      evaluation_on=(start + timedelta(days=90)).isoformat(), shop_steward_notified=True, minutes=60 * 50 + 7)
    c(cmd.EndWorkActivity, rel_a, "a17", reason="period_completed", minutes=60 * 50 + 8)
    c(cmd.RecordConsent, rel_a, "a18", kind="information_exchange", given=False, minutes=60 * 50 + 9)
    c(cmd.EndRelationship, rel_a, "a19", reason="transferred_to_work", minutes=60 * 50 + 10)
    c(cmd.ReopenRelationship, rel_a, "a20", reason="client_returned", minutes=60 * 50 + 11)

    c(cmd.StartAssessment, rel_b, "b1", actor=SC1, minutes=70)
    c(cmd.CompleteAssessment, rel_b, "b2", actor=SC1, conclusion="no_service_need", minutes=71)

    # A read of each record, logged as ClientRecordViewed.
    for rid in (rel_a, rel_b):
        query = cmd.RecordQuery(relationship_id=rid, actor=cmd.ActingWorker(**SW1), purpose="client_work")
        _result, views = casefile.decide_view(query, "state", trace={"correlation_id": "corr-view"})
        casefile.save(*views)

    now = T0 + timedelta(days=3)
    expected = {
        "commit": "9199b68",
        "pseudonym_key": PSEUDONYM_KEY,
        "referrals": {str(r.referral_id): msgspec.to_builtins(intake.referral_status(r.referral_id)) for r in referrals},
        "identity_codes": {r.client_id: intake.identity_code(r.client_id) for r in referrals},
        "roster": intake.roster_workers(),
        "absences": {k: [list(p) for p in v] for k, v in intake._roster(None).absences.items()},
        "queue": msgspec.to_builtins(intake.distribution_queue("team-north", now=now)),
        "relationships": {
            str(rid): {
                "state": msgspec.to_builtins(casefile.state(casefile.get_relationship(rid))),
                "timeline": msgspec.to_builtins(casefile.timeline(rid)),
            }
            for rid in (rel_a, rel_b)
        },
        "summary": msgspec.to_builtins(casefile.summary()),
        "caseload": dict(casefile.caseload),
        "intake_events": intake.max_position(),
        "casefile_events": casefile.max_position(),
        "casefile_tracking": casefile.tracking_position("INTAKE"),
        "queue_now": now.isoformat(),
        "retries": {"casefile": {"a4": m}, "intake": {"r1": msgspec.to_builtins(routed1.__dict__)}},
    }
    intake.close()
    casefile.close()
    (folder / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True, default=str) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
