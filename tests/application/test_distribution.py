"""Workload-aware distribution over a roster with unequal capacities and one absent worker."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime

import msgspec

from contracts.intake import ReceiveReferral, RecordAbsence, RouteReferral, ScreenReferral, TriageSupportNeed
from polku.settings import RosterEntry, Settings
from polku.pipeline import Pipeline
from services.intake.application import IntakeApplication
from services.intake.handlers import TABLE
from services.intake.main import store_env
from tests.helpers import referral_body

ROSTER = (
    RosterEntry("sw-001", "social_worker", "team-north", 40),
    RosterEntry("sw-002", "social_worker", "team-north", 20),
    RosterEntry("sw-003", "social_worker", "team-north", 30),  # absent
    RosterEntry("sc-001", "social_counsellor", "team-north", 50),
    RosterEntry("sc-002", "social_counsellor", "team-north", 30),
    RosterEntry("sc-003", "social_counsellor", "team-north", 20),
    # who acts: screening and routing by service guidance, absences and overrides by the lead
    RosterEntry("sg-001", "service_guidance_worker", "team-north", 1),
    RosterEntry("tl-001", "team_lead", "team-north", 1),
)
GUIDE = {"worker_id": "sg-001", "role": "service_guidance_worker", "team": "team-north"}
LEAD = {"worker_id": "tl-001", "role": "team_lead", "team": "team-north"}


def run(pipeline: Pipeline, command_type, body: dict, command_id: str):  # noqa: ANN001, ANN201
    return pipeline.execute(msgspec.convert(body, command_type), command_id=command_id)


def test_1000_routed_referrals_spare_the_absent_and_follow_capacity(settings: Settings) -> None:
    app = IntakeApplication(store_env(settings, "intake"), pseudonym_key="k", roster=ROSTER)
    pipeline = Pipeline("intake", app, TABLE, digest_secret="k")
    rng = random.Random(41)
    today = datetime.now(UTC).date()
    run(pipeline, RecordAbsence,
        {"actor": LEAD, "worker_id": "sw-003", "starts": date(2000, 1, 1).isoformat(), "ends": today.isoformat()}, "absence")
    routed: list = []
    try:
        for i in range(1000):
            received = run(pipeline, ReceiveReferral, referral_body(rng), f"ref-{i}")
            rid = str(received.referral_id)
            run(pipeline, ScreenReferral,
                {"actor": GUIDE, "referral_id": rid, "outcome": "assessment_needed"}, f"s-{i}")
            special = rng.random() < 0.4
            run(pipeline, TriageSupportNeed,
                {"actor": GUIDE, "referral_id": rid,
                 "positions": {"seeks_help": "unable" if special else "able", "needs": rng.choice(["single", "multiple"])}},
                f"t-{i}")
            routed.append(run(pipeline, RouteReferral, {"actor": GUIDE, "referral_id": rid}, f"r-{i}"))
    finally:
        app.close()

    loads = Counter(r.worker_id for r in routed)
    assert sum(loads.values()) == 1000
    assert "sw-003" not in loads  # nobody absent gets one
    for r in routed:
        if r.special_support_suspected:
            assert r.worker_id.startswith("sw-") and r.required_role == "social_worker"
        else:
            assert r.worker_id.startswith("sc-")
    # Within each role, each present worker's load is within 10% of their share of capacity.
    for role in ("social_worker", "social_counsellor"):
        present = [w for w in ROSTER if w.role == role and w.worker_id != "sw-003"]
        total = sum(loads[w.worker_id] for w in present)
        capacity = sum(w.capacity for w in present)
        for w in present:
            share = total * w.capacity / capacity
            assert abs(loads[w.worker_id] - share) <= 0.1 * share, (w.worker_id, loads[w.worker_id], share)
