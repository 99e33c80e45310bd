"""A referral travels intake → casefile → reporting over real NATS JetStream.

Real processes (``polku serve``), a real ``nats-server`` with JetStream, real SQLite files.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
from collections import Counter

import msgspec
from nats.aio.client import Client

import contracts
from contracts.casefile import casefile_decoder
from contracts.intake import intake_decoder
from polku.settings import Settings
from polku.stack import Stack
from services.casefile.application import relationship_id_for
from services.casefile.main import build_application as build_casefile
from services.intake.main import build_application as build_intake
from tests.helpers import (
    RECEIVE_REFERRAL, distinct_referrals, request, send_referrals, stored_events, stream_messages, wait_for_projection,
)


async def test_200_referrals_appear_once_in_intake_open_200_relationships_and_reporting_shows_200(
    stack: Stack, nc: Client, settings: Settings
) -> None:
    rng = random.Random(2)
    bodies = [
        {**b, "summary": "The client asked for help with rent arrears."}
        for b in (msgspec.json.decode(msgspec.json.encode(_body(rng))) for _ in range(200))
    ]
    replies = await send_referrals(nc, bodies)

    assert all(r["ok"] for r in replies), [r for r in replies if not r["ok"]][:3]
    referral_ids = {r["referral_id"] for r in replies}
    assert len(referral_ids) == 200

    reply = await wait_for_projection(nc, 200)
    assert reply.total == 200
    assert reply.without_own_worker == 0
    assert sum(w.open_relationships for w in reply.workers) == 200
    # The roster's four workers share the load evenly: 50 each.
    assert sorted(w.open_relationships for w in reply.workers) == [50, 50, 50, 50]

    everything = await stream_messages(nc, "INTAKE")
    # Each referral: received, screened, triaged, routed.
    assert Counter(m.headers[contracts.H_EVENT] for m in everything) == {
        "ReferralReceived": 200, "ReferralScreened": 200, "SupportNeedTriaged": 200, "ReferralRouted": 200,
    }
    intake = [m for m in everything if m.subject == "polku.intake.referral_received"]
    routed_msgs = [m for m in everything if m.subject == "polku.intake.referral_routed"]
    received = [intake_decoder.decode(m.data) for m in intake]
    assert {str(e.referral_id) for e in received} == referral_ids
    assert len({m.headers[contracts.H_MSG_ID] for m in everything}) == 800
    for m in intake:
        assert m.headers[contracts.H_EVENT] == "ReferralReceived"
        assert m.headers[contracts.H_SCHEMA] == "1"
        assert int(m.headers[contracts.H_POSITION]) >= 1
        assert m.headers[contracts.H_CORRELATION]

    casefile = await stream_messages(nc, "CASEFILE")
    kinds = Counter(type(casefile_decoder.decode(m.data)).__name__ for m in casefile)
    assert kinds == {"RelationshipOpened": 200, "OwnWorkerNamed": 200}
    # Casefile's events carry the correlation id of the routing command, and name the
    # ReferralRouted event that caused them; the own worker is the routed worker.
    routed = [intake_decoder.decode(m.data) for m in routed_msgs]
    by_referral = {str(e.referral_id): e for e in routed}
    intake_corr = {str(e.referral_id): m.headers[contracts.H_CORRELATION] for e, m in zip(routed, routed_msgs, strict=True)}
    for m in casefile:
        event = casefile_decoder.decode(m.data)
        if type(event).__name__ == "OwnWorkerNamed":
            opened_from = next(r for r in routed if relationship_id_for(r.referral_id, settings.pseudonym_key) == event.relationship_id)
            assert event.worker_id == opened_from.worker_id
    for m in casefile:
        event = casefile_decoder.decode(m.data)
        if type(event).__name__ == "RelationshipOpened":
            assert m.headers[contracts.H_CORRELATION] == intake_corr[str(event.referral_id)]
            assert m.headers[contracts.H_CAUSATION] == str(by_referral[str(event.referral_id)].event_id)

    stack.stop()  # the stores are read after the services have closed them
    casefile_app = build_casefile(settings)
    try:
        assert casefile_app.max_position() == 400
    finally:
        casefile_app.close()
    intake_app = build_intake(settings)
    try:
        assert stored_events(intake_app) == {
            "Roster.Seeded": 1, "ClientIdentity.Recorded": 200, "Referral.Received": 200, "Referral.Screened": 200,
            "Referral.SupportNeedTriaged": 200, "Referral.Routed": 200,
            "CommandRecord.Recorded": 800,  # each of the 4 commands of a referral's path, once
        }
        # Free text stays in intake's own store; it never travels on the bus.
        referral = intake_app.get_referral(next(iter(received)).referral_id)
        assert referral.summary == "The client asked for help with rent arrears."
        # The identity code is kept only in the protected identity record, sealed.
        code = intake_app.identity_code(referral.client_id)
        assert code in {b["identity_code"] for b in bodies}
    finally:
        intake_app.close()
    assert not any(b"rent arrears" in m.data for m in everything + casefile)


async def test_the_same_command_twice_returns_the_same_reply_and_stores_one_referral(
    stack: Stack, nc: Client, settings: Settings
) -> None:
    body = msgspec.json.encode(_body(random.Random(3)))
    first = await request(nc, RECEIVE_REFERRAL, body, "cis-42-referral-0001")
    second = await request(nc, RECEIVE_REFERRAL, body, "cis-42-referral-0001")

    assert first["ok"] is True
    assert second == first
    # the relay publishes what was stored: one ReferralReceived, whatever else was waited for
    for _ in range(100):
        if await stream_messages(nc, "INTAKE"):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    assert len(await stream_messages(nc, "INTAKE")) == 1

    other = msgspec.json.encode({**_body(random.Random(4))})
    reused = await request(nc, RECEIVE_REFERRAL, other, "cis-42-referral-0001")
    assert reused["ok"] is False
    assert reused["error"]["code"] == "command_id_reused"
    assert reused["error"]["field"] == "Polku-Command-Id"

    stack.stop()
    app = build_intake(settings)
    try:
        assert stored_events(app)["Referral.Received"] == 1
    finally:
        app.close()


def _body(rng: random.Random) -> dict:
    from tests.helpers import referral_body

    return referral_body(rng)


async def test_polku_status_tells_operations_staff_what_runs_and_how_far_behind_each_consumer_is(
    stack: Stack, nc: Client
) -> None:
    replies = await send_referrals(nc, distinct_referrals(61, 5))
    assert all(r["ok"] for r in replies)
    await wait_for_projection(nc, 5)
    await asyncio.sleep(0.3)  # the consumers' acks reach JetStream
    result = subprocess.run(
        [sys.executable, "-m", "polku", "status"], env={**os.environ, "POLKU_NATS_URL": stack.url},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name, sp in stack.processes.items():
        assert re.search(
            rf"{name}\s+ready \(pid {sp.process.pid}\); relay lag 0; consumer lag 0; http://127\.0\.0\.1:\d+/metrics\n", out
        ), out
    assert re.search(r"INTAKE\s+20\b", out) and re.search(r"CASEFILE\s+10\b", out)
    assert re.search(r"casefile-intake\s+on INTAKE\s+at\s+20\s+pending\s+0\s+unacked\s+0", out), out
    assert re.search(r"reporting-casefile\s+on CASEFILE\s+at\s+10\s+pending\s+0\s+unacked\s+0", out), out
    assert re.search(r"total\s+5\b", out)

    stack.stop_service("reporting")
    down = subprocess.run(
        [sys.executable, "-m", "polku", "status"], env={**os.environ, "POLKU_NATS_URL": stack.url},
        capture_output=True, text=True, timeout=60,
    ).stdout
    assert re.search(r"reporting\s+NOT ANSWERING", down) and "Open relationships" not in down
