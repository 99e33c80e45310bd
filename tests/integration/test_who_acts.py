"""Who acts is established, not claimed: a signed Polku-Actor token names the worker, the roster
gives their role and team, each command names the roles that may give it. On a real stack."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from nats.aio.client import Client

from contracts.base import ACTOR_HEADER, COMMAND_ID_HEADER
from polku.actor import Issuer
from polku.stack import Stack
from tests.casefile_helpers import SC1, SW1, Casefile, open_relationship
from tests.helpers import RECEIVE_REFERRAL, referral_body, request

LEAD = {"worker_id": "tl-001", "role": "team_lead", "team": "team-north"}


async def raw(nc: Client, subject: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
    """A command as a client system sends it, with exactly the token given (or none)."""
    headers = {COMMAND_ID_HEADER: f"t-{uuid.uuid4()}"}
    if token is not None:
        headers[ACTOR_HEADER] = token
    msg = await nc.request(subject, msgspec.json.encode(body), timeout=10, headers=headers)
    return json.loads(msg.data)


def refusal(reply: dict[str, Any]) -> tuple[str, str | None]:
    assert reply["ok"] is False, reply
    return reply["error"]["code"], reply["error"]["field"]


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "sg-001", "aud": "polku", "iat": now, "nbf": now, "exp": now + 300, **overrides}


def _unsigned(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, None, algorithm="none")


def _hs256(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, "a-shared-secret-is-not-a-signature-we-trust", algorithm="HS256")


def _stranger(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA")


def _stranger_es256(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")


BAD_TOKENS = {
    "no token": lambda issuer: None,
    "an empty token": lambda issuer: "",
    "not a JWT": lambda issuer: "not-a-token",
    "expired": lambda issuer: issuer.mint("sg-001", ttl_s=-120),  # beyond the 30 s of clock skew
    "not valid yet": lambda issuer: jwt.encode(claims(nbf=int(time.time()) + 600), issuer.key, algorithm="EdDSA"),
    "unsigned (alg none)": lambda issuer: _unsigned(claims()),
    "HS256 (a shared secret)": lambda issuer: _hs256(claims()),
    "signed by another key": lambda issuer: _stranger(claims()),
    "signed by another ES256 key": lambda issuer: _stranger_es256(claims()),
    "for another audience": lambda issuer: jwt.encode(claims(aud="someone-else"), issuer.key, algorithm="EdDSA"),
    "without an expiry": lambda issuer: jwt.encode(
        {k: v for k, v in claims().items() if k != "exp"}, issuer.key, algorithm="EdDSA"
    ),
    "the right key, the signature tampered": lambda issuer: issuer.mint("sg-001")[:-4] + "AAAA",
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_a_command_without_a_valid_token_is_refused_unauthenticated(
    module_stack: Stack, module_nc: Client, case: str
) -> None:
    token = BAD_TOKENS[case](Issuer.from_var(module_stack.var))
    reply = await raw(module_nc, RECEIVE_REFERRAL, referral_body(), token)
    assert refusal(reply) == ("unauthenticated", ACTOR_HEADER)
    # and a casefile command, and a read of a client's record
    body = {"relationship_id": str(uuid.uuid4()), "actor": SW1}
    assert refusal(await raw(module_nc, "polku.cmd.casefile.start_assessment", body, token)) == ("unauthenticated", ACTOR_HEADER)
    msg = await module_nc.request(
        "polku.qry.casefile.relationship", msgspec.json.encode({**body, "purpose": "client_work"}), timeout=10,
        headers={ACTOR_HEADER: token} if token is not None else {},
    )
    assert refusal(json.loads(msg.data)) == ("unauthenticated", ACTOR_HEADER)


async def test_a_valid_token_within_the_clock_skew_is_accepted(module_stack: Stack, module_nc: Client) -> None:
    issuer = Issuer.from_var(module_stack.var)
    token = issuer.mint("sg-001", ttl_s=-5)  # expired 5 s ago: within the 30 s leeway
    assert (await raw(module_nc, RECEIVE_REFERRAL, referral_body(), token))["ok"] is True


async def test_a_worker_not_on_the_roster_is_refused_even_with_a_valid_token(module_stack: Stack, module_nc: Client) -> None:
    token = Issuer.from_var(module_stack.var).mint("sw-404")
    assert refusal(await raw(module_nc, RECEIVE_REFERRAL, referral_body(), token)) == ("unknown_worker", ACTOR_HEADER)


async def test_the_body_naming_another_worker_than_the_token_is_refused(module_stack: Stack, module_nc: Client) -> None:
    token = Issuer.from_var(module_stack.var).mint("sc-001")
    body = {"relationship_id": str(uuid.uuid4()), "actor": SW1}
    reply = await raw(module_nc, "polku.cmd.casefile.start_assessment", body, token)
    assert refusal(reply) == ("forbidden", "actor.worker_id")


async def test_a_counsellor_claiming_to_be_a_social_worker_cannot_make_an_shl_46_decision(
    module_stack: Stack, module_nc: Client
) -> None:
    """The role is the roster's: sc-001 is a counsellor whatever the body says."""
    rid, _ = await open_relationship(module_nc, special=True)
    cf = Casefile(module_nc, rid)
    await cf.ok("determine_special_support_need", SW1, special_support=True, grounds=["multiple_needs"], grounds_text="several needs")
    claims_social_worker = {**SC1, "role": "social_worker"}
    await cf.refused(
        "make_decision", claims_social_worker, "decision_requires_social_worker", kind="supported_living", granted=True,
        secures_care=True, appeal_instructions_given=True,
    )
    # and a team claimed in the body does not let a worker of another team in
    outsider_claims_north = {"worker_id": "sw-901", "role": "social_worker", "team": "team-north"}
    await cf.refused("start_assessment", outsider_claims_north, "forbidden")
    await cf.ok("make_decision", SW1, kind="supported_living", granted=True, secures_care=True, appeal_instructions_given=True)


