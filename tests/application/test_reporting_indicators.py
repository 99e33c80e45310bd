"""Reporting's indicators over one month written out by hand, on real SQLite and real PostgreSQL.

The scenario (March 2026, Helsinki time; teams north and south):

- R1 (client A, north): received Mar 2 10:00 by phone from the client (livelihood, housing);
  screened Mar 3 10:00 assessment_needed (motivated); triaged Mar 4 10:00 (q1); routed Mar 5
  10:00 to a social worker. Relationship 1: opened Mar 5, own worker sw-1 (north), continuous,
  special support; assessment Mar 6 → Mar 16 (10 days); client plan Mar 16 with review Mar 25;
  activation plan Mar 18 offering one option (chosen); meeting held Mar 12, missed Mar 19;
  avain 10 → 14; work activity from Mar 23; disappeared Mar 24 10:00 after two unanswered
  calls (Mar 22, 23); end proposed Mar 30.
- R2 (client B, north): received Mar 2 12:00 by e-service from an authority (substance use);
  screened Mar 2 18:00, redirected to Kela.
- R3 (client C, north): received Mar 10 08:00 by outreach, urgent (housing); screened 09:00
  urgent_need (ambivalent); urgent need assessed 14:00 (6 hours).
- R4 (client D, south): received Mar 6 10:00 by letter from a relative (livelihood); screened
  12:00 assessment_needed (not motivated); triaged Mar 9 (q2); routed Mar 10 10:00 to a social
  worker. Relationship 2: opened Mar 10, own worker sc-2, a social counsellor (south) with no
  work pair, special support: the one the law forbids; meeting held Mar 12 10:00.
- R5 (client B, north): received Mar 20 10:00 by phone (livelihood); screened 11:00 not reached;
  flagged as a repeat referral.
- Relationship 3 (client E): opened Mar 25, nobody named yet (no team).
- Relationship 4 (client F): opened Mar 3, ended Mar 27 (goal reached); the check-in on Mar 30
  found no need; client F is referred again on Apr 10 (R6: outside March).
- Roster: sw-1 (north, 30), sc-1 (north, 40), sw-2 (south, 30).
"""

from __future__ import annotations

import threading
import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contracts import casefile as cf
from contracts import followup as fu
from contracts import intake as it
from contracts.reporting import INDICATORS, Indicator, IndicatorsQuery
from polku.consumer import Delivery
from polku.domain import RuleBroken
from polku.settings import Settings
from polku.sql import SqlDatabase
from services.reporting.indicators import IndicatorsView

HKI = ZoneInfo("Europe/Helsinki")
MARCH = IndicatorsQuery(period_from=date(2026, 3, 1), period_to=date(2026, 3, 31))


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=HKI)


def ev(cls: type, when: datetime, **fields: Any) -> Any:
    return cls(event_id=uuid.uuid4(), occurred_at=when, **fields)


A, B, C, D, E, F = (letter * 32 for letter in "abcdef")
R1, R2, R3, R4, R5, R6 = (uuid.uuid4() for _ in range(6))
REL1, REL2, REL3, REL4 = (uuid.uuid4() for _ in range(4))
M1, M2, M3 = (uuid.uuid4() for _ in range(3))


def received(rid: uuid.UUID, client: str, when: datetime, channel: str, source: str, concerns: list[str], team: str | None, urgent: bool = False) -> Any:
    return ev(
        it.ReferralReceived, when, referral_id=rid, client_id=client, channel=channel,
        source=it.ReferralSource(kind=source, authority="kela" if source == "authority" else None), concerns=concerns, urgent=urgent, consent=True, team=team,
    )


