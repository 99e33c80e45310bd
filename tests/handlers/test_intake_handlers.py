"""Intake's command handler with FastStream's in-memory test broker and an in-memory store."""

from __future__ import annotations

import json

import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from polku.pipeline import Pipeline
from services.intake.application import IntakeApplication
from services.intake.handlers import TABLE

RECEIVE_REFERRAL = "polku.cmd.intake.receive_referral"

BODY = {"identity_code": "131052-308T", "channel": "letter", "source": {"kind": "relative"}, "concerns": ["daily_living"]}


@pytest.fixture
def app() -> IntakeApplication:
    return IntakeApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"}, pseudonym_key="k")


async def test_a_referral_is_received_and_answered_with_its_ids(app: IntakeApplication) -> None:
    broker = NatsBroker(apply_types=False)  # as polku.service runs it
    broker.include_router(Pipeline("intake", app, TABLE, digest_secret="k").router())
    async with TestNatsBroker(broker) as br:
        reply = await br.request(json.dumps(BODY).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-1"})
        again = await br.request(json.dumps(BODY).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-1"})
    first = json.loads(reply.body)
    assert first["ok"] is True
    assert json.loads(again.body) == first
    referral = app.get_referral(__import__("uuid").UUID(first["referral_id"]))
    assert referral.channel == "letter"
    assert referral.client_id == first["client_id"]
    # the referral, the client's protected identity record, and the command's idempotency record
    assert app.max_position() == 3


async def test_a_wrong_command_is_answered_with_an_error_and_stores_nothing(app: IntakeApplication) -> None:
    broker = NatsBroker(apply_types=False)  # as polku.service runs it
    broker.include_router(Pipeline("intake", app, TABLE, digest_secret="k").router())
    async with TestNatsBroker(broker) as br:
        reply = await br.request(
            json.dumps({**BODY, "channel": "telepathy"}).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-2"}
        )
    assert json.loads(reply.body) == {
        "ok": False,
        "error": {"code": "unknown_value", "message": "`channel` is not one of the allowed values", "field": "channel"},
    }
    assert app.max_position() == 0
