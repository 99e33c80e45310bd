"""Intake's read models: the distribution queue (from intake's own store), each worker's load of
open relationships (routing in intake's store, the relationships' lives in casefile's events), and
the closed work on disk that a rule still reads (:class:`History`). Memory holds open work only:
it follows the caseload, not the years kept. No personal data: ids, stages and times."""

from __future__ import annotations

import hashlib
import hmac
import sys
from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from contracts.casefile import OwnWorkerNamed, ReferralAttached, RelationshipEnded, RelationshipOpened, RelationshipReopened
from polku.projections import Projection, on
from polku.store import ReadModelTables, derived_key
from services.intake.domain import STAGE_AFTER_SCREENING, Referral, Roster


class History(ReadModelTables):
    """Intake's closed work, on disk in its own database, so that memory does not grow with the
    years kept:

    - ``intake_client_referrals``: each client's referrals in the order received, with their
      screening outcomes. The repeat rule reads a client's rows (by an index on the client)
      once for each referral received, and once for each screened as not reached or declined.
      The client is named by a keyed hash of its id (the events and snapshots beside it are
      encrypted; these tables are not): the table tells no one which client had which
      referral without the key.
    - ``intake_ended_relationships``: each ended relationship's referral and own worker (none
      when intake did not route it), read when the client returns and the relationship is
      opened again, so that its worker's load counts it again.
    """

    schema = (
        "CREATE TABLE IF NOT EXISTS {name}intake_client_referrals (seq {serial}, referral_id TEXT NOT NULL UNIQUE, "
        "client_id TEXT NOT NULL, outcome TEXT)",
        "CREATE INDEX IF NOT EXISTS intake_client_referrals_by_client ON {name}intake_client_referrals (client_id, seq)",
        "CREATE TABLE IF NOT EXISTS {name}intake_ended_relationships (relationship_id TEXT PRIMARY KEY, "
        "referral_id TEXT NOT NULL, worker_id TEXT, special BOOLEAN NOT NULL)",
    )

    def __init__(self, recorder: Any, secret: str) -> None:
        super().__init__(recorder)
        self._key = derived_key(secret, "history").encode()

    def _client(self, client_id: str) -> str:
        return hmac.new(self._key, client_id.encode(), hashlib.sha256).hexdigest()[:32]

    def received(self, referral_id: UUID, client_id: str) -> None:
        self.write(
            "INSERT INTO {name}intake_client_referrals (referral_id, client_id) VALUES (?, ?) "
            "ON CONFLICT (referral_id) DO NOTHING",
            str(referral_id), self._client(client_id),
        )

    def screened(self, referral_id: UUID, outcome: str) -> None:
        self.write("UPDATE {name}intake_client_referrals SET outcome = ? WHERE referral_id = ?", outcome, str(referral_id))

    def of_client(self, client_id: str) -> list[tuple[UUID, str | None]]:
        """The client's referrals in the order received: (id, screening outcome or None)."""
        rows = self.rows(
            "SELECT referral_id, outcome FROM {name}intake_client_referrals WHERE client_id = ? ORDER BY seq", self._client(client_id)
        )
        return [(UUID(referral_id), outcome) for referral_id, outcome in rows]

    def ended(self, relationship_id: UUID, referral_id: UUID, worker_id: str | None, special: bool) -> None:
        self.write(
            "INSERT INTO {name}intake_ended_relationships VALUES (?, ?, ?, ?) ON CONFLICT (relationship_id) DO UPDATE "
            "SET referral_id = excluded.referral_id, worker_id = excluded.worker_id, special = excluded.special",
            str(relationship_id), str(referral_id), worker_id, special,
        )

    def renamed(self, relationship_id: UUID, worker_id: str) -> None:
        """An ended relationship's own worker changed: the one its load goes to if it opens again."""
        self.write(
            "UPDATE {name}intake_ended_relationships SET worker_id = ? WHERE relationship_id = ? AND worker_id IS NOT NULL",
            worker_id, str(relationship_id),
        )

    def reopened(self, relationship_id: UUID) -> tuple[UUID, str | None, bool] | None:
        """An ended relationship's (referral, own worker, special support suspected), if it is one."""
        rows = self.rows(
            "SELECT referral_id, worker_id, special FROM {name}intake_ended_relationships WHERE relationship_id = ?",
            str(relationship_id),
        )
        return next(((UUID(r), w, bool(special)) for r, w, special in rows), None)


class ReferralView(msgspec.Struct, array_like=True, gc=False):
    """What the distribution queue needs of a referral still in intake's hands (no personal
    data). A struct of scalars (no garbage-collector tracking, no ``__dict__``)."""

    referral_id: UUID
    team: str
    urgent: bool
    received_at: datetime
    stage: str = "unscreened"


