"""Wrong input to casefile's commands gets a stable code and stores nothing."""

from __future__ import annotations

import msgspec
from nats.aio.client import Client

from polku.stack import Stack
from tests.casefile_helpers import SW1, Casefile, open_relationship


async def test_wrong_input_gets_its_code_and_stores_nothing(stack: Stack, nc: Client) -> None:
    rid, _ = await open_relationship(nc)
    cf = Casefile(nc, rid)
    base = {"relationship_id": str(rid), "actor": SW1}
    cases = [
        ("start_assessment", b"[1, 2]", "cmd-1", "malformed_json", None),
        ("start_assessment", b"{not json", "cmd-2", "malformed_json", None),
        ("start_assessment", msgspec.json.encode({"relationship_id": str(rid)}), "cmd-3", "missing_field", "actor"),
        ("start_assessment", msgspec.json.encode(base), None, "missing_command_id", "Polku-Command-Id"),
        ("start_assessment", msgspec.json.encode({**base, "actor": {**SW1, "role": "wizard"}}), "cmd-4", "unknown_value", "actor.role"),
        ("start_assessment", msgspec.json.encode({**base, "actor": {**SW1, "name": "x"}}), "cmd-5", "unknown_field", "actor.name"),
        ("determine_nature", msgspec.json.encode({**base, "nature": "eternal"}), "cmd-6", "unknown_value", "nature"),
        ("determine_nature", msgspec.json.encode({**base, "nature": "temporary", "natur": 1}), "cmd-7", "unknown_field", "natur"),
        ("start_work_activity", msgspec.json.encode({**base, "placement_id": "p-1", "days_per_week": "three"}), "cmd-8", "wrong_type", "days_per_week"),
        ("update_plan", msgspec.json.encode({**base, "kind": "client_plan"}), "cmd-9", "missing_field", "next_review"),
        ("record_measurement", msgspec.json.encode({**base, "instrument": "avain", "scores": {}}), "cmd-10", "invalid_value", "scores"),
        ("start_assessment", msgspec.json.encode({**base, "relationship_id": "not-a-uuid"}), "cmd-11", "invalid_value", "relationship_id"),
        ("start_assessment", msgspec.json.encode({**base, "occurred_at": "2026-11-23T10:00:00"}), "cmd-12", "invalid_value", "occurred_at"),
        ("record_consultation", msgspec.json.encode({**base, "topic": "urgency"}), "cmd-13", "invalid_value", None),
        ("record_consultation", msgspec.json.encode({**base, "topic": "the_weather", "profession": "social_worker"}), "cmd-14", "unknown_value", "topic"),
        ("decide_on_relationship", msgspec.json.encode({**base, "outcome": "maybe", "appeal_instructions_given": True}), "cmd-15", "unknown_value", "outcome"),
        ("record_meeting_outcome", msgspec.json.encode({**base, "meeting_id": str(rid), "outcome": "held", "client_informed_of": ["gossip"]}), "cmd-16", "unknown_value", "client_informed_of[0]"),
        ("start_assessment", msgspec.json.encode({**base, "family_participates": "yes"}), "cmd-17", "wrong_type", "family_participates"),
    ]
    for name, body, command_id, code, field in cases:
        reply = await cf.raw(name, body, command_id)
        assert reply["ok"] is False, (name, body)
        assert (reply["error"]["code"], reply["error"]["field"]) == (code, field), (name, body, reply)
    state = await cf.state()
    assert state["version"] == 2 and state["assessment"] == "not_started" and state["nature"] is None
