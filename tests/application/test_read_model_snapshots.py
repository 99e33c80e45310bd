"""Read-model snapshots: a service's in-memory read models are stored now and then with the store
position they reflect, and a start takes them up and replays only what came after (real SQLite,
the services' own applications)."""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter, defaultdict
from datetime import date, timedelta

import msgspec
import pytest
from contracts.intake import ReceiveReferral, RouteReferral, ScreenReferral, TriageSupportNeed
from demo.main import routing_commands
from polku.projections import Projection
from polku.settings import Settings
from polku.store import READ_MODELS, store_env
from services.casefile.projections import Relationships
from services.intake.application import IntakeApplication
from services.intake.projections import History, Loads
from services.intake.main import build_application as build_intake
from services.intake.main import build_pipeline as build_intake_pipeline
from tests.application.test_followup_deadlines import ended, make
from tests.helpers import distinct_referrals

COMMANDS = {"intake.screen_referral": ScreenReferral, "intake.triage_support_need": TriageSupportNeed,
            "intake.route_referral": RouteReferral}


def _intake_history(settings: Settings, app, start: int, count: int, tag: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    """``count`` referrals received, and every second one screened, triaged and routed; the
    clients' ids."""
    pipeline = build_intake_pipeline(app, settings)
    bodies = distinct_referrals(start, count)
    received = pipeline.execute_batch(
        [(msgspec.convert(b, ReceiveReferral), f"r{tag}-{start}-{i}") for i, b in enumerate(bodies)]
    )
    assert all(ok for ok, _ in received)
    ids = [str(reply.referral_id) for _, reply in received][::2]
    for step in range(3):
        commands = [routing_commands(rid, special=i % 3 == 0, prefix=f"p{tag}-{start}-{i}")[step] for i, rid in enumerate(ids)]
        done = pipeline.execute_batch([(msgspec.convert(body, COMMANDS[name]), cid) for name, body, cid in commands])
        assert all(ok for ok, _ in done), done
    return [reply.client_id for _, reply in received]


def _states(app) -> list[dict]:  # type: ignore[no-untyped-def]
    """Each read model's state, as a snapshot holds it (decoded: sets compare as sets)."""
    return [p.decode_state(p.snapshot_state()) for p in app._projections]


#: intake's history on disk (``History``): every referral in the order received
HISTORY = "SELECT referral_id, client_id, outcome FROM {name}intake_client_referrals ORDER BY seq"


def _replayed_whole(settings: Settings, path) -> tuple[list[dict], list[tuple]]:  # type: ignore[no-untyped-def]
    """The read models as a start without a snapshot builds them, from every stored event, with
    the history on disk written again from nothing."""
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM polku_snapshots")
        db.execute("DELETE FROM intake_client_referrals")
        db.execute("DELETE FROM intake_ended_relationships")
    app = build_intake(settings)
    try:
        assert app.snapshot_marks == (0, 0)
        assert app.replayed == app.max_position()
        return _states(app), app.history.rows(HISTORY)
    finally:
        app.close()


def test_intake_starts_from_its_snapshot_and_replays_only_what_came_after(settings: Settings) -> None:
    app = build_intake(settings)
    clients = _intake_history(settings, app, 1, 60)
    taken = app.snapshot_read_models()
    assert taken is not None and taken.position == app.max_position()
    assert app.snapshot_read_models() is None  # nothing changed since: no second one
    at_snapshot = app.max_position()
    _intake_history(settings, app, 100, 20)  # after the snapshot
    end, states, history = app.max_position(), _states(app), app.history.rows(HISTORY)
    assert len(history) == 80 and sum(outcome is not None for _, _, outcome in history) == 40
    app.close()

    again = build_intake(settings)
    try:
        assert again.snapshot_marks[0] == at_snapshot
        assert again.replayed == end - at_snapshot  # only what came after the snapshot
        assert _states(again) == states
        # memory holds the referrals still waiting (every second one was routed), the history
        # on disk every referral
        assert len(again.referrals.by_id) == 40
        assert again.history.rows(HISTORY) == history
        # the models go on from there: a new referral about an earlier client is seen as a repeat
        assert len(again.history.of_client(clients[0])) == 1
        _intake_history(settings, again, 1, 1, tag="again")
        assert len(again.history.of_client(clients[0])) == 2
        states, history = _states(again), again.history.rows(HISTORY)
    finally:
        again.close()
    assert _replayed_whole(settings, settings.sqlite_path("intake")) == (states, history)


def test_a_snapshot_of_other_settings_or_code_is_passed_over_and_the_whole_store_replayed(settings: Settings) -> None:
    app = build_intake(settings)
    _intake_history(settings, app, 1, 20)
    assert app.snapshot_read_models() is not None
    app.close()
    # another default team: the models' state before any event differs, so the snapshot is not theirs
    other = IntakeApplication(store_env(settings, "intake"), pseudonym_key=settings.pseudonym_key, default_team="team-south")
    try:
        assert other.snapshot_marks == (0, 0)
        assert other.replayed == other.max_position()
    finally:
        other.close()


def test_a_snapshot_that_cannot_be_read_is_passed_over(settings: Settings) -> None:
    app = build_intake(settings)
    _intake_history(settings, app, 1, 20)
    app.snapshot_read_models()
    states = _states(app)
    app.close()
    with sqlite3.connect(settings.sqlite_path("intake")) as db:
        (state,) = db.execute("SELECT state FROM polku_snapshots WHERE name = ?", (READ_MODELS,)).fetchone()
        db.execute("UPDATE polku_snapshots SET state = ?", (state[:-1] + bytes([state[-1] ^ 1]),))
    again = build_intake(settings)
    try:
        assert again.snapshot_marks == (0, 0) and again.replayed == again.max_position()
        assert _states(again) == states
    finally:
        again.close()


def test_a_snapshot_is_encrypted_like_the_events(settings: Settings) -> None:
    app = build_intake(settings)
    clients = _intake_history(settings, app, 1, 20)
    app.snapshot_read_models()
    referral_ids = [str(rid) for rid in app.referrals.by_id]
    app.close()
    with sqlite3.connect(settings.sqlite_path("intake")) as db:
        (state,) = db.execute("SELECT state FROM polku_snapshots").fetchone()
        history = db.execute("SELECT * FROM intake_client_referrals").fetchall()
    assert clients and not any(client.encode() in state for client in clients)
    assert referral_ids and not any(uuid.UUID(rid).bytes in state for rid in referral_ids)
    # the history on disk names each client by a keyed hash, not by its id
    assert len(history) == 20 and not any(client in str(row) for row in history for client in clients)


def test_followup_takes_up_its_pending_deadlines_from_a_snapshot(settings: Settings) -> None:
    app, pipeline, _ = make(settings)
    relationships = [uuid.uuid4() for _ in range(30)]
    for i, rid in enumerate(relationships[:20]):
        ended(pipeline, rid, date(2026, 12, 1) + timedelta(days=i))
    assert app.snapshot_read_models() is not None
    at_snapshot = app.max_position()
    for i, rid in enumerate(relationships[20:]):
        ended(pipeline, rid, date(2027, 1, 1) + timedelta(days=i))
    pending = dict(app.due_index.pending)
    states = _states(app)
    app.close()

    again, _, _ = make(settings)
    try:
        assert again.snapshot_marks[0] == at_snapshot
        assert 0 < again.replayed < again.max_position()
        assert again.due_index.pending == pending and len(pending) == 30
        assert _states(again) == states
        # the heap came back with them: a timer check takes the three due by 2026-12-03
        assert len(again.due_index.take_due(date(2026, 12, 3))) == 3
    finally:
        again.close()


def test_the_same_history_gives_the_same_fingerprint_in_another_process(settings: Settings) -> None:
    """The fingerprint is of code and settings only: a restarted process (another hash seed)
    takes up the snapshot its predecessor stored."""
    import subprocess
    import sys

    app = build_intake(settings)
    _intake_history(settings, app, 1, 10)
    app.snapshot_read_models()
    end = app.max_position()
    app.close()
    code = (
        "from polku.settings import Settings; from services.intake.main import build_application as b; "
        "a = b(Settings.from_env()); print(a.snapshot_marks[0], a.replayed); a.close()"
    )
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**__import__("os").environ, "PYTHONHASHSEED": seed},
        ).stdout.split()
        assert out[-2:] == [str(end), "0"], out


