"""Casefile's read model, from its own store: each own worker's caseload of open relationships,
each client's open relationship, each open relationship's nature, and counts of the ended ones
by end reason and close.

Memory holds open work only: the open relationships, and the ended ones whose check-in has not
yet closed them (about a month's ends). A relationship that ends and is closed leaves memory;
if its client returns, what it was when it ended is read back from casefile's store (the
relationship at the version before its reopening). A start takes up the latest snapshot and
replays the store after it (``polku rebuild casefile`` replays the whole store and reports), then
applies every new recording. No personal data: ids, codes and counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from uuid import UUID

from contracts.casefile import CasefileSummary
from polku.projections import Projection, on
from services.casefile.domain import Relationship

#: a relationship as it was at a version (read from the store)
Before = Callable[[UUID, int], Relationship]


class Relationships(Projection):
    #: open relationships per own worker (a Counter)
    caseload: dict[str, int]
    #: the open relationships: their clients, own workers and natures
    client: dict[UUID, str]
    owner: dict[UUID, str]
    nature: dict[UUID, str]
    #: the open relationship of each client (one at a time)
    open_by_client: dict[str, UUID]
    #: the ended relationships not yet closed (their check-in is due): end reason, and whether
    #: a client relationship was formed
    awaiting_close: dict[UUID, tuple[str, bool]]
    #: the ended relationships that formed a client relationship, by end reason (a Counter);
    #: those a finding of no need ended before one formed (seed 000); the formed ones closed
    ended: dict[str, int]
    not_formed: int
    closed: int
    before: Before
    derived = ("before",)

    def __init__(self, before: Before) -> None:
        self.before = before
        self.caseload = Counter()
        self.client = {}
        self.owner = {}
        self.nature = {}
        self.open_by_client = {}
        self.awaiting_close = {}
        self.ended = Counter()
        self.not_formed = 0
        self.closed = 0

    @on(Relationship.Opened)
    def _opened(self, e: Relationship.Opened) -> None:
        client_id = e.env.client_id
        self.client[e.originator_id] = client_id
        self.open_by_client[client_id] = e.originator_id

    @on(Relationship.OwnWorkerNamed)
    def _own_worker_named(self, e: Relationship.OwnWorkerNamed) -> None:
        rid = e.originator_id
        if rid not in self.client:
            return  # ended: its return reads its own worker from the store
        previous = self.owner.get(rid)
        if previous:
            self.caseload[previous] -= 1
        self.owner[rid] = e.worker_id
        self.caseload[e.worker_id] += 1

    @on(Relationship.RelationshipNatureDetermined)
    def _nature_determined(self, e: Relationship.RelationshipNatureDetermined) -> None:
        if e.originator_id in self.client:
            self.nature[e.originator_id] = e.nature

    @on(Relationship.Ended)
    def _ended(self, e: Relationship.Ended) -> None:
        rid = e.originator_id
        client = self.client.pop(rid, None)
        if client is None:
            return
        formed = getattr(e, "formed", None)  # None: stored before it was carried
        formed = formed if formed is not None else e.reason != "no_service_need"
        if formed:
            self.ended[e.reason] += 1
        else:
            self.not_formed += 1
        self.awaiting_close[rid] = (e.reason, formed)
        if self.open_by_client.get(client) == rid:
            del self.open_by_client[client]
        if owner := self.owner.pop(rid, None):
            self.caseload[owner] -= 1
        self.nature.pop(rid, None)

    @on(Relationship.Closed)
    def _closed(self, e: Relationship.Closed) -> None:
        found = self.awaiting_close.pop(e.originator_id, None)
        if found is not None and found[1]:
            self.closed += 1

    @on(Relationship.Reopened)
    def _reopened(self, e: Relationship.Reopened) -> None:
        rid = e.originator_id
        if rid in self.client:
            return
        was = self.before(rid, e.originator_version - 1)  # as it ended (and maybe closed)
        if not was.ended:
            return
        if was.formed_at_end:
            self.ended[was.end_reason] -= 1
            self.closed -= was.closed_on is not None
        else:
            self.not_formed -= 1
        self.awaiting_close.pop(rid, None)
        client = e.env.client_id or was.client_id
        self.client[rid] = client
        self.open_by_client[client] = rid
        if was.own_worker:
            self.owner[rid] = was.own_worker
            self.caseload[was.own_worker] += 1
        if was.nature is not None and not getattr(e, "anew", False):  # a returning client's nature is determined again
            self.nature[rid] = was.nature

    def summary(self) -> CasefileSummary:
        """Open relationships by nature (an ended one is no longer temporary, recurring or
        continuous: it counts by its end reason), and ended ones by end reason, how many of
        them are closed. A relationship that a finding of no need ended before it formed counts
        apart, in ``not_formed`` only (seed 000: no client relationship was formed)."""
        with self.lock:
            open_ = len(self.client)
            return CasefileSummary(
                open=open_,
                ended=sum(self.ended.values()),
                by_nature=dict(sorted(Counter(self.nature.values()).items())),
                without_nature=open_ - len(self.nature),
                by_end_reason={reason: n for reason, n in sorted(self.ended.items()) if n},
                not_formed=self.not_formed,
                closed=self.closed,
            )
