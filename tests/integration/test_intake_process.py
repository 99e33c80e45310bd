"""Intake as the process reads: screening, urgent need, triage and routing, through the real
command API (real nats-server, real processes, SQLite)."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client

from contracts.casefile import RelationshipOpened, casefile_decoder
from contracts.intake import intake_decoder
from polku.settings import Settings
from polku.stack import Stack
from services.intake.domain import ROSTER_ID
from services.intake.main import build_application as build_intake
from tests.helpers import RECEIVE_REFERRAL, messages_when, referral_body, request, stored_events, stream_messages

#: as far ahead as a date in a command may lie (ten years, POLKU_DATE_MAX_YEARS_AHEAD)
FAR_AHEAD = (datetime.now(UTC).date() + timedelta(days=3650)).isoformat()

GUIDE = {"worker_id": "sg-001", "role": "service_guidance_worker", "team": "team-north"}
SOCIAL_WORKER = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}
LEAD = {"worker_id": "tl-001", "role": "team_lead", "team": "team-north"}


async def cmd(nc: Client, name: str, body: dict, command_id: str | None = None) -> dict:
    return await request(nc, f"polku.cmd.intake.{name}", json.dumps(body).encode(), command_id or f"t-{uuid.uuid4()}")


async def qry(nc: Client, name: str, body: dict) -> dict:
    return await request(nc, f"polku.qry.intake.{name}", json.dumps(body).encode())


async def receive(nc: Client, **changes: object) -> str:
    reply = await request(nc, RECEIVE_REFERRAL, json.dumps(referral_body(random.Random(), **changes)).encode(), f"r-{uuid.uuid4()}")
    assert reply["ok"], reply
    return reply["referral_id"]


async def screen(nc: Client, rid: str, outcome: str, **extra: object) -> dict:
    return await cmd(nc, "screen_referral", {"actor": GUIDE, "referral_id": rid, "outcome": outcome, **extra})


async def triage(nc: Client, rid: str, seeks_help: str, needs: str) -> dict:
    return await cmd(nc, "triage_support_need", {"actor": SOCIAL_WORKER, "referral_id": rid,
                                                 "positions": {"seeks_help": seeks_help, "needs": needs}})


async def route(nc: Client, rid: str, **override: object) -> dict:
    return await cmd(nc, "route_referral", {"actor": override.pop("actor", LEAD if override else GUIDE), "referral_id": rid, **override})


async def routed_to(nc: Client, workers: list[str]) -> list[str]:
    """A referral received, screened, triaged and routed by override to each of ``workers``."""
    rids = []
    for worker in workers:
        rid = await receive(nc)
        await screen(nc, rid, "assessment_needed")
        await triage(nc, rid, "able", "single")
        reply = await route(nc, rid, worker_id=worker, override_reason="continuity")
        assert reply["ok"] and reply["worker_id"] == worker, reply
        rids.append(rid)
    return rids


async def test_a_police_notification_about_a_client_who_cannot_seek_help_is_routed_to_a_social_worker(
    stack: Stack, nc: Client
) -> None:
    rid = await receive(nc, channel="notification", source={"kind": "authority", "authority": "police"})
    assert (await screen(nc, rid, "assessment_needed", motivation="ambivalent"))["stage"] == "awaiting_triage"
    assert (await triage(nc, rid, "unable", "multiple"))["stage"] == "awaiting_routing"
    routed = await route(nc, rid)
    assert routed["ok"] and routed["required_role"] == "social_worker" and routed["special_support_suspected"]
    assert routed["worker_id"] in ("sw-001", "sw-002")

    status = await qry(nc, "referral_status", {"referral_id": rid})
    assert status["stage"] == "routed"
    assert [h["event"] for h in status["history"]] == ["Received", "Screened", "SupportNeedTriaged", "Routed"]
    assert status["history"][1]["role"] == "service_guidance_worker"
    names = [type(intake_decoder.decode(m.data)).__name__ for m in await messages_when(nc, "INTAKE", 4)]
    assert names == ["ReferralReceived", "ReferralScreened", "SupportNeedTriaged", "ReferralRouted"]


async def test_a_client_who_can_seek_help_with_one_need_is_routed_to_a_social_counsellor(stack: Stack, nc: Client) -> None:
    rid = await receive(nc)
    await screen(nc, rid, "assessment_needed")
    await triage(nc, rid, "able", "single")
    routed = await route(nc, rid)
    assert (routed["required_role"], routed["special_support_suspected"]) == ("social_counsellor", False)
    assert routed["worker_id"] in ("sc-001", "sc-002")


async def test_shl_42_is_a_floor_a_team_lead_routes_a_client_without_special_support_to_a_social_worker(
    stack: Stack, nc: Client
) -> None:
    """A social counsellor's client (no special support suspected) goes to a social worker on a
    team lead's override with its reason; casefile names the social worker own worker, in the
    roster's role."""
    rid = await receive(nc)
    await screen(nc, rid, "assessment_needed")
    await triage(nc, rid, "able", "single")
    routed = await route(nc, rid, worker_id="sw-002", override_reason="competence")
    assert routed["ok"], routed
    assert (routed["worker_id"], routed["required_role"], routed["special_support_suspected"]) == (
        "sw-002", "social_counsellor", False,
    )
    # Naming a worker without a reason is refused as before.
    refused = await route(nc, await receive(nc), worker_id="sw-002")
    assert refused["ok"] is False and refused["error"]["code"] == "invalid_value", refused
    events = [casefile_decoder.decode(m.data) for m in await messages_when(nc, "CASEFILE", 2, timeout=30)]
    opened, named = events[:2]
    assert isinstance(opened, RelationshipOpened) and opened.special_support_suspected is False
    assert (named.worker_id, named.role) == ("sw-002", "social_worker")