def intake_events() -> list[Any]:
    return [
        ev(it.RosterWorkerSet, at(1, 8), worker_id="sw-1", role="social_worker", team="north", capacity=30),
        ev(it.RosterWorkerSet, at(1, 8), worker_id="sc-1", role="social_counsellor", team="north", capacity=40),
        ev(it.RosterWorkerSet, at(1, 8), worker_id="sw-2", role="social_worker", team="south", capacity=30),
        received(R1, A, at(2, 10), "phone", "client", ["livelihood", "housing"], "north"),
        ev(it.ReferralScreened, at(3, 10), referral_id=R1, client_id=A, outcome="assessment_needed", motivation="motivated"),
        ev(it.SupportNeedTriaged, at(4, 10), referral_id=R1, client_id=A, quadrant="q1", special_support_suspected=True, required_role="social_worker"),
        ev(it.ReferralRouted, at(5, 10), referral_id=R1, client_id=A, team="north", required_role="social_worker", worker_id="sw-1", special_support_suspected=True),
        received(R2, B, at(2, 12), "e_service", "authority", ["substance_use"], "north"),
        ev(it.ReferralScreened, at(2, 18), referral_id=R2, client_id=B, outcome="redirected", redirected_to="kela", motivation="not_assessed"),
        received(R3, C, at(10, 8), "outreach", "worker_observation", ["housing"], "north", urgent=True),
        ev(it.ReferralScreened, at(10, 9), referral_id=R3, client_id=C, outcome="urgent_need", motivation="ambivalent"),
        ev(it.UrgentNeedAssessed, at(10, 14), referral_id=R3, client_id=C, actions=["emergency_accommodation"]),
        received(R4, D, at(6, 10), "letter", "relative", ["livelihood"], None),
        ev(it.ReferralScreened, at(6, 12), referral_id=R4, client_id=D, outcome="assessment_needed", motivation="not_motivated"),
        ev(it.SupportNeedTriaged, at(9, 10), referral_id=R4, client_id=D, quadrant="q2", special_support_suspected=False, required_role="social_worker"),
        ev(it.ReferralRouted, at(10, 10), referral_id=R4, client_id=D, team="south", required_role="social_worker", worker_id="sw-2", special_support_suspected=False),
        received(R5, B, at(20, 10), "phone", "client", ["livelihood"], "north"),
        ev(it.ReferralScreened, at(20, 11), referral_id=R5, client_id=B, outcome="not_reached", motivation="not_assessed"),
        ev(it.RepeatReferralsFlagged, at(20, 11), referral_id=R5, client_id=B, referrals=2, unreached_or_declined=1),
        received(R6, F, at(10, 10, month=4), "phone", "client", ["livelihood"], "north"),
    ]


def casefile_events() -> list[Any]:
    return [
        ev(cf.RelationshipOpened, at(3, 9), relationship_id=REL4, client_id=F, referral_id=uuid.uuid4()),
        ev(cf.RelationshipOpened, at(5, 10), relationship_id=REL1, client_id=A, referral_id=R1),
        ev(cf.OwnWorkerNamed, at(5, 11), relationship_id=REL1, client_id=A, worker_id="sw-1", role="social_worker", team="north", reason="initial"),
        ev(cf.RelationshipNatureDetermined, at(6, 9), relationship_id=REL1, client_id=A, nature="continuous"),
        ev(cf.SpecialSupportNeedDetermined, at(6, 9), relationship_id=REL1, client_id=A, special_support=True),
        ev(cf.AssessmentStarted, at(6, 10), relationship_id=REL1, client_id=A),
        ev(cf.MeasurementRecorded, at(7), relationship_id=REL1, client_id=A, instrument="avain", scores={"a": 4, "b": 6}),
        ev(cf.RelationshipOpened, at(10, 10), relationship_id=REL2, client_id=D, referral_id=R4),
        ev(cf.OwnWorkerNamed, at(10, 11), relationship_id=REL2, client_id=D, worker_id="sc-2", role="social_counsellor", team="south", reason="initial"),
        ev(cf.SpecialSupportNeedDetermined, at(11), relationship_id=REL2, client_id=D, special_support=True),
        ev(cf.MeetingHeld, at(12, 10), relationship_id=REL1, client_id=A, meeting_id=M1),
        ev(cf.MeetingHeld, at(12, 10), relationship_id=REL2, client_id=D, meeting_id=M3),
        ev(cf.AssessmentCompleted, at(16, 10), relationship_id=REL1, client_id=A, conclusion="service_need", started_at=at(6, 10)),
        ev(cf.PlanUpdated, at(16, 11), relationship_id=REL1, client_id=A, kind="client_plan", version=1, goal_count=1, measure_count=1, next_review=date(2026, 3, 25)),
        ev(cf.PlanUpdated, at(18), relationship_id=REL1, client_id=A, kind="activation_plan", version=1, goal_count=1, measure_count=1,
           options_offered=1, option_chosen=True, offered=["rehabilitative_work_activity"], chosen_option="rehabilitative_work_activity", next_review=date(2026, 5, 18)),
        ev(cf.MeetingMissed, at(19), relationship_id=REL1, client_id=A, meeting_id=M2),
        ev(cf.MeasurementRecorded, at(20), relationship_id=REL1, client_id=A, instrument="avain", scores={"a": 6, "b": 8}),
        ev(cf.WorkActivityStarted, at(23), relationship_id=REL1, client_id=A, placement_id="p-1", days_per_week=3, hours_per_day=4.0,
           starts_on=date(2026, 3, 23), ends_on=date(2026, 6, 23), evaluation_on=date(2026, 4, 23), shop_steward_notified=True),
        ev(cf.RelationshipOpened, at(25), relationship_id=REL3, client_id=E, referral_id=uuid.uuid4()),
        ev(cf.RelationshipEnded, at(27), relationship_id=REL4, client_id=F, reason="goal_reached"),
    ]


