"""Issue #11, items 5 and 6, through casefile's command pipeline (a real SQLite store).

5. "No service need" forms no client relationship (seed 000): a finding of no need while the
   relationship is prospective (no need found, no plan made) ends it as not formed, by
   ``complete_assessment`` or ``end_relationship`` alike: no check-in, closed at once, counted
   apart in the summary.
6. The end is not the close (seed 003): the relationship stays ended until followup's check-in
   finds no need (or cannot reach the client); then casefile records RelationshipClosed. Only a
   client who died gets no check-in. v1's timeline leaves the new event out (``omitted``); the
   history carries it.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

from contracts import casefile as cmd
from contracts.followup import CheckInCompleted
from polku.consumer import Delivery
from polku.pipeline import Pipeline
from polku.settings import Settings
from services.casefile.application import CasefileApplication
from services.casefile.main import build_application
from tests.application.test_casefile_commands import NOW, ROSTER, app, command, open_relationship, pipeline  # noqa: F401

TODAY = NOW.date()
SW1 = cmd.ActingWorker(worker_id="sw-001", role="social_worker", team="team-north")


def ok(pipeline: Pipeline, tp: type[Any], rid: uuid.UUID, **fields: Any) -> Any:
    return pipeline.execute(command(tp, rid, **fields), command_id=f"cis-{uuid.uuid4()}")


def last_ended(app: CasefileApplication, rid: uuid.UUID) -> cmd.RelationshipEnded:
    return [e.event for e in app.history(rid).entries if isinstance(e.event, cmd.RelationshipEnded)][-1]


def closes(app: CasefileApplication, rid: uuid.UUID) -> list[str]:
    return [e.event.reason for e in app.history(rid).entries if isinstance(e.event, cmd.RelationshipClosed)]


def check_in(pipeline: Pipeline, rid: uuid.UUID, outcome: str, seq: int) -> None:
    """Followup's CheckInCompleted through casefile's consumer (effect and tracking in one go)."""
    event = CheckInCompleted(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(days=31), relationship_id=rid,
        client_id=pipeline.app.get_relationship(rid).client_id,
        outcome=outcome, attempts=1,
    )
    consumer = pipeline.consumer("followup")
    consumer.commit(consumer.prepare([Delivery(seq, "polku.followup.check_in_completed", {}, b"", event)]), "FOLLOWUP", seq)


# ----------------------------------------------------------------------------- item 5
def test_no_service_need_found_forms_no_client_relationship_whichever_command_records_it(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    by_assessment = open_relationship(pipeline, "a" * 32, seq=1)
    ok(pipeline, cmd.StartAssessment, by_assessment)
    assert app.state(app.get_relationship(by_assessment)).formed is None  # prospective
    ok(pipeline, cmd.CompleteAssessment, by_assessment, conclusion="no_service_need")
    by_end = open_relationship(pipeline, "b" * 32, seq=2)
    ok(pipeline, cmd.EndRelationship, by_end, reason="no_service_need")
    for rid in (by_assessment, by_end):
        ended = last_ended(app, rid)
        assert (ended.reason, ended.formed, ended.check_in_due) == ("no_service_need", False, None)
        state = app.state(app.get_relationship(rid))
        assert (state.status, state.formed, state.nature, state.closed_on, state.close_reason) == (
            "ended", False, None, TODAY, "not_formed",
        )
        assert closes(app, rid) == ["not_formed"]
    summary = app.summary()
    assert (summary.not_formed, summary.ended, summary.by_end_reason, summary.open, summary.closed) == (2, 0, {}, 0, 0)


def test_a_formed_relationship_whose_need_ended_gets_its_check_in_and_counts_as_ended(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.StartAssessment, rid)
    ok(pipeline, cmd.CompleteAssessment, rid, conclusion="service_need")
    assert app.state(app.get_relationship(rid)).formed is True
    ok(pipeline, cmd.UpdatePlan, rid, kind="client_plan", goals=["housing"], next_review="2027-01-15")
    ok(pipeline, cmd.EndRelationship, rid, reason="no_service_need")
    ended = last_ended(app, rid)
    assert (ended.formed, ended.check_in_due) == (True, TODAY + timedelta(days=30))
    assert closes(app, rid) == [] and app.state(app.get_relationship(rid)).closed_on is None
    summary = app.summary()
    assert (summary.not_formed, summary.ended, summary.by_end_reason) == (0, 1, {"no_service_need": 1})


# ----------------------------------------------------------------------------- item 6
def test_only_a_client_who_died_gets_no_check_in_a_move_gets_one(app: CasefileApplication, pipeline: Pipeline) -> None:
    moved = open_relationship(pipeline, "a" * 32, seq=1)
    ok(pipeline, cmd.EndRelationship, moved, reason="moved")
    assert last_ended(app, moved).check_in_due == TODAY + timedelta(days=30)
    assert closes(app, moved) == []
    died = open_relationship(pipeline, "b" * 32, seq=2)
    ok(pipeline, cmd.EndRelationship, died, reason="died")
    assert last_ended(app, died).check_in_due is None
    assert closes(app, died) == ["no_check_in_due"]
    summary = app.summary()
    assert (summary.ended, summary.closed) == (2, 1)


def test_the_end_is_not_the_close_the_check_in_that_finds_no_need_closes_it(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.EndRelationship, rid, reason="transferred_to_work")
    state = app.state(app.get_relationship(rid))
    assert (state.status, state.closed_on) == ("ended", None)
    check_in(pipeline, rid, "no_need", seq=1)
    state = app.state(app.get_relationship(rid))
    assert (state.status, state.closed_on, state.close_reason) == ("ended", (NOW + timedelta(days=31)).date(), "check_in_no_need")
    assert closes(app, rid) == ["check_in_no_need"]
    # a client may always come back: a closed relationship reopens, no longer closed
    ok(pipeline, cmd.ReopenRelationship, rid, reason="client_returned")
    state = app.state(app.get_relationship(rid))
    assert (state.status, state.closed_on, state.close_reason) == ("open", None, None)


def test_a_check_in_that_could_not_reach_the_client_closes_it_one_that_found_a_need_reopens_it(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    unreached = open_relationship(pipeline, "a" * 32, seq=1)
    ok(pipeline, cmd.EndRelationship, unreached, reason="client_ended")
    check_in(pipeline, unreached, "unreached", seq=1)
    assert closes(app, unreached) == ["check_in_unreached"]
    need = open_relationship(pipeline, "b" * 32, seq=2)
    ok(pipeline, cmd.EndRelationship, need, reason="goal_reached")
    check_in(pipeline, need, "need_found", seq=2)
    state = app.state(app.get_relationship(need))
    assert (state.status, state.closed_on) == ("open", None) and closes(app, need) == []


def test_the_timeline_omits_the_close_and_the_history_carries_it(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    ok(pipeline, cmd.EndRelationship, rid, reason="died")
    query = cmd.RecordQuery(relationship_id=rid, actor=SW1, purpose="client_work")
    timeline = pipeline.ask(query, "timeline")
    history = pipeline.ask(query, "history")
    assert [type(e.event).__name__ for e in history.entries][-2:] == ["RelationshipEnded", "RelationshipClosed"]
    assert timeline.omitted == 1 and len(timeline.entries) == len(history.entries) - 1
    assert "RelationshipClosed" not in [type(e.event).__name__ for e in timeline.entries]
    closed = history.entries[-1]
    assert (closed.event.reason, closed.version) == ("no_check_in_due", app.get_relationship(rid).version)


def test_memory_holds_open_work_only_a_return_reads_the_ended_relationship_back_from_the_store(
    app: CasefileApplication, pipeline: Pipeline, settings: Settings
) -> None:
    """An ended and closed relationship leaves memory (counted, not kept); an ended one waits
    for its check-in in memory; a return takes what the relationship was back from the store.
    A start from the snapshot, and one replaying the whole store, give the same model."""
    closed = open_relationship(pipeline, "a" * 32, seq=1)
    waiting = open_relationship(pipeline, "b" * 32, seq=2)
    returning = open_relationship(pipeline, "c" * 32, seq=3)
    for rid, reason in ((closed, "client_ended"), (waiting, "goal_reached"), (returning, "transferred_to_work")):
        ok(pipeline, cmd.EndRelationship, rid, reason=reason)
    check_in(pipeline, closed, "no_need", seq=1)
    check_in(pipeline, returning, "no_need", seq=2)
    model = app.relationships
    assert model.client == {} and model.owner == {} and model.open_by_client == {}
    assert model.awaiting_close == {waiting: ("goal_reached", True)}  # its check-in is still due
    summary = app.summary()
    assert (summary.open, summary.ended, summary.closed) == (0, 3, 2)
    assert app.snapshot_read_models() is not None

    ok(pipeline, cmd.ReopenRelationship, returning, reason="client_returned")  # closed, and back
    summary = app.summary()
    assert (summary.open, summary.ended, summary.closed, summary.by_end_reason) == (
        1, 2, 1, {"client_ended": 1, "goal_reached": 1},
    )
    assert model.open_by_client == {"c" * 32: returning}
    state = model.decode_state(model.snapshot_state())
    app.close()

    again = build_application(dataclasses.replace(settings, roster=settings.roster + ROSTER))
    try:
        assert 0 < again.replayed < again.max_position()  # from the snapshot: the return replayed
        assert again.relationships.decode_state(again.relationships.snapshot_state()) == state
    finally:
        again.close()
    whole = build_application(dataclasses.replace(settings, roster=settings.roster + ROSTER, snapshot_every=0))
    try:
        assert whole.replayed == whole.max_position()
        assert whole.relationships.decode_state(whole.relationships.snapshot_state()) == state
    finally:
        whole.close()
