"""The published language as documents an integrator can read and validate against.

Everything here is generated from the contract types, never written by hand:

- :func:`build_asyncapi`: an AsyncAPI 3.0.0 document with a channel and an operation for every
  event (``receive``), every command and query (``send`` with a ``reply``) and the dead letters.
  Payloads are the msgspec JSON Schemas of the contract structs, shared under
  ``components.schemas``.
- :func:`json_schemas`: one standalone JSON Schema (draft 2020-12) per event, command, query and
  reply.
- :func:`write`: both, as files (``asyncapi.json`` and ``schemas/<Name>.json``).

``python -m contracts.asyncapi [out_dir]`` writes them (default ``./var/contracts``).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

import contracts
from contracts.base import ACTOR_HEADER, COMMAND_ID_HEADER, Refused

ASYNCAPI_VERSION = "3.0.0"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "https://polku.invalid/schemas/"
COMPONENT_REF = "#/components/schemas/{name}"

#: Event headers are strings on the wire. Nats-Msg-Id is ``<aggregate id>:<version>``.
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: A command id: 1-128 visible ASCII characters (what ``polku.commands`` accepts).
_COMMAND_ID_PATTERN = r"^[\x21-\x7e]{1,128}$"

#: The headers a dead letter carries besides the original ones (they mirror polku/consumer.py,
#: which writes them; the contracts do not name them yet).
_DLQ_HEADERS: dict[str, str] = {
    "Polku-Dlq-Consumer": "the consumer that gave up, `<service>-<source>`",
    "Polku-Dlq-Stream": "the stream the message came from",
    "Polku-Dlq-Sequence": "its sequence in that stream",
    "Polku-Dlq-Subject": "the subject it was published on",
    "Polku-Dlq-Error-Code": "why: `undecodable`, `no_position` (not from a Polku store) or `handler_failed`",
    "Polku-Dlq-Error": "the error, at most 500 characters, without the values it may quote",
}


# ------------------------------------------------------------------------------------ helpers
def _version() -> str:
    try:
        return importlib.metadata.version("polku")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0"


def _doc(tp: type) -> tuple[str, str]:
    """A type's summary (the docstring's first line) and description (the whole docstring)."""
    text = inspect.cleandoc(tp.__doc__ or "")
    return (text.split("\n\n", 1)[0].replace("\n", " "), text)


def _tidy(node: Any) -> Any:
    """Adapt msgspec's output to the AsyncAPI Schema (a JSON Schema draft-07 superset).

    Docstring indentation is removed from descriptions (CommonMark would read it as code), and
    an OpenAPI-style ``discriminator`` object becomes the property name AsyncAPI expects.
    """
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                out[key] = inspect.cleandoc(value)
            elif key == "discriminator" and isinstance(value, dict):
                out[key] = value["propertyName"]
            else:
                out[key] = _tidy(value)
        return out
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


def _payload_types() -> list[type]:
    """Every struct that travels as a body: events, commands, queries, replies, the refusal."""
    types: list[type] = [spec.type for spec in contracts.EVENTS]
    for spec in contracts.COMMANDS:
        types += [spec.request, spec.reply]
    types.append(Refused)
    seen: dict[type, None] = dict.fromkeys(types)  # ordered, without duplicates
    return list(seen)


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)}


def _header(description: str, **schema: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **schema}


def _event_headers(spec: contracts.EventSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "NATS headers on every event. Never an identity code or a name.",
        "properties": {
            contracts.H_MSG_ID: _header(
                "`<aggregate id>:<version>`: JetStream drops a duplicate within its window.",
                pattern=f"^{_UUID}:[0-9]+$",
            ),
            contracts.H_EVENT: _header("The event name.", const=spec.name),
            contracts.H_SCHEMA: _header(
                f"The event's schema version (this document describes {spec.schema_version}).",
                pattern="^[1-9][0-9]*$",
            ),
            contracts.H_CORRELATION: _header(
                "The id shared by everything that followed from one request."
            ),
            contracts.H_CAUSATION: _header("The id of the message that caused this event."),
            contracts.H_POSITION: _header(
                "The producer store's notification id (its position in the store): the event's "
                "identity and its order. A consumer applies each position once, in order.",
                pattern="^[0-9]+$",
            ),
            contracts.H_TRACEPARENT: _header(
                "The W3C trace context of the span that stored the event: the command's handling, "
                "or the consumer's handling of the event that caused it.",
                pattern="^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            ),
            "Nats-Expected-Last-Sequence": _header(
                "Set by the relay on the first event of a batch: the stream sequence it must "
                "follow (JetStream refuses the batch otherwise).",
                pattern="^[0-9]+$",
            ),
            "Nats-Batch-Id": _header("The relay's atomic batch the event came in (all of it was stored at once)."),
            "Nats-Batch-Sequence": _header("The event's number in its batch.", pattern="^[1-9][0-9]*$"),
            "Nats-Batch-Commit": _header("On the last event of a batch: the batch's commit."),
        },
        "required": [contracts.H_MSG_ID, contracts.H_EVENT, contracts.H_SCHEMA, contracts.H_POSITION],
    }


def _command_headers(spec: contracts.CommandSpec) -> dict[str, Any]:
    required = [COMMAND_ID_HEADER] if spec.kind == "cmd" else []
    return {
        "type": "object",
        "description": "NATS headers on a command or query.",
        "properties": {
            COMMAND_ID_HEADER: _header(
                "The idempotency key chosen by the caller: a retried command returns the first "
                "answer and stores nothing new.",
                pattern=_COMMAND_ID_PATTERN,
            ),
            contracts.H_CORRELATION: _header(
                "Optional: the caller's correlation id, carried into the events that follow."
            ),
            contracts.H_TRACEPARENT: _header(
                "Optional: the caller's W3C trace context. The command's handling, the events it "
                "stores and everything that follows from them across the services join its trace.",
                pattern="^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            ),
        },
        "required": required,
    }


def _message(tp: type, **extra: Any) -> dict[str, Any]:
    summary, description = _doc(tp)
    message: dict[str, Any] = {
        "name": tp.__name__,
        "title": tp.__name__,
        "contentType": "application/json",
        "payload": {"$ref": COMPONENT_REF.format(name=tp.__name__)},
    }
    if summary:
        message["summary"] = summary
    if description and description != summary:
        message["description"] = description
    message.update(extra)
    return message


def _error_codes_markdown() -> str:
    lines = [f"- `{code}`: {text}" for code, text in contracts.ERROR_CODES.items()]
    return (
        "The command or query was refused and nothing was stored. `error.code` is one of:\n\n"
        + "\n".join(lines)
        + "\n\n`error.field` names the offending field or header; `error.message` is for people."
    )


# ---------------------------------------------------------------------------------- AsyncAPI
def build_asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the published language, seen from an integrator."""
    _, defs = msgspec.json.schema_components(_payload_types(), ref_template=COMPONENT_REF)
    schemas = {name: _tidy(schema) for name, schema in sorted(defs.items())}

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    for spec in contracts.EVENTS:
        channel_id = spec.subject
        messages[spec.name] = _message(
            spec.type,
            headers=_event_headers(spec),
            correlationId={"location": f"$message.header#/{contracts.H_CORRELATION}"},
            tags=[{"name": spec.service}],
            **{"x-polku-schema-version": spec.schema_version},
        )
        stream = contracts.SERVICE_STREAM[spec.service]
        channels[channel_id] = {
            "address": spec.subject,
            "title": spec.name,
            "description": f"`{spec.name}` events of {spec.service}, kept in the JetStream stream "
            f"`{stream}`.",
            "messages": {spec.name: _ref("components", "messages", spec.name)},
            "x-polku-stream": stream,
        }
        operations[f"receive.{spec.name}"] = {
            "action": "receive",
            "title": f"Receive {spec.name}",
            "summary": spec.summary or spec.name,
            "channel": _ref("channels", channel_id),
            "messages": [_ref("channels", channel_id, "messages", spec.name)],
        }

    messages["Refused"] = _message(
        Refused,
        summary="The command or query was refused; nothing was stored.",
        description=_error_codes_markdown(),
        **{"x-polku-error-codes": dict(contracts.ERROR_CODES)},
    )
    for spec in contracts.COMMANDS:
        request_id, reply_id = spec.subject, f"{spec.subject}.reply"
        request_name, reply_name = spec.request.__name__, spec.reply.__name__
        what = "command" if spec.kind == "cmd" else "query"
        messages[request_name] = _message(
            spec.request,
            headers=_command_headers(spec),
            correlationId={"location": f"$message.header#/{contracts.H_CORRELATION}"},
            tags=[{"name": spec.service}],
        )
        messages[reply_name] = _message(spec.reply, tags=[{"name": spec.service}])
        channels[request_id] = {
            "address": spec.subject,
            "title": spec.name,
            "summary": spec.summary,
            "description": f"Request/reply {what} served by {spec.service} (one queue group per "
            "service; no stream). The body and the reply are JSON.",
            "messages": {request_name: _ref("components", "messages", request_name)},
        }
        channels[reply_id] = {
            "address": None,
            "title": f"{spec.name} reply",
            "description": "The requester's inbox: the NATS reply subject of the request.",
            "messages": {
                reply_name: _ref("components", "messages", reply_name),
                "Refused": _ref("components", "messages", "Refused"),
            },
        }
        operations[f"send.{spec.name}"] = {
            "action": "send",
            "title": spec.name,
            "summary": spec.summary,
            "channel": _ref("channels", request_id),
            "messages": [_ref("channels", request_id, "messages", request_name)],
            "reply": {
                "channel": _ref("channels", reply_id),
                "messages": [
                    _ref("channels", reply_id, "messages", reply_name),
                    _ref("channels", reply_id, "messages", "Refused"),
                ],
            },
        }

    dlq_stream = next(name for name, subjects in contracts.STREAMS.items() if subjects == "polku.dlq.>")
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "DeadLetter",
        "summary": "A message a consumer could not decode or kept failing on, with its error.",
        "description": "The body is the original message's, unchanged. The original headers are "
        f"kept, except `{contracts.H_MSG_ID}`, which becomes `dlq:<consumer>:<stream>:<sequence>`.",
        "contentType": "application/octet-stream",
        "payload": {"description": "The original body, as it was received."},
        "headers": {
            "type": "object",
            "properties": {
                contracts.H_MSG_ID: _header(
                    "`dlq:<consumer>:<stream>:<sequence>`", pattern="^dlq:[^:]+:[^:]+:[0-9]+$"
                ),
                **{name: _header(text) for name, text in _DLQ_HEADERS.items()},
            },
            "required": [contracts.H_MSG_ID, *_DLQ_HEADERS],
        },
    }
    channels["polku.dlq"] = {
        "address": "polku.dlq.{consumer}",
        "title": "Dead letters",
        "description": f"Dead letters of one consumer, kept in the JetStream stream `{dlq_stream}`."
        " The poison message was acknowledged, so its consumer went on.",
        "parameters": {
            "consumer": {
                "description": "The durable consumer's name, `<service>-<source>`.",
                "examples": ["casefile-intake", "reporting-casefile"],
                "location": "$message.header#/Polku-Dlq-Consumer",
            }
        },
        "messages": {"DeadLetter": _ref("components", "messages", "DeadLetter")},
        "x-polku-stream": dlq_stream,
    }
    operations["receive.DeadLetter"] = {
        "action": "receive",
        "title": "Receive dead letters",
        "channel": _ref("channels", "polku.dlq"),
        "messages": [_ref("channels", "polku.dlq", "messages", "DeadLetter")],
    }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Polku",
            "version": _version(),
            "description": (contracts.__doc__ or "").strip()
            + "\n\nEvents are published to JetStream, one stream per service. Commands and "
            "queries are NATS request/reply with JSON bodies. Subjects and headers never carry "
            "an identity code or a name; events carry the pseudonymous `client_id`.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "embedded": {
                "host": "127.0.0.1:14222",
                "protocol": "nats",
                "description": "The embedded nats-server that `polku up` starts "
                "(port POLKU_NATS_PORT, default 14222).",
            },
            "production": {
                "host": "nats-1:4222",
                "protocol": "nats",
                "description": "A node of the 3-node JetStream cluster `polku` "
                "(nats-1, nats-2, nats-3); streams have 3 replicas.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
        # Who acts (added after v1, beside v1's messages, which stay as they were).
        "x-polku-actor": {
            "header": ACTOR_HEADER,
            "required": "on every command, and on a query whose body names an actor",
            "description": "A JWT signed (EdDSA or ES256; never HS* or none) by the client system's "
            "identity provider for the worker the request acts for: sub is the worker id, aud "
            "Polku's audience (POLKU_ACTOR_AUDIENCE, default polku), exp required, nbf checked. "
            "Role and team come from Polku's roster, never from the token or the body; a body's "
            "actor must name the same worker. A missing or invalid token is refused "
            "unauthenticated, a worker not on the roster unknown_worker, a role the command does "
            "not name forbidden.",
        },
        "x-polku-roles": {
            spec.subject: sorted(spec.request.roles) for spec in contracts.COMMANDS if spec.kind == "cmd"
        },
    }


# ------------------------------------------------------------------------------ JSON Schemas
def json_schemas() -> dict[str, dict[str, Any]]:
    """One standalone JSON Schema (draft 2020-12) per event, command, query and reply."""
    out: dict[str, dict[str, Any]] = {}
    for tp in _payload_types():
        name = tp.__name__
        schema = _tidy(msgspec.json.schema(tp))
        out[name] = {"$schema": JSON_SCHEMA_DIALECT, "$id": f"{SCHEMA_ID_BASE}{name}.json", **schema}
    return dict(sorted(out.items()))


def _dumps(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(out_dir: Path) -> list[Path]:
    """Write ``asyncapi.json`` and ``schemas/<Name>.json`` under ``out_dir``; the paths written."""
    out_dir = Path(out_dir)
    (out_dir / "schemas").mkdir(parents=True, exist_ok=True)
    written = [out_dir / "asyncapi.json"]
    written[0].write_text(_dumps(build_asyncapi()), encoding="utf-8")
    for name, schema in json_schemas().items():
        path = out_dir / "schemas" / f"{name}.json"
        path.write_text(_dumps(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for written_path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "var/contracts")):
        print(written_path)
