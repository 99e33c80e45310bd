"""Every message on Polku's streams as the AsyncAPI document describes it: a payload valid
against its message's schema and headers valid against its header schema, on a channel the
document names. Used after whole runs (the demo, the stack's paths)."""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from nats.aio.client import Client

import contracts
from contracts import asyncapi
from tests.helpers import stream_messages


@cache
def document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        asyncapi.write(Path(out))
        return json.loads((Path(out) / "asyncapi.json").read_text())


@cache
def _validator(pointer: str) -> jsonschema.protocols.Validator:
    """A validator of the schema at ``pointer`` in the document (its $refs resolve within it)."""
    doc = document()
    return jsonschema.Draft202012Validator({**doc, "$ref": pointer}, format_checker=jsonschema.FormatChecker())


def problems(subject: str, headers: dict[str, str], data: bytes) -> list[str]:
    """What is wrong with one message, by the document (empty: it conforms)."""
    doc = document()
    channel = doc["channels"].get(subject)
    if channel is None or channel.get("address") != subject:
        return [f"{subject}: no channel of the document"]
    [ref] = [m["$ref"] for m in channel["messages"].values()]
    name = ref.rsplit("/", 1)[1]
    message = doc["components"]["messages"][name]
    found = []
    try:
        payload = json.loads(data)
    except ValueError as e:
        return [f"{subject}: payload is not JSON ({e})"]
    for error in _validator(message["payload"]["$ref"]).iter_errors(payload):
        found.append(f"{subject}: payload {'/'.join(map(str, error.absolute_path))}: {error.message}")
    header_schema = jsonschema.Draft202012Validator(message["headers"])
    for error in header_schema.iter_errors(headers):
        found.append(f"{subject}: headers {'/'.join(map(str, error.absolute_path))}: {error.message}")
    return found


async def check_streams(nc: Client) -> dict[str, int]:
    """Read every message of every stream (an operator's connection) and raise AssertionError
    listing what does not conform; return the messages read per stream."""
    counts, found = {}, []
    for stream in contracts.STREAMS:
        if stream == "DLQ":  # dead letters keep whatever body was refused, by design
            continue
        messages = await stream_messages(nc, stream)
        counts[stream] = len(messages)
        for m in messages:
            found += problems(m.subject, dict(m.headers or {}), m.data)
    assert not found, "\n".join(found[:50])
    return counts
