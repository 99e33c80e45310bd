"""structlog, configured once per process.

JSON lines in production (and whenever stdout is not a terminal), pretty in a terminal. Under
`polku up` each service appends its JSON lines to ``var/log/<service>.jsonl`` instead.

Personal data never reaches a log line: :func:`mask_personal_data` drops the values of keys
that may hold an identity code, a name, contact details or free text, wherever they are nested,
and :func:`scrub_identity_codes` replaces anything shaped like an identity code in every string
left (ids, exception text and tracebacks included). A service's own stdout and stderr (its
``var/log/<service>.out`` under `polku up`) go through the same scrubbing
(:func:`scrub_std_streams`). Log ids, not payloads.
"""

from __future__ import annotations

import asyncio
import atexit
import io
import logging
import re
import sys
import threading
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


#: An identity code's shape: DDMMYY, a century sign, three digits, a check character; any
#: script's digits and either case (what a person might type), not inside a longer word.
IDENTITY_CODE = re.compile(r"(?<![0-9A-Za-z])\d{6}[-+A-FU-Ya-fu-y]\d{3}[0-9A-Ya-y](?![0-9A-Za-z])")
CODE_MASK = "[identity-code]"


def scrub_text(text: str) -> str:
    """``text`` with anything shaped like an identity code replaced."""
    return IDENTITY_CODE.sub(CODE_MASK, text) if IDENTITY_CODE.search(text) else text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {_scrub(k) if isinstance(k, str) else k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(_scrub(v) for v in value)
    if isinstance(value, BaseException):
        return scrub_text(f"{type(value).__name__}: {value}")
    return value


#: values that hold no string of their own to scrub (a str() of them is scrubbed in the line)
_PLAIN = (int, float, bool, type(None))
#: what cannot be in an identity code nor next to one's edge: joins values for one search
_SEPARATOR = "\x00"


def scrub_identity_codes(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Replace what is shaped like an identity code in every string value, nested too. Runs after
    the exception is formatted, so its text and traceback are scrubbed as well.

    A line of plain values (most are: ids, codes, numbers) is searched once, its strings joined
    by a character no code holds nor is bordered by: a code in one value is found there, and
    none spans two. Only a line where something is found, or with nested values, is rebuilt."""
    strings = []
    for value in event_dict.values():
        if type(value) is str:
            strings.append(value)
        elif not isinstance(value, _PLAIN):
            break  # nested values, an exception, an object: each scrubbed on its own
    else:
        if not IDENTITY_CODE.search(_SEPARATOR.join(strings)):
            return event_dict
    return {k: _scrub(v) for k, v in event_dict.items()}


class ScrubbingStream(io.TextIOBase):
    """A text stream that writes through to ``target`` line by line, identity codes scrubbed."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            done, _, self._pending = self._pending.rpartition("\n")
            self._target.write(scrub_text(done + "\n"))
            self._target.flush()
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._target.write(scrub_text(self._pending))
            self._pending = ""
        self._target.flush()

    def isatty(self) -> bool:
        return bool(self._target.isatty())

    def fileno(self) -> int:
        return int(self._target.fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._target, "encoding", "utf-8"))


def scrub_std_streams() -> None:
    """Scrub what this process prints on stdout and stderr (tracebacks included)."""
    if not isinstance(sys.stdout, ScrubbingStream):
        sys.stdout = ScrubbingStream(sys.stdout)
    if not isinstance(sys.stderr, ScrubbingStream):
        sys.stderr = ScrubbingStream(sys.stderr)


def _json(obj: Any, **_kw: Any) -> str:
    return msgspec.json.encode(obj, enc_hook=str).decode()


#: One JSON object per line; msgspec renders it several times faster than the json module.
json_renderer = structlog.processors.JSONRenderer(serializer=_json)


def add_trace_ids(logger: Any, name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """``trace_id`` and ``span_id`` of the span current where the line is written (a command's
    handling), unless the line names its own (a consumer's line names its event's span)."""
    if "trace_id" not in event_dict:
        from polku import tracing

        event_dict.update(tracing.ids())
    return event_dict


_configured = False


class RotatingFile:
    """A log file that rotates itself by size: ``<file>`` is renamed ``<file>.1`` (and so on,
    ``backups`` kept) once writing would pass ``max_bytes``. One process writes each file (each
    service its own), so nothing coordinates."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = max(backups, 0)
        self._file = path.open("a", encoding="utf-8")
        self.size = self._file.tell()
        #: the event loop a flush of this file is scheduled on, if one is
        self._flush_on: asyncio.AbstractEventLoop | None = None
        #: a line written by one thread while a flush scheduled on the loop's runs
        self._lock = threading.Lock()
        atexit.register(self._flush_now)

    def write(self, text: str) -> int:
        size = len(text.encode("utf-8"))
        with self._lock:
            if self.max_bytes > 0 and self.size > 0 and self.size + size > self.max_bytes:
                self.rotate()
            self.size += size
            return self._file.write(text)

    def flush(self) -> None:
        """Asked after each line. On an event loop's thread, the lines of one turn of the loop
        are written together once its ready callbacks have run (before what they sent, a reply,
        leaves: the loop runs its callbacks in order); anywhere else, at once."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread
            self._flush_now()
            return
        if self._flush_on is None:
            self._flush_on = loop
            loop.call_soon(self._flush_now)
        elif self._flush_on is not loop:
            self._flush_now()

    def _flush_now(self) -> None:
        self._flush_on = None
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    def rotate(self) -> None:
        self._file.close()
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for n in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{n}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._file = self.path.open("a", encoding="utf-8")
        self.size = 0

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._file.fileno()


def configure(
    service: str,
    *,
    fmt: str = "auto",
    level: str = "info",
    file: Path | None = None,
    stream: Any = None,
    max_bytes: int = 50 * 1024 * 1024,
    backups: int = 5,
) -> None:
    """Configure structlog for this process. Call once, at the start of a process.

    With ``file``, lines go to that file only, as JSON (one sink: each line is rendered once),
    rotated at ``max_bytes`` with ``backups`` kept; otherwise to ``stream`` (stdout), pretty in a
    terminal and JSON elsewhere.
    """
    global _configured
    stream = stream or sys.stdout
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        stream = RotatingFile(file, max_bytes, backups)
        fmt = "json"
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_personal_data,
        structlog.processors.format_exc_info,
        scrub_identity_codes,
    ]
    inner: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty()) if fmt == "console" else json_renderer
    )

    def renderer(logger: Any, name: str, event_dict: dict[str, Any]) -> str:
        # The line as written, scrubbed once more: what an object's str() made is covered too.
        return scrub_text(inner(logger, name, event_dict))

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
