"""The runtime's settings from the environment, read once per process.

Every setting but the keys has an embedded default that works on a fresh machine: SQLite files
and the embedded ``nats-server`` under ``./var``. Production sets PostgreSQL, the NATS URLs and
the keys; without ``POLKU_PSEUDONYM_KEY`` only the demo (``POLKU_DEMO=1``) starts, with keys
it makes under ``var/keys/``.

These are what every service runs on: var dir, NATS, store, keys, logging, batch sizes, cache,
and the roster (two services read it). A service's own settings (intake's triage grid,
casefile's policy values) are parsed by the service, in ``services/<name>/settings.py``, with
:func:`env_int`, :func:`env_float` and :class:`SettingsError` from here.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROSTER = (
    "sw-001:social_worker:team-north,"
    "sw-002:social_worker:team-north,"
    "sc-001:social_counsellor:team-north,"
    "sc-002:social_counsellor:team-north,"
    "sg-001:service_guidance_worker:team-north,"
    "tl-001:team_lead:team-north,"
    "sw-901:social_worker:team-south"
)


class SettingsError(ValueError):
    """A setting has a value Polku cannot use; the message names the variable."""


def env_float(name: str, default: float) -> float:
    """The number in ``name``, or ``default`` when unset or empty; else :class:`SettingsError`."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def env_int(name: str, default: int) -> int:
    """The integer in ``name``, or ``default`` when unset or empty; else :class:`SettingsError`."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _port(name: str) -> int:
    port = env_int(name, 0)
    if not 0 <= port <= 65535:
        raise SettingsError(f"{name} must be a TCP port (0 for a free one), got {port}")
    return port


def _cipher_key(raw: str | None, name: str = "POLKU_CIPHER_KEY") -> str | None:
    if raw is None:
        return None
    raw = raw.strip()
    try:
        size = len(base64.b64decode(raw, validate=True))
    except ValueError:
        size = 0
    if size not in (16, 24, 32):
        raise SettingsError(
            f"{name} must be an AES key of 16, 24 or 32 bytes in base64 "
            "(e.g. python3 -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')"
        )
    return raw


def _master_secret(var_dir: Path, demo: bool) -> str:
    """POLKU_PSEUDONYM_KEY, checked; in the demo, when unset, the one under var/keys/ (made once)."""
    import sys

    from polku.keys import check_secret, demo_secret

    raw = os.environ.get("POLKU_PSEUDONYM_KEY")
    if raw is None and demo:
        secret, made = demo_secret(var_dir)
        if made:
            print(f"polku: demo mode: made demo keys in {var_dir / 'keys'} (not for real client data)", file=sys.stderr)
        return secret
    return check_secret("POLKU_PSEUDONYM_KEY", raw)


@dataclass(frozen=True)
class RosterEntry:
    worker_id: str
    role: str
    team: str
    capacity: int = 30


def parse_roster(raw: str) -> tuple[RosterEntry, ...]:
    """``worker_id:role:team[:capacity]`` entries separated by commas (ids, never names)."""
    from contracts.vocabulary import WORKER_ROLES

    entries = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        parts = item.split(":")
        if len(parts) not in (3, 4) or not all(parts):
            raise SettingsError(f"POLKU_ROSTER entry {item!r} is not worker_id:role:team[:capacity]")
        worker_id, role, team = parts[:3]
        if role not in WORKER_ROLES:
            raise SettingsError(
                f"POLKU_ROSTER entry {item!r}: role must be one of {', '.join(WORKER_ROLES)}"
            )
        try:
            capacity = int(parts[3]) if len(parts) == 4 else 30
        except ValueError:
            raise SettingsError(f"POLKU_ROSTER entry {item!r}: capacity must be an integer") from None
        if capacity < 1:
            raise SettingsError(f"POLKU_ROSTER entry {item!r}: capacity must be at least 1")
        entries.append(RosterEntry(worker_id, role, team, capacity))
    if not entries:
        raise SettingsError("POLKU_ROSTER names no worker")
    return tuple(entries)


@dataclass(frozen=True)
class TimeBounds:
    """How far a command's business time and dates may lie from the service's clock (every
    service's pipeline applies them to every command on the bus, see ``polku.pipeline``).

    ``backdate_max_days`` (``POLKU_BACKDATE_MAX_DAYS``, default 31): a command's ``occurred_at``
    at most this many days before the clock (an event recorded late, but not rewriting history).
    ``future_skew_minutes`` (``POLKU_FUTURE_SKEW_MINUTES``, default 5): at most this many minutes
    after it (the caller's clock running ahead). ``date_years_ahead``
    (``POLKU_DATE_MAX_YEARS_AHEAD``, default 10): every other date or time in a command at most
    this many years after the business time, and none before :data:`polku.bounds.EARLIEST_DATE` (1900-01-01).
    """

    backdate_max_days: int = 31
    future_skew_minutes: int = 5
    date_years_ahead: int = 10

    @classmethod
    def from_env(cls) -> TimeBounds:
        default = cls()
        values = {}
        for name, variable, least, most in (
            ("backdate_max_days", "POLKU_BACKDATE_MAX_DAYS", 0, 36_600),
            ("future_skew_minutes", "POLKU_FUTURE_SKEW_MINUTES", 0, 24 * 60),
            ("date_years_ahead", "POLKU_DATE_MAX_YEARS_AHEAD", 1, 100),
        ):
            value = env_int(variable, getattr(default, name))
            if not least <= value <= most:
                raise SettingsError(f"{variable} must be between {least} and {most}")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    nats_url: str | None
    nats_port: int
    nats_monitor_port: int
    stream_replicas: int
    store: str  # "sqlite" | "postgres"
    postgres_dsn: str | None
    postgres_schema_prefix: str
    cipher_key: str | None
    #: the master secret (POLKU_PSEUDONYM_KEY): pseudonyms, and every key derived with HKDF (polku/keys.py)
    pseudonym_key: str
    log_format: str  # "auto" | "json" | "console"
    log_file: Path | None
    log_level: str
    roster: tuple[RosterEntry, ...]
    consumer_batch: int
    max_deliveries: int
    #: aggregates kept in memory per service (0: none); a service is the only writer of its store
    aggregate_cache: int = 10_000
    #: earlier keys of the event store (POLKU_CIPHER_KEYS), to read what they encrypted
    cipher_keys: tuple[str, ...] = ()
    #: the demo (POLKU_DEMO=1, set by `polku up --demo`): keys made under var/keys/ if none are set
    demo: bool = False
    #: how far a command's business time and dates may lie from the clock (POLKU_BACKDATE_MAX_DAYS...)
    time_bounds: TimeBounds = TimeBounds()
    #: a relay that has failed to publish this long turns commands away (``unavailable``)
    relay_stall_seconds: float = 30.0
    #: a snapshot of a service's in-memory read models each time this many events changed
    #: them (0: none; each start replays the whole store)
    snapshot_every: int = 50_000
    #: a service's log file rotates at this size, this many earlier files kept
    log_max_bytes: int = 50 * 1024 * 1024
    log_backups: int = 5
    #: where a service serves /metrics, /healthz and /readyz (POLKU_HTTP_HOST, POLKU_HTTP_PORT;
    #: port 0: a free one, written to var/run/<service>.http)
    http_host: str = "127.0.0.1"
    http_port: int = 0
    #: `polku up` gives its i-th service POLKU_HTTP_BASE_PORT + i (0: each a free port)
    http_base_port: int = 0
    #: the hot path's counters and histograms (POLKU_METRICS=0 turns them off; polku bench)
    metrics: bool = True
    #: where spans go (POLKU_TRACES): none, otlp, or file:<path> ("{service}" in it: the service)
    traces: str = "none"

    @classmethod
    def from_env(cls, *, keys: bool = True) -> Settings:
        """The settings; ``keys=False`` for commands that read no store (``polku status``)."""
        var_dir = Path(os.environ.get("POLKU_VAR_DIR", "var")).absolute()
        demo = os.environ.get("POLKU_DEMO", "").strip() == "1"
        pseudonym_key = _master_secret(var_dir, demo) if keys else ""
        old_keys = tuple(
            k for k in (_cipher_key(part, "POLKU_CIPHER_KEYS (each)") for part in
                        os.environ.get("POLKU_CIPHER_KEYS", "").split(",") if part.strip()) if k
        )
        store = os.environ.get("POLKU_STORE", "sqlite").strip().lower()
        if store not in ("sqlite", "postgres"):
            raise SettingsError(f"POLKU_STORE must be sqlite or postgres, got {store!r}")
        postgres_dsn = os.environ.get("POLKU_POSTGRES_DSN") or None
        if store == "postgres" and not postgres_dsn:
            raise SettingsError("POLKU_STORE=postgres needs POLKU_POSTGRES_DSN")
        log_format = os.environ.get("POLKU_LOG_FORMAT", "auto").strip().lower()
        if log_format not in ("auto", "json", "console"):
            raise SettingsError(f"POLKU_LOG_FORMAT must be auto, json or console, got {log_format!r}")
        log_file = os.environ.get("POLKU_LOG_FILE")
        return cls(
            var_dir=var_dir,
            nats_url=os.environ.get("POLKU_NATS_URL") or None,
            nats_port=env_int("POLKU_NATS_PORT", 14222),
            nats_monitor_port=env_int("POLKU_NATS_MONITOR_PORT", 18222),
            stream_replicas=env_int("POLKU_STREAM_REPLICAS", 1),
            store=store,
            postgres_dsn=postgres_dsn,
            postgres_schema_prefix=os.environ.get("POLKU_POSTGRES_PREFIX", "polku"),
            cipher_key=_cipher_key(os.environ.get("POLKU_CIPHER_KEY") or None),
            cipher_keys=old_keys,
            demo=demo,
            pseudonym_key=pseudonym_key,
            log_format=log_format,
            log_file=Path(log_file) if log_file else None,
            log_level=os.environ.get("POLKU_LOG_LEVEL", "info").lower(),
            roster=parse_roster(os.environ.get("POLKU_ROSTER", DEFAULT_ROSTER)),
            consumer_batch=env_int("POLKU_CONSUMER_BATCH", 256),
            max_deliveries=env_int("POLKU_MAX_DELIVERIES", 5),
            aggregate_cache=env_int("POLKU_AGGREGATE_CACHE", 10_000),
            time_bounds=TimeBounds.from_env(),
            relay_stall_seconds=env_float("POLKU_RELAY_STALL_SECONDS", 30.0),
            snapshot_every=env_int("POLKU_SNAPSHOT_EVERY", 50_000),
            log_max_bytes=env_int("POLKU_LOG_MAX_MB", 50) * 1024 * 1024,
            log_backups=env_int("POLKU_LOG_BACKUPS", 5),
            http_host=os.environ.get("POLKU_HTTP_HOST", "").strip() or "127.0.0.1",
            http_port=_port("POLKU_HTTP_PORT"),
            http_base_port=_port("POLKU_HTTP_BASE_PORT"),
            metrics=os.environ.get("POLKU_METRICS", "1").strip() != "0",
            traces=_traces(),
        )

    def tracing_exporter(self, service: str) -> str:
        return self.traces.replace("{service}", service)

    def resolved_nats_url(self) -> str:
        """The URL to reach NATS: the setting, else what `polku up` wrote, else the default port."""
        if self.nats_url:
            return self.nats_url
        url_file = self.var_dir / "run" / "nats.url"
        if url_file.exists():
            return url_file.read_text().strip()
        return f"nats://127.0.0.1:{self.nats_port}"

    def sqlite_path(self, service: str) -> Path:
        return self.var_dir / "store" / f"{service}.db"


def _traces() -> str:
    value = os.environ.get("POLKU_TRACES", "").strip() or "none"
    if value not in ("none", "otlp") and not value.startswith("file:"):
        raise SettingsError(f"POLKU_TRACES must be none, otlp or file:<path>, not {value!r}")
    return value