class Referrals(Projection):
    """The referrals not yet routed or closed, with their stage and team: what waits in the
    distribution queues. A referral leaves it when it is routed or closed; each client's
    referrals of all time are in the :class:`History` on disk."""

    default_team: str
    by_id: dict[UUID, ReferralView]
    history: History
    derived = ("history",)

    def __init__(self, default_team: str, history: History) -> None:
        self.default_team = default_team
        self.history = history
        self.by_id = {}

    def take_state(self, state: dict[str, Any]) -> None:
        """Each referral's id shared with its key, and the stages and teams interned, as a
        replay shares them."""
        super().take_state(state)
        intern = sys.intern
        for referral_id, view in self.by_id.items():
            view.referral_id = referral_id
            view.team, view.stage = intern(view.team), intern(view.stage)

    def flush(self) -> None:
        self.history.flush()

    @on(Referral.Received)
    def _received(self, e: Referral.Received) -> None:
        self.by_id[e.originator_id] = ReferralView(
            e.originator_id, sys.intern(e.team or self.default_team), e.urgent, e.env.occurred_at
        )
        self.history.received(e.originator_id, e.env.client_id)

    @on(Referral.Screened)
    def _screened(self, e: Referral.Screened) -> None:
        self.history.screened(e.originator_id, e.outcome)
        if view := self.by_id.get(e.originator_id):
            view.stage = STAGE_AFTER_SCREENING.get(e.outcome, view.stage)

    @on(Referral.Closed, Referral.Routed)
    def _left(self, e: Any) -> None:
        self.by_id.pop(e.originator_id, None)

    @on(Referral.UrgentNeedAssessed)
    def _urgent(self, e: Referral.UrgentNeedAssessed) -> None:
        if view := self.by_id.get(e.originator_id):
            view.stage = "awaiting_triage"

    @on(Referral.SupportNeedTriaged)
    def _triaged(self, e: Referral.SupportNeedTriaged) -> None:
        if view := self.by_id.get(e.originator_id):
            view.stage = "awaiting_routing"


class Loads(Projection):
    """Each worker's open relationships (and routed referrals whose relationship has not ended),
    as running counts, so that routing reads a worker's load without a scan. Routing comes from
    intake's store; openings, ends, returns and changes of own worker from casefile's events.
    What ends leaves memory for the :class:`History` on disk, and comes back if the client
    returns."""

    routed: dict[UUID, tuple[str, bool]]  # referral → (worker, special): routed, not ended
    referral_of: dict[UUID, UUID]  # open relationship → referral
    open_by_client: dict[str, UUID]  # client → open relationship
    counts: dict[str, int]  # worker → open
    special: dict[str, int]  # worker → special open
    history: History
    derived = ("history",)

    def __init__(self, history: History) -> None:
        self.history = history
        self.routed = {}
        self.referral_of = {}
        self.open_by_client = {}
        self.counts = defaultdict(int)
        self.special = defaultdict(int)

    def take_state(self, state: dict[str, Any]) -> None:
        """Each worker's id once, as a replay shares it."""
        super().take_state(state)
        intern = sys.intern
        self.routed = {rid: (intern(worker), special) for rid, (worker, special) in self.routed.items()}

    def flush(self) -> None:
        self.history.flush()

    def _count(self, referral_id: UUID, step: int) -> None:
        worker, special = self.routed[referral_id]
        self.counts[worker] += step
        if special:
            self.special[worker] += step

    def route(self, referral_id: UUID, worker_id: str, special: bool) -> None:
        """Routed to ``worker_id``, or (OwnWorkerNamed) the own worker changed."""
        if referral_id in self.routed:
            self._count(referral_id, -1)
        self.routed[referral_id] = (sys.intern(worker_id), special)
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

    @on(ReferralAttached)
    def _attached(self, e: ReferralAttached) -> None:
        """The routed referral went to the client's open relationship, which is counted already
        (by the referral that opened it): it adds no load of its own."""
        if e.referral_id in self.routed:
            self._count(e.referral_id, -1)
            del self.routed[e.referral_id]

    @on(RelationshipEnded)
    def _ended(self, e: RelationshipEnded) -> None:
        if self.open_by_client.get(e.client_id) == e.relationship_id:
            del self.open_by_client[e.client_id]
        referral_id = self.referral_of.pop(e.relationship_id, None)
        if referral_id is None:
            return  # ended already (a redelivery), or never opened here
        worker, special = self.routed.get(referral_id, (None, False))
        if worker is not None:
            self._count(referral_id, -1)
            del self.routed[referral_id]
        self.history.ended(e.relationship_id, referral_id, worker, special)

    @on(RelationshipReopened)
    def _reopened(self, e: RelationshipReopened) -> None:
        self.open_by_client[e.client_id] = e.relationship_id
        if e.relationship_id in self.referral_of:
            return  # open already (a redelivery)
        found = self.history.reopened(e.relationship_id)
        if found is not None:
            referral_id, worker, special = found
            self.referral_of[e.relationship_id] = referral_id
            if worker is not None:
                self.route(referral_id, worker, special)

    @on(OwnWorkerNamed)
    def _named(self, e: OwnWorkerNamed) -> None:
        referral_id = self.referral_of.get(e.relationship_id)
        if referral_id is None:
            self.history.renamed(e.relationship_id, e.worker_id)  # ended: the worker a return counts for
        elif referral_id in self.routed:
            self.route(referral_id, e.worker_id, self.routed[referral_id][1])


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
