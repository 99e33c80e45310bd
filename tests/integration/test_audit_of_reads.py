"""Every read of client data leaves exactly one audit event on the AUDIT stream, over the real
stack (nats-server, the services' processes, SQLite): casefile's ``relationship`` and
``timeline`` granted, refused and by an unknown id; intake's ``referral_status`` and
``distribution_queue``. A disclosure is logged there too, with ids and codes only."""

from __future__ import annotations

import asyncio
import json
import uuid

import msgspec
from nats.aio.client import Client

import contracts
from contracts.audit import ClientDataDisclosed, ClientRecordProbed, ClientRecordViewed, IntakeRecordViewed, audit_decoder
from polku.stack import Stack
from tests.casefile_helpers import OUTSIDER, SW1, Casefile, open_relationship, wait_for_stream
from tests.helpers import request, stream_messages


async def intake_query(nc: Client, name: str, body: dict) -> dict:
    return await request(nc, f"polku.qry.intake.{name}", json.dumps(body).encode())


async def test_each_read_of_client_data_leaves_one_audit_event(stack: Stack, nc: Client) -> None:
    rid, client_id = await open_relationship(nc)
    cf = Casefile(nc, rid)
    state = await cf.state(SW1)
    [referral_id] = state["referral_ids"]

    assert (await cf.query("timeline", SW1))["ok"]
    assert (await cf.query("timeline", OUTSIDER, purpose="consultation"))["error"]["code"] == "forbidden"
    unknown = Casefile(nc, uuid.uuid4())
    assert (await unknown.query("relationship", SW1))["error"]["code"] == "relationship_not_found"
    status = await intake_query(nc, "referral_status", {"referral_id": referral_id})
    assert status["ok"] and status["client_id"] == client_id
    missing = await intake_query(nc, "referral_status", {"referral_id": str(uuid.uuid4())})
    assert missing["error"]["code"] == "not_found"
    assert (await intake_query(nc, "distribution_queue", {"team": "team-north"}))["ok"]
    # Seven reads; a summary (counts, no client) is not a read of client data.
    assert (await request(nc, "polku.qry.casefile.summary", b"{}"))["open"] == 1

    await wait_for_stream(nc, "AUDIT", 7)
    await asyncio.sleep(0.5)  # nothing more arrives
    audit = await stream_messages(nc, "AUDIT")
    events = [audit_decoder.decode(m.data) for m in audit]
    assert len(events) == 7, [type(e).__name__ for e in events]

    viewed = [e for e in events if isinstance(e, ClientRecordViewed)]
    assert [(v.part, v.granted, v.actor.worker_id) for v in viewed] == [
        ("state", True, "sw-001"), ("timeline", True, "sw-001"), ("timeline", False, "sw-901"),
    ]
    [probed] = [e for e in events if isinstance(e, ClientRecordProbed)]
    assert (probed.relationship_id, probed.part, probed.actor.worker_id) == (unknown.relationship_id, "state", "sw-001")
    intake = sorted((e for e in events if isinstance(e, IntakeRecordViewed)), key=lambda e: (e.part, not e.found))
    assert [(e.part, e.found, e.client_id) for e in intake] == [
        ("distribution_queue", True, None),
        ("referral_status", True, client_id),
        ("referral_status", False, None),
    ]
    # Two services publish on AUDIT: every message id is its own.
    ids = [m.headers[contracts.H_MSG_ID] for m in audit]
    assert len(set(ids)) == len(ids)


async def test_a_disclosure_is_logged_on_the_audit_stream_with_codes_only(stack: Stack, nc: Client) -> None:
    rid, client_id = await open_relationship(nc)
    cf = Casefile(nc, rid)
    refused = await cf.refused(
        "record_disclosure", SW1, "disclosure_without_basis", recipient="kela", basis="consent",
        categories=["service_need"],
    )
    assert refused["field"] == "basis"
    await cf.ok("record_consent", SW1, kind="information_exchange", given=True)
    await cf.ok("record_disclosure", SW1, recipient="kela", basis="consent", categories=["service_need"])
    await cf.ok(
        "record_disclosure", SW1, recipient="police", basis="law", statute="asiakastietolaki_19", categories=["contact"]
    )
    await wait_for_stream(nc, "AUDIT", 2)
    audit = await stream_messages(nc, "AUDIT")
    assert {m.subject for m in audit} == {"polku.audit.client_data_disclosed"}
    disclosed = [audit_decoder.decode(m.data) for m in audit]
    assert all(isinstance(d, ClientDataDisclosed) and d.client_id == client_id for d in disclosed)
    assert [(d.recipient, d.basis, d.consent, d.statute) for d in disclosed] == [
        ("kela", "consent", "information_exchange", None), ("police", "law", None, "asiakastietolaki_19"),
    ]
    for m in audit:
        body = msgspec.json.decode(m.data)
        assert set(body) <= {
            "event", "event_id", "occurred_at", "actor", "disclosure_id", "relationship_id", "client_id",
            "recipient", "basis", "statute", "consent", "categories",
        }
