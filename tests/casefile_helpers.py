"""Helpers for casefile tests on a real stack: commands and queries through NATS."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client

from demo.main import route_through
from contracts.casefile import casefile_decoder
from tests.helpers import RECEIVE_REFERRAL, referral_body, request, stream_messages

SW1 = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}
SW2 = {"worker_id": "sw-002", "role": "social_worker", "team": "team-north"}
SC1 = {"worker_id": "sc-001", "role": "social_counsellor", "team": "team-north"}
SC2 = {"worker_id": "sc-002", "role": "social_counsellor", "team": "team-north"}
OUTSIDER = {"worker_id": "sw-901", "role": "social_worker", "team": "team-south"}

#: What an activation plan records of the client (KTTL 8 §), as codes: all the law asks of its
#: first version (education, work history, how earlier plans went, made with the client and
#: employment services).
KTTL: dict[str, Any] = {
    "education": "vocational", "work_history": "one_to_five_years", "earlier_plans": "no_earlier_plans",
    "participants": ["client", "employment_services"],
}


async def summary(nc: Client) -> dict[str, Any]:
    return await request(nc, "polku.qry.casefile.summary", b"{}")


async def wait_for_relationships(nc: Client, total: int, timeout: float = 30.0) -> dict[str, Any]:
    """Poll casefile's summary (no client record is read, so nothing is logged) until it
    counts ``total`` relationships."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = await summary(nc)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            reply = {"open": 0, "ended": 0}
        if reply["open"] + reply["ended"] >= total:
            return reply
        if time.monotonic() > deadline:
            raise AssertionError(f"casefile shows {reply} after {timeout}s, expected {total} relationships")
        await asyncio.sleep(0.1)


async def open_relationship(
    nc: Client, expect_total: int = 1, *, special: bool = False, **overrides: Any
) -> tuple[uuid.UUID, str]:
    """Send a referral through intake (received, screened, triaged, routed); return the
    relationship casefile opens and the client."""
    body = referral_body(**overrides)
    reply = await request(nc, RECEIVE_REFERRAL, msgspec.json.encode(body), f"test-{uuid.uuid4()}")
    assert reply["ok"], reply
    await route_through(nc, reply["referral_id"], special=special, prefix=f"test-{uuid.uuid4()}")
    await wait_for_relationships(nc, expect_total)
    return await relationship_of(nc, uuid.UUID(reply["referral_id"])), reply["client_id"]


async def relationship_of(nc: Client, referral_id: uuid.UUID, timeout: float = 20.0) -> uuid.UUID:
    """The relationship a referral opened (or was attached to), from casefile's published
    ``RelationshipOpened``/``ReferralAttached``: its id is keyed, so nobody outside computes it."""
    deadline = time.monotonic() + timeout
    while True:
        for m in await stream_messages(nc, "CASEFILE"):
            event = casefile_decoder.decode(m.data)
            if getattr(event, "referral_id", None) == referral_id:
                return event.relationship_id
        if time.monotonic() > deadline:
            raise AssertionError(f"casefile published no relationship for referral {referral_id}")
        await asyncio.sleep(0.1)


class Casefile:
    """A client information system speaking to casefile over NATS."""

    def __init__(self, nc: Client, relationship_id: uuid.UUID) -> None:
        self.nc = nc
        self.relationship_id = relationship_id

    async def command(
        self, name: str, actor: dict[str, str] | None, *, command_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"relationship_id": str(self.relationship_id), **fields}
        if actor is not None:
            body["actor"] = actor
        return await self.raw(name, msgspec.json.encode(body), command_id or f"cis-{uuid.uuid4()}")

    async def raw(self, name: str, body: bytes, command_id: str | None) -> dict[str, Any]:
        return await request(self.nc, f"polku.cmd.casefile.{name}", body, command_id)

    async def ok(self, name: str, actor: dict[str, str], **fields: Any) -> dict[str, Any]:
        reply = await self.command(name, actor, **fields)
        assert reply["ok"] is True, (name, reply)
        return reply

    async def refused(self, name: str, actor: dict[str, str] | None, code: str, **fields: Any) -> dict[str, Any]:
        reply = await self.command(name, actor, **fields)
        assert reply["ok"] is False, (name, reply)
        assert reply["error"]["code"] == code, (name, reply)
        return reply["error"]

    async def query(self, name: str, actor: dict[str, str], purpose: str = "client_work") -> dict[str, Any]:
        body = {"relationship_id": str(self.relationship_id), "actor": actor, "purpose": purpose}
        return await request(self.nc, f"polku.qry.casefile.{name}", msgspec.json.encode(body))

    async def state(self, actor: dict[str, str] = SW1) -> dict[str, Any]:
        reply = await self.query("relationship", actor)
        assert reply["ok"], reply
        return reply


async def wait_for_stream(nc: Client, stream: str, count: int, timeout: float = 20.0) -> None:
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    while (await js.stream_info(stream)).state.messages < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{stream} holds fewer than {count} messages after {timeout}s")
        await asyncio.sleep(0.1)