async def test_advice_and_redirection_close_the_referral_at_service_guidance(stack: Stack, nc: Client) -> None:
    advised, redirected, unreached, declined = [await receive(nc) for _ in range(4)]
    assert (await screen(nc, advised, "advice_given"))["stage"] == "closed"
    assert (await screen(nc, redirected, "redirected", redirected_to="kela"))["stage"] == "closed"
    assert (await screen(nc, unreached, "not_reached"))["stage"] == "closed"
    assert (await screen(nc, declined, "declines", motivation="not_motivated"))["stage"] == "closed"
    closed = [intake_decoder.decode(m.data) for m in await messages_when(nc, "INTAKE", 4, "polku.intake.referral_closed")]
    assert sorted(e.reason for e in closed) == ["advice_given", "declines", "not_reached", "redirected"]


async def test_an_urgent_need_goes_first_in_the_queue_and_is_assessed_at_once(stack: Stack, nc: Client) -> None:
    waiting = await receive(nc)
    urgent = await receive(nc)
    assert (await screen(nc, urgent, "urgent_need"))["stage"] == "urgent"
    queue = await qry(nc, "distribution_queue", {"team": "team-north"})
    assert [(i["referral_id"], i["stage"]) for i in queue["items"]] == [(urgent, "urgent"), (waiting, "unscreened")]
    assessed = await cmd(nc, "assess_urgent_need", {"actor": SOCIAL_WORKER, "referral_id": urgent,
                                                     "actions": ["emergency_accommodation", "crisis_work"]})
    assert assessed["stage"] == "awaiting_triage"
    await triage(nc, urgent, "unable", "single")
    assert (await route(nc, urgent))["required_role"] == "social_worker"
    queue = await qry(nc, "distribution_queue", {"team": "team-north"})
    assert [i["referral_id"] for i in queue["items"]] == [waiting]


