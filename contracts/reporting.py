"""Reporting's published language: the queries it serves, their replies, and the indicator
snapshots it publishes on the REPORTING stream.

An indicator is a small table: its cells are counts of clients, relationships, referrals or
meetings, keyed by the values of its dimensions (nature, professional group, reason...), and
where a duration or a change is meant, each cell also carries the median and the 90th
percentile of what it counts. ``INDICATORS`` is the catalogue: each indicator's dimensions,
what it counts, and whether its cells partition its total (each thing counted in exactly one
cell), which small-cell suppression needs to know.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from contracts.base import Code, Event, Query, event_union
from contracts.vocabulary import WorkerRole


class WorkerCaseload(msgspec.Struct, frozen=True, kw_only=True):
    worker_id: Code
    role: WorkerRole | None
    team: Code | None
    open_relationships: int


class OpenRelationshipsReply(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    total: int
    without_own_worker: int
    workers: list[WorkerCaseload]
    position: int


class OpenRelationshipsQuery(Query, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.reporting.open_relationships``: open relationships per own worker."""

    reply: ClassVar[type] = OpenRelationshipsReply

    team: Code | None = None


# --------------------------------------------------------------------------- indicators
#: What an indicator's cells count.
Unit = Literal["clients", "relationships", "referrals", "meetings", "plans", "periods", "decisions", "attempts", "check_ins", "workers"]
#: What a cell's median and 90th percentile measure, where the indicator has them.
Measure = Literal["hours", "days", "points"]


class IndicatorSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One indicator of the catalogue."""

    name: str
    dimensions: tuple[str, ...]
    unit: Unit
    #: the cells are disjoint and add up to the total (what suppression protects against)
    partition: bool
    #: "stock": counted at the period's last day; "flow": what happened within the period
    kind: Literal["stock", "flow"]
    measure: Measure | None = None
    #: a per-worker indicator: answered to the query, never published on the stream
    per_worker: bool = False


def _spec(name: str, dims: tuple[str, ...], unit: Unit, partition: bool, kind: Literal["stock", "flow"], measure: Measure | None = None, per_worker: bool = False) -> IndicatorSpec:
    return IndicatorSpec(name=name, dimensions=dims, unit=unit, partition=partition, kind=kind, measure=measure, per_worker=per_worker)


#: The indicators, in the order the report shows them (DOMAIN.md, "What leaders could not see").
INDICATORS: dict[str, IndicatorSpec] = {
    s.name: s
    for s in (
        # Active client relationships at the period's end: by nature (temporary, recurring,
        # continuous, not_determined) and with or without a named own worker (named, not_named).
        _spec("active_by_nature", ("nature",), "relationships", True, "stock"),
        _spec("active_by_own_worker", ("own_worker",), "relationships", True, "stock"),
        # Caseload: open relationships per professional group (role) and per worker; each
        # cell's ``capacity`` is the roster's capacity for that group or worker.
        _spec("caseload_by_group", ("role",), "relationships", True, "stock"),
        _spec("caseload_by_worker", ("worker",), "relationships", True, "stock", per_worker=True),
        # Special-support clients whose own worker is not a social worker and who have no social
        # worker as work pair: must be zero (one cell, no dimension).
        _spec("special_support_without_social_worker", (), "relationships", True, "stock"),
        # Service guidance: referrals screened within the period by outcome; redirected ones by
        # where to; repeat-referral flags raised.
        _spec("screening_outcomes", ("outcome",), "referrals", True, "flow"),
        _spec("redirected_to", ("target",), "referrals", True, "flow"),
        _spec("repeat_referral_flags", (), "referrals", True, "flow"),
        # Urgent needs: referrals marked urgent, and hours from receipt to the urgent assessment.
        _spec("urgent_needs", ("assessed",), "referrals", True, "flow", "hours"),
        # Waiting, in days from receipt, for referrals that reached the step within the period:
        # step = screened, triaged, routed, first_meeting_held.
        _spec("waiting", ("step",), "referrals", False, "flow", "days"),
        # Assessments started and completed within the period (step = started, completed), the
        # completed ones' days from start, and completed within the deadline or late.
        _spec("assessments", ("step",), "relationships", False, "flow"),
        _spec("assessment_duration", ("deadline",), "relationships", True, "flow", "days"),
        # Meetings held and missed within the period; and by the motivation recorded at screening.
        _spec("meetings", ("outcome",), "meetings", True, "flow"),
        _spec("meetings_by_motivation", ("motivation", "outcome"), "meetings", True, "flow"),
        # Current plans past their review date at the period's end, by kind.
        _spec("plans_past_review", ("kind",), "plans", True, "stock"),
        # Activation plans made within the period: the options offered (each option counted
        # once per plan; the options added since v1 with v1's), the option chosen, and first
        # activation plans offering fewer than two.
        _spec("activation_plans", (), "plans", True, "flow"),
        _spec("activation_options_offered", ("option",), "plans", False, "flow"),
        _spec("activation_options_chosen", ("option",), "plans", True, "flow"),
        _spec("activation_fewer_than_two_options", (), "plans", True, "flow"),
        # Work activity periods: started and ended within the period, the ended by outcome.
        _spec("work_activity", ("step",), "periods", False, "flow"),
        _spec("work_activity_outcomes", ("reason",), "periods", True, "flow"),
        # Followup: clients disappeared at the period's end (days since, as the measure);
        # contact attempts within the period by outcome; end proposals.
        _spec("disappeared", (), "clients", True, "stock", "days"),
        _spec("contact_attempts", ("outcome",), "attempts", True, "flow"),
        _spec("end_proposals", (), "relationships", True, "flow"),
        # Ends within the period by reason; apart from them, the ends by a finding of no service
        # need before a client relationship was formed (seed 000: none is formed); one-month
        # check-ins by outcome; ended relationships closed for good within the period, by why
        # (check_in_no_need, check_in_unreached, need_in_other_relationship, no_check_in_due,
        # not_formed); relationships ended within the period (formed or not) whose client came
        # back within 6 or 12 months (window = 6m, 12m).
        _spec("ends_by_reason", ("reason",), "relationships", True, "flow"),
        _spec("ends_not_formed", (), "relationships", True, "flow"),
        _spec("check_ins", ("outcome",), "check_ins", True, "flow"),
        _spec("closes_by_reason", ("reason",), "relationships", True, "flow"),
        _spec("returning", ("window",), "clients", False, "flow"),
        # Instrument scores: relationships with two measurements or more, by instrument; the
        # measure is the change in the summed score between the first and the latest.
        _spec("score_change", ("instrument",), "relationships", True, "flow", "points"),
        # Social reporting: referrals received within the period by channel, by source (a source
        # added since v1, prolonged unemployment, counts as itself) and by concern (a referral
        # counts once for each concern it names).
        _spec("referral_channels", ("channel",), "referrals", True, "flow"),
        _spec("referral_sources", ("source",), "referrals", True, "flow"),
        _spec("concerns", ("concern",), "referrals", False, "flow"),
        # Equal treatment: referrals triaged within the period, by quadrant and how the path went
        # (routed_social_worker, routed_social_counsellor, assessed, planned, ended); in the
        # all-teams answer, also by team, so the teams stand side by side.
        _spec("equal_treatment", ("team", "quadrant", "path"), "referrals", False, "flow"),
    )
}


class IndicatorCell(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One cell: the dimensions' values and the count, or ``null`` with ``suppressed`` when the
    count is below the threshold (or must be hidden so that no such count can be derived)."""

    key: dict[str, str]
    count: int | None
    suppressed: bool = False
    median: float | None = None
    p90: float | None = None
    #: the roster's capacity for a caseload cell
    capacity: int | None = None


