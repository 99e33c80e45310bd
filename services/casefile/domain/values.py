"""The relationship's typed values: a plan version, a meeting, a period of rehabilitative work
activity, a decision, a measurement.

The relationship's ``@event`` methods build them from the facts an event stores (plain values:
the stored form of an event does not change with them), so the state an aggregate is replayed
to is typed, and immutable: a change is a new value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from services.casefile.domain.errors import (
    ActivationPlanIncomplete,
    ChoiceAndRefusal,
    ConsequencesNotTold,
    EvaluationOutsidePeriod,
    FamiliarisationNotBeforeStart,
    OptionNotOffered,
    TooFewOptions,
    WorkActivityDaysOutOfBounds,
    WorkActivityHoursTooFew,
    WorkActivityPeriodOutOfBounds,
)
from services.casefile.domain.policy import Policy, add_months

#: Plans that offer options and record a choice (KTTL 8 §; at a TYP, the employment plan).
ACTIVATION_KINDS = ("activation_plan", "employment_plan")


# ------------------------------------------------------------------------------------ plans
@dataclass(frozen=True)
class Measure:
    """A service or measure of a plan, and who is responsible for it."""

    text: str
    responsible: str


@dataclass(frozen=True)
class PlanContent:
    """The wording of a plan (SHL 39 §): it stays in casefile's store, never on the bus."""

    strengths: tuple[str, ...] = ()
    support_needed: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    measures: tuple[Measure, ...] = ()
    meetings: str = ""
    client_view: str = ""
    dissent: str = ""
    #: an activation plan's wording of the client's education, work history and how earlier
    #: plans went (KTTL 8 §)
    education: str = ""
    work_history: str = ""
    earlier_plans: str = ""

    def stored(self) -> dict[str, Any]:
        """The form a PlanUpdated event stores (its ``content``)."""
        return {
            "strengths": list(self.strengths),
            "support_needed": list(self.support_needed),
            "goals": list(self.goals),
            "measures": [{"text": m.text, "responsible": m.responsible} for m in self.measures],
            "meetings": self.meetings,
            "client_view": self.client_view,
            "dissent": self.dissent,
            "education": self.education,
            "work_history": self.work_history,
            "earlier_plans": self.earlier_plans,
        }

    @classmethod
    def from_stored(cls, content: Mapping[str, Any]) -> PlanContent:
        return cls(
            strengths=tuple(content.get("strengths", ())),
            support_needed=tuple(content.get("support_needed", ())),
            goals=tuple(content.get("goals", ())),
            measures=tuple(Measure(m["text"], m["responsible"]) for m in content.get("measures", ())),
            meetings=content.get("meetings", ""),
            client_view=content.get("client_view", ""),
            dissent=content.get("dissent", ""),
            education=content.get("education", ""),
            work_history=content.get("work_history", ""),
            earlier_plans=content.get("earlier_plans", ""),
        )


#: Who must have taken part in making an activation plan (KTTL 8 §: made with the unemployed
#: person and employment services; the social services' worker is the one acting).
REQUIRED_PARTICIPANTS = ("client", "employment_services")


@dataclass(frozen=True)
class ActivationRecord:
    """What an activation (employment) plan records of the client (KTTL 8 §), as codes: the
    education, the work history, how earlier plans went, who took part, and when the client was
    notified of the plan. A version records what it gives; what it leaves out, an earlier
    version of the plan recorded (:meth:`over`)."""

    education: str | None = None
    work_history: str | None = None
    earlier_plans: str | None = None
    participants: tuple[str, ...] = ()
    client_notified_on: date | None = None

    @property
    def given(self) -> bool:
        return self != ActivationRecord()

    def stored(self) -> dict[str, Any]:
        """The facts a PlanUpdated event stores (keyword arguments; an older event lacks them)."""
        return {
            "education": self.education, "work_history": self.work_history, "earlier_plans": self.earlier_plans,
            "participants": list(self.participants), "client_notified_on": self.client_notified_on,
        }

    def over(self, earlier: ActivationRecord) -> ActivationRecord:
        """This version's record, what it leaves out taken from ``earlier`` (the plan's record so far)."""
        return ActivationRecord(
            education=self.education or earlier.education,
            work_history=self.work_history or earlier.work_history,
            earlier_plans=self.earlier_plans or earlier.earlier_plans,
            participants=tuple(sorted({*earlier.participants, *self.participants})),
            client_notified_on=self.client_notified_on or earlier.client_notified_on,
        )

    def check_complete(self) -> None:
        """KTTL 8 §: the plan (with its earlier versions: this is the record so far) records the
        client's education, work history and how earlier plans went, and was made with the client
        and employment services. Raises :class:`ActivationPlanIncomplete` naming what is missing."""
        missing = [name for name in ("education", "work_history", "earlier_plans") if getattr(self, name) is None]
        missing += [f"participants: {p}" for p in REQUIRED_PARTICIPANTS if p not in self.participants]
        if missing:
            field = missing[0].split(":")[0]
            raise ActivationPlanIncomplete(
                "an activation plan records the client's education, work history and how earlier plans "
                f"went, made with the client and employment services (KTTL 8 §); missing: {', '.join(missing)}",
                field,
            )