async def test_a_worker_added_to_the_roster_in_intake_acts_in_casefile_at_once(stack: Stack, nc: Client) -> None:
    rid, _ = await open_relationship(nc)
    cf = Casefile(nc, rid)
    newcomer = {"worker_id": "sw-042", "role": "social_worker", "team": "team-north"}
    await cf.refused("start_assessment", newcomer, "unknown_worker")
    added = await raw_signed(nc, "polku.cmd.intake.set_roster_worker", {"actor": LEAD, **newcomer, "capacity": 20})
    assert added["ok"], added
    # Intake publishes RosterWorkerSet; casefile applies it as it comes: retry briefly.
    deadline = time.monotonic() + 10
    while (reply := await cf.command("start_assessment", newcomer))["ok"] is False:
        assert reply["error"]["code"] == "unknown_worker", reply
        assert time.monotonic() < deadline, "casefile did not learn of the new worker"
        await asyncio.sleep(0.1)
    # Removed in intake: gone in casefile.
    assert (await raw_signed(nc, "polku.cmd.intake.remove_roster_worker", {"actor": LEAD, "worker_id": "sw-042"}))["ok"]
    deadline = time.monotonic() + 10
    while (reply := await cf.command("complete_assessment", newcomer, conclusion="service_need"))["ok"] or (
        reply["error"]["code"] != "unknown_worker"
    ):
        assert time.monotonic() < deadline, reply
        await asyncio.sleep(0.1)



async def raw_signed(nc: Client, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    """A command signed as the tests sign: for the body's actor."""
    return await request(nc, subject, msgspec.json.encode(body), f"t-{uuid.uuid4()}")


SG1 = {"worker_id": "sg-001", "role": "service_guidance_worker", "team": "team-north"}
ON_THE_BUS = {
    "a social worker changes the roster": (
        "intake.set_roster_worker", {"actor": SW1, "worker_id": "sw-003", "role": "social_worker", "team": "team-north", "capacity": 20},
    ),
    "a social worker records an absence": (
        "intake.record_absence", {"actor": SW1, "worker_id": "sw-002", "starts": "2030-01-01", "ends": "2030-01-02"},
    ),
    "a counsellor screens": ("intake.screen_referral", {"actor": SC1, "referral_id": str(uuid.uuid4()), "outcome": "advice_given"}),
    "a counsellor routes": ("intake.route_referral", {"actor": SC1, "referral_id": str(uuid.uuid4())}),
    "service guidance names the own worker": (
        "casefile.name_own_worker", {"actor": SG1, "relationship_id": str(uuid.uuid4()), "worker_id": "sw-001", "reason": "competence"},
    ),
    "a team lead claimed in the body": (
        "intake.remove_roster_worker", {"actor": {**SC1, "role": "team_lead"}, "worker_id": "sc-002"},
    ),
}


@pytest.mark.parametrize("case", list(ON_THE_BUS))
async def test_a_role_the_command_does_not_name_is_refused_on_the_bus(module_nc: Client, case: str) -> None:
    name, body = ON_THE_BUS[case]
    reply = await raw_signed(module_nc, f"polku.cmd.{name}", body)
    assert refusal(reply) == ("forbidden", "actor")