class Indicator(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One indicator's table. ``total`` is the sum of the cells where they partition it."""

    name: str
    dimensions: list[str]
    unit: Unit
    cells: list[IndicatorCell]
    total: int | None = None
    total_suppressed: bool = False
    measure: Measure | None = None


class IndicatorsReply(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    team: Code | None
    period_from: date
    period_to: date
    indicators: list[Indicator]
    #: the position in each source stream (INTAKE, CASEFILE, FOLLOWUP) the answer reflects
    positions: dict[str, int]


class IndicatorsQuery(Query, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.reporting.indicators``: the indicators for one team (or all) and a period.

    Stock indicators are counted at ``period_to``; flow indicators over ``period_from`` ..
    ``period_to``, both days included. Without dates: the current calendar year up to today.
    The answer is exact (for the organisation's own leaders); what leaves it, the REPORTING
    stream and ``polku report``, is suppressed."""

    reply: ClassVar[type] = IndicatorsReply

    team: Code | None = None
    period_from: date | None = None
    period_to: date | None = None
    #: the indicators to answer (all when empty)
    names: Annotated[list[str], Meta(max_length=64)] = []


# ------------------------------------------------------------------------------- events
class IndicatorSnapshotPublished(Event, kw_only=True):
    """Reporting's indicators for one team (or all teams) and one period, small cells suppressed.

    Names no client, relationship or worker. A published snapshot is never revised in place: a
    correction is a new snapshot whose ``replaces`` names the one it replaces."""

    snapshot_id: UUID
    team: Code | None
    period: Literal["day", "month"]
    period_from: date
    period_to: date
    threshold: Annotated[int, Meta(ge=2)]
    indicators: list[Indicator]
    replaces: UUID | None = None


ERROR_CODES: dict[str, str] = {
    "unknown_indicator": "no indicator has this name",
    "period_reversed": "the period ends before it starts",
    "period_too_long": "a period is at most ten years",
}


#: The union of every event declared above, and its decoder.
ReportingEvent = event_union(__name__)
reporting_decoder = msgspec.json.Decoder(ReportingEvent)
