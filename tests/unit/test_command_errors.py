"""Decoding commands: each way input can be wrong maps to one stable code and a field path."""

from __future__ import annotations

import msgspec
import pytest

from contracts import ERROR_CODES
from contracts.intake import ReceiveReferral
from polku.commands import CommandRefused, command_id, decode_command

decoder = msgspec.json.Decoder(ReceiveReferral)
GOOD = b'{"identity_code":"131052-308T","channel":"phone","source":{"kind":"client"},"concerns":["housing"]}'


def refusal(body: bytes) -> CommandRefused:
    with pytest.raises(CommandRefused) as e:
        decode_command(decoder, body)
    return e.value


def test_a_good_command_decodes() -> None:
    command = decode_command(decoder, GOOD)
    assert command.channel == "phone"
    assert command.urgent is False and command.summary == ""


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"{", "malformed_json", None),
        (b"null", "malformed_json", None),
        (b'"a string"', "malformed_json", None),
        (GOOD.replace(b'"channel":"phone",', b""), "missing_field", "channel"),
        (GOOD.replace(b'"phone"', b"7"), "wrong_type", "channel"),
        (GOOD.replace(b'"phone"', b'"carrier_pigeon"'), "unknown_value", "channel"),
        (GOOD.replace(b'"housing"', b'"housing","x"'), "unknown_value", "concerns[1]"),
        (GOOD.replace(b'{"kind":"client"}', b'{"kind":"client","authority":"police"}'), "invalid_value", "source"),
        (GOOD.replace(b'"identity_code":"131052-308T"', b'"identity_code":"131052"'), "invalid_value", "identity_code"),
        (GOOD[:-1] + b',"extra":1}', "unknown_field", "extra"),
    ],
)
def test_each_way_of_being_wrong_has_its_code(body: bytes, code: str, field: str | None) -> None:
    e = refusal(body)
    assert (e.code, e.field) == (code, field)
    assert e.code in ERROR_CODES


def test_a_refusal_message_does_not_echo_the_value() -> None:
    e = refusal(GOOD.replace(b'"phone"', b'"131052-308T"'))
    assert "131052" not in e.message


@pytest.mark.parametrize("value", [None, "", "has space", "x" * 129, "ä"])
def test_a_command_id_must_be_visible_ascii(value: str | None) -> None:
    headers = {} if value is None else {"Polku-Command-Id": value}
    with pytest.raises(CommandRefused) as e:
        command_id(headers)
    assert e.value.code == "missing_command_id"
    assert e.value.field == "Polku-Command-Id"


def test_a_good_command_id_passes() -> None:
    assert command_id({"Polku-Command-Id": "cis-7:2026-11-23:0001"}) == "cis-7:2026-11-23:0001"
