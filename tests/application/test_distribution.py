"""Workload-aware distribution over a roster with unequal capacities and one absent worker."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime

import msgspec
import pytest

from contracts.intake import ReceiveReferral, RecordAbsence, RouteReferral, ScreenReferral, TriageSupportNeed
from polku.domain import RuleBroken
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


def test_shl_42_is_a_floor_a_team_lead_may_route_a_client_without_special_support_to_a_social_worker(
    settings: Settings,
) -> None:
    """Seed 000: workers are chosen by competence. A client whose triage suspects no special
    support (a social counsellor's) goes to a social worker when a team lead overrides the
    roster's pick with a reason; the roster's own pick keeps to the required role, and a
    suspected special support need still goes to a social worker only."""
    app = IntakeApplication(store_env(settings, "intake"), pseudonym_key="k", roster=ROSTER)
    pipeline = Pipeline("intake", app, TABLE, digest_secret="k")
    rng = random.Random(42)

    def triaged(n: int, seeks_help: str) -> str:
        rid = str(run(pipeline, ReceiveReferral, referral_body(rng), f"ref-{n}").referral_id)
        run(pipeline, ScreenReferral, {"actor": GUIDE, "referral_id": rid, "outcome": "assessment_needed"}, f"s-{n}")
        run(pipeline, TriageSupportNeed,
            {"actor": GUIDE, "referral_id": rid, "positions": {"seeks_help": seeks_help, "needs": "single"}}, f"t-{n}")
        return rid

    try:
        plain = triaged(1, "able")
        # Naming a worker takes a reason: without one the command is refused as it is.
        with pytest.raises(msgspec.ValidationError, match="override names both worker_id and override_reason"):
            msgspec.convert({"actor": LEAD, "referral_id": plain, "worker_id": "sw-002"}, RouteReferral)
        # Only a team lead overrides.
        with pytest.raises(RuleBroken) as refused:
            run(pipeline, RouteReferral,
                {"actor": GUIDE, "referral_id": plain, "worker_id": "sw-002", "override_reason": "competence"}, "r-guide")
        assert refused.value.code == "override_by_team_lead_only"
        routed = run(pipeline, RouteReferral,
                     {"actor": LEAD, "referral_id": plain, "worker_id": "sw-002", "override_reason": "competence"}, "r-1")
        assert (routed.worker_id, routed.required_role, routed.special_support_suspected) == (
            "sw-002", "social_counsellor", False,
        )
        [event] = [e for e in app.repository.event_store.get(routed.referral_id) if type(e).__name__ == "Routed"]
        assert (event.worker_id, event.override_reason) == ("sw-002", "competence")

        # Not a ceiling the other way round: a suspected special support need is a social worker's.
        special = triaged(2, "unable")
        with pytest.raises(RuleBroken) as refused:
            run(pipeline, RouteReferral,
                {"actor": LEAD, "referral_id": special, "worker_id": "sc-001", "override_reason": "continuity"}, "r-2")
        assert (refused.value.code, refused.value.field) == ("wrong_role_for_referral", "worker_id")
        # The roster's own pick keeps to the required role.
        assert run(pipeline, RouteReferral, {"actor": GUIDE, "referral_id": triaged(3, "able")}, "r-3").worker_id.startswith("sc-")
    finally:
        app.close()


def test_memory_holds_open_work_only_and_the_history_on_disk_answers_the_rest(settings: Settings) -> None:
    """Referrals leave memory once routed or closed, relationships once ended; the repeat rule
    and a return still see them, from intake's history on disk, after a restart too."""
    from contracts.casefile import RelationshipEnded, RelationshipOpened, RelationshipReopened

    app = IntakeApplication(store_env(settings, "intake"), pseudonym_key="k", roster=ROSTER)
    pipeline = Pipeline("intake", app, TABLE, digest_secret="k")
    rng = random.Random(7)
    same_client = referral_body(rng)
    try:
        # one client's referrals, each screened as not reached: closed at once, out of memory
        unreached = []
        for i in range(2):
            rid = str(run(pipeline, ReceiveReferral, same_client, f"u-{i}").referral_id)
            run(pipeline, ScreenReferral, {"actor": GUIDE, "referral_id": rid, "outcome": "not_reached"}, f"us-{i}")
            unreached.append(rid)
        # another client's referral routed, and its relationship opened and ended (casefile's events)
        other = run(pipeline, ReceiveReferral, referral_body(rng), "o")
        oid = str(other.referral_id)
        run(pipeline, ScreenReferral, {"actor": GUIDE, "referral_id": oid, "outcome": "assessment_needed"}, "os")
        run(pipeline, TriageSupportNeed,
            {"actor": GUIDE, "referral_id": oid, "positions": {"seeks_help": "able", "needs": "single"}}, "ot")
        worker = run(pipeline, RouteReferral, {"actor": GUIDE, "referral_id": oid}, "or").worker_id
        assert app.loads.load() == {worker: 1}
        rel = uuid.uuid4()
        base = {"event_id": uuid.uuid4(), "occurred_at": datetime.now(UTC), "relationship_id": rel, "client_id": other.client_id}
        for event in (RelationshipOpened(**base, referral_id=other.referral_id), RelationshipEnded(**base, reason="goal_reached")):
            app.loads.apply(event)
        app.loads.flush()
        assert app.loads.load() == {}
        # nothing of the four is in memory any more: no referral waits, no relationship is open
        assert app.referrals.by_id == {} and app.loads.routed == {} and app.loads.referral_of == {}
        assert app.loads.open_by_client == {}
        app.snapshot_read_models()
    finally:
        app.close()

    again = IntakeApplication(store_env(settings, "intake"), pseudonym_key="k", roster=ROSTER)
    pipeline = Pipeline("intake", again, TABLE, digest_secret="k")
    try:
        assert again.replayed == 0  # from the snapshot: the history was not read into memory
        third = run(pipeline, ReceiveReferral, same_client, "u-2")
        referral = again.get_referral(third.referral_id)
        assert [str(r) for r in referral.repeat_of] == unreached  # the client's earlier referrals, in order
        run(pipeline, ScreenReferral, {"actor": GUIDE, "referral_id": str(third.referral_id), "outcome": "not_reached"}, "us-2")
        assert again.get_referral(third.referral_id).flagged  # three unreached in a row: the team sees it
        # the client returns: the relationship opens again and counts for its worker again
        again.loads.apply(RelationshipReopened(**{**base, "event_id": uuid.uuid4()}, reason="client_returned"))
        again.loads.flush()
        assert again.loads.load() == {worker: 1}
    finally:
        again.close()