def followup_events() -> list[Any]:
    return [
        ev(fu.ContactAttemptRecorded, at(22), relationship_id=REL1, client_id=A, channel="phone", outcome="no_answer", attempted_on=date(2026, 3, 22)),
        ev(fu.ContactAttemptRecorded, at(23), relationship_id=REL1, client_id=A, channel="phone", outcome="no_answer", attempted_on=date(2026, 3, 23)),
        ev(fu.ClientDisappeared, at(24, 10), relationship_id=REL1, client_id=A, detected_by="unreachable_by_phone"),
        ev(fu.EndProposed, at(30), relationship_id=REL1, client_id=A, disappeared_on=date(2026, 3, 24)),
        ev(fu.CheckInCompleted, at(30), relationship_id=REL4, client_id=F, outcome="no_need", attempts=1),
    ]


STREAMS = {"INTAKE": intake_events, "CASEFILE": casefile_events, "FOLLOWUP": followup_events}


def feed(view: IndicatorsView, order: tuple[str, ...] = ("INTAKE", "CASEFILE", "FOLLOWUP"), batch: int = 4) -> None:
    """Each stream's events as its consumer hands them over, in batches, numbered by sequence."""
    for stream in order:
        events = STREAMS[stream]()
        for start in range(0, len(events), batch):
            deliveries = [Delivery(start + i + 1, "polku.x", {}, b"", e) for i, e in enumerate(events[start:start + batch])]
            view.commit(view.prepare(deliveries), stream, deliveries[-1].seq)


@pytest.fixture(params=["sqlite", "postgres"])
def view(request: pytest.FixtureRequest) -> IndicatorsView:
    if request.param == "postgres":
        request.getfixturevalue("postgres_env")
    else:
        request.getfixturevalue("polku_env")
    v = IndicatorsView(SqlDatabase(Settings.from_env(), "reporting"), today=lambda: date(2026, 4, 30))
    feed(v)
    yield v
    v.db.close()


def answer(view: IndicatorsView, q: IndicatorsQuery = MARCH) -> dict[str, Indicator]:
    return {i.name: i for i in view.indicators(q).indicators}


def cells(indicator: Indicator) -> dict[Any, int | None]:
    """Cells by key (a single dimension's value, or a tuple), zeros left out."""
    out = {}
    for c in indicator.cells:
        if c.count:
            values = tuple(c.key[d] for d in indicator.dimensions)
            out[values[0] if len(values) == 1 else values] = c.count
    return out


def measured(indicator: Indicator) -> dict[Any, tuple[float | None, float | None]]:
    return {tuple(c.key.values())[0] if c.key else (): (c.median, c.p90) for c in indicator.cells if c.count}


