"""Casefile's use cases through its command pipeline, on a real SQLite store: idempotent
commands, access, one open relationship per client, the audit of reads, and projections rebuilt
when casefile starts."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import pytest

from contracts import casefile as cmd
from contracts.intake import ReferralRouted
from polku.consumer import Delivery
from polku.domain import RuleBroken
from polku.pipeline import Pipeline
from polku.settings import RosterEntry, Settings
from services.casefile.application import CasefileApplication, relationship_id_for
from services.casefile.domain import RecordView
from services.casefile.main import build_application, build_pipeline

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SC1 = {"worker_id": "sc-001", "role": "social_counsellor", "team": "team-north"}
SW1 = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}
OUTSIDER = {"worker_id": "sw-900", "role": "social_worker", "team": "team-south"}


def referral(
    seq: int, client: str, referral_id: uuid.UUID | None = None, *, suspected: bool = False
) -> Delivery[ReferralRouted]:
    event = ReferralRouted(
        event_id=uuid.uuid4(), occurred_at=NOW, referral_id=referral_id or uuid.uuid4(), client_id=client,
        team="team-north", required_role="social_worker", worker_id="sw-001", special_support_suspected=suspected,
    )
    return Delivery(seq, "polku.intake.referral_routed", {}, b"", event)


def deliver(pipeline: Pipeline, deliveries: list[Delivery[ReferralRouted]], last_seq: int) -> None:
    """Intake's events through casefile's consumer: effect and tracking in one transaction."""
    consumer = pipeline.consumer("intake")
    consumer.commit(consumer.prepare(deliveries), "INTAKE", last_seq)


def open_relationship(pipeline: Pipeline, client: str = "a" * 32, seq: int = 1) -> uuid.UUID:
    d = referral(seq, client)
    deliver(pipeline, [d], seq)
    return relationship_id_for(d.event.referral_id, pipeline.app.id_secret)


def last_stored(app: CasefileApplication) -> Any:
    [notification] = app.recorder.select_notifications(app.max_position(), 1)
    return app.mapper.to_domain_event(notification)


def command(tp: type[Any], relationship_id: uuid.UUID, actor: dict[str, str] = SC1, **fields: Any) -> Any:
    return msgspec.convert(
        {"relationship_id": str(relationship_id), "actor": actor, "occurred_at": NOW.isoformat(), **fields},
        tp, strict=False,
    )


#: The acting workers are on the roster (role and team come from it): a team mate of
#: team-north and a worker of another team, besides the default roster.
ROSTER = (
    RosterEntry("sc-777", "social_counsellor", "team-north"),
    RosterEntry("sw-900", "social_worker", "team-south"),
)


@pytest.fixture
def app(settings: Settings) -> Any:
    application = build_application(dataclasses.replace(settings, roster=settings.roster + ROSTER))
    yield application
    application.close()


@pytest.fixture
def pipeline(app: CasefileApplication, settings: Settings) -> Pipeline:
    return build_pipeline(app, settings)


def test_a_retried_command_returns_its_first_reply_and_stores_nothing_new(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    schedule = command(cmd.ScheduleMeeting, rid, kind="first_meeting", channel="in_person", scheduled_for=NOW.isoformat())
    first = pipeline.execute(schedule, command_id="cis-1")
    position = app.max_position()
    again = pipeline.execute(schedule, command_id="cis-1")
    assert again == first and first.meeting_id and first.version == 3
    assert app.max_position() == position

    with pytest.raises(RuleBroken) as reused:
        pipeline.execute(command(cmd.StartAssessment, rid), command_id="cis-1")
    assert (reused.value.code, reused.value.field) == ("command_id_reused", "Polku-Command-Id")
    assert app.max_position() == position


def test_a_retried_command_finds_its_first_reply_after_a_restart(settings: Settings) -> None:
    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    rid = open_relationship(pipeline)
    decision = command(cmd.MakeDecision, rid, kind="activity_allowance", granted=True, appeal_instructions_given=True)
    first = pipeline.execute(decision, command_id="cis-2")
    app.close()
    again = build_application(settings)
    try:
        position = again.max_position()
        assert build_pipeline(again, settings).execute(decision, command_id="cis-2") == first
        assert again.max_position() == position
        assert first.decision_id in again.get_relationship(rid).decisions
    finally:
        again.close()


def test_the_reply_names_the_version_after_every_event_of_the_command(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    started = pipeline.execute(command(cmd.StartAssessment, rid), command_id="start")
    assert (started.relationship_id, started.version) == (rid, 3)
    # No service need: the assessment is completed, the nature is temporary, and it ends.
    done = pipeline.execute(command(cmd.CompleteAssessment, rid, conclusion="no_service_need"), command_id="done")
    assert done.version == 6 == app.get_relationship(rid).version
    assert (done.meeting_id, done.decision_id, done.plan_version) == (None, None, None)
    assert pipeline.execute(command(cmd.CompleteAssessment, rid, conclusion="no_service_need"), command_id="done") == done


def test_a_refused_command_stores_nothing(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    position = app.max_position()
    cases = [
        (command(cmd.CompleteAssessment, rid, conclusion="service_need"), "assessment_not_started"),
        (command(cmd.StartAssessment, rid, actor=OUTSIDER), "forbidden"),
        (command(cmd.StartAssessment, uuid.uuid4()), "relationship_not_found"),
        (command(cmd.NameOwnWorker, rid, worker_id="sw-404", reason="competence"), "unknown_worker"),
        (command(cmd.NameOwnWorker, rid, worker_id="sw-001", work_pair_id="xx-1", reason="competence"), "unknown_worker"),
    ]
    for i, (c, code) in enumerate(cases):
        with pytest.raises(RuleBroken) as refused:
            pipeline.execute(c, command_id=f"cis-refused-{i}")
        assert refused.value.code == code
    assert app.max_position() == position
    # The refused command ids are still free: nothing was remembered under them.
    pipeline.execute(command(cmd.StartAssessment, rid), command_id="cis-refused-0")


def test_the_own_worker_the_work_pair_and_the_team_may_act_nobody_else(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    pipeline.execute(
        command(cmd.NameOwnWorker, rid, worker_id="sc-001", work_pair_id="sw-001", reason="competence"), command_id="n"
    )
    rel = app.get_relationship(rid)
    assert (rel.own_worker, rel.work_pair, rel.team) == ("sc-001", "sw-001", "team-north")
    pair_elsewhere = {"worker_id": "sw-001", "role": "social_worker", "team": "team-south"}
    pipeline.execute(command(cmd.StartAssessment, rid, actor=pair_elsewhere), command_id="pair")
    team_mate = {"worker_id": "sc-777", "role": "social_counsellor", "team": "team-north"}
    pipeline.execute(
        command(cmd.RecordConsent, rid, actor=team_mate, kind="information_exchange", given=True), command_id="mate"
    )
    with pytest.raises(RuleBroken) as refused:
        pipeline.execute(command(cmd.DetermineNature, rid, actor=OUTSIDER, nature="recurring"), command_id="out")
    assert refused.value.code == "forbidden"


def test_a_new_referral_about_a_client_with_an_open_relationship_is_attached_to_it(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    client = "b" * 32
    first, second, third = referral(1, client), referral(2, client), referral(3, client)
    deliver(pipeline, [first, second], 2)
    rid = relationship_id_for(first.event.referral_id, app.id_secret)
    assert relationship_id_for(second.event.referral_id, app.id_secret) not in app.repository
    assert app.get_relationship(rid).referral_ids == [first.event.referral_id, second.event.referral_id]
    # Redelivered: nothing new.
    assert pipeline.consumer("intake").prepare([first, second]).state == []
    deliver(pipeline, [third], 3)
    assert len(app.get_relationship(rid).referral_ids) == 3
    assert sum(app.caseload.values()) == 1

    # Once it has ended, the next referral opens a new relationship.
    pipeline.execute(command(cmd.EndRelationship, rid, reason="client_ended"), command_id="end")
    fourth = referral(4, client)
    deliver(pipeline, [fourth], 4)
    new = relationship_id_for(fourth.event.referral_id, app.id_secret)
    assert app.open_by_client[client] == new
    # ... and the old one cannot be reopened while the new one is open.
    with pytest.raises(RuleBroken) as refused:
        pipeline.execute(command(cmd.ReopenRelationship, rid, reason="client_returned"), command_id="reopen")
    assert refused.value.code == "client_has_open_relationship"
    pipeline.execute(command(cmd.EndRelationship, new, reason="goal_reached"), command_id="end-new")
    pipeline.execute(command(cmd.ReopenRelationship, rid, reason="client_returned"), command_id="reopen")
    assert app.open_by_client[client] == rid


async def test_a_client_gets_one_open_relationship_when_reopen_commands_arrive_together(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """Two ended relationships of one client, reopened by commands stored in one group commit:
    the first reopens, the second is refused (the first is not projected yet)."""
    client = "e" * 32
    rids = []
    for seq in (1, 2):
        rid = open_relationship(pipeline, client, seq)
        pipeline.execute(command(cmd.EndRelationship, rid, reason="client_ended"), command_id=f"end-{seq}")
        rids.append(rid)
    batches = pipeline.committer.batches
    results = await asyncio.gather(
        *(
            pipeline.submit(command(cmd.ReopenRelationship, rid, reason="client_returned"), command_id=f"back-{i}")
            for i, rid in enumerate(rids)
        ),
        return_exceptions=True,
    )
    assert pipeline.committer.batches == batches + 1  # one transaction for both
    assert isinstance(results[0], cmd.CasefileAccepted)
    assert isinstance(results[1], RuleBroken) and results[1].code == "client_has_open_relationship"
    assert app.open_by_client[client] == rids[0]


def test_every_read_is_logged_and_a_refused_read_too(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    granted = cmd.RecordQuery(relationship_id=rid, actor=cmd.ActingWorker(**SC1), purpose="client_work")
    state = pipeline.ask(granted, "relationship")
    assert isinstance(state, cmd.RelationshipState) and state.own_worker_id == "sw-001"
    view = last_stored(app)
    assert isinstance(view, RecordView.Viewed) and view.granted and view.part == "state"
    position = app.max_position()
    denied = cmd.RecordQuery(relationship_id=rid, actor=cmd.ActingWorker(**OUTSIDER), purpose="client_work")
    with pytest.raises(RuleBroken) as refused:
        pipeline.ask(denied, "timeline")
    assert (refused.value.code, refused.value.field) == ("forbidden", "actor")
    # The refused read was logged all the same.
    assert app.max_position() == position + 1
    log = last_stored(app)
    assert isinstance(log, RecordView.Viewed)
    assert (log.granted, log.part, log.env.actor["worker_id"], log.env.client_id) == (False, "timeline", "sw-900", "a" * 32)


def test_projections_and_dates_survive_a_restart(settings: Settings) -> None:
    app = build_application(settings)
    pipeline = build_pipeline(app, settings)
    rid = open_relationship(pipeline)
    other = open_relationship(pipeline, "d" * 32, seq=2)
    pipeline.execute(command(cmd.StartAssessment, rid), command_id="a")
    pipeline.execute(command(cmd.CompleteAssessment, rid, conclusion="service_need"), command_id="c")
    pipeline.execute(command(cmd.UpdatePlan, rid, kind="client_plan", goals=["g"], next_review="2027-01-15"), command_id="p")
    pipeline.execute(command(cmd.DetermineNature, rid, nature="continuous"), command_id="n")
    pipeline.execute(command(cmd.EndRelationship, other, reason="moved"), command_id="e")
    summary = app.summary()
    timeline = app.timeline(rid)
    app.close()
    again = build_application(settings)
    try:
        assert again.summary() == summary
        assert summary.open == 1 and summary.by_nature == {"continuous": 1} and summary.by_end_reason == {"moved": 1}
        assert again.timeline(rid) == timeline
        assert again.get_relationship(rid).plans[0].next_review == date(2027, 1, 15)
        assert dict(again.caseload) == dict(app.caseload)
    finally:
        again.close()


def refused_code(app: CasefileApplication, pipeline: Pipeline, c: Any, command_id: str) -> str:
    """The code of a refused command; nothing was stored."""
    position = app.max_position()
    with pytest.raises(RuleBroken) as refused:
        pipeline.execute(c, command_id=command_id)
    assert app.max_position() == position
    return refused.value.code


def relationship_state(pipeline: Pipeline, rid: uuid.UUID) -> cmd.RelationshipState:
    q = cmd.RecordQuery(relationship_id=rid, actor=cmd.ActingWorker(**SC1), purpose="client_work")
    state = pipeline.ask(q, "relationship")
    assert isinstance(state, cmd.RelationshipState)
    return state


def test_suspected_special_support_needs_a_social_worker_until_the_need_is_determined(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """Intake's triage suspected special support need: the relationship it opens carries the
    suspicion, and SHL 42 § applies to it until someone determines the need (here: no)."""
    d = referral(1, "f" * 32, suspected=True)
    deliver(pipeline, [d], 1)
    rid = relationship_id_for(d.event.referral_id, app.id_secret)
    state = relationship_state(pipeline, rid)
    assert (state.special_support_suspected, state.special_support, state.own_worker_role) == (True, None, "social_worker")

    alone = command(cmd.NameOwnWorker, rid, worker_id="sc-001", reason="competence")
    assert refused_code(app, pipeline, alone, "alone") == "own_worker_must_be_social_worker"
    securing = command(cmd.MakeDecision, rid, kind="activity_allowance", granted=True, appeal_instructions_given=True, secures_care=True)
    assert refused_code(app, pipeline, securing, "securing") == "decision_requires_social_worker"
    # A social counsellor with a social worker as work pair will do; a social worker decides.
    pipeline.execute(
        command(cmd.NameOwnWorker, rid, worker_id="sc-001", work_pair_id="sw-001", reason="competence"), command_id="pair"
    )
    pipeline.execute(
        command(cmd.MakeDecision, rid, actor=SW1, kind="activity_allowance", granted=True, appeal_instructions_given=True, secures_care=True),
        command_id="sw-decides",
    )

    # Determined either way, the suspicion is settled: no special support, no SHL 42 § rule.
    pipeline.execute(
        command(cmd.DetermineSpecialSupportNeed, rid, special_support=False), command_id="determined"
    )
    state = relationship_state(pipeline, rid)
    assert (state.special_support_suspected, state.special_support) == (False, False)
    pipeline.execute(alone, command_id="alone-now")
    pipeline.execute(securing, command_id="securing-now")


def test_suspected_special_support_of_an_attached_referral_needs_a_social_worker_until_determined(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """A referral attached to an open relationship brings its triage's suspicion along, even
    when the need was determined before: it is a new matter."""
    client = "9" * 32
    rid = open_relationship(pipeline, client, seq=1)
    pipeline.execute(command(cmd.DetermineSpecialSupportNeed, rid, special_support=False), command_id="no")
    pipeline.execute(command(cmd.NameOwnWorker, rid, worker_id="sc-001", reason="competence"), command_id="sc")
    assert relationship_state(pipeline, rid).special_support_suspected is False

    deliver(pipeline, [referral(2, client, suspected=True)], 2)
    state = relationship_state(pipeline, rid)
    assert (state.special_support_suspected, len(state.referral_ids)) == (True, 2)
    securing = command(cmd.MakeDecision, rid, kind="activity_allowance", granted=True, appeal_instructions_given=True, secures_care=True)
    assert refused_code(app, pipeline, securing, "securing") == "decision_requires_social_worker"
    mate = command(cmd.NameOwnWorker, rid, worker_id="sc-777", reason="absence")
    assert refused_code(app, pipeline, mate, "mate") == "own_worker_must_be_social_worker"
    # Determining the need yes asks for a qualified own worker first, as ever.
    yes = command(cmd.DetermineSpecialSupportNeed, rid, special_support=True, grounds=["multiple_needs"])
    assert refused_code(app, pipeline, yes, "yes") == "own_worker_must_be_social_worker"
    pipeline.execute(command(cmd.NameOwnWorker, rid, worker_id="sw-001", reason="support_need_changed"), command_id="sw")
    pipeline.execute(yes, command_id="yes")
    state = relationship_state(pipeline, rid)
    assert (state.special_support_suspected, state.special_support) == (False, True)


def test_the_summary_counts_only_open_relationships_by_nature(app: CasefileApplication, pipeline: Pipeline) -> None:
    """``polku.qry.casefile.summary`` answers "active clients by nature": an ended relationship
    counts by its end reason only, and by nature again once it is reopened and its nature is
    determined anew."""
    continuous = open_relationship(pipeline, "1" * 32, seq=1)
    # a continuous relationship works to a client plan, which follows an assessment that found a need
    pipeline.execute(command(cmd.StartAssessment, continuous), command_id="a1")
    pipeline.execute(command(cmd.CompleteAssessment, continuous, conclusion="service_need"), command_id="a2")
    pipeline.execute(
        command(cmd.UpdatePlan, continuous, kind="client_plan", goals=["g"], next_review="2027-01-15"), command_id="p"
    )
    pipeline.execute(command(cmd.DetermineNature, continuous, nature="continuous"), command_id="n1")
    temporary = open_relationship(pipeline, "2" * 32, seq=2)
    pipeline.execute(command(cmd.DetermineNature, temporary, nature="temporary"), command_id="n2")
    open_relationship(pipeline, "3" * 32, seq=3)  # no nature yet
    ended = open_relationship(pipeline, "4" * 32, seq=4)
    pipeline.execute(command(cmd.DetermineNature, ended, nature="recurring"), command_id="n4")
    pipeline.execute(command(cmd.EndRelationship, ended, reason="goal_reached"), command_id="e4")
    pipeline.execute(command(cmd.EndRelationship, temporary, reason="client_ended"), command_id="e2")

    summary = pipeline.ask(cmd.SummaryQuery(), "summary")
    assert (summary.open, summary.ended) == (2, 2)
    assert summary.by_nature == {"continuous": 1} and summary.without_nature == 1
    assert summary.by_end_reason == {"client_ended": 1, "goal_reached": 1}
    assert summary.open == sum(summary.by_nature.values()) + summary.without_nature

    # reopened, a returning client's nature is determined again: counted without one until then
    pipeline.execute(command(cmd.ReopenRelationship, temporary, reason="client_returned"), command_id="back")
    summary = pipeline.ask(cmd.SummaryQuery(), "summary")
    assert (summary.open, summary.by_nature, summary.without_nature, summary.by_end_reason) == (
        3, {"continuous": 1}, 2, {"goal_reached": 1},
    )
    pipeline.execute(command(cmd.DetermineNature, temporary, nature="temporary"), command_id="n2-again")
    summary = pipeline.ask(cmd.SummaryQuery(), "summary")
    assert (summary.by_nature, summary.without_nature) == ({"continuous": 1, "temporary": 1}, 1)