def test_a_read_model_that_keeps_an_undeclared_attribute_is_refused_at_start() -> None:
    class Sloppy(Projection):
        kept: dict[str, int]

        def __init__(self) -> None:
            self.kept = {}
            self.forgotten: list[str] = []

    with pytest.raises(TypeError, match="Sloppy keeps forgotten without declaring it"):
        Sloppy().check_state()


def test_a_state_comes_back_with_its_kinds_of_dict() -> None:
    loads, relationships = Loads(History(None, "k")), Relationships(None)  # type: ignore[arg-type]
    loads.route(uuid.uuid4(), "sw-001", True)
    loads.consumed["CASEFILE"] = (12, 9)
    relationships.caseload["sw-001"] += 3
    loads_again, relationships_again = Loads(History(None, "k")), Relationships(None)  # type: ignore[arg-type]
    loads_again.take_state(loads_again.decode_state(loads.snapshot_state()))
    relationships_again.take_state(relationships_again.decode_state(relationships.snapshot_state()))
    assert isinstance(loads_again.counts, defaultdict) and loads_again.counts["sc-009"] == 0
    assert loads_again.load() == {"sw-001": 1} and loads_again.special_support_clients("sw-001") == 1
    assert loads_again.consumed == {"CASEFILE": (12, 9)}
    assert isinstance(relationships_again.caseload, Counter) and relationships_again.caseload["nobody"] == 0
    assert relationships_again.caseload["sw-001"] == 3


