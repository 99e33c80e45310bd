"""Commands on the wire: decoding, refusing with a stable error, replying.

A refused command gets ``{"ok": false, "error": {"code", "message", "field"}}`` and stores
nothing. Messages name the field and the rule, never echo the offending value (it could be
personal data), and the same input always gets the same code.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from contracts.base import COMMAND_ID_HEADER, H_CORRELATION, IDENTITY_CODE_SHAPE, Error, Refused
from polku.domain import RuleBroken

T = TypeVar("T")

_reply_encoder = msgspec.json.Encoder()

_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`")
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`")
_COMMAND_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_IDENTITY_CODE = re.compile(IDENTITY_CODE_SHAPE)


class CommandRefused(RuleBroken):
    """The input is wrong before any rule of the domain is asked: the body or a header."""


def _path(raw: str) -> str | None:
    """``$.source.kind`` → ``source.kind``; ``$.concerns[0]`` → ``concerns[0]``."""
    path = raw.lstrip(".")
    return path or None


def _join(parent: str | None, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def error_from_validation(e: msgspec.ValidationError) -> Error:
    text = str(e)
    at = _AT.search(text)
    path = _path(at.group("path")) if at else None
    head = text[: at.start()] if at else text
    if m := _MISSING.match(head):
        field = _join(path, m.group("name"))
        return Error(code="missing_field", message=f"`{field}` is required", field=field)
    if m := _UNKNOWN_FIELD.match(head):
        field = _join(path, m.group("name"))
        return Error(code="unknown_field", message=f"`{field}` is not a field of this command", field=field)
    if head.startswith("Invalid enum value"):
        return Error(
            code="unknown_value",
            message=f"`{path}` is not one of the allowed values",
            field=path,
        )
    if head.startswith("Expected `"):
        # "Expected `str`, got `int`" or "Expected `array` of length >= 1"
        if ", got `" in head:
            expected = head.split("`")[1]
            return Error(code="wrong_type", message=f"`{path or 'body'}` must be of type {expected}", field=path)
        return Error(code="invalid_value", message=f"`{path}`: {head[len('Expected '):]}".replace("`", "") , field=path)
    # __post_init__ rules, formats (datetime, uuid), patterns: the message is ours or msgspec's
    # and holds no value.
    message = re.sub(r"'[^']*'", "'…'", head)
    return Error(code="invalid_value", message=message, field=path)


def decode_command(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """Decode a command body or raise :class:`CommandRefused` with a stable code and field."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as e:
        err = error_from_validation(e)
        if err.field is None and err.code == "wrong_type":
            raise CommandRefused("the body must be a JSON object", None, "malformed_json") from None
        raise CommandRefused(err.message, err.field, err.code) from None
    except msgspec.DecodeError:
        raise CommandRefused("the body is not valid JSON", None, "malformed_json") from None
    except RecursionError:
        raise CommandRefused("the body nests too deeply", None, "malformed_json") from None
    except UnicodeDecodeError:
        # msgspec quotes an unknown field's name in its error, and a name that is not UTF-8
        # fails there: the body is not valid JSON text (RFC 8259 is UTF-8) either way
        raise CommandRefused("the body is not valid UTF-8", None, "malformed_json") from None


def command_id(headers: dict[str, Any] | None) -> str:
    value = (headers or {}).get(COMMAND_ID_HEADER)
    if not isinstance(value, str) or not _COMMAND_ID.match(value):
        raise CommandRefused(
            f"header {COMMAND_ID_HEADER} must be 1-128 visible ASCII characters, unique per command",
            COMMAND_ID_HEADER,
            "missing_command_id",
        )
    if _IDENTITY_CODE.search(value):
        raise CommandRefused(
            f"header {COMMAND_ID_HEADER} must not hold an identity code: use a random id", COMMAND_ID_HEADER, "invalid_value"
        )
    return value


def correlation_id(headers: dict[str, Any] | None, fallback: str | None = None) -> str | None:
    """The correlation id of a request (or ``fallback``); one shaped like an identity code is
    refused: it would be logged and stored with every event the request makes."""
    value = (headers or {}).get(H_CORRELATION) or fallback
    if isinstance(value, str) and _IDENTITY_CODE.search(value):
        raise CommandRefused(
            f"header {H_CORRELATION} must not hold an identity code: use a random id", H_CORRELATION, "invalid_value"
        )
    return value


def refused(error: Error) -> bytes:
    return _reply_encoder.encode(Refused(error=error))


def reply(struct: Any) -> bytes:
    return _reply_encoder.encode(struct)
