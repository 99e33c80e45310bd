"""Reporting's indicators: fact tables fed by INTAKE, CASEFILE and FOLLOWUP, and the query that
counts them for a team and a period (``contracts.reporting.INDICATORS`` is the catalogue).

The facts are kept as they happened: each referral with the time of each step; each client
relationship with its open spells, its own workers, natures and special-support determinations
as intervals (from, to), so that a stock indicator (active by nature, caseload, plans past their
review) can be counted at any day, not only today; and flows (meetings, ends, check-ins,
measurements...) as rows with their time. Times are business time (``occurred_at``) in epoch
seconds; a day is a day in Helsinki.

An event applier writes only from its own event: nothing it writes depends on another stream's
events having arrived first. Whatever joins streams (a meeting's motivation comes from intake's
screening, a relationship's team from the routing when no own worker is named) is joined when the
query is answered. So the three consumers may run at their own pace, and replaying the streams
one after another (``polku rebuild reporting``) gives the same tables as the live consumers.

Each consumer's batch changes the tables and its stream's tracking record in one transaction;
what the tracking record says is in already is skipped, so redelivery changes nothing.
"""

from __future__ import annotations

import functools
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from contracts import casefile as cf
from contracts import followup as fu
from contracts import intake as it
from contracts.reporting import (
    INDICATORS,
    Indicator,
    IndicatorCell,
    IndicatorsQuery,
    IndicatorsReply,
    OpenRelationshipsQuery,
    OpenRelationshipsReply,
    WorkerCaseload,
)
from polku.consumer import Delivery, Prepared
from polku.domain import RuleBroken
from polku.sql import Cursor, SqlDatabase

HELSINKI = ZoneInfo("Europe/Helsinki")
SOURCES = ("INTAKE", "CASEFILE", "FOLLOWUP")
LIVE = "ri"
NEXT = "ri_next"
#: SHL 36 §: the assessment of the service need is completed within three months of its start.
ASSESSMENT_DEADLINE_DAYS = 92
#: "returning within 6 and 12 months"
RETURN_WINDOWS = {"6m": 183, "12m": 365}
MAX_PERIOD_DAYS = 3660
#: The tables' shape: a database holding another is emptied and filled again from the streams.
SCHEMA_VERSION = 3
SCHEMA_RECORD = "ri:schema"


def source_name(stream: str) -> str:
    """The tracking name of the source position (the producer's ``Polku-Position``) reached in
    ``stream``; the stream's own name holds the sequence."""
    return f"{stream}@source"
DAY_S = 86400.0

_F = "DOUBLE PRECISION"
#: table → columns (the first ones, up to the marker, form the primary key where one is set)
TABLES: dict[str, tuple[str, str | None]] = {
    "referral": (
        f"referral_id TEXT PRIMARY KEY, client TEXT, team TEXT, received_at {_F}, channel TEXT, "
        f"source TEXT, urgent INTEGER, screened_at {_F}, outcome TEXT, redirected_to TEXT, "
        f"motivation TEXT, urgent_assessed_at {_F}, triaged_at {_F}, quadrant TEXT, "
        f"routed_at {_F}, routed_role TEXT, routed_team TEXT",
        None,
    ),
    "referral_concern": ("referral_id TEXT, concern TEXT, PRIMARY KEY (referral_id, concern)", None),
    "repeat_flag": (f"referral_id TEXT PRIMARY KEY, at {_F}", None),
    "worker": ("worker_id TEXT PRIMARY KEY, role TEXT, team TEXT, capacity INTEGER, active INTEGER", None),
    "relationship": (
        f"relationship_id TEXT PRIMARY KEY, client TEXT, referral_id TEXT, opened_at {_F}, team TEXT",
        None,
    ),
    "spell": (f"relationship_id TEXT, started_at {_F}, ended_at {_F}, end_reason TEXT", "relationship_id"),
    "assignment": (
        f"relationship_id TEXT, worker_id TEXT, role TEXT, team TEXT, work_pair_id TEXT, from_at {_F}, to_at {_F}",
        "relationship_id",
    ),
    "nature": (f"relationship_id TEXT, nature TEXT, from_at {_F}, to_at {_F}", "relationship_id"),
    "support": (f"relationship_id TEXT, special INTEGER, from_at {_F}, to_at {_F}", "relationship_id"),
    "assessment": (f"relationship_id TEXT, started_at {_F}, completed_at {_F}", "relationship_id"),
    "plan": (
        f"relationship_id TEXT, kind TEXT, version INTEGER, made_at {_F}, next_review TEXT, "
        f"superseded_at {_F}, offered TEXT, chosen TEXT",
        "relationship_id",
    ),
    "meeting": (f"meeting_id TEXT PRIMARY KEY, relationship_id TEXT, outcome TEXT, at {_F}", None),
    "work_activity": (f"relationship_id TEXT, step TEXT, reason TEXT, at {_F}", "relationship_id"),
    "measurement": (f"relationship_id TEXT, instrument TEXT, total INTEGER, at {_F}", "relationship_id"),
    # formed: 0 when a finding of no service need ended it before a relationship formed (seed 000)
    "ending": (f"relationship_id TEXT, client TEXT, reason TEXT, at {_F}, formed INTEGER", "relationship_id"),
    "closing": (f"relationship_id TEXT, reason TEXT, at {_F}", "relationship_id"),
    "disappearance": (f"relationship_id TEXT, from_at {_F}, to_at {_F}", "relationship_id"),
    "attempt": (f"relationship_id TEXT, outcome TEXT, at {_F}", "relationship_id"),
    "end_proposal": (f"relationship_id TEXT, at {_F}", "relationship_id"),
    "check_in": (f"relationship_id TEXT, outcome TEXT, at {_F}", "relationship_id"),
}


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _day_start(day: date) -> float:
    return datetime.combine(day, time(), HELSINKI).timestamp()


def _day_noon(day: date) -> float:
    return datetime.combine(day, time(12), HELSINKI).timestamp()


def day_of(ts: float) -> date:
    return datetime.fromtimestamp(ts, HELSINKI).date()


def _rid(event: Any) -> str:
    return str(event.relationship_id)


# ------------------------------------------------------------------------------ appliers
Applier = Callable[[Cursor, str, Any], None]
APPLIERS: dict[type, Applier] = {}


def applies(*types: type) -> Callable[[Applier], Applier]:
    def mark(fn: Applier) -> Applier:
        for tp in types:
            APPLIERS[tp] = fn
        return fn

    return mark


