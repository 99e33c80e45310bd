"""Rehabilitative work activity in practice (issue #11, items 12 and 16), through casefile's
command pipeline on a real SQLite store: attendance day by day, the month's realised days and
what is due for them, the chief shop steward, the work activity instructor, the familiarisation
visit; and followup's contact task when the client is absent (seed 003)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import pytest

from contracts import casefile as cmd
from contracts.casefile import WorkActivityAbsent, WorkActivityAttended
from polku.domain import Envelope, RuleBroken
from polku.pipeline import Pipeline
from polku.settings import Settings
from polku.store import store_env
from services.casefile.application import CasefileApplication
from services.casefile.domain import Policy, RecordView
from services.casefile.main import build_application, build_pipeline
from services.casefile.settings import CasefileSettings
from services.followup.application import FollowupApplication
from services.followup.main import build_pipeline as build_followup_pipeline
from services.followup.settings import Policy as FollowupPolicy
from tests.application import test_casefile_commands as commands
from tests.application.test_casefile_commands import OUTSIDER, ROSTER, SC1, last_stored, open_relationship
from tests.application.test_casefile_rules import activation_chosen, decide, ok, period, refused
from tests.casefile_helpers import KTTL
from tests.helpers import stored_events

#: the fixtures of casefile's command tests: its application and pipeline on a real store
app = commands.app
pipeline = commands.pipeline


def at(day: str, hour: int = 15) -> str:
    """A business time on ``day`` (the worker records the day in the afternoon)."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=UTC).isoformat()


def placed(pipeline: Pipeline, **fields: Any) -> uuid.UUID:
    """A relationship whose activation plan chose work activity, decided, and a period running
    from 1 December 2026 to 1 June 2027."""
    rid = open_relationship(pipeline)
    activation_chosen(pipeline, rid)
    decide(pipeline, rid, "rehabilitative_work_activity")
    ok(pipeline, cmd.StartWorkActivity, rid, **period(**fields))
    return rid


def attend(pipeline: Pipeline, rid: uuid.UUID, day: str, **fields: Any) -> Any:
    fields.setdefault("attended", True)
    fields.setdefault("occurred_at", at(day))
    return ok(pipeline, cmd.RecordAttendance, rid, day=day, **fields)


def published(app: CasefileApplication, rid: uuid.UUID, back: int = 1) -> Any:
    """The relationship's latest event (``back``: counting from the end), as published."""
    return app.history(rid).entries[-back].event


def month(pipeline: Pipeline, rid: uuid.UUID, which: str, actor: dict[str, str] = SC1) -> cmd.WorkActivityMonth:
    q = cmd.WorkActivityMonthQuery(relationship_id=rid, actor=cmd.ActingWorker(**actor), purpose="client_work", month=which)
    return pipeline.ask(q)


