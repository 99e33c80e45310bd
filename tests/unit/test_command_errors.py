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


@pytest.mark.parametrize("value", ["131052-308T", "cis-131052-308T-1", "131052a308t", "x:010101A123N"])
def test_a_command_id_shaped_like_an_identity_code_is_refused(value: str) -> None:
    with pytest.raises(CommandRefused) as e:
        command_id({"Polku-Command-Id": value})
    assert (e.value.code, e.value.field) == ("invalid_value", "Polku-Command-Id")
    assert "131052" not in str(e.value) and "010101" not in str(e.value)


def test_a_correlation_id_shaped_like_an_identity_code_is_refused() -> None:
    from polku.commands import correlation_id

    assert correlation_id({"Polku-Correlation-Id": "c-2026-11-23-0001"}) == "c-2026-11-23-0001"
    assert correlation_id({}, "from-the-reply-inbox") == "from-the-reply-inbox"
    for headers, fallback in (({"Polku-Correlation-Id": "131052-308T"}, None), ({}, "id-131052-308T")):
        with pytest.raises(CommandRefused) as e:
            correlation_id(headers, fallback)
        assert (e.value.code, e.value.field) == ("invalid_value", "Polku-Correlation-Id")


@pytest.mark.parametrize("worker_id", ["131052-308T", "sw-131052-308T", "010101a123n"])
def test_an_id_field_shaped_like_an_identity_code_is_refused(worker_id: str) -> None:
    from contracts.casefile import ActingWorker

    body = msgspec.json.encode({"worker_id": worker_id, "role": "social_worker", "team": "team-north"})
    with pytest.raises(CommandRefused) as e:
        decode_command(msgspec.json.Decoder(ActingWorker), body)
    assert (e.value.code, e.value.field) == ("invalid_value", "worker_id")
    assert "131052" not in e.value.message and "010101" not in e.value.message


@pytest.mark.parametrize("worker_id", ["sw-001", "team-north", "20240101-1234", "cis-7:2026-11-23:0001"])
def test_ids_not_shaped_like_identity_codes_pass(worker_id: str) -> None:
    from contracts.casefile import ActingWorker

    body = msgspec.json.encode({"worker_id": worker_id, "role": "social_worker", "team": "team-north"})
    assert decode_command(msgspec.json.Decoder(ActingWorker), body).worker_id == worker_id


class _Open(msgspec.Struct):
    """A body with a field of any shape: msgspec recurses into it."""

    value: list[object]


def test_a_body_nested_too_deeply_to_decode_is_refused_malformed_json_not_raised() -> None:
    body = b'{"value":' + b"[" * 1100 + b"]" * 1100 + b"}"
    with pytest.raises(CommandRefused) as refused:
        decode_command(msgspec.json.Decoder(_Open), body)
    assert (refused.value.code, refused.value.field, str(refused.value)) == ("malformed_json", None, "the body nests too deeply")


def test_an_answer_larger_than_a_reply_may_be_is_refused_reply_too_large_saying_what_to_do() -> None:
    """NATS would not carry it: the caller gets a stable code and is told to ask for less,
    never a timeout."""
    import asyncio

    from polku.pipeline import MAX_REPLY_BYTES, handle_request

    async def answer(size: int) -> bytes:
        async def call(ids: dict[str, str], correlation_id: str | None) -> bytes:
            return b'{"ok":true,"x":"' + b"a" * size + b'"}'

        return await handle_request("polku.qry.test.big", {}, "c-1", call)

    fits = asyncio.run(answer(MAX_REPLY_BYTES - 100))
    assert len(fits) <= MAX_REPLY_BYTES and msgspec.json.decode(fits)["ok"] is True
    error = msgspec.json.decode(asyncio.run(answer(MAX_REPLY_BYTES)))["error"]
    assert error["code"] == "reply_too_large" and "ask for less" in error["message"]
    assert "reply_too_large" in ERROR_CODES


@pytest.mark.parametrize("body", [b'{"\xff\xfe": 1}', b'{"\xed\xa0\x80": 1}', GOOD[:-1] + b',"\xc3\x28":1}'])
def test_a_field_name_that_is_not_utf8_is_refused_malformed_json_not_raised(body: bytes) -> None:
    """msgspec quotes an unknown field's name in its error; one that is not UTF-8 raised
    UnicodeDecodeError, which the bus answered ``unavailable`` (found by the schema fuzz)."""
    e = refusal(body)
    assert (e.code, e.field) == ("malformed_json", None)