@functools.cache
def _referral_upsert(p: str, names: tuple[str, ...]) -> str:
    """The statement that sets ``names`` of a referral (made once per prefix and set of names)."""
    return (
        f"INSERT INTO {p}_referral (referral_id, {', '.join(names)}) VALUES (?{', ?' * len(names)}) "
        f"ON CONFLICT (referral_id) DO UPDATE SET {', '.join(f'{n} = excluded.{n}' for n in names)}"
    )


def _referral_set(cur: Cursor, p: str, referral_id: Any, **columns: Any) -> None:
    cur.execute(_referral_upsert(p, tuple(columns)), (str(referral_id), *columns.values()))


@applies(it.ReferralReceived)
def _received(cur: Cursor, p: str, e: it.ReferralReceived) -> None:
    _referral_set(
        cur, p, e.referral_id, client=e.client_id, team=e.team, received_at=_ts(e.occurred_at),
        # a source of a kind added since v1 (prolonged unemployment) counts as itself
        channel=e.channel, source=e.source.further_kind or e.source.kind, urgent=int(e.urgent),
    )
    cur.executemany(
        f"INSERT INTO {p}_referral_concern (referral_id, concern) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(str(e.referral_id), c) for c in sorted(set(e.concerns))],
    )


@applies(it.ReferralScreened)
def _screened(cur: Cursor, p: str, e: it.ReferralScreened) -> None:
    _referral_set(
        cur, p, e.referral_id, screened_at=_ts(e.occurred_at), outcome=e.outcome,
        redirected_to=e.redirected_to, motivation=e.motivation,
    )


@applies(it.UrgentNeedAssessed)
def _urgent(cur: Cursor, p: str, e: it.UrgentNeedAssessed) -> None:
    _referral_set(cur, p, e.referral_id, urgent_assessed_at=_ts(e.occurred_at))


@applies(it.SupportNeedTriaged)
def _triaged(cur: Cursor, p: str, e: it.SupportNeedTriaged) -> None:
    _referral_set(cur, p, e.referral_id, triaged_at=_ts(e.occurred_at), quadrant=e.quadrant)


@applies(it.ReferralRouted)
def _routed(cur: Cursor, p: str, e: it.ReferralRouted) -> None:
    _referral_set(
        cur, p, e.referral_id, routed_at=_ts(e.occurred_at), routed_role=e.required_role, routed_team=e.team
    )


@applies(it.RepeatReferralsFlagged)
def _flagged(cur: Cursor, p: str, e: it.RepeatReferralsFlagged) -> None:
    cur.execute(
        f"INSERT INTO {p}_repeat_flag (referral_id, at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (str(e.referral_id), _ts(e.occurred_at)),
    )


@applies(it.RosterWorkerSet)
def _worker_set(cur: Cursor, p: str, e: it.RosterWorkerSet) -> None:
    cur.execute(
        f"INSERT INTO {p}_worker (worker_id, role, team, capacity, active) VALUES (?, ?, ?, ?, 1) "
        "ON CONFLICT (worker_id) DO UPDATE SET role = excluded.role, team = excluded.team, "
        "capacity = excluded.capacity, active = 1",
        (e.worker_id, e.role, e.team, e.capacity),
    )


@applies(it.RosterWorkerRemoved)
def _worker_removed(cur: Cursor, p: str, e: it.RosterWorkerRemoved) -> None:
    cur.execute(f"UPDATE {p}_worker SET active = 0 WHERE worker_id = ?", (e.worker_id,))


def _close_interval(cur: Cursor, p: str, table: str, rid: str, at: float) -> None:
    cur.execute(f"UPDATE {p}_{table} SET to_at = ? WHERE relationship_id = ? AND to_at IS NULL AND from_at <= ?", (at, rid, at))


@functools.cache
def _interval_insert(p: str, table: str, names: tuple[str, ...]) -> str:
    return (
        f"INSERT INTO {p}_{table} (relationship_id, {', '.join(names)}, from_at) "
        f"VALUES (?, {', '.join('?' * len(names))}, ?)"
    )


def _next_interval(cur: Cursor, p: str, table: str, e: Any, **values: Any) -> None:
    """The relationship's current interval in ``table`` ends where the event's begins."""
    at, rid = _ts(e.occurred_at), _rid(e)
    _close_interval(cur, p, table, rid, at)
    cur.execute(_interval_insert(p, table, tuple(values)), (rid, *values.values(), at))


@applies(cf.RelationshipOpened)
def _opened(cur: Cursor, p: str, e: cf.RelationshipOpened) -> None:
    at = _ts(e.occurred_at)
    cur.execute(
        f"INSERT INTO {p}_relationship (relationship_id, client, referral_id, opened_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (relationship_id) DO NOTHING",
        (_rid(e), e.client_id, str(e.referral_id), at),
    )
    cur.execute(f"INSERT INTO {p}_spell (relationship_id, started_at) VALUES (?, ?)", (_rid(e), at))
    if e.special_support_suspected:  # SHL 42 § applies to a suspected need until it is determined
        _next_interval(cur, p, "support", e, special=1)


@applies(cf.ReferralAttached)
def _attached(cur: Cursor, p: str, e: cf.ReferralAttached) -> None:
    if e.special_support_suspected:  # suspected again, whatever was determined before
        _next_interval(cur, p, "support", e, special=1)


@applies(cf.RelationshipReopened)
def _reopened(cur: Cursor, p: str, e: cf.RelationshipReopened) -> None:
    at, rid = _ts(e.occurred_at), _rid(e)
    cur.execute(f"INSERT INTO {p}_spell (relationship_id, started_at) VALUES (?, ?)", (rid, at))
    if e.anew:  # as casefile keeps it: the nature is determined again, the old plans are history
        _close_interval(cur, p, "nature", rid, at)
        cur.execute(
            f"UPDATE {p}_plan SET superseded_at = ? WHERE relationship_id = ? AND superseded_at IS NULL", (at, rid)
        )


@applies(cf.RelationshipEnded)
def _ended(cur: Cursor, p: str, e: cf.RelationshipEnded) -> None:
    at, rid = _ts(e.occurred_at), _rid(e)
    cur.execute(
        f"UPDATE {p}_spell SET ended_at = ?, end_reason = ? WHERE relationship_id = ? AND ended_at IS NULL",
        (at, e.reason, rid),
    )
    # the own worker and support stay as casefile keeps them: a reopened relationship has them
    # again (counting looks only at open spells); its nature and plans do not (see _reopened)
    cur.execute(
        f"INSERT INTO {p}_ending (relationship_id, client, reason, at, formed) VALUES (?, ?, ?, ?, ?)",
        (rid, e.client_id, e.reason, at, int(e.relationship_formed)),
    )


