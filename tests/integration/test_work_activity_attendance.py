"""Rehabilitative work activity day by day on the running stack (real nats-server, SQLite): the
worker records attendance through casefile's command API, followup gives the worker a contact
task when the client is absent (seed 003) and a day attended clears it, and the month's read
answers the realised days and the activity allowance due."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client

from polku.settings import Settings
from polku.stack import Stack
from tests.casefile_helpers import KTTL, OUTSIDER, SW1, Casefile, open_relationship
from tests.helpers import request


@pytest.fixture
def settings(polku_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("POLKU_DEMO", "1")
    return Settings.from_env()


async def absence_tasks(nc: Client, rid: str, want: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The relationship's ``absence_contact`` tasks on the due list, once there are ``want``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        due = await request(nc, "polku.qry.followup.due", msgspec.json.encode({"actor": SW1, "purpose": "client_work"}))
        tasks = [t for t in due["tasks"] if t["relationship_id"] == rid and t["kind"] == "absence_contact"]
        if len(tasks) == want:
            return tasks
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"followup shows {tasks}, expected {want} absence_contact task(s)")
        await asyncio.sleep(0.1)


async def test_an_absence_gives_the_worker_a_contact_task_and_the_month_counts_realised_days(
    stack: Stack, nc: Client
) -> None:
    rid, _ = await open_relationship(nc)
    cf = Casefile(nc, rid)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=2)
    await cf.ok("update_plan", SW1, kind="activation_plan", next_review=(today + timedelta(days=60)).isoformat(),
                strengths=["reliable"], support_needed=["a daily rhythm"],
                options_offered=["rehabilitative_work_activity", "education"], **KTTL)
    await cf.ok("record_familiarisation_visit", SW1, option="rehabilitative_work_activity", visited_on=today.isoformat())
    await cf.ok("update_plan", SW1, kind="activation_plan", next_review=(today + timedelta(days=60)).isoformat(),
                chosen_option="rehabilitative_work_activity")
    for kind in ("rehabilitative_work_activity", "activity_allowance"):
        await cf.ok("make_decision", SW1, kind=kind, granted=True, appeal_instructions_given=True)
    await cf.ok("start_work_activity", SW1, placement_id="activity-centre-1", days_per_week=5, hours_per_day=4.0,
                starts_on=start.isoformat(), ends_on=(start + timedelta(days=120)).isoformat(),
                evaluation_on=(start + timedelta(days=60)).isoformat(), shop_steward_notified=True,
                instructor="instructor-07")
    tomorrow = await cf.refused("record_attendance", SW1, "attendance_in_future",
                                day=(today + timedelta(days=1)).isoformat(), attended=True)
    assert tomorrow["field"] == "day"
    no_reason = await cf.command("record_attendance", SW1, day=start.isoformat(), attended=False)
    assert no_reason["error"]["code"] == "invalid_value"

    await cf.ok("record_attendance", SW1, day=start.isoformat(), attended=False, absence_reason="unannounced",
                reported_by="instructor-07")
    [task] = await absence_tasks(nc, str(rid), 1)
    assert task["due"] == start.isoformat()
    await cf.ok("record_attendance", SW1, day=today.isoformat(), attended=True, reported_by="instructor-07")
    await absence_tasks(nc, str(rid), 0)  # the client came back: seen at the placement

    state = await cf.state()
    assert state["work_activity"]["instructor"] == "instructor-07"
    assert state["familiarisation_visits"] == [{"option": "rehabilitative_work_activity", "visited_on": today.isoformat()}]

    # the absence's month and today's (the same month, unless the month turned in between)
    answers = {}
    for day in (start, today):
        body = {"relationship_id": str(rid), "actor": SW1, "purpose": "client_work", "month": f"{day:%Y-%m}"}
        answers[body["month"]] = await request(nc, "polku.qry.casefile.work_activity_month", msgspec.json.encode(body))
    assert all(a["ok"] for a in answers.values()), answers
    total = {k: sum(a[k] for a in answers.values()) for k in ("realised_days", "absences", "activity_allowance_cents")}
    # the allowance decision took effect today: today's realised day is due €9
    assert total == {"realised_days": 1, "absences": 1, "activity_allowance_cents": 900}, answers
    assert answers[f"{start:%Y-%m}"]["absences_by_reason"] == {"unannounced": 1}
    refused = await request(nc, "polku.qry.casefile.work_activity_month", msgspec.json.encode({**body, "actor": OUTSIDER}))
    assert refused["error"]["code"] == "forbidden"
