"""Intake's aggregates: a referral from reception to routing, and the roster it is routed on.

Public methods check a rule and raise a named error; the private ``@event`` methods only
assign, because they run again on every replay.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from polku.domain import Envelope, PolkuAggregate, RuleBroken


# ------------------------------------------------------------------------------ named errors
class IntakeRuleBroken(RuleBroken):
    """A command that breaks one of intake's rules; ``code`` says which."""


class ReferralIsClosed(IntakeRuleBroken):
    code = "referral_closed"


class AlreadyScreened(IntakeRuleBroken):
    code = "already_screened"


class NotUrgent(IntakeRuleBroken):
    code = "not_urgent"


class NotReadyForTriage(IntakeRuleBroken):
    code = "not_ready_for_triage"


class AlreadyTriaged(IntakeRuleBroken):
    code = "already_triaged"


class RoutingBeforeTriage(IntakeRuleBroken):
    code = "routing_before_triage"


class AlreadyRouted(IntakeRuleBroken):
    code = "already_routed"


class OverrideByTeamLeadOnly(IntakeRuleBroken):
    code = "override_by_team_lead_only"


class UnknownWorker(IntakeRuleBroken):
    code = "unknown_worker"


class WorkerAbsent(IntakeRuleBroken):
    code = "worker_absent"


class WrongRoleForReferral(IntakeRuleBroken):
    code = "wrong_role_for_referral"


class NoWorkerAvailable(IntakeRuleBroken):
    code = "no_worker_available"


class TeamNeedsSocialWorker(IntakeRuleBroken):
    code = "team_needs_social_worker"


#: Screening outcomes that close the referral at intake: service guidance answered it, or it
#: was not taken on.
CLOSING_OUTCOMES = ("advice_given", "redirected", "not_reached", "declines")
#: Screening outcomes that leave the client without help: a run of them is flagged.
UNREACHED = ("not_reached", "declines")
STAGE_AFTER_SCREENING = {"urgent_need": "urgent", "assessment_needed": "awaiting_triage"}
#: Stages in which a referral waits in its team's distribution queue.
QUEUE_STAGES = ("unscreened", "urgent", "awaiting_triage", "awaiting_routing")
#: The roles that may take a referral whose triage requires a role. SHL 42 § is a floor, not a
#: ceiling: a social worker may take a social counsellor's client, when a team lead overrides
#: the roster's pick with a reason (competence, continuity, ...); never the other way round.
QUALIFIED_ROLES = {"social_counsellor": ("social_counsellor", "social_worker")}