def test_every_indicator_of_the_catalogue_is_answered_in_its_order(view: IndicatorsView) -> None:
    reply = view.indicators(MARCH)
    assert [i.name for i in reply.indicators] == list(INDICATORS)
    assert reply.positions == {"INTAKE": len(intake_events()), "CASEFILE": len(casefile_events()), "FOLLOWUP": len(followup_events())}
    for indicator in reply.indicators:
        assert indicator.dimensions == list(INDICATORS[indicator.name].dimensions)
        if INDICATORS[indicator.name].partition:
            assert indicator.total == sum(c.count or 0 for c in indicator.cells)


def test_active_relationships_by_nature_and_own_worker_count_only_the_open_ones(view: IndicatorsView) -> None:
    got = answer(view)
    assert cells(got["active_by_nature"]) == {"continuous": 1, "not_determined": 2}
    assert {c.key["nature"] for c in got["active_by_nature"].cells} == {"temporary", "recurring", "continuous", "not_determined"}
    assert cells(got["active_by_own_worker"]) == {"named": 2, "not_named": 1}
    # At Mar 4 only relationship 4 was open (opened Mar 3, nobody named yet).
    early = answer(view, IndicatorsQuery(period_from=date(2026, 3, 1), period_to=date(2026, 3, 4)))
    assert cells(early["active_by_nature"]) == {"not_determined": 1}
    assert cells(early["active_by_own_worker"]) == {"not_named": 1}


def test_caseload_per_group_and_worker_against_capacity(view: IndicatorsView) -> None:
    got = answer(view)
    group = {c.key["role"]: (c.count, c.capacity) for c in got["caseload_by_group"].cells}
    assert group == {"social_worker": (1, 60), "social_counsellor": (1, 40)}
    worker = {c.key["worker"]: (c.count, c.capacity) for c in got["caseload_by_worker"].cells}
    assert worker == {"sw-1": (1, 30), "sc-1": (0, 40), "sw-2": (0, 30), "sc-2": (1, None)}


def test_a_special_support_client_without_a_social_worker_is_counted(view: IndicatorsView) -> None:
    got = answer(view)
    assert got["special_support_without_social_worker"].total == 1
    north = answer(view, IndicatorsQuery(team="north", period_from=date(2026, 3, 1), period_to=date(2026, 3, 31)))
    assert north["special_support_without_social_worker"].total == 0


def test_service_guidance_outcomes_redirections_and_repeat_flags(view: IndicatorsView) -> None:
    got = answer(view)
    assert cells(got["screening_outcomes"]) == {"assessment_needed": 2, "redirected": 1, "urgent_need": 1, "not_reached": 1}
    assert cells(got["redirected_to"]) == {"kela": 1}
    assert got["repeat_referral_flags"].total == 1


def test_urgent_needs_and_the_hours_to_their_assessment(view: IndicatorsView) -> None:
    got = answer(view)["urgent_needs"]
    assert cells(got) == {"yes": 1}
    assert measured(got)["yes"] == (6.0, 6.0)


def test_waiting_from_receipt_to_each_step_median_and_90th_percentile(view: IndicatorsView) -> None:
    got = answer(view)["waiting"]
    assert cells(got) == {"screened": 5, "triaged": 2, "routed": 2, "first_meeting_held": 2}
    # screened after 1 h, 1 h, 2 h, 6 h and 1 day: median 2 h; p90 0.25 + 0.6 × 0.75 days
    assert measured(got) == {
        "screened": (0.08, 0.7),
        "triaged": (2.5, 2.9),
        "routed": (3.5, 3.9),
        "first_meeting_held": (8.0, 9.6),
    }


def test_assessments_started_completed_and_against_the_deadline(view: IndicatorsView) -> None:
    got = answer(view)
    assert cells(got["assessments"]) == {"started": 1, "completed": 1}
    assert cells(got["assessment_duration"]) == {"on_time": 1}
    assert measured(got["assessment_duration"])["on_time"] == (10.0, 10.0)


def test_meetings_held_and_missed_also_by_motivation(view: IndicatorsView) -> None:
    got = answer(view)
    assert cells(got["meetings"]) == {"held": 2, "missed": 1}
    assert cells(got["meetings_by_motivation"]) == {
        ("motivated", "held"): 1, ("motivated", "missed"): 1, ("not_motivated", "held"): 1
    }