async def test_a_client_never_reached_on_repeated_referrals_is_flagged(stack: Stack, nc: Client) -> None:
    code = "131052-308T"
    for i in range(3):
        rid = await receive(nc, identity_code=code)
        await screen(nc, rid, "not_reached" if i != 1 else "declines")
    flags = [intake_decoder.decode(m.data) for m in await messages_when(nc, "INTAKE", 1, "polku.intake.repeat_referrals_flagged")]
    assert [(f.referrals, f.unreached_or_declined) for f in flags] == [(3, 3)]
    received = [intake_decoder.decode(m.data) for m in await messages_when(nc, "INTAKE", 3, "polku.intake.referral_received")]
    assert [len(e.repeat_of) for e in received] == [0, 1, 2]


async def test_a_retried_screening_returns_the_first_answer_and_stores_nothing_new(stack: Stack, nc: Client) -> None:
    rid = await receive(nc)
    body = {"actor": GUIDE, "referral_id": rid, "outcome": "assessment_needed"}
    first = await cmd(nc, "screen_referral", body, "screen-1")
    await triage(nc, rid, "able", "single")
    again = await cmd(nc, "screen_referral", body, "screen-1")
    assert again == first == {"ok": True, "referral_id": rid, "worker_id": None, "stage": "awaiting_triage"}
    await messages_when(nc, "INTAKE", 3)  # received, screened, triaged: all relayed
    screened = await stream_messages(nc, "INTAKE", "polku.intake.referral_screened")
    assert len(screened) == 1
    # The same id on a different command is not a retry: it is refused, and nothing changes.
    reused = await cmd(nc, "screen_referral", {**body, "outcome": "declines"}, "screen-1")
    assert reused["ok"] is False
    assert (reused["error"]["code"], reused["error"]["field"]) == ("command_id_reused", "Polku-Command-Id")
    status = await qry(nc, "referral_status", {"referral_id": rid})
    assert status["stage"] == "awaiting_routing"


async def test_a_retried_roster_change_is_answered_once_and_a_reused_id_is_refused(
    stack: Stack, nc: Client, settings: Settings
) -> None:
    body = {"actor": LEAD, "worker_id": "sw-900", "role": "social_worker", "team": "team-north", "capacity": 20}
    first = await cmd(nc, "set_roster_worker", body, "roster-1")
    assert first == {"ok": True, "referral_id": None, "worker_id": "sw-900", "stage": None}
    assert await cmd(nc, "set_roster_worker", body, "roster-1") == first
    reused = await cmd(nc, "set_roster_worker", {**body, "capacity": 40}, "roster-1")
    assert reused["ok"] is False and reused["error"]["code"] == "command_id_reused"
    stack.stop()  # the store is read after intake has closed it
    app = build_intake(settings)
    try:
        assert stored_events(app)["Roster.WorkerSet"] == 1
        assert app.repository.get(ROSTER_ID).workers["sw-900"]["capacity"] == 20
    finally:
        app.close()


