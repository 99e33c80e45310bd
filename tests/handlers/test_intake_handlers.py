"""Intake's command handler with FastStream's in-memory test broker and an in-memory store."""

from __future__ import annotations

import json

import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from cryptography.hazmat.primitives.asymmetric import ed25519

from polku.actor import Issuer, Verifier
from polku.pipeline import Pipeline
from polku.settings import DEFAULT_ROSTER, parse_roster
from services.intake.application import IntakeApplication
from services.intake.handlers import TABLE

RECEIVE_REFERRAL = "polku.cmd.intake.receive_referral"

BODY = {"identity_code": "131052-308T", "channel": "letter", "source": {"kind": "relative"}, "concerns": ["daily_living"]}


@pytest.fixture
def app() -> IntakeApplication:
    return IntakeApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"}, pseudonym_key="k", roster=parse_roster(DEFAULT_ROSTER))


ISSUER = Issuer(ed25519.Ed25519PrivateKey.generate())
VERIFIER = Verifier([ISSUER.key.public_key()])
#: the e-service's referral, signed for the service guidance worker on duty
HEADERS = {"Polku-Actor": ISSUER.token("sg-001")}


def pipeline(app: IntakeApplication) -> Pipeline:
    return Pipeline("intake", app, TABLE, digest_secret="k", verifier=VERIFIER)


async def test_a_referral_is_received_and_answered_with_its_ids(app: IntakeApplication) -> None:
    broker = NatsBroker(apply_types=False)  # as polku.service runs it
    broker.include_router(pipeline(app).router())
    async with TestNatsBroker(broker) as br:
        reply = await br.request(json.dumps(BODY).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-1", **HEADERS})
        again = await br.request(json.dumps(BODY).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-1", **HEADERS})
    first = json.loads(reply.body)
    assert first["ok"] is True
    assert json.loads(again.body) == first
    referral = app.get_referral(__import__("uuid").UUID(first["referral_id"]))
    assert referral.channel == "letter"
    assert referral.client_id == first["client_id"]
    # the referral, the client's protected identity record, and the command's idempotency record
    assert app.max_position() == 1 + 3  # after the roster's seed


async def test_prolonged_unemployment_is_a_referral_source(app: IntakeApplication) -> None:
    """Seed 003 (the Aava model): social services contact the client when unemployment is
    prolonged. A source of a kind added since v1, refining v1's ``kind``; published as a code."""
    from contracts.intake import ReferralReceived
    from services.intake.publishing import to_contract

    body = {**BODY, "source": {"kind": "worker_observation", "further_kind": "prolonged_unemployment"}}
    broker = NatsBroker(apply_types=False)
    broker.include_router(pipeline(app).router())
    async with TestNatsBroker(broker) as br:
        reply = await br.request(json.dumps(body).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-5", **HEADERS})
        wrong = {**BODY, "source": {"kind": "worker_observation", "further_kind": "boredom"}}
        refused = await br.request(json.dumps(wrong).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-6", **HEADERS})
    first = json.loads(reply.body)
    assert first["ok"] is True, first
    referral = app.get_referral(__import__("uuid").UUID(first["referral_id"]))
    assert (referral.source_kind, referral.further_source_kind) == ("worker_observation", "prolonged_unemployment")
    notifications = app.recorder.select_notifications(1, 10)
    [published] = [e for e in (to_contract(app.mapper.to_domain_event(n)) for n in notifications) if isinstance(e, ReferralReceived)]
    assert (published.source.kind, published.source.further_kind) == ("worker_observation", "prolonged_unemployment")
    error = json.loads(refused.body)["error"]
    assert (error["code"], error["field"]) == ("unknown_value", "source.further_kind")


async def test_a_command_without_a_token_is_refused_unauthenticated(app: IntakeApplication) -> None:
    broker = NatsBroker(apply_types=False)
    broker.include_router(pipeline(app).router())
    async with TestNatsBroker(broker) as br:
        reply = await br.request(json.dumps(BODY).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-3"})
    error = json.loads(reply.body)["error"]
    assert (error["code"], error["field"]) == ("unauthenticated", "Polku-Actor")
    assert app.max_position() == 1  # the roster's seed only


async def test_a_wrong_command_is_answered_with_an_error_and_stores_nothing(app: IntakeApplication) -> None:
    broker = NatsBroker(apply_types=False)  # as polku.service runs it
    broker.include_router(pipeline(app).router())
    async with TestNatsBroker(broker) as br:
        reply = await br.request(
            json.dumps({**BODY, "channel": "telepathy"}).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-2", **HEADERS}
        )
    assert json.loads(reply.body) == {
        "ok": False,
        "error": {"code": "unknown_value", "message": "`channel` is not one of the allowed values", "field": "channel"},
    }
    assert app.max_position() == 1  # the roster's seed only