def test_plans_past_review_and_activation_plans(view: IndicatorsView) -> None:
    got = answer(view)
    assert cells(got["plans_past_review"]) == {"client_plan": 1}
    assert got["activation_plans"].total == 1
    assert cells(got["activation_options_offered"]) == {"rehabilitative_work_activity": 1}
    assert cells(got["activation_options_chosen"]) == {"rehabilitative_work_activity": 1}
    assert got["activation_fewer_than_two_options"].total == 1
    # On Mar 24 the client plan's review (Mar 25) was not yet past.
    before = answer(view, IndicatorsQuery(period_from=date(2026, 3, 1), period_to=date(2026, 3, 24)))
    assert cells(before["plans_past_review"]) == {}


def test_work_activity_periods(view: IndicatorsView) -> None:
    got = answer(view)
    assert cells(got["work_activity"]) == {"started": 1}
    assert cells(got["work_activity_outcomes"]) == {}


def test_disappeared_clients_contact_attempts_and_end_proposals(view: IndicatorsView) -> None:
    got = answer(view)
    assert got["disappeared"].total == 1
    # Mar 24 10:00 EET to Apr 1 00:00 EEST: 7 days and 13 hours
    assert measured(got["disappeared"])[()] == (7.54, 7.54)
    assert cells(got["contact_attempts"]) == {"no_answer": 2}
    assert got["end_proposals"].total == 1


def test_ends_check_ins_and_clients_returning(view: IndicatorsView) -> None:
    got = answer(view)
    assert cells(got["ends_by_reason"]) == {"goal_reached": 1}
    assert cells(got["check_ins"]) == {"no_need": 1}
    assert cells(got["returning"]) == {"6m": 1, "12m": 1}


def test_change_in_instrument_scores(view: IndicatorsView) -> None:
    got = answer(view)["score_change"]
    assert cells(got) == {"avain": 1}
    assert measured(got)["avain"] == (4.0, 4.0)


def test_channels_sources_and_concerns_of_referrals(view: IndicatorsView) -> None:
    got = answer(view)
    assert cells(got["referral_channels"]) == {"phone": 2, "e_service": 1, "outreach": 1, "letter": 1}
    assert cells(got["referral_sources"]) == {"client": 2, "authority": 1, "worker_observation": 1, "relative": 1}
    assert cells(got["concerns"]) == {"livelihood": 3, "housing": 2, "substance_use": 1}


def test_prolonged_unemployment_and_the_further_activation_options_are_counted(polku_env: dict[str, str]) -> None:
    """Vocabulary added since v1 counts where v1's does: a referral whose source is prolonged
    unemployment counts as that source, and an activation plan's further options (work coaching,
    social rehabilitation...) as options offered and chosen, toward the two options too."""
    v = IndicatorsView(SqlDatabase(Settings.from_env(), "reporting"), today=lambda: date(2026, 4, 30))
    try:
        unemployed = ev(
            it.ReferralReceived, at(2), referral_id=R1, client_id=A, channel="outreach", concerns=["employment"],
            source=it.ReferralSource(kind="worker_observation", further_kind="prolonged_unemployment"),
            urgent=False, consent=True, team="north",
        )
        intake = [unemployed, received(R2, B, at(3), "phone", "client", ["livelihood"], "north")]
        plans = [
            ev(cf.PlanUpdated, at(18), relationship_id=REL1, client_id=A, kind="activation_plan", version=1, goal_count=0,
               measure_count=0, options_offered=2, offered=["education"], further_offered=["work_coaching"],
               next_review=date(2026, 5, 18), education="basic_education", work_history="none",
               earlier_plans="no_earlier_plans", participants=["client", "employment_services"]),
            ev(cf.PlanUpdated, at(20), relationship_id=REL1, client_id=A, kind="activation_plan", version=2, goal_count=0,
               measure_count=0, option_chosen=True, further_chosen_option="work_coaching", next_review=date(2026, 5, 18)),
        ]
        for stream, events in (("INTAKE", intake), ("CASEFILE", plans)):
            deliveries = [Delivery(i + 1, "polku.x", {}, b"", e) for i, e in enumerate(events)]
            v.commit(v.prepare(deliveries), stream, deliveries[-1].seq)
        got = answer(v)
        assert cells(got["referral_sources"]) == {"prolonged_unemployment": 1, "client": 1}
        assert cells(got["activation_options_offered"]) == {"education": 1, "work_coaching": 1}
        assert cells(got["activation_options_chosen"]) == {"none": 1, "work_coaching": 1}
        assert got["activation_fewer_than_two_options"].total == 0
    finally:
        v.db.close()


