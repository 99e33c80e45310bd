"""Casefile's copy of intake's roster: who may act in casefile, in which role and team.

Intake owns the roster. Casefile starts from the configured one (``POLKU_ROSTER``, the one
intake seeds from) and stores each change intake publishes (``RosterWorkerSet``,
``RosterWorkerRemoved``) with the tracking record of the INTAKE stream, so that a restart
replays them. Ids, role, team: no names.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import event

from polku.domain import Envelope, PolkuAggregate

ROSTER_ID = uuid5(NAMESPACE_URL, "https://polku.invalid/casefile/roster")


class RosterCopy(PolkuAggregate):
    """The changes to intake's roster casefile has received, in order."""

    __module__ = "services.casefile.domain"

    @event("Started")
    def __init__(self, *, env: Envelope) -> None:
        pass

    @classmethod
    def start(cls, env: Envelope) -> RosterCopy:
        return cls._create(cls.Started, id=ROSTER_ID, env=env)

    @event("WorkerSet")
    def set_worker(self, env: Envelope, *, worker_id: str, role: str, team: str) -> None:
        pass

    @event("WorkerRemoved")
    def remove_worker(self, env: Envelope, *, worker_id: str) -> None:
        pass
