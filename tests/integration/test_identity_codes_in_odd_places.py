"""Identity codes where they do not belong: in free text, command ids, correlation ids, id fields
and malformed bodies. Each is refused or kept encrypted; tests/test_personal_data.py then searches
everything Polku wrote (stores, JetStream's files, logs, the services' output) for every one."""

from __future__ import annotations

import json
import random

from nats.aio.client import Client

from demo.population import synthetic_identity_code
from polku import client as polku_client
from tests.helpers import RECEIVE_REFERRAL, SENT_CODES, referral_body, request

RNG = random.Random(20261123)
CODES = [synthetic_identity_code(RNG) for _ in range(8)]
SENT_CODES.update(CODES)


async def test_codes_in_free_text_are_accepted_and_kept_encrypted(module_nc: Client) -> None:
    body = referral_body(summary=f"asiakas mainitsi myös tunnuksen {CODES[0]}", contact_details=f"tunnus {CODES[1]}")
    reply = await request(module_nc, RECEIVE_REFERRAL, json.dumps(body).encode(), command_id=polku_client.new_id())
    assert reply.get("referral_id"), reply


async def test_a_command_id_holding_a_code_is_refused(module_nc: Client) -> None:
    body = referral_body()
    reply = await request(module_nc, RECEIVE_REFERRAL, json.dumps(body).encode(), command_id=f"cis-{CODES[2]}")
    assert reply["ok"] is False and reply["error"]["code"] == "invalid_value"
    assert reply["error"]["field"] == "Polku-Command-Id"


async def test_a_correlation_id_holding_a_code_is_refused(module_nc: Client) -> None:
    client = polku_client.Client(module_nc, timeout=10)
    body = json.dumps(referral_body()).encode()
    try:
        await client.command(RECEIVE_REFERRAL, body, polku_client.new_id(), correlation_id=CODES[3])
        raise AssertionError("accepted")
    except polku_client.Refusal as e:
        assert e.reply["error"]["code"] == "invalid_value"
        assert e.reply["error"]["field"] == "Polku-Correlation-Id"


async def test_an_id_field_holding_a_code_is_refused(module_nc: Client) -> None:
    body = json.dumps(referral_body(team=CODES[4])).encode()
    reply = await request(module_nc, RECEIVE_REFERRAL, body, command_id=polku_client.new_id())
    assert reply["ok"] is False and (reply["error"]["code"], reply["error"]["field"]) == ("invalid_value", "team")
    assert CODES[4] not in json.dumps(reply)


async def test_codes_in_bodies_that_fail_to_decode_are_not_echoed(module_nc: Client) -> None:
    for body in (f'{{"identity_code": "{CODES[5]}", '.encode(), json.dumps({"identity_code": CODES[6], "channel": CODES[7]}).encode()):
        reply = await request(module_nc, RECEIVE_REFERRAL, body, command_id=polku_client.new_id())
        assert reply["ok"] is False
        assert not any(code in json.dumps(reply) for code in CODES)
