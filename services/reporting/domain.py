"""Reporting's own events: the indicator snapshots it publishes on the REPORTING stream.

One :class:`SnapshotSeries` per team (or all teams), period kind ("day" or "month") and period:
its events are the snapshots published for that period. The first is the snapshot; each later
one is a correction (events that arrived late changed the figures) and names the one it
replaces. Nothing is revised in place, and a recomputation that finds the same figures (the same
digest) publishes nothing.

A snapshot's id is a uuid5 of its series, its content's digest and the snapshot it replaces:
the same events give the same snapshots, with the same ids, however often they are computed.
"""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from polku.domain import Envelope, PolkuAggregate

NAMESPACE = uuid5(NAMESPACE_URL, "https://polku.invalid/reporting")

Period = Literal["day", "month"]


class SnapshotSeries(PolkuAggregate):
    """The snapshots of one team (``None``: all teams) for one period."""

    @staticmethod
    def id_for(team: str | None, period: str, period_from: date) -> UUID:
        return uuid5(NAMESPACE, f"snapshot-series:{team or '*'}:{period}:{period_from.isoformat()}")

    @staticmethod
    def snapshot_id_for(series_id: UUID, digest: str, replaces: UUID | None) -> UUID:
        """The id of the snapshot with content ``digest`` that follows ``replaces`` in the series."""
        return uuid5(series_id, f"snapshot:{digest}:{replaces or ''}")

    @classmethod
    def open(cls, env: Envelope, *, team: str | None, period: str, period_from: date, period_to: date) -> SnapshotSeries:
        return cls._create(
            cls.Opened, id=cls.id_for(team, period, period_from), env=env, team=team, period=period,
            period_from=period_from, period_to=period_to,
        )

    @event("Opened")
    def __init__(self, *, env: Envelope, team: str | None, period: str, period_from: date, period_to: date) -> None:
        self.team = team
        self.period = period
        self.period_from = period_from
        self.period_to = period_to
        #: the latest snapshot published, and its content's digest
        self.snapshot_id: UUID | None = None
        self.digest: str | None = None
        self.snapshots = 0

    def publish(self, env: Envelope, *, threshold: int, indicators: str, digest: str) -> UUID | None:
        """Publish the figures ``indicators`` (the JSON of the published indicators, already
        suppressed) whose digest is ``digest``: the new snapshot's id, or None when the latest
        snapshot has the same figures."""
        if digest == self.digest:
            return None
        snapshot_id = self.snapshot_id_for(self.id, digest, self.snapshot_id)
        self._published(
            env, snapshot_id=snapshot_id, replaces=self.snapshot_id, team=self.team, period=self.period,
            period_from=self.period_from, period_to=self.period_to, threshold=threshold, indicators=indicators,
            digest=digest,
        )
        return snapshot_id

    @event("Published")
    def _published(
        self,
        env: Envelope,
        snapshot_id: UUID,
        replaces: UUID | None,
        team: str | None,
        period: str,
        period_from: date,
        period_to: date,
        threshold: int,
        indicators: str,
        digest: str,
    ) -> None:
        self.snapshot_id = snapshot_id
        self.digest = digest
        self.snapshots += 1


class SnapshotSchedule(PolkuAggregate):
    """Where the snapshots begin: the first day any event happened on, as reporting first saw it
    (one for the service). Stays inside reporting."""

    ID = uuid5(NAMESPACE, "snapshot-schedule")

    @classmethod
    def begin(cls, env: Envelope, *, first_day: date) -> SnapshotSchedule:
        return cls._create(cls.Began, id=cls.ID, env=env, first_day=first_day)

    @event("Began")
    def __init__(self, *, env: Envelope, first_day: date) -> None:
        self.first_day = first_day