@dataclass(frozen=True)
class PlanVersion:
    """One version of a client plan or an activation (employment) plan."""

    kind: str
    version: int
    content: PlanContent
    next_review: date
    valid_until: date | None
    client_dissents: bool
    options_offered: tuple[str, ...]
    chosen_option: str | None
    all_options_refused: bool
    occurred_at: datetime
    #: options of the kinds added since contract v1, and the chosen one when it is of those
    further_offered: tuple[str, ...] = ()
    further_chosen_option: str | None = None
    #: the plan's record of the client (KTTL 8 §) as this version leaves it (earlier versions'
    #: record, updated by what this one gave)
    record: ActivationRecord = ActivationRecord()

    @property
    def is_activation(self) -> bool:
        return self.kind in ACTIVATION_KINDS

    @property
    def all_offered(self) -> tuple[str, ...]:
        """Every option offered, of v1's kinds and of those added since."""
        return self.options_offered + self.further_offered


def check_activation_plan(
    earlier: list[PlanVersion], offered: list[str], chosen_option: str | None, all_options_refused: bool,
    consequences_told: bool, policy: Policy,
) -> None:
    """The Aava model's rules for a new version of an activation plan, after the ``earlier``
    plans: options first (at least two), then a choice of one of them, or a refusal of all.
    ``offered`` and ``chosen_option`` are of any kind (v1's options and those added since)."""
    if chosen_option and all_options_refused:
        raise ChoiceAndRefusal("record either the chosen option or the refusal", "chosen_option")
    if all_options_refused and not consequences_told:
        raise ConsequencesNotTold("tell the client the consequences of refusing every option")
    offered_before = {o for p in earlier if p.is_activation for o in p.all_offered}
    if chosen_option is not None and chosen_option not in offered_before:
        raise OptionNotOffered(
            "the chosen option must be one offered at an earlier meeting, so the client had time to reflect"
        )
    if all_options_refused and not offered_before:
        raise OptionNotOffered("a refusal follows a meeting where options were offered", "all_options_refused")
    first_offer = not offered_before and chosen_option is None and not all_options_refused
    if first_offer and len(offered) < policy.activation_min_options:
        raise TooFewOptions(f"the first activation meeting offers at least {policy.activation_min_options} options")


# ---------------------------------------------------------------------------------- meetings
@dataclass(frozen=True)
class Meeting:
    """A meeting booked with the client; ``outcome`` is ``held`` or ``missed`` once recorded."""

    meeting_id: UUID
    kind: str
    channel: str
    scheduled_for: datetime
    outcome: str | None = None

    def recorded(self, outcome: str) -> Meeting:
        return dataclasses.replace(self, outcome=outcome)


# ------------------------------------------------------------------- rehabilitative work
@dataclass(frozen=True)
class WorkActivityPeriod:
    """A period of rehabilitative work activity (KTTL); ``end_reason`` once it has ended."""

    placement_id: str
    days_per_week: int
    hours_per_day: float
    starts_on: date
    ends_on: date
    familiarisation_until: date | None
    evaluation_on: date
    end_reason: str | None = None
    #: the work activity instructor (*vastaava ohjaaja*) at the placement, by worker code
    instructor: str | None = None

    def stored(self) -> dict[str, Any]:
        """The facts a WorkActivityStarted event stores."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "end_reason"}

    def check_bounds(self, policy: Policy) -> None:
        """The bounds of a period as policy sets them (defaults as the thesis cites KTTL)."""
        if not (
            add_months(self.starts_on, policy.work_activity_min_months)
            <= self.ends_on
            <= add_months(self.starts_on, policy.work_activity_max_months)
        ):
            raise WorkActivityPeriodOutOfBounds(
                f"a period lasts {policy.work_activity_min_months}-{policy.work_activity_max_months} months"
            )
        if not policy.work_activity_min_days <= self.days_per_week <= policy.work_activity_max_days:
            raise WorkActivityDaysOutOfBounds(
                f"{policy.work_activity_min_days}-{policy.work_activity_max_days} days a week"
            )
        if self.hours_per_day < policy.work_activity_min_hours:
            raise WorkActivityHoursTooFew(f"at least {policy.work_activity_min_hours:g} hours a day")
        if self.familiarisation_until is not None and self.familiarisation_until >= self.starts_on:
            raise FamiliarisationNotBeforeStart(
                "the familiarisation period (by its own decision) comes before the period starts"
            )
        if not self.starts_on <= self.evaluation_on <= self.ends_on:
            raise EvaluationOutsidePeriod("the evaluation date falls within the period")

    def ended(self, reason: str) -> WorkActivityPeriod:
        return dataclasses.replace(self, end_reason=reason)


@dataclass(frozen=True)
class AttendanceDay:
    """One day of a period of rehabilitative work activity: attended (a realised day, KTTL) or
    absent with its reason, at which placement, and who reported it."""

    day: date
    attended: bool
    placement_id: str
    absence_reason: str | None = None
    reported_by: str | None = None


@dataclass(frozen=True)
class FamiliarisationVisit:
    """A familiarisation visit (*tutustumiskäynti*) to the place of an option offered."""

    option: str
    visited_on: date


# -------------------------------------------------------------------- decisions, measures
@dataclass(frozen=True)
class Decision:
    """A written decision (granted, partly granted or denied), and the role of the worker who
    made it."""

    decision_id: UUID
    kind: str
    granted: bool
    appealable: bool
    secures_care: bool
    maker_role: str
    outcome: str = "granted"
    client_heard: bool = False


@dataclass(frozen=True)
class Measurement:
    """An instrument's scores by item code (Kykyviisari, AVAIN, ...)."""

    instrument: str
    scores: dict[str, int]
    occurred_at: datetime
