"""structlog, configured once per process.

JSON lines in production (and whenever stdout is not a terminal), pretty in a terminal. Under
`polku up` each service appends its JSON lines to ``var/log/<service>.jsonl`` instead.

Personal data never reaches a log line: :func:`mask_personal_data` drops the values of keys
that may hold an identity code, a name, contact details or free text, wherever they are nested.
Log ids, not payloads.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import msgspec
import structlog

#: Keys whose values are personal data or free text. Matched case-insensitively, nested too.
PERSONAL_KEYS = frozenset(
    {
        "identity_code",
        "hetu",
        "ssn",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "client_name",
        "summary",
        "free_text",
        "text",
        "note",
        "notes",
        "description",
        "contact",
        "contact_details",
        "phone",
        "email",
        "address",
        "body",
        "payload",
        "data",
    }
)
MASK = "***"


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (MASK if str(k).lower() in PERSONAL_KEYS else _mask(v)) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_mask(v) for v in value)
    return value


def mask_personal_data(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Replace personal data values with ``***`` (the key stays, so the line still reads)."""
    for key in list(event_dict):
        if key.lower() in PERSONAL_KEYS:
            event_dict[key] = MASK
        elif isinstance(event_dict[key], (dict, list, tuple)):
            event_dict[key] = _mask(event_dict[key])
    return event_dict


def _json(obj: Any, **_kw: Any) -> str:
    return msgspec.json.encode(obj, enc_hook=str).decode()


#: One JSON object per line; msgspec renders it several times faster than the json module.
json_renderer = structlog.processors.JSONRenderer(serializer=_json)


_configured = False


def configure(
    service: str,
    *,
    fmt: str = "auto",
    level: str = "info",
    file: Path | None = None,
    stream: Any = None,
) -> None:
    """Configure structlog for this process. Call once, at the start of a process.

    With ``file``, lines go to that file only, as JSON (one sink: each line is rendered once);
    otherwise to ``stream`` (stdout), pretty in a terminal and JSON elsewhere.
    """
    global _configured
    stream = stream or sys.stdout
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        stream = file.open("a", encoding="utf-8", buffering=1)
        fmt = "json"
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_personal_data,
        structlog.processors.format_exc_info,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty()) if fmt == "console" else json_renderer
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.WriteLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries log through the standard library: keep their warnings, quietly.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    _configured = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
