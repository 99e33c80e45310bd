"""Each command names the roles that may give it (its contract's ``roles``), and the pipeline
refuses a worker of any other role ``forbidden``, before the use case runs. The role is the
roster's, never the body's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import contracts
from polku.domain import RuleBroken
from polku.pipeline import Pipeline
from polku.settings import DEFAULT_ROSTER, parse_roster
from services.casefile.application import CasefileApplication
from services.casefile.handlers import TABLE as CASEFILE
from services.intake.application import IntakeApplication
from services.followup.application import FollowupApplication
from services.followup.handlers import TABLE as FOLLOWUP
from services.intake.handlers import TABLE as INTAKE

SG, SC, SW, TL = "service_guidance_worker", "social_counsellor", "social_worker", "team_lead"
ROLES = (SG, SC, SW, TL)
#: one worker of each role on the default roster
WORKER = {SG: "sg-001", SC: "sc-001", SW: "sw-001", TL: "tl-001"}
RELATIONSHIP_WORKERS = {SC, SW, TL}

#: Who may give what: a change here is a change of policy, made on purpose.
EXPECTED: dict[str, set[str]] = {
    "intake.receive_referral": {SG, SC, SW, TL},
    "intake.screen_referral": {SG, SW, TL},
    "intake.assess_urgent_need": {SG, SW, TL},
    "intake.triage_support_need": {SG, SW, TL},
    "intake.route_referral": {SG, SW, TL},
    "intake.set_roster_worker": {TL},
    "intake.remove_roster_worker": {TL},
    "intake.record_absence": {TL},
    **{
        f"casefile.{name}": RELATIONSHIP_WORKERS
        for name in (
            "name_own_worker", "determine_special_support_need", "start_assessment", "complete_assessment",
            "determine_nature", "update_plan", "record_familiarisation_visit", "start_work_activity",
            "record_attendance", "end_work_activity", "make_decision", "decide_on_relationship",
            "schedule_meeting", "record_meeting_outcome", "record_consultation", "record_measurement",
            "record_consent",
            "record_disclosure", "end_relationship", "reopen_relationship",
        )
    },
    "followup.record_check_in": RELATIONSHIP_WORKERS,
    "followup.record_contact_attempt": RELATIONSHIP_WORKERS,
    "followup.report_disappearance": RELATIONSHIP_WORKERS,
    # the own worker or a social worker (the use case checks the former)
    "followup.request_executive_assistance": {SC, SW},
    "followup.advance_clock": {TL},  # demo and test mode only
}
COMMANDS = [s for s in contracts.COMMANDS if s.kind == "cmd"]


def test_every_command_names_its_roles() -> None:
    assert {f"{s.service}.{s.name}": set(s.request.roles) for s in COMMANDS} == EXPECTED


@pytest.fixture(scope="module")
def pipelines() -> dict[str, Pipeline]:
    roster = parse_roster(DEFAULT_ROSTER)
    popo = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    return {
        "intake": Pipeline("intake", IntakeApplication(popo, pseudonym_key="k", roster=roster), INTAKE, digest_secret="k"),
        "casefile": Pipeline("casefile", CasefileApplication(popo, roster=roster, id_secret="k"), CASEFILE, digest_secret="k"),
        "followup": Pipeline("followup", FollowupApplication(popo, roster=roster), FOLLOWUP, digest_secret="k"),
    }


CASES = [(s, role) for s in COMMANDS for role in ROLES]


@pytest.mark.parametrize(
    ("spec", "role"), CASES, ids=[f"{s.service}.{s.name}-{role}" for s, role in CASES]
)
def test_a_worker_of_a_role_the_command_does_not_name_is_refused_forbidden(
    pipelines: dict[str, Pipeline], spec: contracts.CommandSpec, role: str
) -> None:
    pipeline = pipelines[spec.service]
    route = pipeline._by_name[spec.name]
    # the body claims the most powerful role: it is not believed
    body = SimpleNamespace(actor=SimpleNamespace(worker_id=WORKER[role], role=TL, team="team-north"))
    if role in EXPECTED[f"{spec.service}.{spec.name}"]:
        assert pipeline.actor(route, body, WORKER[role]) == {"worker_id": WORKER[role], "role": role, "team": "team-north"}
    else:
        with pytest.raises(RuleBroken) as refused:
            pipeline.actor(route, body, WORKER[role])
        assert (refused.value.code, refused.value.field) == ("forbidden", "actor")
