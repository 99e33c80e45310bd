"""Intake's read models: the distribution queue and each client's referrals (from intake's own
store), and each worker's load of open relationships (routing in intake's store, the
relationships' lives in casefile's events). No personal data: ids, stages and times."""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from contracts.casefile import OwnWorkerNamed, RelationshipEnded, RelationshipOpened, RelationshipReopened
from polku.projections import Projection, on
from services.intake.domain import STAGE_AFTER_SCREENING, Referral, Roster


class ReferralView(msgspec.Struct, array_like=True, gc=False):
    """What the queue and the repeat rule need of a referral (no personal data). A struct of
    scalars (no garbage-collector tracking, no ``__dict__``): intake keeps one per referral."""

    referral_id: UUID
    client_id: str
    team: str
    urgent: bool
    received_at: datetime
    stage: str = "unscreened"
    outcome: str | None = None
    worker_id: str | None = None
    special_support: bool = False


class Referrals(Projection):
    """Every referral's stage and team, and each client's referrals in the order received."""

    default_team: str
    by_id: dict[UUID, ReferralView]
    #: each client's referrals in the order received (made again from ``by_id`` on a restore)
    by_client: dict[str, list[UUID]]
    derived = ("by_client",)

    def __init__(self, default_team: str) -> None:
        self.default_team = default_team
        self.by_id = {}
        self.by_client = defaultdict(list)

    def take_state(self, state: dict[str, Any]) -> None:
        """Each client's referrals again from ``by_id`` (in the order received: the dict's),
        and what a decoded snapshot repeats shared as a replay shares it (each referral's id
        and client, the stages, teams and workers)."""
        super().take_state(state)
        intern = sys.intern
        by_client: defaultdict[str, list[UUID]] = defaultdict(list)
        clients: dict[str, str] = {}
        for referral_id, view in self.by_id.items():
            view.referral_id = referral_id
            view.client_id = clients.setdefault(view.client_id, view.client_id)
            view.team, view.stage = intern(view.team), intern(view.stage)
            if view.outcome is not None:
                view.outcome = intern(view.outcome)
            if view.worker_id is not None:
                view.worker_id = intern(view.worker_id)
            by_client[view.client_id].append(referral_id)
        self.by_client = by_client

    @on(Referral.Received)
    def _received(self, e: Referral.Received) -> None:
        self.by_id[e.originator_id] = ReferralView(
            e.originator_id, e.env.client_id, e.team or self.default_team, e.urgent, e.env.occurred_at
        )
        self.by_client[e.env.client_id].append(e.originator_id)

    @on(Referral.Screened)
    def _screened(self, e: Referral.Screened) -> None:
        if view := self.by_id.get(e.originator_id):
            view.outcome = e.outcome
            view.stage = STAGE_AFTER_SCREENING.get(e.outcome, view.stage)

    @on(Referral.Closed)
    def _closed(self, e: Referral.Closed) -> None:
        if view := self.by_id.get(e.originator_id):
            view.stage = "closed"

    @on(Referral.UrgentNeedAssessed)
    def _urgent(self, e: Referral.UrgentNeedAssessed) -> None:
        if view := self.by_id.get(e.originator_id):
            view.stage = "awaiting_triage"

    @on(Referral.SupportNeedTriaged)
    def _triaged(self, e: Referral.SupportNeedTriaged) -> None:
        if view := self.by_id.get(e.originator_id):
            view.stage = "awaiting_routing"
            view.special_support = e.special_support_suspected

    @on(Referral.Routed)
    def _routed(self, e: Referral.Routed) -> None:
        if view := self.by_id.get(e.originator_id):
            view.stage = "routed"
            view.worker_id = e.worker_id
            view.team = e.team


class Loads(Projection):
    """Routed referrals per worker whose relationships are open, as running counts, so that
    routing reads a worker's load without a scan. Routing comes from intake's store; openings,
    ends, returns and changes of own worker from casefile's events."""

    routed: dict[UUID, tuple[str, bool]]  # referral → (worker, special)
    referral_of: dict[UUID, UUID]  # relationship → referral
    ended: set[UUID]  # referrals whose relationship ended
    open_by_client: dict[str, UUID]  # client → relationship
    counts: dict[str, int]  # worker → open
    special: dict[str, int]  # worker → special open

    def __init__(self) -> None:
        self.routed = {}
        self.referral_of = {}
        self.ended = set()
        self.open_by_client = {}
        self.counts = defaultdict(int)
        self.special = defaultdict(int)

    def share(self, referrals: Referrals) -> None:
        """Hold the referral ids and client ids the referrals model holds, not copies of them
        (each event, or a decoded snapshot, made its own), and each worker's id once: at start,
        after the replay."""
        intern = sys.intern
        with self.lock, referrals.lock:
            ids = {referral_id: referral_id for referral_id in referrals.by_id}
            clients = {client_id: client_id for client_id in referrals.by_client}
            self.routed = {
                ids.get(rid, rid): (intern(worker), special) for rid, (worker, special) in self.routed.items()
            }
            self.referral_of = {rel: ids.get(rid, rid) for rel, rid in self.referral_of.items()}
            self.open_by_client = {clients.get(c, c): rel for c, rel in self.open_by_client.items()}
            self.ended = {ids.get(rid, rid) for rid in self.ended}

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

    # ------------------------------------------------------------------ events
    @on(Referral.Routed)
    def _routed(self, e: Referral.Routed) -> None:
        self.route(e.originator_id, e.worker_id, e.special_support_suspected)

    @on(RelationshipOpened)
    def _opened(self, e: RelationshipOpened) -> None:
        self.referral_of[e.relationship_id] = e.referral_id
        self.open_by_client[e.client_id] = e.relationship_id

    @on(RelationshipEnded)
    def _ended(self, e: RelationshipEnded) -> None:
        referral_id = self.referral_of.get(e.relationship_id)
        if referral_id is not None:
            self.end(referral_id)
        if self.open_by_client.get(e.client_id) == e.relationship_id:
            del self.open_by_client[e.client_id]

    @on(RelationshipReopened)
    def _reopened(self, e: RelationshipReopened) -> None:
        referral_id = self.referral_of.get(e.relationship_id)
        if referral_id is not None:
            self.reopen(referral_id)
        self.open_by_client[e.client_id] = e.relationship_id

    @on(OwnWorkerNamed)
    def _named(self, e: OwnWorkerNamed) -> None:
        referral_id = self.referral_of.get(e.relationship_id)
        if referral_id is not None:
            self.rename(referral_id, e.worker_id)


class Workers(Projection):
    """Who may act in intake: the roster's workers, ``worker_id -> (role, team)``. The pipeline
    asks it for every command, on the event loop: it is kept in memory, never read from the store."""

    workers: dict[str, tuple[str, str]]

    def __init__(self) -> None:
        self.workers = {}

    @on(Roster.Seeded)
    def _seeded(self, e: Roster.Seeded) -> None:
        self.workers = {w["worker_id"]: (w["role"], w["team"]) for w in e.workers}

    @on(Roster.WorkerSet)
    def _set(self, e: Roster.WorkerSet) -> None:
        self.workers[e.worker_id] = (e.role, e.team)

    @on(Roster.WorkerRemoved)
    def _removed(self, e: Roster.WorkerRemoved) -> None:
        self.workers.pop(e.worker_id, None)

    def get(self, worker_id: str) -> tuple[str, str] | None:
        with self.lock:
            return self.workers.get(worker_id)