def test_equal_treatment_side_by_side_across_teams(view: IndicatorsView) -> None:
    got = answer(view)["equal_treatment"]
    assert cells(got) == {
        ("north", "q1", "routed_social_worker"): 1,
        ("north", "q1", "assessed"): 1,
        ("north", "q1", "planned"): 1,
        ("south", "q2", "routed_social_worker"): 1,
    }


def test_a_team_sees_its_own(view: IndicatorsView) -> None:
    north = answer(view, IndicatorsQuery(team="north", period_from=date(2026, 3, 1), period_to=date(2026, 3, 31)))
    assert cells(north["active_by_nature"]) == {"continuous": 1}
    assert cells(north["screening_outcomes"]) == {"assessment_needed": 1, "redirected": 1, "urgent_need": 1, "not_reached": 1}
    assert cells(north["meetings"]) == {"held": 1, "missed": 1}
    assert {c.key["worker"] for c in north["caseload_by_worker"].cells} == {"sw-1", "sc-1"}
    assert cells(north["equal_treatment"]) == {
        ("north", "q1", "routed_social_worker"): 1, ("north", "q1", "assessed"): 1, ("north", "q1", "planned"): 1
    }


def test_the_streams_in_any_order_and_batches_redelivered_give_the_same_answer(view: IndicatorsView, settings: Settings) -> None:
    other = IndicatorsView(SqlDatabase(settings, "reporting-other"), today=lambda: date(2026, 4, 30))
    feed(other, order=("FOLLOWUP", "CASEFILE", "INTAKE"), batch=3)
    feed(other, order=("CASEFILE",), batch=5)  # redelivered: changes nothing
    for q in (MARCH, IndicatorsQuery(team="north", period_from=date(2026, 3, 1), period_to=date(2026, 3, 31))):
        assert other.indicators(q) == view.indicators(q)
    other.db.close()


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        (IndicatorsQuery(period_from=date(2026, 3, 2), period_to=date(2026, 3, 1)), "period_reversed", "period_to"),
        (IndicatorsQuery(period_from=date(2000, 1, 1), period_to=date(2026, 3, 1)), "period_too_long", "period_from"),
        (IndicatorsQuery(names=["active_by_nature", "happiness"]), "unknown_indicator", "names"),
        # the calendar's edges: the date arithmetic overflowed, answered unavailable (the schema fuzz)
        (IndicatorsQuery(period_from=date(9999, 12, 1), period_to=date.max), "invalid_value", "period_to"),
        (IndicatorsQuery(period_to=date(1, 3, 1)), "invalid_value", "period_to"),
    ],
)
def test_a_wrong_query_is_refused_with_its_code(view: IndicatorsView, query: IndicatorsQuery, code: str, field: str) -> None:
    with pytest.raises(RuleBroken) as refused:
        view.indicators(query)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_without_dates_the_year_up_to_today(view: IndicatorsView) -> None:
    reply = view.indicators(IndicatorsQuery(names=["referral_channels"]))
    assert (reply.period_from, reply.period_to) == (date(2025, 5, 1), date(2026, 4, 30))
    assert cells(reply.indicators[0]) == {"phone": 3, "e_service": 1, "outreach": 1, "letter": 1}


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_long_query_holds_up_no_consumer_and_sees_one_snapshot(request: pytest.FixtureRequest, engine: str) -> None:
    """The queries read on a connection of their own: while one reads (as a team's year does for
    seconds), a consumer's batch commits, and the reading transaction goes on seeing the facts as
    they were when it began."""
    request.getfixturevalue("postgres_env" if engine == "postgres" else "polku_env")
    settings = Settings.from_env()
    view = IndicatorsView(
        SqlDatabase(settings, "reporting"), today=lambda: date(2026, 4, 30),
        reader=SqlDatabase(settings, "reporting", snapshot_reads=True),
    )
    try:
        feed(view, order=("INTAKE",))
        with view.reader.reading() as cur:
            before = cur.execute("SELECT COUNT(*) FROM ri_relationship").fetchone()[0]
            done = threading.Event()
            writer = threading.Thread(target=lambda: (feed(view, order=("CASEFILE",)), done.set()))
            writer.start()
            assert done.wait(10), "the consumer's commit waited for the query"
            assert cur.execute("SELECT COUNT(*) FROM ri_relationship").fetchone()[0] == before == 0
            writer.join()
        assert cells(answer(view)["active_by_own_worker"]) == {"named": 2, "not_named": 1}
    finally:
        view.close()