async def test_each_wrong_step_gets_its_own_error_code_and_stores_nothing(stack: Stack, nc: Client) -> None:
    closed = await receive(nc)
    await screen(nc, closed, "advice_given")
    fresh = await receive(nc)
    special = await receive(nc)
    await screen(nc, special, "assessment_needed")
    await triage(nc, special, "unable", "multiple")
    before = len(await messages_when(nc, "INTAKE", 7))  # 3 received, 2 screened, 1 closed, 1 triaged
    assert before == 7

    async def code(reply: dict) -> tuple[str, str | None]:
        assert reply["ok"] is False, reply
        return reply["error"]["code"], reply["error"]["field"]

    assert await code(await screen(nc, closed, "assessment_needed")) == ("referral_closed", "referral_id")
    assert await code(await route(nc, fresh)) == ("routing_before_triage", "referral_id")
    assert await code(await cmd(nc, "assess_urgent_need", {"actor": SOCIAL_WORKER, "referral_id": fresh, "actions": ["other"]})) == ("not_urgent", "referral_id")
    assert await code(await triage(nc, fresh, "able", "single")) == ("not_ready_for_triage", "referral_id")
    assert await code(await screen(nc, str(uuid.uuid4()), "advice_given")) == ("not_found", "referral_id")
    assert len(await stream_messages(nc, "INTAKE")) == before  # none of the refusals stored anything
    await screen(nc, fresh, "assessment_needed")
    before += 1
    assert await code(await triage(nc, fresh, "able", "sometimes")) == ("invalid_grid_position", "positions")
    assert await code(await screen(nc, fresh, "redirected")) == ("invalid_value", None)
    assert await code(await route(nc, special, actor=GUIDE, worker_id="sw-002", override_reason="continuity")) == ("override_by_team_lead_only", "worker_id")
    assert await code(await route(nc, special, worker_id="sc-001", override_reason="continuity")) == ("wrong_role_for_referral", "worker_id")
    assert await code(await route(nc, special, worker_id="nobody", override_reason="continuity")) == ("unknown_worker", "worker_id")
    absence = await cmd(nc, "record_absence", {"actor": LEAD, "worker_id": "sw-002", "starts": "2000-01-01", "ends": FAR_AHEAD})
    assert absence["ok"]
    after_absence = len(await stream_messages(nc, "INTAKE"))
    assert after_absence == before  # roster events stay inside intake
    assert await code(await route(nc, special, worker_id="sw-002", override_reason="continuity")) == ("worker_absent", "worker_id")
    assert len(await stream_messages(nc, "INTAKE")) == before

    # The override with a reason works; then sw-001 holds a special-support client.
    routed = await route(nc, special, worker_id="sw-001", override_reason="continuity")
    assert routed["worker_id"] == "sw-001"
    assert await code(await cmd(nc, "remove_roster_worker", {"actor": LEAD, "worker_id": "sw-001"})) == ("team_needs_social_worker", "worker_id")
    assert await code(await cmd(nc, "set_roster_worker", {"actor": LEAD, "worker_id": "sw-001", "role": "social_counsellor", "team": "team-north", "capacity": 30})) == ("team_needs_social_worker", "worker_id")
    assert (await cmd(nc, "remove_roster_worker", {"actor": LEAD, "worker_id": "sc-002"}))["ok"]
    routed_events = Counter(m.subject for m in await messages_when(nc, "INTAKE", before + 1))
    assert routed_events["polku.intake.referral_routed"] == 1


async def test_after_a_restart_intake_routes_by_the_loads_casefile_reported_before_it(stack: Stack, nc: Client) -> None:
    """Loads come from casefile's events, replayed when intake starts: intake takes commands
    only once the replay is done, so the first referral after a restart is routed by them."""
    rids = await routed_to(nc, ["sc-001"] * 4 + ["sc-002"] * 2)
    # The relationships opened, as casefile publishes them (their ids are casefile's to make).
    events = [casefile_decoder.decode(m.data) for m in await messages_when(nc, "CASEFILE", 2 * len(rids), timeout=30)]
    opened = {str(e.referral_id): e.relationship_id for e in events if isinstance(e, RelationshipOpened)}
    # sc-001's four relationships end: sc-001 holds none now, sc-002 two.
    for rid in rids[:4]:
        body = {"relationship_id": str(opened[rid]), "reason": "goal_reached",
                "actor": {"worker_id": "sc-001", "role": "social_counsellor", "team": "team-north"}}
        ended = await request(nc, "polku.cmd.casefile.end_relationship", json.dumps(body).encode(), f"end-{rid}")
        assert ended["ok"], ended
    await messages_when(nc, "CASEFILE", 2 * len(rids) + 4, timeout=30)
    rid = await receive(nc)
    await screen(nc, rid, "assessment_needed")
    await triage(nc, rid, "able", "single")

    stack.stop_service("intake")
    stack.start_service("intake")
    stack.wait_ready(("intake",))
    assert (await route(nc, rid))["worker_id"] == "sc-001"
    # The restarted intake replayed casefile's events before it said it was started.
    events = [json.loads(line)["event"] for line in (stack.var / "log" / "intake.jsonl").read_text().splitlines()]
    last_start = len(events) - 1 - events[::-1].index("service_started")
    assert "consumer_caught_up" in events[events.index("service_stopped"):last_start]
