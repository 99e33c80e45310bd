"""Stores written by earlier code replay with today's code to the same state.

``tests/data/stores-v1`` holds stores written before the command pipeline (events of class
version 1, each with its own envelope fields and command record) and what that code's queries
answered from them (``expected.json``). Each test copies a store, opens it with today's
application, and compares the answers exactly.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from contracts import commands as cmd
from polku.pipeline import Pipeline
from polku.settings import RosterEntry, Settings
from polku.store import store_env
from services.casefile.application import CasefileApplication
from services.casefile.handlers import TABLE as CASEFILE_TABLE

STORES = Path(__file__).parent.parent / "data" / "stores-v1"
EXPECTED: dict[str, Any] = json.loads((STORES / "expected.json").read_text())
PSEUDONYM_KEY = "fixture-pseudonym-key"
ROSTER = (
    RosterEntry("sw-001", "social_worker", "team-north", 30),
    RosterEntry("sw-002", "social_worker", "team-north", 30),
    RosterEntry("sc-001", "social_counsellor", "team-north", 30),
)
SW1 = cmd.ActingWorker(worker_id="sw-001", role="social_worker", team="team-north")


def old_store(settings: Settings, tmp_path: Path, service: str) -> dict[str, str]:
    """The store environment of a copy of the v1 store of ``service``, with the fixture's key."""
    copy = tmp_path / f"{service}.db"
    shutil.copyfile(STORES / f"{service}.db", copy)
    fixture = dataclasses.replace(settings, store="sqlite", pseudonym_key=PSEUDONYM_KEY, cipher_key=None)
    env = store_env(fixture, service)
    env["SQLITE_DBNAME"] = str(copy)
    return env


def as_json(struct: Any) -> Any:
    return json.loads(msgspec.json.encode(struct))


def test_an_old_casefile_store_replays_to_the_same_state(settings: Settings, tmp_path: Path) -> None:
    app = CasefileApplication(old_store(settings, tmp_path, "casefile"), roster=ROSTER)
    pipeline = Pipeline("casefile", app, CASEFILE_TABLE, digest_secret=PSEUDONYM_KEY)
    try:
        assert app.max_position() == EXPECTED["casefile_events"]
        assert app.replayed == EXPECTED["casefile_events"]
        assert app.tracking_position("INTAKE") == EXPECTED["casefile_tracking"]
        assert as_json(app.summary()) == EXPECTED["summary"]
        assert dict(app.caseload) == EXPECTED["caseload"]

        # Each record, read through the pipeline as a client system reads it (each read logged).
        for rid, expected in EXPECTED["relationships"].items():
            query = cmd.RecordQuery(relationship_id=UUID(rid), actor=SW1, purpose="client_work")
            assert as_json(pipeline.ask(query, "relationship")) == expected["state"]
            assert as_json(pipeline.ask(query, "timeline")) == expected["timeline"]
        assert app.max_position() == EXPECTED["casefile_events"] + 2 * len(EXPECTED["relationships"])

        # A relationship of old events takes new ones: its version goes on, its timeline too.
        rel_a = next(UUID(rid) for rid, r in EXPECTED["relationships"].items() if r["state"]["status"] == "open")
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
