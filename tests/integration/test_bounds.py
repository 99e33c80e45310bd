"""Backdating and bounds, through the command API on the real stack.

A command's business time (``occurred_at``) lies at most POLKU_BACKDATE_MAX_DAYS (31) days
before the service's clock and POLKU_FUTURE_SKEW_MINUTES (5) minutes after it; every other date
in a command between 1900 and POLKU_DATE_MAX_YEARS_AHEAD (10) years after its business time; a
measurement's scores within their instrument's scale. Outside: refused ``invalid_value`` with
the field's path, nothing stored, and the log line holds no personal data. A date like
9999-12-31 is refused, never answered ``unavailable`` (its date arithmetic overflowed before).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client

from polku.stack import Stack
from tests.casefile_helpers import SW1, Casefile, open_relationship
from tests.helpers import RECEIVE_REFERRAL, SENT_CODES, referral_body, request, stream_messages

LEAD = {"worker_id": "tl-001", "role": "team_lead", "team": "team-north"}
FAR = "9999-12-31"


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def ahead(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def day(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def version(cf: Casefile) -> int:
    return int((await cf.state())["version"])


async def of_relationship(nc: Client, stream: str, rid: uuid.UUID) -> int:
    return sum(1 for m in await stream_messages(nc, stream) if str(rid).encode() in m.data)


async def followup(nc: Client, name: str, actor: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = msgspec.json.encode({"actor": actor, **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in fields.items()}})
    return await request(nc, f"polku.cmd.followup.{name}", body, f"test-{uuid.uuid4()}")


async def intake(nc: Client, name: str, body: dict[str, Any]) -> dict[str, Any]:
    return await request(nc, f"polku.cmd.intake.{name}", msgspec.json.encode(body), f"test-{uuid.uuid4()}")


def refused_on(reply: dict[str, Any], field: str) -> str:
    assert reply["ok"] is False, reply
    assert (reply["error"]["code"], reply["error"]["field"]) == ("invalid_value", field), reply
    return str(reply["error"]["message"])


# ------------------------------------------------------------------------- business time
async def test_a_command_backdated_beyond_the_policy_is_refused(module_nc: Client) -> None:
    rid, _ = await open_relationship(module_nc)
    cf = Casefile(module_nc, rid)
    before = await version(cf)
    message = refused_on(await cf.command("start_assessment", SW1, occurred_at=ago(days=32)), "occurred_at")
    assert "31 days" in message and "POLKU_BACKDATE_MAX_DAYS" in message
    # every service's commands: intake's and followup's too
    intake_before = len(await stream_messages(module_nc, "INTAKE"))
    followup_before = await of_relationship(module_nc, "FOLLOWUP", rid)
    body = referral_body(occurred_at=ago(days=40))
    refused_on(await request(module_nc, RECEIVE_REFERRAL, json.dumps(body).encode(), f"test-{uuid.uuid4()}"), "occurred_at")
    refused_on(
        await followup(module_nc, "record_contact_attempt", SW1, relationship_id=rid, channel="phone", outcome="no_answer",
                       occurred_at=ago(days=60)),
        "occurred_at",
    )
    assert await version(cf) == before
    assert len(await stream_messages(module_nc, "INTAKE")) == intake_before
    assert await of_relationship(module_nc, "FOLLOWUP", rid) == followup_before
    # within the policy a command is recorded late
    await cf.ok("start_assessment", SW1, occurred_at=ago(days=30))
    assert await version(cf) == before + 1


async def test_a_command_ahead_of_the_clock_beyond_the_skew_is_refused(module_nc: Client) -> None:
    rid, _ = await open_relationship(module_nc)
    cf = Casefile(module_nc, rid)
    before = await version(cf)
    message = refused_on(await cf.command("start_assessment", SW1, occurred_at=ahead(minutes=10)), "occurred_at")
    assert "5 minutes" in message
    refused_on(await cf.command("end_relationship", SW1, reason="goal_reached", occurred_at=f"{FAR}T10:00:00+00:00"),
               "occurred_at")
    assert await version(cf) == before
    await cf.ok("start_assessment", SW1, occurred_at=ahead(minutes=1))  # the caller's clock a minute ahead


async def test_a_plan_whose_review_is_in_the_past_by_backdating_is_refused(module_nc: Client) -> None:
    """Dated 90 days back, a plan's review 60 days ago would be ahead of the plan's date: the
    backdating itself is refused, so the review rule cannot be got round."""
    rid, _ = await open_relationship(module_nc)
    cf = Casefile(module_nc, rid)
    # a client plan follows an assessment that found a service need
    await cf.ok("start_assessment", SW1)
    await cf.ok("complete_assessment", SW1, conclusion="service_need")
    before = await version(cf)
    reply = await cf.command("update_plan", SW1, kind="client_plan", goals=["housing"], occurred_at=ago(days=90),
                             next_review=day(-60))
    refused_on(reply, "occurred_at")
    # dated today, the same review date breaks the review rule
    error = await cf.refused("update_plan", SW1, "review_date_in_past", kind="client_plan", goals=["housing"],
                             next_review=day(-60))
    assert error["field"] == "next_review"
    assert await version(cf) == before
    await cf.ok("update_plan", SW1, kind="client_plan", goals=["housing"], next_review=day(30))


# ------------------------------------------------------------------------------- dates
_PLAN = {"kind": "client_plan", "goals": ["housing"], "next_review": day(30)}
_ACTIVITY = {
    "placement_id": "activity-centre-1", "days_per_week": 3, "hours_per_day": 4.0, "starts_on": day(3),
    "ends_on": day(183), "familiarisation_until": day(10), "evaluation_on": day(28), "shop_steward_notified": True,
}
#: (service, command, fields, the field out of bounds): each date field of a command at
#: 9999-12-31, and a day before 1900
OUT_OF_BOUNDS = [
    ("casefile", "update_plan", {**_PLAN, "next_review": FAR}, "next_review"),
    ("casefile", "update_plan", {**_PLAN, "valid_until": FAR}, "valid_until"),
    ("casefile", "start_work_activity", {**_ACTIVITY, "starts_on": FAR}, "starts_on"),
    ("casefile", "start_work_activity", {**_ACTIVITY, "ends_on": FAR}, "ends_on"),
    ("casefile", "start_work_activity", {**_ACTIVITY, "familiarisation_until": FAR}, "familiarisation_until"),
    ("casefile", "start_work_activity", {**_ACTIVITY, "evaluation_on": FAR}, "evaluation_on"),
    ("casefile", "schedule_meeting", {"kind": "first_meeting", "channel": "phone", "scheduled_for": f"{FAR}T23:00:00-05:00"},
     "scheduled_for"),
    ("followup", "record_contact_attempt", {"channel": "phone", "outcome": "no_answer", "attempted_on": FAR}, "attempted_on"),
    ("followup", "report_disappearance", {"authority": "police", "last_contact": FAR}, "last_contact"),
    ("intake", "record_absence", {"worker_id": "sw-002", "starts": FAR, "ends": FAR}, "starts"),
    ("intake", "record_absence", {"worker_id": "sw-002", "starts": day(1), "ends": FAR}, "ends"),
    ("intake", "record_absence", {"worker_id": "sw-002", "starts": "1899-12-31", "ends": day(1)}, "starts"),
]


@pytest.mark.parametrize(
    ("service", "name", "fields", "field"), OUT_OF_BOUNDS,
    ids=[f"{c[1]}.{c[3]}-{'9999' if FAR in json.dumps(c[2]) else '1899'}" for c in OUT_OF_BOUNDS],
)
async def test_a_date_out_of_bounds_in_each_date_field_is_refused_and_stores_nothing(
    module_nc: Client, service: str, name: str, fields: dict[str, Any], field: str
) -> None:
    rid, _ = await open_relationship(module_nc)
    cf = Casefile(module_nc, rid)
    before, intake_before = await version(cf), len(await stream_messages(module_nc, "INTAKE"))
    followup_before = await of_relationship(module_nc, "FOLLOWUP", rid)
    if service == "casefile":
        reply = await cf.command(name, SW1, **fields)
    elif service == "followup":
        reply = await followup(module_nc, name, SW1, relationship_id=rid, **fields)
    else:
        reply = await intake(module_nc, name, {"actor": LEAD, **fields})
    message = refused_on(reply, field)
    assert "9999" not in message and "1899" not in message  # the rule, never the value
    assert await version(cf) == before
    assert len(await stream_messages(module_nc, "INTAKE")) == intake_before
    assert await of_relationship(module_nc, "FOLLOWUP", rid) == followup_before


# ------------------------------------------------------------------------------ scores
@pytest.mark.parametrize(
    ("instrument", "scores", "item"),
    [("kykyviisari", {"work_ability": 11}, "work_ability"), ("kykyviisari", {"wellbeing": 5, "health": -1}, "health"),
     ("avain", {"housing": 0}, "housing"), ("avain", {"housing": 6}, "housing"), ("other", {"total": 101}, "total")],
)
async def test_a_score_outside_its_instruments_scale_is_refused(
    module_nc: Client, instrument: str, scores: dict[str, int], item: str
) -> None:
    rid, _ = await open_relationship(module_nc)
    cf = Casefile(module_nc, rid)
    before = await version(cf)
    message = refused_on(await cf.command("record_measurement", SW1, instrument=instrument, scores=scores), f"scores.{item}")
    assert instrument in message
    assert await version(cf) == before


async def test_scores_within_their_instruments_scale_are_recorded(module_nc: Client) -> None:
    rid, _ = await open_relationship(module_nc)
    cf = Casefile(module_nc, rid)
    before = await version(cf)
    await cf.ok("record_measurement", SW1, instrument="kykyviisari", scores={"work_ability": 0, "wellbeing": 10})
    await cf.ok("record_measurement", SW1, instrument="avain", scores={"housing": 1, "daily_life": 5})
    await cf.ok("record_measurement", SW1, instrument="other", scores={"total": 100})
    assert await version(cf) == before + 3


# ------------------------------------------------------------------------------ the log
def test_the_refusals_log_no_personal_data(module_stack: Stack) -> None:
    """Runs after the module's other tests (file order): their refusals were logged with their
    code, and no identity code sent to this stack is in its logs."""
    logs = "".join(p.read_text() for p in (module_stack.var / "log").glob("*.jsonl"))
    refused = [json.loads(line) for line in logs.splitlines() if '"refused"' in line]
    assert sum(1 for line in refused if line.get("error_code") == "invalid_value") >= len(OUT_OF_BOUNDS) + 5
    assert SENT_CODES
    for code in SENT_CODES:
        assert code not in logs and code[:6] + code[7:] not in logs
    assert "9999-12-31" not in logs