# ---------------------------------------------------------------------------------- referral
class Referral(PolkuAggregate):
    """A matter that came up about a client (SHL 34-35 §): a referral or a notification.

    Stages: unscreened → (urgent →) awaiting_triage → awaiting_routing → routed; or closed by
    screening. The summary is free text about a client: it stays in intake's store (encrypted
    at rest, like every stored event) and never travels in an event on the bus.
    """

    @event("Received")
    def __init__(
        self,
        *,
        env: Envelope,
        channel: str,
        source_kind: str,
        authority: str | None,
        concerns: list[str],
        urgent: bool,
        consent: bool,
        summary: str,
        contact_details: str = "",
        team: str | None = None,
        repeat_of: list[UUID] | None = None,
        open_relationship_id: UUID | None = None,
        further_source_kind: str | None = None,
    ) -> None:
        self.client_id = env.client_id
        self.channel = channel
        self.source_kind = source_kind
        self.authority = authority
        #: a source of a kind added since contract v1 (prolonged unemployment), refining ``source_kind``
        self.further_source_kind = further_source_kind
        self.concerns = list(concerns)
        self.urgent = urgent
        self.consent = consent
        self.summary = summary
        self.contact_details = contact_details
        self.received_at = env.occurred_at
        self.actor = env.actor
        self.team = team
        self.repeat_of = list(repeat_of or [])
        self.open_relationship_id = open_relationship_id
        self.stage = "unscreened"
        self.outcome: str | None = None
        self.special_support_suspected: bool | None = None
        self.required_role: str | None = None
        self.worker_id: str | None = None
        self.flagged = False

    @classmethod
    def receive(cls, referral_id: UUID, env: Envelope, **fields: Any) -> Referral:
        return cls._create(cls.Received, id=referral_id, env=env, **fields)

    def _refuse_if_closed(self) -> None:
        if self.stage == "closed":
            raise ReferralIsClosed("the referral is closed", "referral_id")

    # ---------------------------------------------------------------- screening
    def screen(self, env: Envelope, *, outcome: str, redirected_to: str | None, motivation: str) -> None:
        self._refuse_if_closed()
        if self.stage != "unscreened":
            raise AlreadyScreened("the referral has been screened already", "referral_id")
        self._screened(env, outcome=outcome, redirected_to=redirected_to, motivation=motivation)
        if outcome in CLOSING_OUTCOMES:
            self._closed(env, reason=outcome)

    @event("Screened")
    def _screened(self, env: Envelope, *, outcome: str, redirected_to: str | None, motivation: str) -> None:
        self.outcome = outcome
        self.stage = STAGE_AFTER_SCREENING.get(outcome, self.stage)

    @event("Closed")
    def _closed(self, env: Envelope, *, reason: str) -> None:
        self.stage = "closed"

    def flag_repeats(self, env: Envelope, *, earlier_outcomes: list[str | None], after: int) -> None:
        """Repeated referrals about the client, the latest ``after`` of them screened (this one
        last) all unreached or declined: the team must see it. ``earlier_outcomes``: the client's
        earlier referrals' screening outcomes in the order received (None: not screened)."""
        screened = [o for o in earlier_outcomes if o is not None] + [self.outcome]
        latest = screened[-after:]
        if len(latest) >= after and all(o in UNREACHED for o in latest) and not self.flagged:
            self._repeats_flagged(
                env, referrals=len(earlier_outcomes) + 1, unreached_or_declined=sum(o in UNREACHED for o in screened)
            )

    @event("RepeatsFlagged")
    def _repeats_flagged(self, env: Envelope, *, referrals: int, unreached_or_declined: int) -> None:
        self.flagged = True

    # ------------------------------------------------------------ urgent need
    def assess_urgent_need(self, env: Envelope, *, actions: list[str]) -> None:
        self._refuse_if_closed()
        if self.stage != "urgent":
            raise NotUrgent("only a referral screened as an urgent need gets an urgent assessment", "referral_id")
        self._urgent_need_assessed(env, actions=sorted(set(actions)))

    @event("UrgentNeedAssessed")
    def _urgent_need_assessed(self, env: Envelope, *, actions: list[str]) -> None:
        self.stage = "awaiting_triage"

    # ------------------------------------------------------------------ triage
    def triage(self, env: Envelope, *, quadrant: str, special_support_suspected: bool, required_role: str) -> None:
        self._refuse_if_closed()
        if self.stage in ("awaiting_routing", "routed"):
            raise AlreadyTriaged("the referral has been triaged already", "referral_id")
        if self.stage != "awaiting_triage":
            raise NotReadyForTriage(
                "triage comes after screening found a service need assessment needed, or after an urgent assessment",
                "referral_id",
            )
        self._triaged(
            env, quadrant=quadrant, special_support_suspected=special_support_suspected, required_role=required_role
        )

    @event("SupportNeedTriaged")
    def _triaged(self, env: Envelope, *, quadrant: str, special_support_suspected: bool, required_role: str) -> None:
        self.special_support_suspected = special_support_suspected
        self.required_role = required_role
        self.stage = "awaiting_routing"

    # ----------------------------------------------------------------- routing
    @property
    def role_needed(self) -> str:
        """SHL 42 §: a suspected special support need is a social worker's."""
        return "social_worker" if self.special_support_suspected else str(self.required_role)

    def check_routable(self) -> None:
        self._refuse_if_closed()
        if self.stage == "routed":
            raise AlreadyRouted("the referral has been routed already", "referral_id")
        if self.stage != "awaiting_routing":
            raise RoutingBeforeTriage("a referral is routed only after triage", "referral_id")

    def route(self, env: Envelope, *, worker_id: str, team: str, override_reason: str | None) -> None:
        self.check_routable()
        self._routed(
            env, worker_id=worker_id, team=team, required_role=self.required_role,
            special_support_suspected=bool(self.special_support_suspected), override_reason=override_reason,
        )

    @event("Routed")
    def _routed(
        self, env: Envelope, *, worker_id: str, team: str, required_role: str | None, special_support_suspected: bool,
        override_reason: str | None,
    ) -> None:
        self.worker_id = worker_id
        self.team = team
        self.stage = "routed"


# --------------------------------------------------------------------------- identity record
class ClientIdentity(PolkuAggregate):
    """The protected identity record: the client's identity code, sealed (encrypted with a key
    of its own), under the pseudonymous client id. Nothing else in Polku holds the code."""

    @event("Recorded")
    def __init__(self, *, env: Envelope, sealed_code: str) -> None:
        self.client_id = env.client_id
        self.sealed_code = sealed_code

    @staticmethod
    def id_for(client_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"https://polku.invalid/intake/client/{client_id}")

    @classmethod
    def record(cls, env: Envelope, sealed_code: str) -> ClientIdentity:
        return cls._create(cls.Recorded, id=cls.id_for(str(env.client_id)), env=env, sealed_code=sealed_code)


# ------------------------------------------------------------------------------- usage log
class IntakeRecordView(PolkuAggregate):
    """One read of intake's records (the Client Data Act's usage log): a referral's status and
    history (``referral_status``), or a team's queue (``distribution_queue``); why, whether the
    reader was let in, whether the referral was found, how many items were shown. Who read and
    when are the envelope's; the client, when one was read, is the envelope's too."""

    @event("Viewed")
    def __init__(
        self, *, env: Envelope, part: str, purpose: str, granted: bool, found: bool, referral_id: UUID | None,
        team: str | None, items: int,
    ) -> None:
        self.client_id = env.client_id
        self.actor = env.actor
        self.part = part
        self.purpose = purpose
        self.granted = granted
        self.found = found
        self.referral_id = referral_id
        self.team = team
        self.items = items

    @classmethod
    def record(
        cls, view_id: UUID, env: Envelope, *, client_id: str | None, part: str, purpose: str, granted: bool,
        found: bool = True, referral_id: UUID | None = None, team: str | None = None, items: int = 0,
    ) -> IntakeRecordView:
        return cls._create(
            cls.Viewed, id=view_id, env=env.about(client_id), part=part, purpose=purpose, granted=granted,
            found=found, referral_id=referral_id, team=team, items=items,
        )


