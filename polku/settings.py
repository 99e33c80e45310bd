"""Settings from the environment, read once per process.

Every setting has an embedded default that works on a fresh machine: SQLite files and the
embedded ``nats-server`` under ``./var``. Production sets PostgreSQL, the NATS URLs and the keys.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("intake", "casefile", "followup", "reporting")

#: The services `polku up` starts as processes. Followup has no use case yet (its issue builds
#: reviews, disappearance and check-ins); it joins this tuple when it has one.
RUNNING_SERVICES = ("intake", "casefile", "reporting")

DEFAULT_ROSTER = (
    "sw-001:social_worker:team-north,"
    "sw-002:social_worker:team-north,"
    "sc-001:social_counsellor:team-north,"
    "sc-002:social_counsellor:team-north"
)


class SettingsError(ValueError):
    """A setting has a value Polku cannot use; the message names the variable."""


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _cipher_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        size = len(base64.b64decode(raw, validate=True))
    except ValueError:
        size = 0
    if size not in (16, 24, 32):
        raise SettingsError(
            "POLKU_CIPHER_KEY must be an AES key of 16, 24 or 32 bytes in base64 "
            "(e.g. python3 -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')"
        )
    return raw


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
class Quadrant:
    code: str
    when: dict[str, str]
    special_support_suspected: bool
    role: str
    meaning: str


@dataclass(frozen=True)
class TriageGrid:
    """The four-field grid of special support need: its axes and what each quadrant means.

    Policy, configured once and the same for every worker (``POLKU_TRIAGE_GRID``, JSON)."""

    axes: dict[str, tuple[str, ...]]
    quadrants: tuple[Quadrant, ...]

    def place(self, positions: dict[str, str]) -> Quadrant | None:
        for quadrant in self.quadrants:
            if quadrant.when == positions:
                return quadrant
        return None


#: Adapted from Varha's tool as Pohjois-Savo uses it: can the client seek and obtain the
#: services they need, and are the needs single or several at once.
DEFAULT_TRIAGE_GRID = {
    "axes": {"seeks_help": ["able", "unable"], "needs": ["single", "multiple"]},
    "quadrants": [
        {"code": "A", "when": {"seeks_help": "able", "needs": "single"}, "special_support_suspected": False,
         "role": "social_counsellor", "meaning": "guidance and counselling; no special support need suspected"},
        {"code": "B", "when": {"seeks_help": "able", "needs": "multiple"}, "special_support_suspected": False,
         "role": "social_counsellor", "meaning": "several needs but able to use services: coordinated guidance"},
        {"code": "C", "when": {"seeks_help": "unable", "needs": "single"}, "special_support_suspected": True,
         "role": "social_worker", "meaning": "difficulty seeking help: special support need suspected"},
        {"code": "D", "when": {"seeks_help": "unable", "needs": "multiple"}, "special_support_suspected": True,
         "role": "social_worker", "meaning": "several needs at once and difficulty seeking help: special support"},
    ],
}


def parse_triage_grid(raw: str | None) -> TriageGrid:
    import itertools
    import json

    from contracts.vocabulary import WORKER_ROLES

    try:
        data = json.loads(raw) if raw else DEFAULT_TRIAGE_GRID
        axes = {str(k): tuple(str(v) for v in values) for k, values in data["axes"].items()}
        quadrants = tuple(
            Quadrant(
                code=str(q["code"]), when={str(k): str(v) for k, v in q["when"].items()},
                special_support_suspected=bool(q["special_support_suspected"]), role=str(q["role"]),
                meaning=str(q.get("meaning", "")),
            )
            for q in data["quadrants"]
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise SettingsError(f"POLKU_TRIAGE_GRID is not a grid: {e}") from None
    grid = TriageGrid(axes, quadrants)
    for combination in itertools.product(*axes.values()):
        positions = dict(zip(axes, combination, strict=True))
        if sum(q.when == positions for q in quadrants) != 1:
            raise SettingsError(f"POLKU_TRIAGE_GRID: {positions} must fall in exactly one quadrant")
    for q in quadrants:
        if q.role not in WORKER_ROLES:
            raise SettingsError(f"POLKU_TRIAGE_GRID: quadrant {q.code} names an unknown role {q.role}")
        if q.special_support_suspected and q.role != "social_worker":
            raise SettingsError(
                f"POLKU_TRIAGE_GRID: quadrant {q.code} suspects special support, so its role is social_worker (SHL 42 §)"
            )
    return grid


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
    pseudonym_key: str
    log_format: str  # "auto" | "json" | "console"
    log_file: Path | None
    log_level: str
    roster: tuple[RosterEntry, ...]
    consumer_batch: int
    max_deliveries: int
    #: aggregates kept in memory per service (0: none); a service is the only writer of its store
    aggregate_cache: int = 10_000
    triage_grid: TriageGrid = field(default_factory=lambda: parse_triage_grid(None))
    default_team: str = "team-north"
    repeat_referrals_flag: int = 3
    #: Casefile's policy values (KTTL bounds as the Aava model cites them, and the Aava rule of
    #: at least two options); the law has changed since, so they are configuration.
    activation_min_options: int = 2
    work_activity_min_months: int = 3
    work_activity_max_months: int = 12
    work_activity_min_days: int = 1
    work_activity_max_days: int = 5
    work_activity_min_hours: float = 4.0
    familiarisation_max_days: int = 14
    check_in_after_days: int = 30

    @classmethod
    def from_env(cls) -> Settings:
        var_dir = Path(os.environ.get("POLKU_VAR_DIR", "var")).absolute()
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
            nats_port=_int("POLKU_NATS_PORT", 14222),
            nats_monitor_port=_int("POLKU_NATS_MONITOR_PORT", 18222),
            stream_replicas=_int("POLKU_STREAM_REPLICAS", 1),
            store=store,
            postgres_dsn=postgres_dsn,
            postgres_schema_prefix=os.environ.get("POLKU_POSTGRES_PREFIX", "polku"),
            cipher_key=_cipher_key(os.environ.get("POLKU_CIPHER_KEY") or None),
            # The embedded default key is for demos and tests only; production sets its own.
            pseudonym_key=os.environ.get("POLKU_PSEUDONYM_KEY", "polku-embedded-demo-key"),
            log_format=log_format,
            log_file=Path(log_file) if log_file else None,
            log_level=os.environ.get("POLKU_LOG_LEVEL", "info").lower(),
            roster=parse_roster(os.environ.get("POLKU_ROSTER", DEFAULT_ROSTER)),
            consumer_batch=_int("POLKU_CONSUMER_BATCH", 256),
            max_deliveries=_int("POLKU_MAX_DELIVERIES", 5),
            aggregate_cache=_int("POLKU_AGGREGATE_CACHE", 10_000),
            triage_grid=parse_triage_grid(os.environ.get("POLKU_TRIAGE_GRID") or None),
            default_team=os.environ.get("POLKU_DEFAULT_TEAM", "team-north"),
            repeat_referrals_flag=_int("POLKU_REPEAT_REFERRALS_FLAG", 3),
            activation_min_options=_int("POLKU_ACTIVATION_MIN_OPTIONS", 2),
            work_activity_min_months=_int("POLKU_WORK_ACTIVITY_MIN_MONTHS", 3),
            work_activity_max_months=_int("POLKU_WORK_ACTIVITY_MAX_MONTHS", 12),
            work_activity_min_days=_int("POLKU_WORK_ACTIVITY_MIN_DAYS", 1),
            work_activity_max_days=_int("POLKU_WORK_ACTIVITY_MAX_DAYS", 5),
            work_activity_min_hours=_float("POLKU_WORK_ACTIVITY_MIN_HOURS", 4.0),
            familiarisation_max_days=_int("POLKU_FAMILIARISATION_MAX_DAYS", 14),
            check_in_after_days=_int("POLKU_CHECK_IN_AFTER_DAYS", 30),
        )

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