def test_a_suspected_special_support_need_counts_until_it_is_determined(settings: Settings) -> None:
    """SHL 42 § applies to a need intake suspected until casefile determines it: a social counsellor
    alone as own worker counts as special support without a social worker (as it would in a store
    written before the rule was enforced); determined not to be special support, it does not."""
    view = IndicatorsView(SqlDatabase(settings, "reporting"), today=lambda: date(2026, 4, 30))
    rel, client = uuid.uuid4(), "9" * 32
    events = [
        ev(cf.RelationshipOpened, at(2), relationship_id=rel, client_id=client, referral_id=uuid.uuid4(), special_support_suspected=True),
        ev(cf.OwnWorkerNamed, at(2, 13), relationship_id=rel, client_id=client, worker_id="sc-1", role="social_counsellor", team="north", reason="initial"),
        ev(cf.SpecialSupportNeedDetermined, at(20), relationship_id=rel, client_id=client, special_support=False),
    ]
    view.commit(view.prepare([Delivery(i + 1, "polku.x", {}, b"", e) for i, e in enumerate(events)]), "CASEFILE", len(events))

    def uncovered(last: date) -> int | None:
        q = IndicatorsQuery(period_from=date(2026, 3, 1), period_to=last, names=["special_support_without_social_worker"])
        return view.indicators(q).indicators[0].total

    assert (uncovered(date(2026, 3, 10)), uncovered(date(2026, 3, 31))) == (1, 0)
    view.close()


def test_a_returning_clients_nature_is_determined_again_and_the_old_plans_are_no_longer_current(polku_env: Any) -> None:
    """As casefile keeps it: after a reopening the relationship counts without a nature, and its
    old plan is not past its review, until the worker determines and plans again."""
    rid, client = uuid.uuid4(), "r" * 32
    events = [
        ev(cf.RelationshipOpened, at(2), relationship_id=rid, client_id=client, referral_id=uuid.uuid4()),
        ev(cf.RelationshipNatureDetermined, at(3), relationship_id=rid, client_id=client, nature="continuous"),
        ev(cf.PlanUpdated, at(3), relationship_id=rid, client_id=client, kind="client_plan", version=1, goal_count=1,
           measure_count=1, next_review=date(2026, 3, 10)),
        ev(cf.RelationshipEnded, at(4), relationship_id=rid, client_id=client, reason="client_ended"),
        ev(cf.RelationshipReopened, at(5), relationship_id=rid, client_id=client, reason="client_returned", anew=True),
    ]
    v = IndicatorsView(SqlDatabase(Settings.from_env(), "reporting"), today=lambda: date(2026, 4, 30))
    try:
        deliveries = [Delivery(i + 1, "polku.x", {}, b"", e) for i, e in enumerate(events)]
        v.commit(v.prepare(deliveries), "CASEFILE", len(events))
        got = answer(v)
        assert cells(got["active_by_nature"]) == {"not_determined": 1}
        assert cells(got["plans_past_review"]) == {}
        again = ev(cf.RelationshipNatureDetermined, at(20), relationship_id=rid, client_id=client, nature="recurring")
        v.commit(v.prepare([Delivery(len(events) + 1, "polku.x", {}, b"", again)]), "CASEFILE", len(events) + 1)
        assert cells(answer(v)["active_by_nature"]) == {"recurring": 1}
    finally:
        v.db.close()
