"""The check the whole-run tests apply to every message on the streams (tests/conformance.py)
finds what does not conform: it is only worth its passes if it can fail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from contracts.base import encoder
from contracts.casefile import RelationshipOpened
from polku.bus import event_headers
from tests.conformance import problems

SUBJECT = "polku.casefile.relationship_opened"


def _message() -> tuple[dict[str, str], bytes]:
    rid = uuid.uuid4()
    event = RelationshipOpened(
        event_id=uuid.uuid4(), occurred_at=datetime(2026, 11, 23, tzinfo=UTC), relationship_id=rid,
        client_id="0123456789abcdef0123456789abcdef", referral_id=uuid.uuid4(),
    )
    headers = event_headers(
        msg_id=f"{rid}:1", event_name="RelationshipOpened", schema_version=1, position=7,
        correlation_id="c-1", causation_id=None,
    )
    return headers, encoder.encode(event)


def test_a_message_as_the_relay_publishes_it_conforms() -> None:
    headers, data = _message()
    assert problems(SUBJECT, headers, data) == []


def test_a_wrong_payload_header_or_subject_is_found() -> None:
    headers, data = _message()
    assert problems("polku.casefile.no_such_event", headers, data) == ["polku.casefile.no_such_event: no channel of the document"]
    assert any("client_id" in p for p in problems(SUBJECT, headers, data.replace(b"0123456789abcdef" * 2, b"131052-308T")))
    assert any("Polku-Position" in p for p in problems(SUBJECT, {k: v for k, v in headers.items() if k != "Polku-Position"}, data))
    assert any("Polku-Event" in p for p in problems(SUBJECT, {**headers, "Polku-Event": "ReferralReceived"}, data))
    assert problems(SUBJECT, headers, b"not json")[0].startswith(f"{SUBJECT}: payload is not JSON")