# ------------------------------------------------------------------------------ attendance
def test_attendance_is_a_day_of_the_running_period_that_has_come_each_day_once(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    none_running = refused(app, pipeline, "work_activity_not_running", cmd.RecordAttendance, rid,
                           day="2026-12-01", attended=True, occurred_at=at("2026-12-01"))
    assert none_running.field == "day"
    activation_chosen(pipeline, rid)
    decide(pipeline, rid, "rehabilitative_work_activity")
    ok(pipeline, cmd.StartWorkActivity, rid, **period())  # 2026-12-01 .. 2027-06-01

    cases = [
        ("attendance_before_period", {"day": "2026-11-30", "occurred_at": at("2026-12-01")}),
        ("attendance_after_period", {"day": "2027-06-02", "occurred_at": at("2027-06-02")}),
        ("attendance_in_future", {"day": "2026-12-02", "occurred_at": at("2026-12-01")}),
    ]
    for code, fields in cases:
        error = refused(app, pipeline, code, cmd.RecordAttendance, rid, attended=True, **fields)
        assert error.field == "day", code

    attend(pipeline, rid, "2026-12-01")  # the first day of the period, recorded on the day
    attend(pipeline, rid, "2027-06-01", occurred_at=at("2027-06-01"))  # the last day
    for again in ({"attended": True}, {"attended": False, "absence_reason": "illness"}):
        error = refused(app, pipeline, "attendance_already_recorded", cmd.RecordAttendance, rid,
                        day="2026-12-01", occurred_at=at("2026-12-05"), **again)
        assert error.field == "day"


def test_an_absence_names_its_reason_and_an_attended_day_none() -> None:
    base = {"relationship_id": str(uuid.uuid4()), "actor": SC1, "day": "2026-12-01"}
    for wrong in ({"attended": False}, {"attended": True, "absence_reason": "illness"}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({**base, **wrong}, cmd.RecordAttendance)
    assert msgspec.convert({**base, "attended": False, "absence_reason": "unannounced"}, cmd.RecordAttendance)


def test_attendance_and_absence_are_events_of_their_own_with_who_reported_them(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = placed(pipeline, instructor="instructor-07")
    attend(pipeline, rid, "2026-12-01", reported_by="instructor-07")
    attended = published(app, rid)
    assert isinstance(attended, cmd.WorkActivityAttended)
    assert (attended.day, attended.placement_id, attended.reported_by) == (date(2026, 12, 1), "activity-centre-1", "instructor-07")
    attend(pipeline, rid, "2026-12-02", attended=False, absence_reason="unannounced")
    absent = published(app, rid)
    assert isinstance(absent, cmd.WorkActivityAbsent)
    assert (absent.day, absent.reason, absent.reported_by) == (date(2026, 12, 2), "unannounced", None)
    kinds = [type(h.event).__name__ for h in app.history(rid).entries]
    assert kinds[-2:] == ["WorkActivityAttended", "WorkActivityAbsent"]
    assert app.timeline(rid).omitted == 2  # not v1's kinds: the timeline counts them


# ------------------------------------------------------------------------------ the month
def test_the_month_counts_realised_days_and_the_allowance_due_by_a_granted_decision_in_force(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """€9 (policy: 900 cents) a realised day, only on days a granted activity allowance decision
    was in force; absences count apart, by reason."""
    rid = placed(pipeline)
    attend(pipeline, rid, "2026-12-01")  # no allowance decision yet
    decide(pipeline, rid, "activity_allowance", occurred_at=at("2026-12-02", 8))
    attend(pipeline, rid, "2026-12-02")
    attend(pipeline, rid, "2026-12-03", attended=False, absence_reason="illness")
    attend(pipeline, rid, "2026-12-04", attended=False, absence_reason="unannounced")
    attend(pipeline, rid, "2026-12-07")
    # a later decision denies it: the days after are realised but not paid
    decide(pipeline, rid, "activity_allowance", granted=False, client_heard=True, occurred_at=at("2026-12-08", 8))
    attend(pipeline, rid, "2026-12-08")
    attend(pipeline, rid, "2027-01-04")  # another month

    december = month(pipeline, rid, "2026-12")
    assert (december.realised_days, december.absences) == (4, 2)
    assert december.absences_by_reason == {"illness": 1, "unannounced": 1}
    assert (december.allowance_days, december.activity_allowance_cents) == (2, 2 * 900)
    assert (december.travel_days, december.travel_compensation_cents) == (0, 0)  # no travel decision
    january = month(pipeline, rid, "2027-01")
    assert (january.realised_days, january.absences, january.activity_allowance_cents) == (1, 0, 0)
    assert month(pipeline, rid, "2026-11").realised_days == 0


def test_a_return_ends_the_allowance_decision_in_force_for_the_days_after_it(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = placed(pipeline)
    decide(pipeline, rid, "activity_allowance")
    attend(pipeline, rid, "2026-12-01")
    ok(pipeline, cmd.EndWorkActivity, rid, reason="interrupted", occurred_at=at("2026-12-02"))
    ok(pipeline, cmd.EndRelationship, rid, reason="client_ended", occurred_at=at("2026-12-02"))
    ok(pipeline, cmd.ReopenRelationship, rid, reason="client_returned", occurred_at=at("2026-12-03", 8))
    activation_chosen(pipeline, rid)
    decide(pipeline, rid, "rehabilitative_work_activity", occurred_at=at("2026-12-03", 9))
    ok(pipeline, cmd.StartWorkActivity, rid, occurred_at=at("2026-12-03", 10),
       **period(starts_on="2026-12-03", ends_on="2027-06-03"))
    attend(pipeline, rid, "2026-12-04")
    december = month(pipeline, rid, "2026-12")
    assert (december.realised_days, december.allowance_days, december.activity_allowance_cents) == (2, 1, 900)


def test_travel_compensation_is_due_by_its_granted_decision_at_the_policys_amount(settings: Settings) -> None:
    policy = Policy(activity_allowance_cents=1000, travel_compensation_cents=450)
    app = build_application(
        dataclasses.replace(settings, roster=settings.roster + ROSTER), casefile=CasefileSettings(policy=policy)
    )
    try:
        pipeline = build_pipeline(app, settings)
        rid = placed(pipeline)
        decide(pipeline, rid, "activity_allowance")
        attend(pipeline, rid, "2026-12-01")
        decide(pipeline, rid, "travel_compensation", occurred_at=at("2026-12-02", 8))
        attend(pipeline, rid, "2026-12-02")
        attend(pipeline, rid, "2026-12-03")
        december = month(pipeline, rid, "2026-12")
        assert (december.allowance_days, december.activity_allowance_cents) == (3, 3000)
        assert (december.travel_days, december.travel_compensation_cents) == (2, 900)
    finally:
        app.close()


def test_the_amounts_a_day_are_policy_with_the_seeds_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Policy().activity_allowance_cents, Policy().travel_compensation_cents) == (900, 0)
    monkeypatch.setenv("POLKU_ACTIVITY_ALLOWANCE_CENTS", "1050")
    monkeypatch.setenv("POLKU_TRAVEL_COMPENSATION_CENTS", "380")
    configured = CasefileSettings.from_env().policy
    assert (configured.activity_allowance_cents, configured.travel_compensation_cents) == (1050, 380)


def test_the_month_is_a_logged_read_of_the_record_and_refused_to_an_outsider(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = placed(pipeline)
    month(pipeline, rid, "2026-12")
    view = last_stored(app)
    assert isinstance(view, RecordView.Viewed) and (view.granted, view.part) == (True, "state")
    position = app.max_position()
    with pytest.raises(RuleBroken) as forbidden:
        month(pipeline, rid, "2026-12", actor=OUTSIDER)
    assert forbidden.value.code == "forbidden"
    assert app.max_position() == position + 1 and last_stored(app).granted is False
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"relationship_id": str(rid), "actor": SC1, "purpose": "client_work", "month": "2026-13"},
                        cmd.WorkActivityMonthQuery)


# ---------------------------------------------------------------------- the shop steward
def test_the_chief_shop_steward_is_notified_of_the_placement(app: CasefileApplication, pipeline: Pipeline) -> None:
    """Seed 003 (KTTL 9 §, 16 §): the worker makes the decisions and notifies the chief shop
    steward of the placement: a period does not start before that."""
    rid = open_relationship(pipeline)
    activation_chosen(pipeline, rid)
    decide(pipeline, rid, "rehabilitative_work_activity")
    error = refused(app, pipeline, "shop_steward_not_notified", cmd.StartWorkActivity, rid,
                    **period(shop_steward_notified=False))
    assert error.field == "shop_steward_notified"
    ok(pipeline, cmd.StartWorkActivity, rid, **period())
    assert published(app, rid).shop_steward_notified is True


# ------------------------------------------------------------------- the instructor (16)
def test_the_work_activity_instructor_is_named_on_the_placement(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = placed(pipeline, instructor="instructor-07")
    started = published(app, rid)
    assert isinstance(started, cmd.WorkActivityStarted) and started.instructor == "instructor-07"
    assert app.state(app.get_relationship(rid)).work_activity.instructor == "instructor-07"
    other = open_relationship(pipeline, "e" * 32, seq=2)
    activation_chosen(pipeline, other)
    decide(pipeline, other, "rehabilitative_work_activity")
    ok(pipeline, cmd.StartWorkActivity, other, **period())  # not named: optional
    assert app.state(app.get_relationship(other)).work_activity.instructor is None


# ------------------------------------------------------------- the familiarisation visit (16)
def test_a_familiarisation_visit_is_to_an_option_offered_and_made_before_it_is_recorded(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    visit = {"option": "rehabilitative_work_activity", "visited_on": "2026-11-20"}
    assert refused(app, pipeline, "option_not_offered", cmd.RecordFamiliarisationVisit, rid, **visit).field == "option"
    ok(pipeline, cmd.UpdatePlan, rid, kind="activation_plan", next_review="2027-01-01",
       strengths=["reliable"], support_needed=["a daily rhythm"],
       options_offered=["rehabilitative_work_activity", "education"], **KTTL)
    refused(app, pipeline, "option_not_offered", cmd.RecordFamiliarisationVisit, rid, option="work_trial", visited_on="2026-11-20")
    future = refused(app, pipeline, "visit_in_future", cmd.RecordFamiliarisationVisit, rid,
                     option="education", visited_on="2026-11-24")  # the business time is 2026-11-23
    assert future.field == "visited_on"
    ok(pipeline, cmd.RecordFamiliarisationVisit, rid, **visit)
    made = published(app, rid)
    assert isinstance(made, cmd.FamiliarisationVisitMade) and (made.option, made.visited_on) == (
        "rehabilitative_work_activity", date(2026, 11, 20)
    )
    state = app.state(app.get_relationship(rid))
    assert state.familiarisation_visits == [
        cmd.FamiliarisationVisitView(option="rehabilitative_work_activity", visited_on=date(2026, 11, 20))
    ]


def test_the_choice_of_an_option_does_not_wait_for_a_familiarisation_visit(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    """Seed 003: the client *may* visit the options (alone or with the own worker) before the
    choice; a visit is arranged after choosing work activity if there was none. Not a condition."""
    rid = open_relationship(pipeline)
    activation_chosen(pipeline, rid)  # offered, then chosen: no visit
    ok(pipeline, cmd.RecordFamiliarisationVisit, rid, option="rehabilitative_work_activity", visited_on="2026-11-23")
    assert len(app.state(app.get_relationship(rid)).familiarisation_visits) == 1


# --------------------------------------------------------------- followup: absences (12)
FOLLOWUP_NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def followup(settings: Settings) -> Any:
    application = FollowupApplication(
        store_env(settings, "followup"), roster=settings.roster,
        policy=FollowupPolicy(disappearance_failures=2, disappearance_min_days=1),
        demo=True, system_clock=lambda: FOLLOWUP_NOW,
    )
    yield application, build_followup_pipeline(application, settings)
    application.close()


def _casefile_event(tp: type[Any], rid: uuid.UUID, day: date, **fields: Any) -> Any:
    return tp(event_id=uuid.uuid4(), occurred_at=datetime.combine(day, datetime.min.time(), UTC).replace(hour=15),
              relationship_id=rid, client_id="c" * 32, placement_id="activity-centre-1", day=day, **fields)


def _tasks(app: FollowupApplication) -> list[tuple[str, date]]:
    """Every task the due list holds (its read model), as (kind, due)."""
    return [(kind, due) for rel in app.tasks.relationships.values() for kind, due in rel.tasks.values()]


def test_followup_has_the_worker_contact_a_client_absent_from_work_activity(followup: Any) -> None:
    app, pipeline = followup
    rid = uuid.uuid4()

    def deliver(e: Any) -> None:
        handler = {WorkActivityAbsent: app.work_activity_absent, WorkActivityAttended: app.work_activity_attended}[type(e)]
        pipeline.committer.run(lambda uow: handler(uow, e), Envelope(occurred_at=e.occurred_at))

    deliver(_casefile_event(WorkActivityAbsent, rid, date(2026, 12, 2), reason="illness"))
    assert _tasks(app) == [("absence_contact", date(2026, 12, 2))]
    deliver(_casefile_event(WorkActivityAbsent, rid, date(2026, 12, 3), reason="illness"))
    assert _tasks(app) == [("absence_contact", date(2026, 12, 2))]  # one task, due from the first day
    assert stored_events(app)["Followed.FailureNoted"] == 0  # a reported illness is no failure to reach
    deliver(_casefile_event(WorkActivityAttended, rid, date(2026, 12, 4)))  # back: seen at the placement
    assert _tasks(app) == []

    # unannounced absences are failures to reach the client, as missed meetings are
    deliver(_casefile_event(WorkActivityAbsent, rid, date(2026, 12, 7), reason="unannounced"))
    deliver(_casefile_event(WorkActivityAbsent, rid, date(2026, 12, 8), reason="unannounced"))
    counts = stored_events(app)
    assert counts["Followed.FailureNoted"] == 2 and counts["Followed.Disappeared"] == 1
    assert sorted(_tasks(app)) == [("absence_contact", date(2026, 12, 7)), ("disappeared", date(2026, 12, 8))]