@applies(cf.RelationshipClosed)
def _closed(cur: Cursor, p: str, e: cf.RelationshipClosed) -> None:
    cur.execute(
        f"INSERT INTO {p}_closing (relationship_id, reason, at) VALUES (?, ?, ?)", (_rid(e), e.reason, _ts(e.occurred_at))
    )


@applies(cf.OwnWorkerNamed)
def _own_worker(cur: Cursor, p: str, e: cf.OwnWorkerNamed) -> None:
    _next_interval(cur, p, "assignment", e, worker_id=e.worker_id, role=e.role, team=e.team, work_pair_id=e.work_pair_id)
    cur.execute(f"UPDATE {p}_relationship SET team = ? WHERE relationship_id = ?", (e.team, _rid(e)))


@applies(cf.RelationshipNatureDetermined)
def _nature(cur: Cursor, p: str, e: cf.RelationshipNatureDetermined) -> None:
    _next_interval(cur, p, "nature", e, nature=e.nature)


@applies(cf.SpecialSupportNeedDetermined)
def _support(cur: Cursor, p: str, e: cf.SpecialSupportNeedDetermined) -> None:
    _next_interval(cur, p, "support", e, special=int(e.special_support))


@applies(cf.AssessmentStarted)
def _assessment_started(cur: Cursor, p: str, e: cf.AssessmentStarted) -> None:
    cur.execute(f"INSERT INTO {p}_assessment (relationship_id, started_at) VALUES (?, ?)", (_rid(e), _ts(e.occurred_at)))


@applies(cf.AssessmentCompleted)
def _assessment_completed(cur: Cursor, p: str, e: cf.AssessmentCompleted) -> None:
    at, rid = _ts(e.occurred_at), _rid(e)
    cur.execute(f"DELETE FROM {p}_assessment WHERE relationship_id = ? AND completed_at IS NULL", (rid,))
    cur.execute(
        f"INSERT INTO {p}_assessment (relationship_id, started_at, completed_at) VALUES (?, ?, ?)",
        (rid, _ts(e.started_at), at),
    )


@applies(cf.PlanUpdated)
def _plan(cur: Cursor, p: str, e: cf.PlanUpdated) -> None:
    at, rid = _ts(e.occurred_at), _rid(e)
    cur.execute(
        f"UPDATE {p}_plan SET superseded_at = ? WHERE relationship_id = ? AND kind = ? AND superseded_at IS NULL",
        (at, rid, e.kind),
    )
    cur.execute(
        f"INSERT INTO {p}_plan (relationship_id, kind, version, made_at, next_review, offered, chosen) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        # the options of kinds added since v1 count as the others do
        (rid, e.kind, e.version, at, e.next_review.isoformat(), ",".join(sorted({*e.offered, *e.further_offered})),
         e.chosen_option or e.further_chosen_option),
    )


@applies(cf.MeetingHeld, cf.MeetingMissed)
def _meeting(cur: Cursor, p: str, e: cf.MeetingHeld | cf.MeetingMissed) -> None:
    outcome = "held" if isinstance(e, cf.MeetingHeld) else "missed"
    cur.execute(
        f"INSERT INTO {p}_meeting (meeting_id, relationship_id, outcome, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (meeting_id) DO UPDATE SET outcome = excluded.outcome, at = excluded.at",
        (str(e.meeting_id), _rid(e), outcome, _ts(e.occurred_at)),
    )


@applies(cf.WorkActivityStarted, cf.WorkActivityEnded)
def _work_activity(cur: Cursor, p: str, e: cf.WorkActivityStarted | cf.WorkActivityEnded) -> None:
    step, reason = ("started", None) if isinstance(e, cf.WorkActivityStarted) else ("ended", e.reason)
    cur.execute(
        f"INSERT INTO {p}_work_activity (relationship_id, step, reason, at) VALUES (?, ?, ?, ?)",
        (_rid(e), step, reason, _ts(e.occurred_at)),
    )


@applies(cf.MeasurementRecorded)
def _measurement(cur: Cursor, p: str, e: cf.MeasurementRecorded) -> None:
    cur.execute(
        f"INSERT INTO {p}_measurement (relationship_id, instrument, total, at) VALUES (?, ?, ?, ?)",
        (_rid(e), e.instrument, sum(e.scores.values()), _ts(e.occurred_at)),
    )


@applies(fu.ClientDisappeared)
def _disappeared(cur: Cursor, p: str, e: fu.ClientDisappeared) -> None:
    rid = _rid(e)
    cur.execute(
        f"INSERT INTO {p}_disappearance (relationship_id, from_at) SELECT ?, ? WHERE NOT EXISTS "
        f"(SELECT 1 FROM {p}_disappearance WHERE relationship_id = ? AND to_at IS NULL)",
        (rid, _ts(e.occurred_at), rid),
    )


@applies(fu.ClientReached)
def _reached(cur: Cursor, p: str, e: fu.ClientReached) -> None:
    _close_interval(cur, p, "disappearance", _rid(e), _ts(e.occurred_at))


@applies(fu.ContactAttemptRecorded)
def _attempt(cur: Cursor, p: str, e: fu.ContactAttemptRecorded) -> None:
    cur.execute(
        f"INSERT INTO {p}_attempt (relationship_id, outcome, at) VALUES (?, ?, ?)",
        (_rid(e), e.outcome, _day_noon(e.attempted_on)),
    )


@applies(fu.EndProposed)
def _end_proposed(cur: Cursor, p: str, e: fu.EndProposed) -> None:
    cur.execute(f"INSERT INTO {p}_end_proposal (relationship_id, at) VALUES (?, ?)", (_rid(e), _ts(e.occurred_at)))


@applies(fu.CheckInCompleted)
def _check_in(cur: Cursor, p: str, e: fu.CheckInCompleted) -> None:
    cur.execute(
        f"INSERT INTO {p}_check_in (relationship_id, outcome, at) VALUES (?, ?, ?)",
        (_rid(e), e.outcome, _ts(e.occurred_at)),
    )


def apply_events(cur: Cursor, prefix: str, events: Iterable[Any]) -> None:
    for event in events:
        applier = APPLIERS.get(type(event))
        if applier is not None:
            applier(cur, prefix, event)