# ------------------------------------------------------------------------------------ roster
ROSTER_ID = uuid5(NAMESPACE_URL, "https://polku.invalid/intake/roster")


class Roster(PolkuAggregate):
    """The workers distribution routes to: role, team, capacity and absences (ids, no names)."""

    @event("Seeded")
    def __init__(self, *, env: Envelope, workers: list[dict[str, Any]]) -> None:
        self.workers: dict[str, dict[str, Any]] = {w["worker_id"]: dict(w) for w in workers}
        self.absences: dict[str, list[tuple[str, str]]] = {}

    @classmethod
    def seed(cls, env: Envelope, workers: list[dict[str, Any]]) -> Roster:
        return cls._create(cls.Seeded, id=ROSTER_ID, env=env, workers=workers)

    def _check_social_workers_kept(self, worker_id: str, special_support_clients: int, new_role: str | None) -> None:
        current = self.workers.get(worker_id)
        if current and current["role"] == "social_worker" and new_role != "social_worker" and special_support_clients:
            raise TeamNeedsSocialWorker(
                f"the worker is the social worker of {special_support_clients} special-support clients: "
                "route them to another social worker first",
                "worker_id",
            )

    def set_worker(
        self, env: Envelope, *, worker_id: str, role: str, team: str, capacity: int, special_support_clients: int
    ) -> None:
        self._check_social_workers_kept(worker_id, special_support_clients, role)
        self._worker_set(env, worker_id=worker_id, role=role, team=team, capacity=capacity)

    @event("WorkerSet")
    def _worker_set(self, env: Envelope, *, worker_id: str, role: str, team: str, capacity: int) -> None:
        self.workers[worker_id] = {"worker_id": worker_id, "role": role, "team": team, "capacity": capacity}

    def _known(self, worker_id: str) -> None:
        if worker_id not in self.workers:
            raise UnknownWorker("the worker is not on the roster", "worker_id")

    def remove_worker(self, env: Envelope, *, worker_id: str, special_support_clients: int) -> None:
        self._known(worker_id)
        self._check_social_workers_kept(worker_id, special_support_clients, None)
        self._worker_removed(env, worker_id=worker_id)

    @event("WorkerRemoved")
    def _worker_removed(self, env: Envelope, *, worker_id: str) -> None:
        self.workers.pop(worker_id, None)

    def record_absence(self, env: Envelope, *, worker_id: str, starts: date, ends: date) -> None:
        self._known(worker_id)
        self._absence_recorded(env, worker_id=worker_id, starts=starts.isoformat(), ends=ends.isoformat())

    @event("AbsenceRecorded")
    def _absence_recorded(self, env: Envelope, *, worker_id: str, starts: str, ends: str) -> None:
        self.absences.setdefault(worker_id, []).append((starts, ends))

    def is_absent(self, worker_id: str, day: date) -> bool:
        iso = day.isoformat()
        return any(starts <= iso <= ends for starts, ends in self.absences.get(worker_id, []))

    def override(self, *, worker_id: str, by_role: str, role: str, day: date) -> dict[str, Any]:
        """A team lead's choice instead of the roster's pick: a present worker of ``role``, or
        of a role above it (:data:`QUALIFIED_ROLES`: a social worker for a social counsellor's
        client). The roster's own pick keeps to ``role``."""
        if by_role != "team_lead":
            raise OverrideByTeamLeadOnly("only a team lead overrides the roster's pick", "worker_id")
        worker = self.workers.get(worker_id)
        if worker is None:
            raise UnknownWorker("the worker is not on the roster", "worker_id")
        if self.is_absent(worker_id, day):
            raise WorkerAbsent("the worker is absent on the day of routing", "worker_id")
        qualified = QUALIFIED_ROLES.get(role, (role,))
        if worker["role"] not in qualified:
            raise WrongRoleForReferral(f"this referral needs a {' or a '.join(qualified)}", "worker_id")
        return worker

    def pick(self, *, team: str | None, role: str, day: date, load: dict[str, int]) -> dict[str, Any]:
        """The present worker of ``role`` (in ``team``, when given) with the lowest load for
        their capacity; ties go in roster order."""
        candidates = [
            w for w in self.workers.values()
            if w["role"] == role and (team is None or w["team"] == team) and not self.is_absent(w["worker_id"], day)
        ]
        if not candidates:
            raise NoWorkerAvailable(
                f"nobody with the role {role} is present on the roster" + (f" of {team}" if team else ""),
                "referral_id",
            )
        return min(candidates, key=lambda w: (load.get(w["worker_id"], 0) + 1) / w["capacity"])
