"""Stores written by earlier code still replay, to the same state.

``tests/data/stores-v1`` holds an intake and a casefile store written before the command
pipeline (events of class version 1, with their envelope fields apart), and what that code's
queries answered from them. Today's code reads them through the upcast to version 2.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from contracts import casefile as cmd
from contracts.intake import DistributionQueueQuery, ReferralStatusQuery
from polku.pipeline import Pipeline
from polku.settings import RosterEntry, Settings
from polku.store import store_env
from services.casefile.application import CasefileApplication
from services.casefile.handlers import TABLE as CASEFILE_TABLE
from services.intake.application import IntakeApplication

V1 = Path(__file__).parent.parent / "data" / "stores-v1"
EXPECTED: dict[str, Any] = json.loads((V1 / "expected.json").read_text())
ROSTER = (
    RosterEntry("sw-001", "social_worker", "team-north", 30),
    RosterEntry("sw-002", "social_worker", "team-north", 30),
    RosterEntry("sc-001", "social_counsellor", "team-north", 30),
)
SW1 = cmd.ActingWorker(worker_id="sw-001", role="social_worker", team="team-north")


def copy_of(service: str, tmp_path: Path, settings: Settings) -> dict[str, str]:
    """The store env of a copy of the v1 store of ``service`` (the fixture stays as it is)."""
    shutil.copy(V1 / f"{service}.db", tmp_path / f"{service}.db")
    fixture = dataclasses.replace(settings, pseudonym_key=EXPECTED["pseudonym_key"], cipher_key=None, store="sqlite")
    env = store_env(fixture, service)
    env["SQLITE_DBNAME"] = str(tmp_path / f"{service}.db")
    return env


def as_json(struct: Any) -> Any:
    return json.loads(msgspec.json.encode(struct))


def test_an_old_intake_store_replays_to_the_same_state(tmp_path: Path, settings: Settings) -> None:
    app = IntakeApplication(
        copy_of("intake", tmp_path, settings),
        pseudonym_key=EXPECTED["pseudonym_key"],
        roster=(RosterEntry("sw-009", "social_worker", "team-north"),),  # not seeded again: the store has one
    )
    try:
        assert app.max_position() == EXPECTED["intake_events"]
        for referral_id, status in EXPECTED["referrals"].items():
            assert as_json(app.referral_status(ReferralStatusQuery(referral_id=uuid.UUID(referral_id)))) == status
        assert app.roster_workers() == EXPECTED["roster"]
        now = datetime.fromisoformat(EXPECTED["queue_now"])
        assert as_json(app.distribution_queue(DistributionQueueQuery(team="team-north"), now=now)) == EXPECTED["queue"]
        for client_id, code in EXPECTED["identity_codes"].items():
            assert app.identity_code(client_id) == code
        # intake's history on disk (each client's referrals) is written from the old store's events
        # at its first start, as the repeat rule reads them
        referrals_of: dict[str, set[str]] = {}
        for referral_id, status in EXPECTED["referrals"].items():
            referrals_of.setdefault(status["client_id"], set()).add(referral_id)
        assert referrals_of == {
            client_id: {str(rid) for rid, _ in app.history.of_client(client_id)} for client_id in referrals_of
        }
    finally:
        app.close()


#: what the relationship state gained since v1 (optional fields, README's growth rule): an old
#: relationship shows their defaults
STATE_ADDED_SINCE_V1 = {
    "disappeared_since": None, "recurring": False, "special_support_suspected": False,
    "health_care_pair_id": None, "health_care_pair_profession": None,
    "relationship_decision": None, "client_informed_of": [], "client_not_yet_informed_of": [], "consultations": 0,
    "assessment_family_participates": False, "familiarisation_visits": [], "closed_on": None,
    "close_reason": None,
}
#: what a plan's view gained since v1 (optional fields): an old plan shows their defaults
PLAN_ADDED_SINCE_V1 = {
    "further_options_offered": [], "further_chosen_option": None, "education": None, "education_text": "",
    "work_history": None, "work_history_text": "", "earlier_plans": None, "earlier_plans_text": "",
    "participants": [], "client_notified_on": None,
}


def state_now(state: dict[str, Any]) -> dict[str, Any]:
    """An old relationship's state as it reads today: with the fields gained since v1."""
    return {**state, **STATE_ADDED_SINCE_V1, "plans": [{**p, **PLAN_ADDED_SINCE_V1} for p in state["plans"]]}


def formed_now(state: dict[str, Any]) -> bool | None:
    """Whether an old relationship formed a client relationship, as it reads today (seed 000): an
    end for no service need before a need was found or a plan made did not; a need found or a
    plan made did; an open one with neither is prospective (None). v1 did not say."""
    if state["status"] == "ended":
        return state["end_reason"] != "no_service_need" or bool(state["plans"])
    return True if state["plans"] or state["assessment_conclusion"] == "service_need" else None