#: the tables whose rows an applier looks up by relationship (an interval closed, a spell ended,
#: a plan superseded, an assessment replaced): the only indexes a model being built needs
APPLIER_LOOKUPS = frozenset({"spell", "assignment", "nature", "support", "assessment", "plan", "disappearance"})


def _indexes(prefix: str, *, appliers_only: bool = False) -> list[tuple[str, str]]:
    named = [
        (f"{prefix}_{name}_by_rel", f"{prefix}_{name} ({index})")
        for name, (_c, index) in TABLES.items()
        if index and (not appliers_only or name in APPLIER_LOOKUPS)
    ]
    if appliers_only:
        return named
    return [
        *named,
        (f"{prefix}_referral_received", f"{prefix}_referral (received_at)"),
        (f"{prefix}_referral_client", f"{prefix}_referral (client, received_at)"),
        (f"{prefix}_ending_at", f"{prefix}_ending (at)"),
        (f"{prefix}_meeting_at", f"{prefix}_meeting (at)"),
    ]


def create_indexes(cur: Cursor, prefix: str, *, appliers_only: bool = False) -> None:
    """``appliers_only``: only the indexes the appliers look rows up by (a model being rebuilt:
    the queries' indexes are made once, at the swap, which names every index anew anyway)."""
    for name, on in _indexes(prefix, appliers_only=appliers_only):
        cur.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")


def drop_indexes(cur: Cursor, prefix: str) -> None:
    for name, _on in _indexes(prefix):
        cur.execute(f"DROP INDEX IF EXISTS {name}")


def create_tables(cur: Cursor, prefix: str, *, appliers_only: bool = False) -> None:
    for name, (columns, _index) in TABLES.items():
        cur.execute(f"CREATE TABLE IF NOT EXISTS {prefix}_{name} ({columns})")
    create_indexes(cur, prefix, appliers_only=appliers_only)


def drop_tables(cur: Cursor, prefix: str) -> None:
    drop_indexes(cur, prefix)
    for name in TABLES:
        cur.execute(f"DROP TABLE IF EXISTS {prefix}_{name}")


# --------------------------------------------------------------------------------- period
class Period(msgspec.Struct):
    team: str | None
    first: date
    last: date

    #: the period's first moment, and the first moment after it (stocks are counted just before)
    start: float = 0.0
    end: float = 0.0

    def __post_init__(self) -> None:
        self.start = _day_start(self.first)
        self.end = _day_start(self.last + timedelta(days=1))

    def within(self, ts: float | None) -> bool:
        return ts is not None and self.start <= ts < self.end


def period_of(q: IndicatorsQuery, latest: date | None, today: date) -> Period:
    """The query's period; without dates, the 365 days up to the later of today and the latest
    business day seen (so a demo whose clock ran ahead is still covered)."""
    last = q.period_to or max(today, latest or today)
    # the period's end is the day after it, its default start 364 days before: on the
    # calendar's edges that arithmetic overflows (it was answered unavailable)
    if last == date.max or (q.period_from is None and last < date.min + timedelta(days=364)):
        raise RuleBroken(
            "`period_to` must lie within the calendar, a day before its end (and, without `period_from`, a year after "
            "its start)", "period_to", "invalid_value",
        )
    first = q.period_from or (last - timedelta(days=364))
    if last < first:
        raise RuleBroken("the period ends before it starts", "period_to", "period_reversed")
    if (last - first).days > MAX_PERIOD_DAYS:
        raise RuleBroken("a period is at most ten years", "period_from", "period_too_long")
    unknown = [n for n in q.names if n not in INDICATORS]
    if unknown:
        raise RuleBroken("no indicator has this name", "names", "unknown_indicator")
    return Period(q.team, first, last)


# ---------------------------------------------------------------------------------- facts
class Facts:
    """What the query needs from the tables, read in one transaction, joined in memory."""

    def __init__(self, cur: Cursor, prefix: str, period: Period) -> None:
        self.cur, self.p, self.period = cur, prefix, period
        end = period.end
        rows = cur.execute(
            f"SELECT r.relationship_id, r.client, r.referral_id, r.team, f.routed_team, f.team, f.motivation, f.quadrant "
            f"FROM {prefix}_relationship r LEFT JOIN {prefix}_referral f ON f.referral_id = r.referral_id"
        ).fetchall()
        #: relationship id → (client, referral id, team, motivation, quadrant)
        self.relationships: dict[str, tuple[str, str, str | None, str | None, str | None]] = {
            r[0]: (r[1], r[2], r[3] or r[4] or r[5], r[6], r[7]) for r in rows
        }
        self.open_at_end = {
            r[0] for r in cur.execute(
                f"SELECT relationship_id FROM {prefix}_spell WHERE started_at < ? AND (ended_at IS NULL OR ended_at >= ?)",
                (end, end),
            ).fetchall()
        }
        self.assignment = {r[0]: r[1:] for r in self._at_end("assignment", "worker_id, role, team, work_pair_id")}
        self.nature = {r[0]: r[1] for r in self._at_end("nature", "nature")}
        self.support = {r[0]: bool(r[1]) for r in self._at_end("support", "special")}
        self.workers = {r[0]: r[1:] for r in cur.execute(f"SELECT worker_id, role, team, capacity, active FROM {prefix}_worker").fetchall()}

    def _at_end(self, table: str, columns: str) -> list[Any]:
        end = self.period.end
        return self.cur.execute(
            f"SELECT relationship_id, {columns} FROM {self.p}_{table} WHERE from_at < ? AND (to_at IS NULL OR to_at >= ?)",
            (end, end),
        ).fetchall()

    def team_of(self, rid: str, at_end: bool = True) -> str | None:
        if at_end and rid in self.assignment:
            return self.assignment[rid][2]
        known = self.relationships.get(rid)
        return known[2] if known else None

    def mine(self, rid: str, at_end: bool = False) -> bool:
        if self.period.team is None:
            return True
        if not at_end:
            return rid in self.team_relationships
        return self.team_of(rid, at_end) == self.period.team

    @functools.cached_property
    def team_relationships(self) -> frozenset[str]:
        """The team's relationships (by their latest own worker's team, else the routing's): whose
        flows the team counts."""
        return frozenset(rid for rid, known in self.relationships.items() if known[2] == self.period.team)

    def active(self) -> list[str]:
        return sorted(rid for rid in self.open_at_end if self.mine(rid, at_end=True))

    def flows(self, table: str, columns: str, at: str = "at") -> list[Any]:
        """Rows of a relationship's flow table that happened within the period, for the team."""
        rows = self.cur.execute(
            f"SELECT relationship_id, {columns} FROM {self.p}_{table} WHERE {at} >= ? AND {at} < ?",
            (self.period.start, self.period.end),
        ).fetchall()
        return [r for r in rows if self.mine(r[0])]

    @functools.cached_property
    def activation_plans(self) -> list[Any]:
        """Activation plans made within the period (four indicators count them)."""
        return [r for r in self.flows("plan", "kind, version, offered, chosen", at="made_at") if r[1] == "activation_plan"]

    def referrals(self, step_column: str, columns: str) -> list[Any]:
        """Referrals whose step happened within the period, for the team (routed team, else the
        team named at receipt)."""
        rows = self.cur.execute(
            f"SELECT COALESCE(routed_team, team), {columns} FROM {self.p}_referral WHERE {step_column} >= ? AND {step_column} < ?",
            (self.period.start, self.period.end),
        ).fetchall()
        return [r[1:] for r in rows if self.period.team is None or r[0] == self.period.team]


