"""A service's copy of intake's roster: who may act in it, in which role and team.

Intake owns the roster. A service that serves workers' commands starts from the configured
roster (``POLKU_ROSTER``, the one intake seeds from) and stores each change intake publishes
(``RosterWorkerSet``, ``RosterWorkerRemoved``) in its own store, with the tracking record of the
INTAKE stream, so that a restart replays them into :class:`Roster`. Ids, role, team: no names.

The policies :func:`worker_set` and :func:`worker_removed` go in the service's table under
``"intake"``; the runtime knows no contract, so they read the events' fields by name.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import event
from eventsourcing.utils import register_topic

from polku.domain import Envelope, PolkuAggregate
from polku.projections import Projection, on
from polku.settings import RosterEntry
from polku.unit_of_work import UnitOfWork

ROSTER_ID = uuid5(NAMESPACE_URL, "https://polku.invalid/casefile/roster")


class RosterCopy(PolkuAggregate):
    """The changes to intake's roster a service has received, in order."""

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


# Casefile stored these under its own module before the copy moved here.
for _name in ("", ".Started", ".WorkerSet", ".WorkerRemoved"):
    register_topic(f"services.casefile.domain:RosterCopy{_name}", eval(f"RosterCopy{_name}"))  # noqa: S307


class Roster(Projection):
    """Who may act: the configured roster, then intake's changes as the service stored them.
    ``worker_id -> (role, team)``."""

    workers: dict[str, tuple[str, str]]

    def __init__(self, configured: tuple[RosterEntry, ...] = ()) -> None:
        self.workers = {w.worker_id: (w.role, w.team) for w in configured}

    @on(RosterCopy.WorkerSet)
    def _set(self, e: RosterCopy.WorkerSet) -> None:
        self.workers[e.worker_id] = (e.role, e.team)

    @on(RosterCopy.WorkerRemoved)
    def _removed(self, e: RosterCopy.WorkerRemoved) -> None:
        self.workers.pop(e.worker_id, None)

    def get(self, worker_id: str) -> tuple[str, str] | None:
        with self.lock:
            return self.workers.get(worker_id)


def _copy(uow: UnitOfWork) -> RosterCopy:
    copy = uow.get(RosterCopy, ROSTER_ID)
    if copy is None:
        copy = RosterCopy.start(uow.env)
        uow.add(copy)
    return copy


def worker_set(app: Any, uow: UnitOfWork, e: Any) -> dict[str, str]:
    """Intake set a worker on its roster: from now on they act here in that role and team."""
    _copy(uow).set_worker(uow.env, worker_id=e.worker_id, role=e.role, team=e.team)
    return {"worker_id": e.worker_id}


def worker_removed(app: Any, uow: UnitOfWork, e: Any) -> dict[str, str]:
    """Intake took a worker off its roster: they no longer act here."""
    _copy(uow).remove_worker(uow.env, worker_id=e.worker_id)
    return {"worker_id": e.worker_id}
