"""Intake's use cases: a command's plain values into the aggregates, a reply out.

Each use case is ``(self, uow, command) -> reply``: it reads through the unit of work, calls the
aggregates with ``uow.env``, adds what it creates and returns the reply struct; the command
pipeline decodes, checks the command id, commits in groups and replies (see ``handlers.py`` for
the table). Intake's read models (``projections.py``) are built from its own store when it starts
and from casefile's events; memory holds open work only, and a client's earlier referrals are
read from intake's own database (``History``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from contracts.intake import (
    AssessUrgentNeed,
    DistributionQueueQuery,
    DistributionQueueReply,
    Done,
    HistoryEntry,
    QueueItem,
    ReceiveReferral,
    ReceiveReferralAccepted,
    RecordAbsence,
    ReferralRoutedReply,
    ReferralStatusQuery,
    ReferralStatusReply,
    RemoveRosterWorker,
    RouteReferral,
    ScreenReferral,
    SetRosterWorker,
    TriageSupportNeed,
)
from polku.domain import Envelope, RuleBroken
from polku.settings import RosterEntry
from polku.store import ServiceApplication, keyed_id
from polku.unit_of_work import UnitOfWork
from services.intake import identity
from services.intake.domain import QUEUE_STAGES, ROSTER_ID, UNREACHED, ClientIdentity, IntakeRecordView, Referral, Roster
from services.intake.projections import History, Loads, Referrals, Workers
from services.intake.settings import TriageGrid, parse_triage_grid


class InvalidIdentityCode(RuleBroken):
    code = "invalid_identity_code"


class ReferralNotFound(RuleBroken):
    code = "not_found"


class Forbidden(RuleBroken):
    """The acting worker may not read this (a refused read is logged too)."""

    code = "forbidden"
    field = "actor"


#: Why intake's records are read: its reads serve distributing referrals, which is client work.
#: (The v1 query bodies carry no purpose; adding one would change their schemas.)
INTAKE_READ_PURPOSE = "client_work"


class InvalidGridPosition(RuleBroken):
    code = "invalid_grid_position"


def referral_id_for(command_id: str, secret: str) -> UUID:
    """The referral a ``receive_referral`` creates: a retried command finds the one its first
    attempt created, and a caller who knows its command id cannot compute it (keyed with
    ``secret``, the pseudonym key; see :func:`polku.store.keyed_id`)."""
    return keyed_id(secret, "intake/referral", command_id)


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
        self.history = History(self.recorder, pseudonym_key)
        self.referrals = Referrals(default_team, self.history)
        self.loads = Loads(self.history)
        self.workers = Workers()
        self.follow(self.referrals, self.loads, self.workers)
        if roster and ROSTER_ID not in self.repository:
            workers = [{"worker_id": w.worker_id, "role": w.role, "team": w.team, "capacity": w.capacity} for w in roster]
            try:
                self.save(Roster.seed(Envelope.now(), workers))
            except IntegrityError:
                pass  # another intake process seeded it first

    def close(self) -> None:
        self.history.close()
        super().close()

    # --------------------------------------------------------------- reading
    def _referral(self, uow: UnitOfWork, referral_id: UUID) -> Referral:
        referral = uow.get(Referral, referral_id)
        if referral is None:
            raise ReferralNotFound("no referral has this id", "referral_id")
        return referral

    def _roster(self, uow: UnitOfWork) -> Roster:
        roster = uow.get(Roster, ROSTER_ID)
        assert roster is not None, "the roster is seeded when intake starts"
        return roster

    @staticmethod
    def _done(referral: Referral) -> Done:
        return Done(referral_id=referral.id, stage=referral.stage)

    # --------------------------------------------------------------- reception
    def receive_referral(self, uow: UnitOfWork, c: ReceiveReferral) -> ReceiveReferralAccepted:
        try:
            code = identity.validate(c.identity_code)
        except identity.InvalidIdentityCode as e:
            raise InvalidIdentityCode(str(e), "identity_code") from None
        client_id = identity.pseudonymise(code, self.pseudonym_key)
        env = uow.env.about(client_id)
        referral_id = referral_id_for(str(env.causation_id), self.pseudonym_key)
        earlier = [referral_id for referral_id, _ in self.history.of_client(client_id)]
        earlier += [a.id for a in uow.batch.values() if isinstance(a, Referral) and a.client_id == client_id]
        with self.loads.lock:
            open_relationship = self.loads.open_by_client.get(client_id)
        uow.add(
            Referral.receive(
                referral_id,
                env,
                channel=c.channel,
                source_kind=c.source.kind,
                authority=c.source.authority,
                further_source_kind=c.source.further_kind,
                concerns=sorted(set(c.concerns)),
                urgent=c.urgent,
                consent=c.consent,
                summary=c.summary,
                contact_details=c.contact_details,
                team=c.team or (uow.env.actor or {}).get("team") or self.default_team,
                repeat_of=earlier,
                open_relationship_id=open_relationship,
            )
        )
        if not earlier:
            # The client's first referral: the protected identity record is stored with it (a
            # client with an earlier referral has one; the history holds every referral).
            uow.add(ClientIdentity.record(env, identity.seal(code, self.pseudonym_key)))
        return ReceiveReferralAccepted(referral_id=referral_id, client_id=client_id)

    def identity_code(self, client_id: str) -> str:
        """The identity code behind a client id, from the protected identity record."""
        record: ClientIdentity = self.repository.get(ClientIdentity.id_for(client_id))
        return identity.unseal(record.sealed_code, self.pseudonym_key)

    def get_referral(self, referral_id: UUID) -> Referral:
        return self.repository.get(referral_id)

    # --------------------------------------------------------------- screening
    def screen_referral(self, uow: UnitOfWork, c: ScreenReferral) -> Done:
        referral = self._referral(uow, c.referral_id)
        referral.screen(uow.env, outcome=c.outcome, redirected_to=c.redirected_to, motivation=c.motivation)
        if c.outcome in UNREACHED:
            self._maybe_flag(uow, referral)
        return self._done(referral)

    def _maybe_flag(self, uow: UnitOfWork, referral: Referral) -> None:
        """The client's earlier referrals' outcomes (the history's, or this group's where it
        screened one) to the referral's repeat rule."""
        outcomes = [
            uow.batch[rid].outcome if rid in uow.batch else outcome
            for rid, outcome in self.history.of_client(referral.client_id) if rid != referral.id
        ]
        referral.flag_repeats(uow.env, earlier_outcomes=outcomes, after=self.repeat_referrals_flag)

    def assess_urgent_need(self, uow: UnitOfWork, c: AssessUrgentNeed) -> Done:
        referral = self._referral(uow, c.referral_id)
        referral.assess_urgent_need(uow.env, actions=list(c.actions))
        return self._done(referral)

    # ------------------------------------------------------------------ triage
    def triage_support_need(self, uow: UnitOfWork, c: TriageSupportNeed) -> Done:
        referral = self._referral(uow, c.referral_id)
        quadrant = self.grid.place(dict(c.positions))
        if quadrant is None:
            axes = "; ".join(f"{axis}: {', '.join(values)}" for axis, values in self.grid.axes.items())
            raise InvalidGridPosition(f"positions must give one value for each axis ({axes})", "positions")
        referral.triage(
            uow.env, quadrant=quadrant.code, special_support_suspected=quadrant.special_support_suspected,
            required_role=quadrant.role,
        )
        return self._done(referral)

    # ----------------------------------------------------------------- routing
    def route_referral(self, uow: UnitOfWork, c: RouteReferral) -> ReferralRoutedReply:
        referral = self._referral(uow, c.referral_id)
        referral.check_routable()
        roster = self._roster(uow)
        today = uow.env.occurred_at.date()
        required = referral.role_needed
        if c.worker_id is not None:
            worker = roster.override(worker_id=c.worker_id, by_role=(uow.env.actor or {}).get("role", ""), role=required, day=today)
        else:
            with self.loads.lock:
                load = self.loads.load()
            for a in uow.batch.values():  # routed in this group, not yet projected
                if isinstance(a, Referral) and any(isinstance(e, Referral.Routed) for e in a.pending_events):
                    load[a.worker_id] = load.get(a.worker_id, 0) + 1
            with self.referrals.lock:
                view = self.referrals.by_id.get(referral.id)
            worker = roster.pick(team=view.team if view else referral.team, role=required, day=today, load=load)
        referral.route(uow.env, worker_id=worker["worker_id"], team=worker["team"], override_reason=c.override_reason)
        return ReferralRoutedReply(
            referral_id=referral.id, worker_id=worker["worker_id"], team=worker["team"], required_role=required,
            special_support_suspected=bool(referral.special_support_suspected),
        )

    # ------------------------------------------------------------------ roster
    def _special_support_clients(self, worker_id: str) -> int:
        with self.loads.lock:
            return self.loads.special_support_clients(worker_id)

    def set_roster_worker(self, uow: UnitOfWork, c: SetRosterWorker) -> Done:
        self._roster(uow).set_worker(
            uow.env, worker_id=c.worker_id, role=c.role, team=c.team, capacity=c.capacity,
            special_support_clients=self._special_support_clients(c.worker_id),
        )
        return Done(worker_id=c.worker_id)

    def remove_roster_worker(self, uow: UnitOfWork, c: RemoveRosterWorker) -> Done:
        self._roster(uow).remove_worker(
            uow.env, worker_id=c.worker_id, special_support_clients=self._special_support_clients(c.worker_id)
        )
        return Done(worker_id=c.worker_id)

    def record_absence(self, uow: UnitOfWork, c: RecordAbsence) -> Done:
        self._roster(uow).record_absence(uow.env, worker_id=c.worker_id, starts=c.starts, ends=c.ends)
        return Done(worker_id=c.worker_id)

    # ----------------------------------------------------------------- queries
    # ----------------------------------------------------------- logged reads
    def read_referral_status(self, uow: UnitOfWork, q: ReferralStatusQuery) -> ReferralStatusReply | RuleBroken:
        """``polku.qry.intake.referral_status``, logged (IntakeRecordView, published as
        IntakeRecordViewed): granted, refused, or for an id that names no referral. The workers
        of the referral's team and the worker it was routed to may read it."""
        actor = uow.env.actor
        referral = uow.get(Referral, q.referral_id)
        if referral is None:
            uow.add(
                IntakeRecordView.record(
                    uuid4(), uow.env, client_id=None, part="referral_status", purpose=INTAKE_READ_PURPOSE,
                    granted=False, found=False, referral_id=q.referral_id,
                )
            )
            return ReferralNotFound("no referral has this id", "referral_id")
        team = referral.team or self.default_team
        granted = actor is None or actor.get("team") == team or actor.get("worker_id") == referral.worker_id
        reply = self.referral_status(q) if granted else None
        uow.add(
            IntakeRecordView.record(
                uuid4(), uow.env, client_id=referral.client_id, part="referral_status", purpose=INTAKE_READ_PURPOSE,
                granted=granted, referral_id=referral.id, team=team, items=len(reply.history) if reply else 0,
            )
        )
        if reply is None:
            return Forbidden("only the workers of the referral's team and its routed worker may read it", "actor")
        return reply

    def read_distribution_queue(self, uow: UnitOfWork, q: DistributionQueueQuery) -> DistributionQueueReply | RuleBroken:
        """``polku.qry.intake.distribution_queue``, logged: a worker reads their own team's queue only."""
        actor = uow.env.actor
        granted = actor is None or actor.get("team") == q.team
        reply = self.distribution_queue(q) if granted else None
        uow.add(
            IntakeRecordView.record(
                uuid4(), uow.env, client_id=None, part="distribution_queue", purpose=INTAKE_READ_PURPOSE,
                granted=granted, team=q.team, items=len(reply.items) if reply else 0,
            )
        )
        if reply is None:
            return Forbidden("a worker reads their own team's distribution queue only", "team")
        return reply

    # ------------------------------------------------------------ the renders
    def referral_status(self, q: ReferralStatusQuery) -> ReferralStatusReply:
        referral = self._referral(UnitOfWork(self), q.referral_id)
        history = [
            HistoryEntry(
                event=type(e).__name__, occurred_at=e.env.occurred_at, recorded_at=e.timestamp,
                worker_id=(e.env.actor or {}).get("worker_id"), role=(e.env.actor or {}).get("role"),
            )
            for e in self.events.get(q.referral_id)
        ]
        return ReferralStatusReply(
            referral_id=q.referral_id, client_id=referral.client_id,
            team=referral.team or self.default_team, stage=referral.stage, history=history,
        )

    def distribution_queue(self, q: DistributionQueueQuery, now: datetime | None = None) -> DistributionQueueReply:
        now = now or datetime.now(UTC)
        with self.referrals.lock:
            waiting = [v for v in self.referrals.by_id.values() if v.team == q.team and v.stage in QUEUE_STAGES]
        waiting.sort(key=lambda v: (v.stage != "urgent", v.received_at))
        return DistributionQueueReply(
            team=q.team,
            items=[
                QueueItem(
                    referral_id=v.referral_id, stage=v.stage, urgent=v.urgent or v.stage == "urgent",  # type: ignore[arg-type]
                    received_at=v.received_at,
                    waiting_minutes=max(int((now - v.received_at).total_seconds() // 60), 0),
                )
                for v in waiting
            ],
        )

    def roster_role(self, worker_id: str) -> tuple[str, str] | None:
        """The role and team of a worker on the roster (the pipeline's acting worker), or None."""
        return self.workers.get(worker_id)

    def roster_workers(self) -> dict[str, dict[str, Any]]:
        return dict(self._roster(UnitOfWork(self)).workers)