# ------------------------------------------------------------------------------- counting
def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q * 100) - 1]


def _cells(
    name: str, counts: Counter[tuple[str, ...]], *, values: dict[tuple[str, ...], list[float]] | None = None,
    capacity: dict[tuple[str, ...], int] | None = None, keys: Iterable[tuple[str, ...]] = (), total: int | None = None,
) -> Indicator:
    spec = INDICATORS[name]
    cells = []
    given = list(dict.fromkeys(keys))  # the catalogue's order of a dimension's values, first
    for key in [*given, *sorted(set(counts) - set(given))]:
        measured = (values or {}).get(key) or []
        cells.append(
            IndicatorCell(
                key=dict(zip(spec.dimensions, key, strict=True)),
                count=counts.get(key, 0),
                median=round(statistics.median(measured), 2) if measured else None,
                p90=round(_percentile(measured, 0.9), 2) if measured else None,
                capacity=(capacity or {}).get(key),
            )
        )
    if spec.partition:
        total = sum(counts.values())
    return Indicator(
        name=name, dimensions=list(spec.dimensions), unit=spec.unit, cells=cells, total=total, measure=spec.measure
    )


def _single(name: str, count: int, values: list[float] | None = None) -> Indicator:
    return _cells(name, Counter({(): count}), values={(): values} if values else None, keys=[()])


COUNTERS: dict[str, Callable[[Facts], Indicator]] = {}


def counts(name: str) -> Callable[[Callable[[Facts], Indicator]], Callable[[Facts], Indicator]]:
    assert name in INDICATORS, name

    def mark(fn: Callable[[Facts], Indicator]) -> Callable[[Facts], Indicator]:
        COUNTERS[name] = fn
        return fn

    return mark


NATURES = ("temporary", "recurring", "continuous", "not_determined")


@counts("active_by_nature")
def _active_by_nature(f: Facts) -> Indicator:
    c = Counter((f.nature.get(rid, "not_determined"),) for rid in f.active())
    return _cells("active_by_nature", c, keys=[(n,) for n in NATURES])


@counts("active_by_own_worker")
def _active_by_own_worker(f: Facts) -> Indicator:
    c = Counter(("named" if rid in f.assignment else "not_named",) for rid in f.active())
    return _cells("active_by_own_worker", c, keys=[("named",), ("not_named",)])


def _roster(f: Facts) -> list[tuple[str, str, str, int]]:
    return [
        (wid, role, team, cap) for wid, (role, team, cap, active) in sorted(f.workers.items())
        if active and (f.period.team is None or team == f.period.team)
    ]


@counts("caseload_by_group")
def _caseload_by_group(f: Facts) -> Indicator:
    c = Counter((f.assignment[rid][1],) for rid in f.active() if rid in f.assignment)
    capacity: Counter[tuple[str, ...]] = Counter()
    for _wid, role, _team, cap in _roster(f):
        capacity[(role,)] += cap
    return _cells("caseload_by_group", c, capacity=dict(capacity), keys=capacity)


@counts("caseload_by_worker")
def _caseload_by_worker(f: Facts) -> Indicator:
    c = Counter((f.assignment[rid][0],) for rid in f.active() if rid in f.assignment)
    capacity = {(wid,): cap for wid, _role, _team, cap in _roster(f)}
    return _cells("caseload_by_worker", c, capacity=capacity, keys=capacity)


@counts("special_support_without_social_worker")
def _special_support_without_social_worker(f: Facts) -> Indicator:
    def uncovered(rid: str) -> bool:
        if not f.support.get(rid) or rid not in f.assignment:
            return False
        _worker, role, _team, pair = f.assignment[rid]
        pair_role = f.workers.get(pair, (None,))[0] if pair else None
        return role != "social_worker" and pair_role != "social_worker"

    return _single("special_support_without_social_worker", sum(1 for rid in f.active() if uncovered(rid)))


@counts("screening_outcomes")
def _screening_outcomes(f: Facts) -> Indicator:
    return _cells("screening_outcomes", Counter((o,) for (o,) in f.referrals("screened_at", "outcome")))


@counts("redirected_to")
def _redirected_to(f: Facts) -> Indicator:
    rows = f.referrals("screened_at", "outcome, redirected_to")
    return _cells("redirected_to", Counter((t or "unknown",) for o, t in rows if o == "redirected"))


@counts("repeat_referral_flags")
def _repeat_referral_flags(f: Facts) -> Indicator:
    rows = f.cur.execute(
        f"SELECT COALESCE(r.routed_team, r.team) FROM {f.p}_repeat_flag g LEFT JOIN {f.p}_referral r "
        "ON r.referral_id = g.referral_id WHERE g.at >= ? AND g.at < ?",
        (f.period.start, f.period.end),
    ).fetchall()
    return _single("repeat_referral_flags", sum(1 for (team,) in rows if f.period.team in (None, team)))


@counts("urgent_needs")
def _urgent_needs(f: Facts) -> Indicator:
    c: Counter[tuple[str, ...]] = Counter()
    hours: dict[tuple[str, ...], list[float]] = defaultdict(list)
    rows = f.referrals("received_at", "received_at, urgent_assessed_at, urgent, outcome")
    for received, assessed, urgent, outcome in rows:
        if not (urgent or outcome == "urgent_need" or assessed is not None):
            continue
        key = ("yes",) if assessed is not None else ("no",)
        c[key] += 1
        if assessed is not None:
            hours[key].append((assessed - received) / 3600)
    return _cells("urgent_needs", c, values=hours, keys=[("yes",), ("no",)])


