"""Intake's use cases: plain values in, ids out.

Every command is split in two: ``decide_*`` checks the rules and returns the changed aggregates
without storing them, so that the group committer can store the commands that arrived together
in one transaction. Its read models (the distribution queue, each client's referrals, each
worker's load) are built from intake's own store when it starts, and from casefile's events.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec
from eventsourcing.persistence import IntegrityError, Recording

from contracts.commands import (
    AssessUrgentNeed,
    DistributionQueueReply,
    HistoryEntry,
    QueueItem,
    ReceiveReferral,
    RecordAbsence,
    ReferralStatusReply,
    RemoveRosterWorker,
    RouteReferral,
    ScreenReferral,
    SetRosterWorker,
    TriageSupportNeed,
    WorkerCommand,
)
from contracts.events import OwnWorkerNamed, RelationshipEnded, RelationshipOpened, RelationshipReopened
from polku.commands import CommandRefused
from polku.consumer import Delivery, Prepared
from polku.settings import RosterEntry
from polku.store import ServiceApplication
from services.intake import identity
from services.intake.domain import (
    QUEUE_STAGES,
    ROSTER_ID,
    STAGE_AFTER_SCREENING,
    ClientIdentity,
    CommandIdReused,
    Referral,
    Roster,
)
from services.intake.settings import TriageGrid, parse_triage_grid

REFERRAL_NAMESPACE = uuid5(NAMESPACE_URL, "https://polku.invalid/intake/referral")


class InvalidIdentityCode(CommandRefused):
    code = "invalid_identity_code"


class ReferralNotFound(CommandRefused):
    code = "not_found"


class InvalidGridPosition(CommandRefused):
    code = "invalid_grid_position"


@dataclass(frozen=True)
class Received:
    referral_id: UUID
    client_id: str


@dataclass(frozen=True)
class Routed:
    referral_id: UUID
    worker_id: str
    team: str
    required_role: str
    special_support_suspected: bool


@dataclass
class ReferralView:
    """What the queue and the repeat rule need of a referral (no personal data)."""

    referral_id: UUID
    client_id: str
    team: str
    urgent: bool
    received_at: datetime
    stage: str = "unscreened"
    outcome: str | None = None
    worker_id: str | None = None
    special_support: bool = False


@dataclass
class Loads:
    """Routed referrals per worker whose relationships are open (from casefile's events).

    Kept as running counts, so that routing reads a worker's load without a scan.
    """

    routed: dict[UUID, tuple[str, bool]] = field(default_factory=dict)  # referral → (worker, special)
    referral_of: dict[UUID, UUID] = field(default_factory=dict)  # relationship → referral
    ended: set[UUID] = field(default_factory=set)  # referrals whose relationship ended
    open_by_client: dict[str, UUID] = field(default_factory=dict)  # client → relationship
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # worker → open
    special: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # worker → special open

    def _count(self, referral_id: UUID, step: int) -> None:
        worker, special = self.routed[referral_id]
        self.counts[worker] += step
        if special:
            self.special[worker] += step

    def route(self, referral_id: UUID, worker_id: str, special: bool) -> None:
        """Routed to ``worker_id``, or (OwnWorkerNamed) the own worker changed."""
        counted = referral_id in self.routed and referral_id not in self.ended
        if counted:
            self._count(referral_id, -1)
        self.routed[referral_id] = (worker_id, special)
        if referral_id not in self.ended:
            self._count(referral_id, +1)

    def rename(self, referral_id: UUID, worker_id: str) -> None:
        if referral_id in self.routed:
            self.route(referral_id, worker_id, self.routed[referral_id][1])

    def end(self, referral_id: UUID) -> None:
        if referral_id not in self.ended:
            self.ended.add(referral_id)
            if referral_id in self.routed:
                self._count(referral_id, -1)

    def reopen(self, referral_id: UUID) -> None:
        if referral_id in self.ended:
            self.ended.discard(referral_id)
            if referral_id in self.routed:
                self._count(referral_id, +1)

    def load(self) -> dict[str, int]:
        return {worker: n for worker, n in self.counts.items() if n}

    def special_support_clients(self, worker_id: str) -> int:
        return self.special.get(worker_id, 0)


def referral_id_for(command_id: str) -> UUID:
    """A retried command finds the referral its first attempt created."""
    return uuid5(REFERRAL_NAMESPACE, command_id)


def _actor(command: WorkerCommand) -> dict[str, str]:
    return msgspec.to_builtins(command.actor)


class IntakeApplication(ServiceApplication):
    name = "intake"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        pseudonym_key: str,
        roster: tuple[RosterEntry, ...] = (),
        triage_grid: TriageGrid | None = None,
        default_team: str = "team-north",
        repeat_referrals_flag: int = 3,
    ) -> None:
        super().__init__(env)
        self.pseudonym_key = pseudonym_key
        self.grid = triage_grid or parse_triage_grid(None)
        self.default_team = default_team
        self.repeat_referrals_flag = repeat_referrals_flag
        self._views_lock = threading.RLock()
        self.referrals: dict[UUID, ReferralView] = {}
        self.by_client: dict[str, list[UUID]] = defaultdict(list)
        self.loads = Loads()
        self._load_views()
        if roster and ROSTER_ID not in self.repository:
            seeded = Roster.seed(
                [{"worker_id": w.worker_id, "role": w.role, "team": w.team, "capacity": w.capacity} for w in roster],
                datetime.now(UTC),
            )
            try:
                self.save(seeded)
            except IntegrityError:
                pass  # another intake process seeded it first

    # ------------------------------------------------------------ read models
    def _load_views(self) -> None:
        start = 1
        while page := self.recorder.select_notifications(start, 1000):
            for notification in page:
                self._project(self.mapper.to_domain_event(notification))
            start = page[-1].id + 1

    def _notify(self, recordings: list[Recording[Any]]) -> None:
        with self._views_lock:
            for recording in recordings:
                self._project(recording.domain_event)
        super()._notify(recordings)

    def _project(self, e: Any) -> None:
        with self._views_lock:
            if isinstance(e, Referral.Received):
                self.referrals[e.originator_id] = ReferralView(
                    e.originator_id, e.client_id, getattr(e, "team", None) or self.default_team,
                    e.urgent, e.occurred_at,
                )
                self.by_client[e.client_id].append(e.originator_id)
                return
            view = self.referrals.get(e.originator_id)
            if view is None:
                return
            if isinstance(e, Referral.Screened):
                view.outcome = e.outcome
                view.stage = STAGE_AFTER_SCREENING.get(e.outcome, view.stage)
            elif isinstance(e, Referral.Closed):
                view.stage = "closed"
            elif isinstance(e, Referral.UrgentNeedAssessed):
                view.stage = "awaiting_triage"
            elif isinstance(e, Referral.SupportNeedTriaged):
                view.stage = "awaiting_routing"
                view.special_support = e.special_support_suspected
            elif isinstance(e, Referral.Routed):
                view.stage = "routed"
                view.worker_id = e.worker_id
                view.team = e.team
                self.loads.route(e.originator_id, e.worker_id, e.special_support_suspected)

    # ---------------------------------------------------- consumer (casefile)
    def position(self, stream: str) -> int:
        # The loads live in memory: casefile's stream is replayed from its start each time
        # intake starts, so nothing is tracked.
        return 0

    def prepare(self, deliveries: list[Delivery[Any]]) -> Prepared:
        return Prepared(deliveries)

    def commit(self, prepared: Prepared, stream: str, last_seq: int) -> None:
        with self._views_lock:
            for d in prepared.deliveries:
                e = d.event
                if isinstance(e, RelationshipOpened):
                    self.loads.referral_of[e.relationship_id] = e.referral_id
                    self.loads.open_by_client[e.client_id] = e.relationship_id
                elif isinstance(e, RelationshipEnded):
                    referral_id = self.loads.referral_of.get(e.relationship_id)
                    if referral_id is not None:
                        self.loads.end(referral_id)
                    if self.loads.open_by_client.get(e.client_id) == e.relationship_id:
                        del self.loads.open_by_client[e.client_id]
                elif isinstance(e, RelationshipReopened):
                    referral_id = self.loads.referral_of.get(e.relationship_id)
                    if referral_id is not None:
                        self.loads.reopen(referral_id)
                    self.loads.open_by_client[e.client_id] = e.relationship_id
                elif isinstance(e, OwnWorkerNamed):
                    referral_id = self.loads.referral_of.get(e.relationship_id)
                    if referral_id is not None:
                        self.loads.rename(referral_id, e.worker_id)

    # --------------------------------------------------------------- reception
    def _digest(self, command: Any) -> str:
        # Keyed, so the digest of a command holding an identity code cannot be brute-forced.
        canonical = msgspec.json.encode(command, order="sorted")
        return hmac.new(self.pseudonym_key.encode(), canonical, hashlib.sha256).hexdigest()

    def _with_digest(self, command: Any, trace: dict[str, Any]) -> dict[str, Any]:
        """The trace a worker's command is stored with: its id and the digest of its body, so
        that a retry is answered and the same id on another command is refused."""
        return {**trace, "command_digest": self._digest(command)}

    def receive_referral(
        self, command: ReceiveReferral, *, command_id: str, trace: dict[str, Any]
    ) -> Received:
        """Decide and store one referral on its own (the handler commits in groups instead)."""
        received, aggregates = self.decide_referral(command, command_id=command_id, trace=trace)
        if aggregates:
            try:
                self.save(*aggregates)
            except IntegrityError:
                # The same command raced in twice: the first one stored it.
                return self._replay(received.referral_id, self._digest(command))
        return received

    def decide_referral(
        self,
        command: ReceiveReferral,
        *,
        command_id: str,
        trace: dict[str, Any],
        pending: dict[Any, Any] | None = None,
    ) -> tuple[Received, list[Referral]]:
        """The referral a command makes, not yet stored; none when the command is a retry.

        ``pending`` holds what was decided but not yet stored in the same group commit.
        """
        try:
            code = identity.validate(command.identity_code)
        except identity.InvalidIdentityCode as e:
            raise InvalidIdentityCode(str(e), "identity_code") from None
        client_id = identity.pseudonymise(code, self.pseudonym_key)
        referral_id = referral_id_for(command_id)
        digest = self._digest(command)
        if pending and referral_id in pending:
            return self._replay(referral_id, digest, pending[referral_id]), []
        if referral_id in self.repository:
            return self._replay(referral_id, digest), []
        with self._views_lock:
            earlier = list(self.by_client.get(client_id, ()))
            earlier += [a.id for a in (pending or {}).values() if isinstance(a, Referral) and a.client_id == client_id]
            open_relationship = self.loads.open_by_client.get(client_id)
        referral = Referral.receive(
            referral_id,
            client_id=client_id,
            channel=command.channel,
            source_kind=command.source.kind,
            authority=command.source.authority,
            concerns=sorted(set(command.concerns)),
            urgent=command.urgent,
            consent=command.consent,
            summary=command.summary,
            contact_details=command.contact_details,
            occurred_at=command.occurred_at or datetime.now(UTC),
            actor=msgspec.to_builtins(command.actor) if command.actor else None,
            command_digest=digest,
            trace=trace,
            team=command.team or (command.actor.team if command.actor else None) or self.default_team,
            repeat_of=earlier,
            open_relationship_id=open_relationship,
        )
        aggregates: list[Any] = [referral]
        identity_id = ClientIdentity.id_for(client_id)
        known = (pending and identity_id in pending) or identity_id in self.repository
        if not known:
            aggregates.append(ClientIdentity.record(client_id, identity.seal(code, self.pseudonym_key)))
        return Received(referral_id, client_id), aggregates

    def _replay(self, referral_id: UUID, digest: str, referral: Referral | None = None) -> Received:
        referral = referral or self.repository.get(referral_id)
        if not hmac.compare_digest(referral.command_digest, digest):
            raise CommandIdReused(
                "this Polku-Command-Id was used for a different referral; use a new id for a new command",
                "Polku-Command-Id",
            )
        return Received(referral_id, referral.client_id)

    def identity_code(self, client_id: str) -> str:
        """The identity code behind a client id, from the protected identity record."""
        record: ClientIdentity = self.repository.get(ClientIdentity.id_for(client_id))
        return identity.unseal(record.sealed_code, self.pseudonym_key)

    def get_referral(self, referral_id: UUID) -> Referral:
        return self.repository.get(referral_id)

    def _referral(self, referral_id: UUID, pending: dict[Any, Any] | None) -> Referral:
        if pending and referral_id in pending:
            return pending[referral_id]
        try:
            return self.repository.get(referral_id)
        except Exception:  # noqa: BLE001 - the library's AggregateNotFoundError
            raise ReferralNotFound("no referral has this id", "referral_id") from None

    # --------------------------------------------------------------- screening
    def decide_screening(
        self, command: ScreenReferral, *, trace: dict[str, Any], pending: dict[Any, Any] | None = None
    ) -> tuple[str, list[Referral]]:
        referral = self._referral(command.referral_id, pending)
        trace = self._with_digest(command, trace)
        if (stage := referral.answered(trace)) is not None:
            return stage, []
        now = command.occurred_at or datetime.now(UTC)
        referral.screen(
            outcome=command.outcome, redirected_to=command.redirected_to, motivation=command.motivation,
            occurred_at=now, actor=_actor(command), trace=trace,
        )
        if command.outcome in ("not_reached", "declines"):
            self._maybe_flag(referral, now, trace, pending)
        return referral.stage, [referral]

    def _maybe_flag(self, referral: Referral, now: datetime, trace: dict[str, Any], pending: dict[Any, Any] | None) -> None:
        """Repeated referrals, the latest ``repeat_referrals_flag`` of them all unreached or
        declined: the team must see it."""
        with self._views_lock:
            ids = [rid for rid in self.by_client.get(referral.client_id, ()) if rid != referral.id]
            outcomes = [
                (pending[rid].outcome if pending and rid in pending else self.referrals[rid].outcome)
                for rid in ids if rid in self.referrals
            ]
        screened = [o for o in outcomes if o is not None] + [referral.outcome]
        latest = screened[-self.repeat_referrals_flag:]
        if len(latest) >= self.repeat_referrals_flag and all(o in ("not_reached", "declines") for o in latest):
            referral.flag_repeats(
                referrals=len(ids) + 1,
                unreached_or_declined=sum(o in ("not_reached", "declines") for o in screened),
                occurred_at=now, trace=trace,
            )

    def decide_urgent_assessment(
        self, command: AssessUrgentNeed, *, trace: dict[str, Any], pending: dict[Any, Any] | None = None
    ) -> tuple[str, list[Referral]]:
        referral = self._referral(command.referral_id, pending)
        trace = self._with_digest(command, trace)
        if (stage := referral.answered(trace)) is not None:
            return stage, []
        referral.assess_urgent_need(
            actions=list(command.actions), occurred_at=command.occurred_at or datetime.now(UTC),
            actor=_actor(command), trace=trace,
        )
        return referral.stage, [referral]

    # ------------------------------------------------------------------ triage
    def decide_triage(
        self, command: TriageSupportNeed, *, trace: dict[str, Any], pending: dict[Any, Any] | None = None
    ) -> tuple[str, list[Referral]]:
        referral = self._referral(command.referral_id, pending)
        trace = self._with_digest(command, trace)
        if (stage := referral.answered(trace)) is not None:
            return stage, []
        quadrant = self.grid.place(dict(command.positions))
        if quadrant is None:
            axes = "; ".join(f"{axis}: {', '.join(values)}" for axis, values in self.grid.axes.items())
            raise InvalidGridPosition(f"positions must give one value for each axis ({axes})", "positions")
        referral.triage(
            quadrant=quadrant.code, special_support_suspected=quadrant.special_support_suspected,
            required_role=quadrant.role, occurred_at=command.occurred_at or datetime.now(UTC),
            actor=_actor(command), trace=trace,
        )
        return referral.stage, [referral]

    # ----------------------------------------------------------------- routing
    def _roster(self, pending: dict[Any, Any] | None) -> Roster:
        if pending and ROSTER_ID in pending:
            return pending[ROSTER_ID]
        return self.repository.get(ROSTER_ID)

    def decide_routing(
        self, command: RouteReferral, *, trace: dict[str, Any], pending: dict[Any, Any] | None = None
    ) -> tuple[Routed, list[Referral]]:
        referral = self._referral(command.referral_id, pending)
        trace = self._with_digest(command, trace)
        if referral.answered(trace) is not None:
            return self._routed(referral), []
        referral.check_routable()
        roster = self._roster(pending)
        now = command.occurred_at or datetime.now(UTC)
        today = now.date()
        required = "social_worker" if referral.special_support_suspected else str(referral.required_role)
        with self._views_lock:
            load = self.loads.load()
        for a in (pending or {}).values():  # routed in this group, not yet projected
            if isinstance(a, Referral) and a.stage == "routed" and a.worker_id and a.id not in self.loads.routed:
                load[a.worker_id] = load.get(a.worker_id, 0) + 1
        if command.worker_id is not None:
            worker = roster.override(
                worker_id=command.worker_id, by_role=command.actor.role, role=required, day=today
            )
        else:
            with self._views_lock:
                team = self.referrals[referral.id].team if referral.id in self.referrals else referral.team
            worker = roster.pick(team=team, role=required, day=today, load=load)
        referral.route(
            worker_id=worker["worker_id"], team=worker["team"], override_reason=command.override_reason,
            occurred_at=now, actor=_actor(command), trace=trace,
        )
        return self._routed(referral), [referral]

    @staticmethod
    def _routed(referral: Referral) -> Routed:
        return Routed(
            referral.id, str(referral.worker_id), str(referral.team),
            "social_worker" if referral.special_support_suspected else str(referral.required_role),
            bool(referral.special_support_suspected),
        )

    # ------------------------------------------------------------------ roster
    def _roster_change(
        self, command: Any, trace: dict[str, Any], pending: dict[Any, Any] | None, change: Any
    ) -> tuple[str, list[Roster]]:
        """A roster command: answered from the roster when it is a retry; otherwise ``change``
        gets the roster and the count of special-support clients the worker holds."""
        roster = self._roster(pending)
        trace = self._with_digest(command, trace)
        if roster.carried_out(trace):
            return command.worker_id, []
        with self._views_lock:
            special = self.loads.special_support_clients(command.worker_id)
        change(roster, special, dict(
            occurred_at=command.occurred_at or datetime.now(UTC), actor=_actor(command), trace=trace,
        ))
        return command.worker_id, [roster]

    def decide_set_worker(
        self, command: SetRosterWorker, *, trace: dict[str, Any], pending: dict[Any, Any] | None = None
    ) -> tuple[str, list[Roster]]:
        return self._roster_change(command, trace, pending, lambda roster, special, meta: roster.set_worker(
            worker_id=command.worker_id, role=command.role, team=command.team, capacity=command.capacity,
            special_support_clients=special, **meta,
        ))

    def decide_remove_worker(
        self, command: RemoveRosterWorker, *, trace: dict[str, Any], pending: dict[Any, Any] | None = None
    ) -> tuple[str, list[Roster]]:
        return self._roster_change(command, trace, pending, lambda roster, special, meta: roster.remove_worker(
            worker_id=command.worker_id, special_support_clients=special, **meta,
        ))

    def decide_absence(
        self, command: RecordAbsence, *, trace: dict[str, Any], pending: dict[Any, Any] | None = None
    ) -> tuple[str, list[Roster]]:
        return self._roster_change(command, trace, pending, lambda roster, _special, meta: roster.record_absence(
            worker_id=command.worker_id, starts=command.starts, ends=command.ends, **meta,
        ))

    # ----------------------------------------------------------------- queries
    def referral_status(self, referral_id: UUID) -> ReferralStatusReply:
        referral = self._referral(referral_id, None)
        history = []
        for e in self.events.get(referral_id):
            actor = getattr(e, "actor", None) or {}
            history.append(
                HistoryEntry(
                    event=type(e).__name__, occurred_at=getattr(e, "occurred_at", e.timestamp),
                    recorded_at=e.timestamp, worker_id=actor.get("worker_id"), role=actor.get("role"),
                )
            )
        return ReferralStatusReply(
            referral_id=referral_id, client_id=referral.client_id,
            team=referral.team or self.default_team, stage=referral.stage, history=history,
        )

    def distribution_queue(self, team: str, now: datetime | None = None) -> DistributionQueueReply:
        now = now or datetime.now(UTC)
        with self._views_lock:
            waiting = [v for v in self.referrals.values() if v.team == team and v.stage in QUEUE_STAGES]
        waiting.sort(key=lambda v: (v.stage != "urgent", v.received_at))
        return DistributionQueueReply(
            team=team,
            items=[
                QueueItem(
                    referral_id=v.referral_id, stage=v.stage, urgent=v.urgent or v.stage == "urgent",  # type: ignore[arg-type]
                    received_at=v.received_at,
                    waiting_minutes=max(int((now - v.received_at).total_seconds() // 60), 0),
                )
                for v in waiting
            ],
        )

    def roster_workers(self) -> dict[str, dict[str, Any]]:
        return dict(self._roster(None).workers)

