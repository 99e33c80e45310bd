"""Casefile's read model, from its own store: each own worker's caseload of open relationships,
each client's open relationship, and each relationship's nature, end reason and close.

It lives in memory: a start takes up its latest snapshot and replays the store after it
(``polku rebuild casefile`` replays the whole store and reports), then applies every new
recording. No personal data: ids,
codes and counts.
"""

from __future__ import annotations

from collections import Counter
from uuid import UUID

from contracts.casefile import CasefileSummary
from polku.projections import Projection, on
from services.casefile.domain import Relationship


class Relationships(Projection):
    #: open relationships per own worker (a Counter)
    caseload: dict[str, int]
    owner: dict[UUID, str]
    client: dict[UUID, str]
    #: the open relationship of each client (one at a time)
    open_by_client: dict[str, UUID]
    nature: dict[UUID, str]
    #: the ended relationships, with their reasons
    end_reason: dict[UUID, str]
    #: of those, the ones a finding of no need ended before a relationship formed (seed 000),
    #: and the ones closed for good
    not_formed: set[UUID]
    closed: set[UUID]

    def __init__(self) -> None:
        self.caseload = Counter()
        self.owner = {}
        self.client = {}
        self.open_by_client = {}
        self.nature = {}
        self.end_reason = {}
        self.not_formed = set()
        self.closed = set()

    @on(Relationship.Opened)
    def _opened(self, e: Relationship.Opened) -> None:
        client_id = e.env.client_id
        self.client[e.originator_id] = client_id
        self.open_by_client[client_id] = e.originator_id

    @on(Relationship.OwnWorkerNamed)
    def _own_worker_named(self, e: Relationship.OwnWorkerNamed) -> None:
        rid = e.originator_id
        previous = self.owner.get(rid)
        if previous and rid not in self.end_reason:
            self.caseload[previous] -= 1
        self.owner[rid] = e.worker_id
        if rid not in self.end_reason:
            self.caseload[e.worker_id] += 1

    @on(Relationship.RelationshipNatureDetermined)
    def _nature_determined(self, e: Relationship.RelationshipNatureDetermined) -> None:
        self.nature[e.originator_id] = e.nature

    @on(Relationship.Ended)
    def _ended(self, e: Relationship.Ended) -> None:
        rid = e.originator_id
        self.end_reason[rid] = e.reason
        formed = getattr(e, "formed", None)  # None: stored before it was carried
        if not (formed if formed is not None else e.reason != "no_service_need"):
            self.not_formed.add(rid)
        client = self.client.get(rid)
        if client is not None and self.open_by_client.get(client) == rid:
            del self.open_by_client[client]
        if owner := self.owner.get(rid):
            self.caseload[owner] -= 1

    @on(Relationship.Closed)
    def _closed(self, e: Relationship.Closed) -> None:
        self.closed.add(e.originator_id)

    @on(Relationship.Reopened)
    def _reopened(self, e: Relationship.Reopened) -> None:
        rid = e.originator_id
        self.end_reason.pop(rid, None)
        self.not_formed.discard(rid)
        self.closed.discard(rid)
        if getattr(e, "anew", False):  # a returning client's nature is determined again
            self.nature.pop(rid, None)
        if client := self.client.get(rid):
            self.open_by_client[client] = rid
        if owner := self.owner.get(rid):
            self.caseload[owner] += 1

    def summary(self) -> CasefileSummary:
        """Open relationships by nature (an ended one is no longer temporary, recurring or
        continuous: it counts by its end reason), and ended ones by end reason, how many of
        them are closed. A relationship that a finding of no need ended before it formed counts
        apart, in ``not_formed`` only (seed 000: no client relationship was formed)."""
        with self.lock:
            total = len(self.client)
            ended_reasons = [r for rid, r in self.end_reason.items() if rid not in self.not_formed]
            ended = len(ended_reasons)
            not_formed = len(self.not_formed)
            open_natures = [n for rid, n in self.nature.items() if rid not in self.end_reason]
            return CasefileSummary(
                open=total - ended - not_formed,
                ended=ended,
                by_nature=dict(sorted(Counter(open_natures).items())),
                without_nature=total - ended - not_formed - len(open_natures),
                by_end_reason=dict(sorted(Counter(ended_reasons).items())),
                not_formed=not_formed,
                closed=len(self.closed - self.not_formed),
            )