@counts("waiting")
def _waiting(f: Facts) -> Indicator:
    c: Counter[tuple[str, ...]] = Counter()
    days: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for step in ("screened", "triaged", "routed"):
        for received, at in f.referrals(f"{step}_at", f"received_at, {step}_at"):
            if received is not None:
                c[(step,)] += 1
                days[(step,)].append((at - received) / DAY_S)
    first_held = f.cur.execute(
        f"SELECT m.relationship_id, MIN(m.at), MIN(f.received_at) FROM {f.p}_meeting m "
        f"JOIN {f.p}_relationship r ON r.relationship_id = m.relationship_id "
        f"JOIN {f.p}_referral f ON f.referral_id = r.referral_id "
        "WHERE m.outcome = 'held' GROUP BY m.relationship_id HAVING MIN(m.at) >= ? AND MIN(m.at) < ?",
        (f.period.start, f.period.end),
    ).fetchall()
    for rid, held, received in first_held:
        if received is not None and f.mine(rid):
            c[("first_meeting_held",)] += 1
            days[("first_meeting_held",)].append((held - received) / DAY_S)
    steps = ("screened", "triaged", "routed", "first_meeting_held")
    return _cells("waiting", c, values=days, keys=[(s,) for s in steps])


@counts("assessments")
def _assessments(f: Facts) -> Indicator:
    started = f.flows("assessment", "started_at", at="started_at")
    completed = f.flows("assessment", "completed_at", at="completed_at")
    return _cells("assessments", Counter({("started",): len(started), ("completed",): len(completed)}))


@counts("assessment_duration")
def _assessment_duration(f: Facts) -> Indicator:
    c: Counter[tuple[str, ...]] = Counter()
    days: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for _rid, started, completed in f.flows("assessment", "started_at, completed_at", at="completed_at"):
        took = (completed - started) / DAY_S
        key = ("on_time",) if took <= ASSESSMENT_DEADLINE_DAYS else ("late",)
        c[key] += 1
        days[key].append(took)
    return _cells("assessment_duration", c, values=days, keys=[("on_time",), ("late",)])


@counts("meetings")
def _meetings(f: Facts) -> Indicator:
    return _cells("meetings", Counter((o,) for _r, o in f.flows("meeting", "outcome")), keys=[("held",), ("missed",)])


@counts("meetings_by_motivation")
def _meetings_by_motivation(f: Facts) -> Indicator:
    c = Counter(
        ((f.relationships.get(rid, (None,) * 5)[3] or "not_assessed"), o) for rid, o in f.flows("meeting", "outcome")
    )
    return _cells("meetings_by_motivation", c)


@counts("plans_past_review")
def _plans_past_review(f: Facts) -> Indicator:
    end = f.period.end
    rows = f.cur.execute(
        f"SELECT relationship_id, kind FROM {f.p}_plan WHERE made_at < ? AND (superseded_at IS NULL OR superseded_at >= ?) "
        "AND next_review < ?",
        (end, end, f.period.last.isoformat()),
    ).fetchall()
    active = set(f.active())
    past = Counter((kind,) for rid, kind in rows if rid in active)
    return _cells("plans_past_review", past)




@counts("activation_plans")
def _activation_plans_made(f: Facts) -> Indicator:
    return _single("activation_plans", len(f.activation_plans))


@counts("activation_options_offered")
def _activation_options_offered(f: Facts) -> Indicator:
    c = Counter((o,) for r in f.activation_plans for o in (r[3] or "").split(",") if o)
    return _cells("activation_options_offered", c)


@counts("activation_options_chosen")
def _activation_options_chosen(f: Facts) -> Indicator:
    return _cells("activation_options_chosen", Counter((r[4] or "none",) for r in f.activation_plans))


@counts("activation_fewer_than_two_options")
def _activation_fewer_than_two(f: Facts) -> Indicator:
    first = [r for r in f.activation_plans if r[2] == 1]
    return _single("activation_fewer_than_two_options", sum(1 for r in first if len([o for o in (r[3] or "").split(",") if o]) < 2))


@counts("work_activity")
def _work_activity_periods(f: Facts) -> Indicator:
    c = Counter((step,) for _r, step in f.flows("work_activity", "step"))
    return _cells("work_activity", c, keys=[("started",), ("ended",)])


@counts("work_activity_outcomes")
def _work_activity_outcomes(f: Facts) -> Indicator:
    c = Counter((reason,) for _r, step, reason in f.flows("work_activity", "step, reason") if step == "ended")
    return _cells("work_activity_outcomes", c)


@counts("disappeared")
def _disappeared_at_end(f: Facts) -> Indicator:
    open_now = {r[0]: r[1] for r in f._at_end("disappearance", "from_at")}
    since = [(f.period.end - open_now[rid]) / DAY_S for rid in f.active() if rid in open_now]
    return _single("disappeared", len(since), since)


@counts("contact_attempts")
def _contact_attempts(f: Facts) -> Indicator:
    return _cells("contact_attempts", Counter((o,) for _r, o in f.flows("attempt", "outcome")))


@counts("end_proposals")
def _end_proposals(f: Facts) -> Indicator:
    return _single("end_proposals", len(f.flows("end_proposal", "at")))


@counts("ends_by_reason")
def _ends_by_reason(f: Facts) -> Indicator:
    """Ended client relationships: an end that formed no relationship counts apart (seed 000)."""
    return _cells("ends_by_reason", Counter((reason,) for _r, reason, formed in f.flows("ending", "reason, formed") if formed))


@counts("ends_not_formed")
def _ends_not_formed(f: Facts) -> Indicator:
    return _single("ends_not_formed", sum(1 for _r, formed in f.flows("ending", "formed") if not formed))


@counts("closes_by_reason")
def _closes_by_reason(f: Facts) -> Indicator:
    return _cells("closes_by_reason", Counter((reason,) for _r, reason in f.flows("closing", "reason")))


@counts("check_ins")
def _check_ins(f: Facts) -> Indicator:
    return _cells("check_ins", Counter((o,) for _r, o in f.flows("check_in", "outcome")))