def test_on_postgresql_a_snapshot_is_stored_in_the_service_schema_and_taken_up(postgres_env: str) -> None:
    import psycopg

    settings = Settings.from_env()
    app = build_intake(settings)
    _intake_history(settings, app, 1, 30)
    assert app.snapshot_read_models() is not None
    at_snapshot = app.max_position()
    _intake_history(settings, app, 100, 10)
    end, states = app.max_position(), _states(app)
    app.close()
    again = build_intake(settings)
    try:
        assert again.snapshot_marks[0] == at_snapshot
        assert again.replayed == end - at_snapshot
        assert _states(again) == states
        assert again.snapshot_read_models() is not None  # replaced in place: one row
    finally:
        again.close()
    with psycopg.connect(settings.postgres_dsn) as conn:
        rows = conn.execute(f'SELECT name, position FROM "{postgres_env}_intake".polku_snapshots').fetchall()
    assert rows == [(READ_MODELS, end)]


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_relays_lag_is_counted_without_reading_the_events(engine: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("postgres_env" if engine == "postgres" else "polku_env")
    settings = Settings.from_env()
    app = build_intake(settings)
    try:
        _intake_history(settings, app, 1, 10)
        end = app.max_position()
        topics = ("services.intake.domain:Referral.Received",)
        received = [n for n in app.recorder.select_notifications(1, end) if n.topic in topics]
        assert app.count_after(0) == end
        assert app.count_after(0, limit=7) == 7
        assert app.count_after(0, topics) == len(received) == 10
        assert app.count_after(received[4].id, topics) == 5
        assert app.count_after(end, topics) == 0
    finally:
        app.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_intakes_history_is_kept_in_its_own_database(engine: str, request: pytest.FixtureRequest) -> None:
    """Each client's referrals in the order received with their screening outcomes, and the
    ended relationships a return reads back, in intake's own database (PostgreSQL: its schema)."""
    prefix = request.getfixturevalue("postgres_env" if engine == "postgres" else "polku_env")
    settings = Settings.from_env()
    app = build_intake(settings)
    try:
        clients = _intake_history(settings, app, 1, 6)  # every second one screened (and routed)
        _intake_history(settings, app, 1, 2, tag="again")  # the first two clients again
        assert [[outcome is not None for _, outcome in app.history.of_client(c)] for c in clients] == [
            [True, True], [False, False], [True], [False], [True], [False],
        ]
        referral, relationship = app.history.of_client(clients[0])[0][0], uuid.uuid4()
        app.history.ended(relationship, referral, "sw-001", True)
        app.history.renamed(relationship, "sw-002")
        assert app.history.reopened(relationship) == (referral, "sw-002", True)
        assert app.history.reopened(uuid.uuid4()) is None
    finally:
        app.close()
    if engine == "postgres":
        import psycopg

        with psycopg.connect(settings.postgres_dsn) as conn:
            tables = {t for (t,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (f"{prefix}_intake",)
            ).fetchall()}
        assert {"intake_client_referrals", "intake_ended_relationships"} <= tables