#: what events gained since v1 (optional fields): an old event shows their defaults
EVENTS_ADDED_SINCE_V1 = {
    "RelationshipOpened": {"special_support_suspected": False},
    "ReferralAttached": {"special_support_suspected": False},
    # an old decision has no ``outcome`` (``granted`` tells it)
    "DecisionMade": {"outcome": None, "appeal_instructions_given": False, "client_heard": False},
    "RelationshipReopened": {"anew": False},
    "OwnWorkerNamed": {"health_care_pair_id": None, "health_care_pair_profession": None},
    # an old plan has neither options of the kinds added since v1 nor a KTTL 8 § record
    "PlanUpdated": {
        "further_offered": [], "further_chosen_option": None, "education": None, "work_history": None,
        "earlier_plans": None, "participants": [], "client_notified_on": None,
    },
    "AssessmentStarted": {"family_participates": False},
    "MeetingHeld": {"client_informed_of": []},
    "WorkActivityStarted": {"instructor": None},
    "RelationshipEnded": {"formed": None},  # not carried then: read as ``relationship_formed`` says
}


def timeline_now(timeline: dict[str, Any]) -> dict[str, Any]:
    """An old timeline as it reads today: each event with the fields its kind gained since v1, and
    no event omitted (an old store holds v1's kinds only)."""
    return {
        **timeline,
        "omitted": 0,
        "next_after_version": None,
        "entries": [
            {**entry, "event": {**entry["event"], **EVENTS_ADDED_SINCE_V1.get(entry["event"]["event"], {})}}
            for entry in timeline["entries"]
        ],
    }


def summary_now(expected: dict[str, Any]) -> dict[str, Any]:
    """v1's summary as it reads today: by nature (and without one) counts the open relationships
    only; an ended one counts by its end reason (as it did), unless a finding of no need ended
    it before a client relationship formed: that one counts apart, in ``not_formed``."""
    states = [r["state"] for r in expected["relationships"].values()]
    assert len(states) == expected["summary"]["open"] + expected["summary"]["ended"]  # every relationship
    open_states = [st for st in states if st["status"] == "open"]
    by_nature = Counter(st["nature"] for st in open_states if st["nature"])
    ended = [st for st in states if st["status"] == "ended" and formed_now(st)]
    return {
        **expected["summary"],
        "by_nature": dict(sorted(by_nature.items())),
        "without_nature": len(open_states) - sum(by_nature.values()),
        "ended": len(ended),
        "by_end_reason": dict(sorted(Counter(st["end_reason"] for st in ended).items())),
        "not_formed": len(states) - len(open_states) - len(ended),
        "closed": 0,  # v1 recorded no close
    }



def test_an_old_casefile_store_replays_to_the_same_state(settings: Settings, tmp_path: Path) -> None:
    app = CasefileApplication(
        copy_of("casefile", tmp_path, settings), roster=ROSTER, id_secret=EXPECTED["pseudonym_key"]
    )
    pipeline = Pipeline("casefile", app, CASEFILE_TABLE, digest_secret=EXPECTED["pseudonym_key"])
    try:
        assert app.max_position() == EXPECTED["casefile_events"]
        assert app.replayed == EXPECTED["casefile_events"]
        assert app.tracking_position("INTAKE") == EXPECTED["casefile_tracking"]
        assert as_json(app.summary()) == summary_now(EXPECTED)
        assert dict(app.caseload) == EXPECTED["caseload"]

        # Each record, read through the pipeline as a client system reads it (each read logged).
        for rid, expected in EXPECTED["relationships"].items():
            query = cmd.RecordQuery(relationship_id=uuid.UUID(rid), actor=SW1, purpose="client_work")
            assert as_json(pipeline.ask(query, "relationship")) == {
                **state_now(expected["state"]), "formed": formed_now(expected["state"]),
            }
            assert as_json(pipeline.ask(query, "timeline")) == timeline_now(expected["timeline"])
        assert app.max_position() == EXPECTED["casefile_events"] + 2 * len(EXPECTED["relationships"])

        # A relationship of old events takes new ones: its version goes on, its timeline too.
        rel_a = next(uuid.UUID(rid) for rid, r in EXPECTED["relationships"].items() if r["state"]["status"] == "open")
        version = EXPECTED["relationships"][str(rel_a)]["state"]["version"]
        consent = cmd.RecordConsent(relationship_id=rel_a, actor=SW1, kind="information_exchange", given=True)
        accepted = pipeline.execute(consent, command_id="after-the-upgrade")
        assert accepted.version == version + 1
        [*_, last] = app.timeline(rel_a).entries
        assert (last.version, type(last.event).__name__, last.event.client_id) == (
            version + 1, "ConsentRecorded", EXPECTED["relationships"][str(rel_a)]["state"]["client_id"],
        )
    finally:
        app.close()