@counts("returning")
def _returning(f: Facts) -> Indicator:
    """Relationships ended within the period whose client came back (a new referral received,
    or the relationship reopened) within 6 or 12 months of the end."""
    longest = max(RETURN_WINDOWS.values()) * DAY_S
    # the first time each ended relationship's client came back after the end: a referral
    # received, or the relationship reopened
    rows = f.cur.execute(
        f"SELECT e.relationship_id, e.at, MIN(f.received_at) FROM {f.p}_ending e "
        f"LEFT JOIN {f.p}_referral f ON f.client = e.client AND f.received_at > e.at AND f.received_at >= ? "
        f"AND f.received_at < ? WHERE e.at >= ? AND e.at < ? GROUP BY e.relationship_id, e.at",
        (f.period.start, f.period.end + longest, f.period.start, f.period.end),
    ).fetchall()
    reopened = f.cur.execute(
        f"SELECT e.relationship_id, e.at, MIN(s.started_at) FROM {f.p}_ending e "
        f"JOIN {f.p}_spell s ON s.relationship_id = e.relationship_id AND s.started_at > e.at "
        "WHERE e.at >= ? AND e.at < ? GROUP BY e.relationship_id, e.at",
        (f.period.start, f.period.end),
    ).fetchall()
    back = {(rid, ended): came for rid, ended, came in rows}
    for rid, ended, came in reopened:
        known = back.get((rid, ended))
        back[(rid, ended)] = came if known is None else min(known, came)
    c: Counter[tuple[str, ...]] = Counter()
    for (rid, ended), came in back.items():
        if not f.mine(rid):
            continue
        for name, days in RETURN_WINDOWS.items():
            if came is not None and came <= ended + days * DAY_S:
                c[(name,)] += 1
    return _cells("returning", c, keys=[(w,) for w in RETURN_WINDOWS])


@counts("score_change")
def _score_change(f: Facts) -> Indicator:
    """Relationships measured at least twice up to the period's end, with a measurement within
    the period: the change in the summed score from the first to the latest."""
    rows = f.cur.execute(
        f"SELECT relationship_id, instrument, total, at FROM {f.p}_measurement WHERE at < ? ORDER BY at",
        (f.period.end,),
    ).fetchall()
    series: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for rid, instrument, total, at in rows:
        series[(rid, instrument)].append((at, total))
    c: Counter[tuple[str, ...]] = Counter()
    change: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for (rid, instrument), points in sorted(series.items()):
        if len(points) >= 2 and f.period.within(points[-1][0]) and f.mine(rid):
            c[(instrument,)] += 1
            change[(instrument,)].append(float(points[-1][1] - points[0][1]))
    return _cells("score_change", c, values=change)


@counts("referral_channels")
def _referral_channels(f: Facts) -> Indicator:
    return _cells("referral_channels", Counter((ch,) for (ch,) in f.referrals("received_at", "channel")))


@counts("referral_sources")
def _referral_sources(f: Facts) -> Indicator:
    return _cells("referral_sources", Counter((s,) for (s,) in f.referrals("received_at", "source")))


@counts("concerns")
def _concerns(f: Facts) -> Indicator:
    ids = {rid for (rid,) in f.referrals("received_at", "referral_id")}
    rows = f.cur.execute(f"SELECT referral_id, concern FROM {f.p}_referral_concern").fetchall()
    return _cells("concerns", Counter((concern,) for rid, concern in rows if rid in ids))


@counts("equal_treatment")
def _equal_treatment(f: Facts) -> Indicator:
    """Referrals triaged within the period, per team and quadrant: how each one's path went."""
    triaged = f.referrals("triaged_at", "referral_id, quadrant, routed_role, COALESCE(routed_team, team)")
    by_referral: dict[str, str] = {known[1]: rid for rid, known in f.relationships.items()}
    assessed = {r for (r,) in f.cur.execute(f"SELECT relationship_id FROM {f.p}_assessment WHERE completed_at IS NOT NULL").fetchall()}
    planned = {r for (r,) in f.cur.execute(f"SELECT relationship_id FROM {f.p}_plan").fetchall()}
    ended = {r for (r,) in f.cur.execute(f"SELECT relationship_id FROM {f.p}_ending").fetchall()}
    c: Counter[tuple[str, ...]] = Counter()
    for referral_id, quadrant, role, team in triaged:
        key = (team or "unassigned", quadrant or "unknown")
        if role in ("social_worker", "social_counsellor"):
            c[(*key, f"routed_{role}")] += 1
        rid = by_referral.get(referral_id)
        for path, reached in (("assessed", assessed), ("planned", planned), ("ended", ended)):
            if rid is not None and rid in reached:
                c[(*key, path)] += 1
    return _cells("equal_treatment", c)


assert set(COUNTERS) == set(INDICATORS), set(INDICATORS) - set(COUNTERS)


def count(cur: Cursor, prefix: str, period: Period, names: Sequence[str] = ()) -> list[Indicator]:
    facts = Facts(cur, prefix, period)
    return [COUNTERS[name](facts) for name in (names or INDICATORS)]


