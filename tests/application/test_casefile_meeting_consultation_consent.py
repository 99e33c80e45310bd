"""Issue #11's items 9 (the decision on the relationship itself), 13 (the first meeting tells the
client), 14 (consultation) and 15 (consents do something), broken on purpose through casefile's
command pipeline (a real SQLite store): each refusal has its stable code and stores nothing, and
the path that keeps the rule goes through."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest

from contracts import casefile as cmd
from polku.pipeline import Pipeline
from services.casefile.application import CasefileApplication
from services.casefile.domain import OwnWorkerNotNamed, Relationship
from tests.application.test_casefile_commands import (  # noqa: F401
    NOW,
    SW1,
    app,
    command,
    open_relationship,
    pipeline,
    relationship_state,
)
from tests.application.test_casefile_rules import ok, refused


def decide_on_relationship(pipeline: Pipeline, rid: uuid.UUID, **fields: Any) -> Any:
    return ok(pipeline, cmd.DecideOnRelationship, rid, **{"appeal_instructions_given": True, **fields})


def history(app: CasefileApplication, rid: uuid.UUID) -> list[Any]:
    return [entry.event for entry in app.history(rid).entries]


# ------------------------------------------------ 9: the decision on the relationship itself
def test_the_decision_on_the_relationship_itself_is_made_and_shown(app: CasefileApplication, pipeline: Pipeline) -> None:
    """Seed 000: the decision that the client relationship begins (or is refused) is almost
    always made. It is a decision of its own (DecisionKind is v1's), shown on the state."""
    rid = open_relationship(pipeline)
    assert relationship_state(pipeline, rid).relationship_decision is None
    reply = decide_on_relationship(pipeline, rid, outcome="granted")
    state = relationship_state(pipeline, rid)
    assert state.relationship_decision == "granted"
    assert state.decisions == 0  # ``decisions`` counts the decisions of a kind (make_decision)
    made = history(app, rid)[-1]
    assert isinstance(made, cmd.RelationshipDecisionMade)
    assert (made.decision_id, made.outcome, made.appealable, made.maker_role) == (
        reply.decision_id, "granted", False, "social_counsellor",
    )
    # v1's timeline does not carry the new kind: it counts it as omitted
    assert app.timeline(rid).omitted == 1


def test_a_decision_that_the_relationship_begins_forms_it_and_a_refusal_does_not(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """Seed 000: a client relationship is formed by a need found, a plan, or the decision that it
    begins (granted or partly granted); a refused one leaves it prospective."""
    for n, (outcome, formed) in enumerate((("denied", None), ("partly_granted", True), ("granted", True))):
        rid = open_relationship(pipeline, client=f"{n:032x}", seq=n + 10)
        assert relationship_state(pipeline, rid).formed is None
        decide_on_relationship(pipeline, rid, outcome=outcome, client_heard=True)
        assert relationship_state(pipeline, rid).formed is formed, outcome


def test_the_decision_on_the_relationship_carries_appeal_instructions_granted_or_not(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    for outcome in ("granted", "partly_granted", "denied"):
        error = refused(app, pipeline, "appeal_instructions_missing", cmd.DecideOnRelationship, rid, outcome=outcome,
                        client_heard=True)
        assert error.field == "appeal_instructions_given"


def test_the_client_is_heard_before_the_relationship_is_refused_or_partly_granted(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    for outcome in ("denied", "partly_granted"):
        error = refused(app, pipeline, "client_not_heard", cmd.DecideOnRelationship, rid, outcome=outcome,
                        appeal_instructions_given=True)
        assert error.field == "client_heard"
    decide_on_relationship(pipeline, rid, outcome="denied", client_heard=True)
    made = history(app, rid)[-1]
    assert (made.outcome, made.appealable, made.client_heard) == ("denied", True, True)
    assert relationship_state(pipeline, rid).relationship_decision == "denied"


def test_a_care_securing_decision_on_the_relationship_of_a_special_support_client_is_a_social_workers(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """SHL 46 §, the rule make_decision keeps, on the decision on the relationship too."""
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.NameOwnWorker, rid, worker_id="sc-001", work_pair_id="sw-001", reason="competence")
    ok(pipeline, cmd.DetermineSpecialSupportNeed, rid, special_support=True, grounds=["substance_use"])
    error = refused(app, pipeline, "decision_requires_social_worker", cmd.DecideOnRelationship, rid,
                    outcome="granted", appeal_instructions_given=True, secures_care=True)
    assert error.field == "actor.role"
    ok(pipeline, cmd.DecideOnRelationship, rid, actor=SW1, outcome="granted", appeal_instructions_given=True,
       secures_care=True)
    assert history(app, rid)[-1].maker_role == "social_worker"


def test_a_returning_clients_relationship_is_decided_on_anew(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    decide_on_relationship(pipeline, rid, outcome="granted")
    ok(pipeline, cmd.EndRelationship, rid, reason="client_ended")
    assert refused(app, pipeline, "relationship_ended", cmd.DecideOnRelationship, rid, outcome="granted",
                   appeal_instructions_given=True)
    ok(pipeline, cmd.ReopenRelationship, rid, reason="client_returned")
    assert relationship_state(pipeline, rid).relationship_decision is None


# ------------------------------------------------------------- 13: the first meeting tells
def first_meeting(pipeline: Pipeline, rid: uuid.UUID, kind: str = "first_meeting") -> uuid.UUID:
    reply = ok(pipeline, cmd.ScheduleMeeting, rid, kind=kind, channel="in_person", scheduled_for=NOW.isoformat())
    return reply.meeting_id


def test_the_first_meeting_records_what_the_client_was_told(app: CasefileApplication, pipeline: Pipeline) -> None:
    """Seed 003: the own worker tells the client of rights, obligations, options and benefits;
    seed 001: and who the own worker is. Recorded on the held meeting, shown on the state."""
    rid = open_relationship(pipeline)
    assert relationship_state(pipeline, rid).client_not_yet_informed_of == []  # no first meeting yet
    meeting = first_meeting(pipeline, rid)
    ok(pipeline, cmd.RecordMeetingOutcome, rid, meeting_id=str(meeting), outcome="held",
       client_informed_of=["rights", "obligations", "own_worker", "rights"])
    state = relationship_state(pipeline, rid)
    assert state.client_informed_of == ["rights", "obligations", "own_worker"]
    assert state.client_not_yet_informed_of == ["options", "benefits"]
    held = history(app, rid)[-1]
    assert isinstance(held, cmd.MeetingHeld)
    assert held.client_informed_of == ["obligations", "own_worker", "rights"]

    # The telling may take more than one meeting (seed 003): the rest at the next one.
    follow_up = first_meeting(pipeline, rid, kind="follow_up")
    ok(pipeline, cmd.RecordMeetingOutcome, rid, meeting_id=str(follow_up), outcome="held",
       client_informed_of=["options", "benefits"])
    state = relationship_state(pipeline, rid)
    assert state.client_informed_of == ["rights", "obligations", "options", "benefits", "own_worker"]
    assert state.client_not_yet_informed_of == []


def test_a_held_first_meeting_without_telling_is_recorded_and_shows_what_is_untold(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """Not refused (v1's callers send no ``client_informed_of``, and seed 003 lets the telling
    take more meetings), but the state shows all of it untold."""
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.RecordMeetingOutcome, rid, meeting_id=str(first_meeting(pipeline, rid)), outcome="held")
    state = relationship_state(pipeline, rid)
    assert state.client_informed_of == []
    assert state.client_not_yet_informed_of == ["rights", "obligations", "options", "benefits", "own_worker"]


def test_nothing_is_told_at_a_missed_meeting(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    meeting = first_meeting(pipeline, rid)
    error = refused(app, pipeline, "informed_at_missed_meeting", cmd.RecordMeetingOutcome, rid,
                    meeting_id=str(meeting), outcome="missed", client_informed_of=["rights"])
    assert error.field == "client_informed_of"
    ok(pipeline, cmd.RecordMeetingOutcome, rid, meeting_id=str(meeting), outcome="missed")
    assert relationship_state(pipeline, rid).client_not_yet_informed_of == []  # no first meeting held


def test_the_client_knows_their_own_worker_only_while_told_of_the_current_one(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """Seed 001: clients often do not know who their own worker is. A new own worker is told
    anew: until then, ``own_worker`` is untold."""
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.RecordMeetingOutcome, rid, meeting_id=str(first_meeting(pipeline, rid)), outcome="held",
       client_informed_of=["own_worker"])
    assert "own_worker" in relationship_state(pipeline, rid).client_informed_of
    ok(pipeline, cmd.NameOwnWorker, rid, worker_id="sc-001", reason="absence")
    state = relationship_state(pipeline, rid)
    assert "own_worker" not in state.client_informed_of and "own_worker" in state.client_not_yet_informed_of
    ok(pipeline, cmd.RecordMeetingOutcome, rid, meeting_id=str(first_meeting(pipeline, rid, "follow_up")),
       outcome="held", client_informed_of=["own_worker"])
    assert "own_worker" in relationship_state(pipeline, rid).client_informed_of


def test_the_client_is_told_of_their_own_worker_only_once_one_is_named() -> None:
    """Casefile names the routed worker own worker when it opens a relationship, so through the
    commands there always is one; the aggregate refuses the telling without one all the same."""
    from datetime import UTC, datetime

    from polku.domain import Envelope

    env = Envelope(occurred_at=datetime(2026, 11, 23, tzinfo=UTC), actor={"worker_id": "sc-001"})
    rel = Relationship.open(uuid.uuid4(), env, client_id="a" * 32, referral_id=uuid.uuid4())
    meeting_id = uuid.uuid4()
    rel.schedule_meeting(env, meeting_id=meeting_id, kind="first_meeting", channel="phone", scheduled_for=env.occurred_at)
    version = rel.version
    with pytest.raises(OwnWorkerNotNamed) as raised:
        rel.record_meeting_outcome(env, meeting_id=meeting_id, outcome="held", notes="", client_informed_of=["own_worker"])
    assert (raised.value.code, rel.version) == ("own_worker_not_named", version)
    rel.record_meeting_outcome(env, meeting_id=meeting_id, outcome="held", notes="", client_informed_of=["rights"])
    assert rel.client_informed_of == {"rights"}


# ----------------------------------------------------------------------- 14: consultation
def test_a_consultation_is_recorded_with_whom_and_on_what_topic(app: CasefileApplication, pipeline: Pipeline) -> None:
    """Seed 002: a worker consults a social worker (on the roster: role from the roster) or
    another professional (outside it: by profession); the state counts consultations."""
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.RecordConsultation, rid, topic="special_support_need", consultant_id="sw-002",
       notes="the four-field grid")
    ok(pipeline, cmd.RecordConsultation, rid, topic="division_of_work", profession="team_lead")
    assert relationship_state(pipeline, rid).consultations == 2
    on_roster, outside = history(app, rid)[-2:]
    assert isinstance(on_roster, cmd.ConsultationRecorded)
    assert (on_roster.consultant_id, on_roster.consultant_role, on_roster.profession, on_roster.topic) == (
        "sw-002", "social_worker", None, "special_support_need",
    )
    assert (outside.consultant_id, outside.consultant_role, outside.profession, outside.topic) == (
        None, None, "team_lead", "division_of_work",
    )
    assert "four-field" not in msgspec.json.encode(on_roster).decode()  # the notes stay in casefile


def test_a_consultation_names_a_roster_worker_other_than_the_actor(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    assert refused(app, pipeline, "unknown_worker", cmd.RecordConsultation, rid, topic="urgency",
                   consultant_id="sw-404").field == "consultant_id"
    assert refused(app, pipeline, "consultant_is_actor", cmd.RecordConsultation, rid, topic="urgency",
                   consultant_id="sc-001").field == "consultant_id"
    ok(pipeline, cmd.EndRelationship, rid, reason="client_ended")
    refused(app, pipeline, "relationship_ended", cmd.RecordConsultation, rid, topic="urgency", consultant_id="sw-002")


def test_a_consultation_names_whom_by_roster_id_or_by_profession_one_of_them() -> None:
    for whom in ({}, {"consultant_id": "sw-002", "profession": "social_worker"}):
        with pytest.raises(msgspec.ValidationError, match="one of them"):
            command(cmd.RecordConsultation, uuid.uuid4(), topic="urgency", **whom)
    with pytest.raises(msgspec.ValidationError):
        command(cmd.RecordConsultation, uuid.uuid4(), topic="the_weather", profession="social_worker")


# ------------------------------------------------------------------ 15: consents do something
def test_a_family_member_takes_part_in_the_assessment_only_by_consent_in_force(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """Seed 000: family members take part in the assessment with the client's consent. Withdrawn,
    it stops their part, and the next command that would include them is refused."""
    rid = open_relationship(pipeline)
    error = refused(app, pipeline, "consent_required", cmd.StartAssessment, rid, family_participates=True)
    assert error.field == "family_participates"
    ok(pipeline, cmd.RecordConsent, rid, kind="family_participation", given=True)
    ok(pipeline, cmd.RecordConsent, rid, kind="family_participation", given=False)
    refused(app, pipeline, "consent_required", cmd.StartAssessment, rid, family_participates=True)

    ok(pipeline, cmd.RecordConsent, rid, kind="family_participation", given=True)
    ok(pipeline, cmd.StartAssessment, rid, family_participates=True)
    started = history(app, rid)[-1]
    assert isinstance(started, cmd.AssessmentStarted) and started.family_participates is True
    assert relationship_state(pipeline, rid).assessment_family_participates is True
    ok(pipeline, cmd.RecordConsent, rid, kind="family_participation", given=False)
    assert relationship_state(pipeline, rid).assessment_family_participates is False


def test_an_assessment_without_the_family_needs_no_consent(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.StartAssessment, rid)
    assert history(app, rid)[-1].family_participates is False
    assert relationship_state(pipeline, rid).assessment_family_participates is False


def test_a_withdrawn_consent_stops_the_next_disclosure_resting_on_it(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    disclosure = {"recipient": "kela", "basis": "consent", "categories": ["relationship_status"]}
    refused(app, pipeline, "disclosure_without_basis", cmd.RecordDisclosure, rid, **disclosure)
    ok(pipeline, cmd.RecordConsent, rid, kind="information_exchange", given=True)
    ok(pipeline, cmd.RecordDisclosure, rid, **disclosure)
    ok(pipeline, cmd.RecordConsent, rid, kind="information_exchange", given=False)
    assert refused(app, pipeline, "disclosure_without_basis", cmd.RecordDisclosure, rid, **disclosure).field == "basis"
    # a family participation consent is no consent to exchange information
    ok(pipeline, cmd.RecordConsent, rid, kind="family_participation", given=True)
    refused(app, pipeline, "disclosure_without_basis", cmd.RecordDisclosure, rid, **disclosure)
    # a provision of law still carries it
    ok(pipeline, cmd.RecordDisclosure, rid, recipient="kela", basis="law", statute="kela_laki",
       categories=["relationship_status"])
