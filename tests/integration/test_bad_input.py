"""Every way a command can be wrong gets a clear, stable error and stores nothing."""

from __future__ import annotations

import json

import pytest
from nats.aio.client import Client

from polku.settings import Settings
from polku.stack import Stack
from services.intake.main import build_application as build_intake
from tests.helpers import RECEIVE_REFERRAL, remember_personal_data, request, stored_events, stream_messages

GOOD = {
    "identity_code": "131052-308T",
    "channel": "phone",
    "source": {"kind": "authority", "authority": "police"},
    "concerns": ["housing", "substance_use"],
    "urgent": True,
    "consent": False,
    "contact_details": "Lyydia Kärkkäinen, 044 1234567",
}
for _code in ("131052-308T", "131052-308U", "310252-308T"):
    remember_personal_data({**GOOD, "identity_code": _code})


def _without(key: str) -> bytes:
    return json.dumps({k: v for k, v in GOOD.items() if k != key}).encode()


def _with(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


CASES = [
    ("malformed JSON", b'{"identity_code": "131052-308T", ', "malformed_json", None),
    ("not an object", b"[1, 2]", "malformed_json", None),
    ("an empty body", b"", "malformed_json", None),
    ("a missing field", _without("channel"), "missing_field", "channel"),
    ("a missing nested field", _with(source={"authority": "police"}), "missing_field", "source.kind"),
    ("a wrong type", _with(urgent="yes"), "wrong_type", "urgent"),
    ("a wrong type in a list", _with(concerns=[7]), "wrong_type", "concerns[0]"),
    ("an unknown channel", _with(channel="fax"), "unknown_value", "channel"),
    ("an unknown authority", _with(source={"kind": "authority", "authority": "fbi"}), "unknown_value", "source.authority"),
    ("an unknown concern", _with(concerns=["housing", "astrology"]), "unknown_value", "concerns[1]"),
    ("an authority without its kind", _with(source={"kind": "authority"}), "invalid_value", "source"),
    ("no concerns", _with(concerns=[]), "invalid_value", "concerns"),
    ("a time without its offset", _with(occurred_at="2026-01-05T10:00:00"), "invalid_value", "occurred_at"),
    ("an unknown field", _with(referer="typo"), "unknown_field", "referer"),
    ("an unknown nested field", _with(source={"kind": "client", "authorty": "police"}), "unknown_field", "source.authorty"),
    ("an identity code with a wrong check character", _with(identity_code="131052-308U"), "invalid_identity_code", "identity_code"),
    ("an identity code with a date that does not exist", _with(identity_code="310252-308T"), "invalid_identity_code", "identity_code"),
    ("an identity code with an unknown century sign", _with(identity_code="131052G308T"), "invalid_identity_code", "identity_code"),
]


@pytest.mark.parametrize(("case", "body", "code", "field"), CASES, ids=[c[0] for c in CASES])
async def test_a_wrong_command_is_refused_with_its_code_and_field(
    module_nc: Client, case: str, body: bytes, code: str, field: str | None
) -> None:
    nc = module_nc
    reply = await request(nc, RECEIVE_REFERRAL, body, "bad-" + case.replace(" ", "-"))
    assert reply["ok"] is False, case
    error = reply["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert error["message"]
    # The message never echoes the value that was wrong.
    assert "131052" not in error["message"] and "fax" not in error["message"]
    assert await stream_messages(nc, "INTAKE") == []


async def test_a_command_without_its_idempotency_key_is_refused(module_nc: Client) -> None:
    reply = await request(module_nc, RECEIVE_REFERRAL, json.dumps(GOOD).encode(), command_id=None)
    assert reply == {
        "ok": False,
        "error": {
            "code": "missing_command_id",
            "message": "header Polku-Command-Id must be 1-128 visible ASCII characters, unique per command",
            "field": "Polku-Command-Id",
        },
    }


async def test_refused_commands_store_nothing_and_log_no_personal_data(
    stack: Stack, nc: Client, settings: Settings
) -> None:
    for case, body, _code, _field in CASES:
        await request(nc, RECEIVE_REFERRAL, body, "bad-" + case.replace(" ", "-"))
    good = await request(nc, RECEIVE_REFERRAL, json.dumps(GOOD).encode(), "good-1")
    assert good["ok"] is True
    stack.stop()

    app = build_intake(settings)
    try:
        assert stored_events(app)["Referral.Received"] == 1  # the good one only
    finally:
        app.close()
    logs = "".join(p.read_text() for p in (settings.var_dir / "log").glob("*.jsonl"))
    refused_lines = [json.loads(line) for line in logs.splitlines() if '"refused"' in line]
    assert len(refused_lines) == len(CASES)
    assert {line["error_code"] for line in refused_lines} == {c[2] for c in CASES}
    for code in ("131052-308", "310252-308", "131052G308"):
        assert code not in logs