# ------------------------------------------------------------------------------ the view
class IndicatorsView:
    """The read model: reporting's side of its three consumers, and the indicators query."""

    def __init__(
        self, db: SqlDatabase, today: Callable[[], date] | None = None, *, reader: SqlDatabase | None = None
    ) -> None:
        """``db`` is the consumers' connection (and the rebuild's); ``reader``, a connection of the
        queries' own, so that a long query (a team's year) never holds up the consumers: SQLite in
        WAL mode and PostgreSQL both let one connection read its snapshot while another writes."""
        self.db = db
        self.reader = reader or db
        self.today = today or (lambda: datetime.now(HELSINKI).date())
        with db.transaction() as cur:
            if cur.position(SCHEMA_RECORD) != SCHEMA_VERSION:
                # tables of another shape (or the single table of reporting's first version):
                # start again from each stream's first event
                cur.execute("DROP TABLE IF EXISTS open_relationships")
                drop_tables(cur, LIVE)
                for stream in SOURCES:
                    cur.set_position(stream, 0)
                    cur.set_position(source_name(stream), 0)
                cur.set_position(SCHEMA_RECORD, SCHEMA_VERSION)
            create_tables(cur, LIVE)

    # ------------------------------------------------------------ consumer
    def position(self, stream: str) -> int:
        with self.db.reading() as cur:
            return cur.position(stream)

    def cursor(self, stream: str) -> tuple[int, int | None]:
        with self.db.reading() as cur:
            return cur.position(stream), cur.recorded(source_name(stream))

    def positions(self) -> dict[str, int]:
        """Where the facts stand in each source stream."""
        with self.db.reading() as cur:
            return {s: cur.position(s) for s in SOURCES}

    def prepare(self, deliveries: list[Delivery[Any]]) -> Prepared:
        prepared = Prepared(deliveries)
        for d in deliveries:
            for name in ("relationship_id", "referral_id"):
                value = getattr(d.event, name, None)
                if value is not None:
                    prepared.log_ids[d.seq] = {name: str(value)}
                    break
        return prepared

    def commit(self, prepared: Prepared, stream: str, last_seq: int, source_position: int | None = None) -> None:
        failed = {f.delivery.seq for f in prepared.failures}
        with self.db.transaction() as cur:
            if source_position is None:  # by sequence alone: deliveries that name no position
                position = cur.position(stream, for_update=True)
                if last_seq <= position:
                    return  # all of it is in already (a rebuild swapped in past this batch)
                fresh = (d.event for d in prepared.deliveries if d.seq > position and d.seq not in failed)
            else:
                done = cur.position(source_name(stream), for_update=True)
                if source_position <= done:  # all of it is in already (a rebuild swapped in past this batch)
                    if last_seq > cur.position(stream):
                        cur.set_position(stream, last_seq)  # what was handled: poison, events applied already
                    return
                fresh = (
                    d.event for d in prepared.deliveries
                    if (d.source_position or 0) > done and d.seq not in failed
                )
                cur.set_position(source_name(stream), source_position)
            apply_events(cur, LIVE, fresh)
            cur.set_position(stream, last_seq)

    # --------------------------------------------------------------- query
    def indicators(self, q: IndicatorsQuery) -> IndicatorsReply:
        with self.reader.reading() as cur:
            period = period_of(q, self._latest_day(cur), self.today())
            positions = {s: cur.position(s) for s in SOURCES}
            answered = count(cur, LIVE, period, q.names)
        return IndicatorsReply(
            team=q.team, period_from=period.first, period_to=period.last, indicators=answered, positions=positions
        )

    def open_relationships(self, q: OpenRelationshipsQuery) -> OpenRelationshipsReply:
        """Open relationships now, per own worker (the first question reporting answered)."""
        with self.reader.reading() as cur:
            today = self.today()
            facts = Facts(cur, LIVE, Period(q.team, today, today))
            position = cur.position("CASEFILE")
        active = facts.active()
        workers = Counter(facts.assignment[rid][:3] for rid in active if rid in facts.assignment)
        return OpenRelationshipsReply(
            total=len(active),
            without_own_worker=sum(1 for rid in active if rid not in facts.assignment),
            workers=[
                WorkerCaseload(worker_id=w, role=role, team=team, open_relationships=n)
                for (w, role, team), n in sorted(workers.items())
            ],
            position=position,
        )

    def teams(self) -> list[str]:
        """The teams the facts name: routed to, named at receipt, or an own worker's."""
        with self.reader.reading() as cur:
            rows = cur.execute(
                f"SELECT routed_team FROM {LIVE}_referral UNION SELECT team FROM {LIVE}_referral "
                f"UNION SELECT team FROM {LIVE}_assignment UNION SELECT team FROM {LIVE}_worker"
            ).fetchall()
        return sorted({r[0] for r in rows if r[0]})

    def latest_day(self) -> date | None:
        with self.reader.reading() as cur:
            return self._latest_day(cur)

    def first_day(self) -> date | None:
        with self.reader.reading() as cur:
            row = cur.execute(f"SELECT MIN(received_at) FROM {LIVE}_referral").fetchone()
        return day_of(row[0]) if row and row[0] is not None else None

    def _latest_day(self, cur: Cursor) -> date | None:
        latest: float | None = None
        for table, column in (("referral", "received_at"), ("spell", "started_at"), ("spell", "ended_at"), ("meeting", "at"), ("check_in", "at"), ("attempt", "at"), ("end_proposal", "at")):
            row = cur.execute(f"SELECT MAX({column}) FROM {LIVE}_{table}").fetchone()
            if row and row[0] is not None:
                latest = row[0] if latest is None else max(latest, row[0])
        return day_of(latest) if latest is not None else None

    # ------------------------------------------------------------- rebuild
    def close(self) -> None:
        self.db.close()
        if self.reader is not self.db:
            self.reader.close()

    def reset_next(self) -> None:
        with self.db.transaction() as cur:
            drop_tables(cur, NEXT)
            # filled row by row, it keeps only the indexes its appliers need: the swap makes
            # the queries' ones (each index's cost paid once, over the whole table)
            create_tables(cur, NEXT, appliers_only=True)
            for stream in SOURCES:
                cur.set_position(f"{NEXT}:{stream}", 0)
                cur.set_position(f"{NEXT}:{source_name(stream)}", 0)

    def next_position(self, stream: str) -> int:
        return self.next_cursor(stream)[0]

    def next_cursor(self, stream: str) -> tuple[int, int]:
        """Where the model being rebuilt stands in ``stream``: (sequence, source position)."""
        with self.db.reading() as cur:
            return cur.position(f"{NEXT}:{stream}"), cur.position(f"{NEXT}:{source_name(stream)}")

    def apply_next(self, stream: str, events: list[Any], last_seq: int, source_position: int = 0) -> None:
        with self.db.transaction() as cur:
            apply_events(cur, NEXT, events)
            cur.set_position(f"{NEXT}:{stream}", last_seq)
            if source_position:
                cur.set_position(f"{NEXT}:{source_name(stream)}", source_position)

    def try_swap(self) -> dict[str, tuple[int, int]]:
        """Swap the new model in if it has reached the live one on every stream; otherwise
        return, per stream it lags on, (built, live)."""
        with self.db.transaction() as cur:
            behind = {}
            for stream in SOURCES:
                live, built = cur.position(stream, for_update=True), cur.position(f"{NEXT}:{stream}")
                if built < live:
                    behind[stream] = (built, live)
            if behind:
                return behind
            drop_tables(cur, LIVE)
            for name in TABLES:
                cur.execute(f"ALTER TABLE {NEXT}_{name} RENAME TO {LIVE}_{name}")
            # an index keeps its name when its table is renamed: give the live ones theirs
            drop_indexes(cur, NEXT)
            create_indexes(cur, LIVE)
            for stream in SOURCES:
                for name in (stream, source_name(stream)):
                    cur.set_position(name, cur.position(f"{NEXT}:{name}"))
                    cur.execute("DELETE FROM view_tracking WHERE name = ?", (f"{NEXT}:{name}",))
            return {}
