"""Intake's command handlers through the pipeline's responder, on an in-process stand-in for
the NATS connection (no server), with an in-memory store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from cryptography.hazmat.primitives.asymmetric import ed25519

from polku.actor import Issuer, Verifier
from polku.pipeline import Pipeline
from polku.settings import DEFAULT_ROSTER, parse_roster
from services.intake.application import IntakeApplication
from services.intake.handlers import TABLE
from tests.helpers import distinct_referrals

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


class InProcessNats:
    """What the responder uses of a NATS connection: subscriptions by subject, and publishing
    a reply; ``request`` hands a message to the subscriber and waits for its reply."""

    def __init__(self) -> None:
        self.subscribers: dict[str, tuple[str, Callable[[Any], Any]]] = {}
        self.replies: dict[str, asyncio.Future[Any]] = {}

    async def subscribe(self, subject: str, *, queue: str, cb: Callable[[Any], Any]) -> Any:
        self.subscribers[subject] = (queue, cb)
        return SimpleNamespace(unsubscribe=lambda: self._unsubscribe(subject))

    async def _unsubscribe(self, subject: str) -> None:
        del self.subscribers[subject]

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.replies.pop(subject).set_result(SimpleNamespace(body=payload, headers=headers))

    async def request(self, body: bytes, subject: str, headers: dict[str, str]) -> Any:
        inbox = f"_INBOX.{len(self.replies)}.{id(body)}"
        self.replies[inbox] = asyncio.get_running_loop().create_future()
        _queue, cb = self.subscribers[subject]
        await cb(SimpleNamespace(subject=subject, data=body, headers=headers, reply=inbox))
        return await asyncio.wait_for(self.replies[inbox], 10)


@asynccontextmanager
async def served(app: IntakeApplication) -> AsyncIterator[InProcessNats]:
    """Intake's commands answered as ``polku.service`` answers them (the pipeline's responder)."""
    nc = InProcessNats()
    responder = pipeline(app).responder(nc)
    await responder.start()
    try:
        yield nc
    finally:
        await responder.stop()
        assert nc.subscribers == {}  # it took every subscription away


async def test_every_subject_of_the_table_is_subscribed_in_the_services_queue_group(app: IntakeApplication) -> None:
    async with served(app) as nc:
        assert set(nc.subscribers) == {route.spec.subject for route in pipeline(app).routes}
        assert {queue for queue, _ in nc.subscribers.values()} == {"intake"}
        # a requester's own message id comes back on the reply, and stands in for the correlation id
        reply = await nc.request(json.dumps(BODY).encode(), RECEIVE_REFERRAL, headers={
            "Polku-Command-Id": "c-9", "correlation_id": "req-9", **HEADERS,
        })
    assert json.loads(reply.body)["ok"] is True
    assert reply.headers == {"correlation_id": "req-9"}
    [stored] = [e for e in app.recorder.select_notifications(1, 10) if e.topic.endswith("Referral.Received")]
    assert app.mapper.to_domain_event(stored).env.correlation_id == "req-9"


async def test_a_responder_that_stops_answers_the_requests_it_took_first(app: IntakeApplication) -> None:
    """A service stopping takes no more requests, and answers those it took (their commands are
    in the group commit) before it goes on to close its store."""
    nc = InProcessNats()
    responder = pipeline(app).responder(nc)
    await responder.start()
    inboxes = []
    for i, body in enumerate(distinct_referrals(51, 5)):
        inbox = f"_INBOX.stop.{i}"
        nc.replies[inbox] = asyncio.get_running_loop().create_future()
        _queue, cb = nc.subscribers[RECEIVE_REFERRAL]
        await cb(SimpleNamespace(
            subject=RECEIVE_REFERRAL, data=json.dumps(body).encode(), headers={"Polku-Command-Id": f"s-{i}", **HEADERS},
            reply=inbox,
        ))
        inboxes.append(nc.replies[inbox])
    assert responder.in_process == 5
    await responder.stop()  # before any reply was awaited
    assert nc.subscribers == {} and responder.in_process == 0
    replies = [json.loads((await asyncio.wait_for(f, 1)).body) for f in inboxes]
    assert [r["ok"] for r in replies] == [True] * 5, replies


async def test_a_referral_is_received_and_answered_with_its_ids(app: IntakeApplication) -> None:
    async with served(app) as br:
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
    async with served(app) as br:
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
    async with served(app) as br:
        reply = await br.request(json.dumps(BODY).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-3"})
    error = json.loads(reply.body)["error"]
    assert (error["code"], error["field"]) == ("unauthenticated", "Polku-Actor")
    assert app.max_position() == 1  # the roster's seed only


async def test_a_wrong_command_is_answered_with_an_error_and_stores_nothing(app: IntakeApplication) -> None:
    async with served(app) as br:
        reply = await br.request(
            json.dumps({**BODY, "channel": "telepathy"}).encode(), RECEIVE_REFERRAL, headers={"Polku-Command-Id": "c-2", **HEADERS}
        )
    assert json.loads(reply.body) == {
        "ok": False,
        "error": {"code": "unknown_value", "message": "`channel` is not one of the allowed values", "field": "channel"},
    }
    assert app.max_position() == 1  # the roster's seed only
