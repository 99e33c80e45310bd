"""The services installed with Polku, and its demo: found through entry points, never imported
by name.

A service registers its :class:`~polku.service.ServiceDefinition` in pyproject.toml::

    [project.entry-points."polku.services"]
    intake = "services.intake.main:SERVICE"

and the runtime (``polku serve``, ``polku up``, ``polku rebuild``, ``polku republish``,
``polku status``) finds it here. So ``polku/`` imports no service, and another distribution can
add one without touching the runtime.

The demo is a client of the published API that ``polku up --demo`` runs once the stack is up.
It registers the same way, in the group ``polku.demo``: a callable
``run(url, *, referrals, seed) -> str`` that takes the NATS URL and returns the summary to
print, and raises :class:`RuntimeError` when what it sees is wrong.

Reporting's small-cell suppression, which ``polku report`` applies to what it writes, registers
in the group ``polku.suppression``: a callable ``suppress(indicators, threshold) -> indicators``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

import contracts

if TYPE_CHECKING:
    from polku.service import ServiceDefinition

GROUP = "polku.services"
DEMO_GROUP = "polku.demo"
SUPPRESSION_GROUP = "polku.suppression"


class RegistryError(LookupError):
    """An unknown service name, or an entry point that is not what it should be."""


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in found and found[ep.name].value != ep.value:
            raise RegistryError(
                f"two services are registered as {ep.name!r} ({found[ep.name].value} and {ep.value})"
            )
        found[ep.name] = ep
    return found


def _order(name: str) -> tuple[int, str]:
    # The published language lists the services in the order of the client path (intake,
    # casefile, followup, reporting); a service it does not list comes after, by name.
    known = list(contracts.SERVICE_STREAM)
    return (known.index(name) if name in known else len(known), name)


def names() -> tuple[str, ...]:
    """The installed services' names in their start order, without importing any of them."""
    return tuple(sorted(_entry_points(), key=_order))


@functools.cache
def service(name: str) -> ServiceDefinition:
    """The definition of the service ``name``; :class:`RegistryError` if none is installed."""
    from polku.service import ServiceDefinition

    ep = _entry_points().get(name)
    if ep is None:
        installed = ", ".join(names()) or "none"
        raise RegistryError(f"no service named {name!r} is installed (installed: {installed})")
    definition = ep.load()
    if not isinstance(definition, ServiceDefinition):
        raise RegistryError(
            f"the entry point {ep.value} of service {name!r} is a {type(definition).__name__}, "
            "not a polku.service.ServiceDefinition"
        )
    if definition.name != name:
        raise RegistryError(f"the entry point {name!r} ({ep.value}) defines the service {definition.name!r}")
    return definition


def services() -> dict[str, ServiceDefinition]:
    """Every installed service's definition, in start order (this imports each service)."""
    return {name: service(name) for name in names()}


def demo() -> Callable[..., str]:
    """The demo ``polku up --demo`` runs; :class:`RegistryError` if none is installed."""
    found = list(entry_points(group=DEMO_GROUP))
    if not found:
        raise RegistryError(f"no demo is installed (entry point group {DEMO_GROUP})")
    if len(found) > 1:
        raise RegistryError(
            f"more than one demo is installed ({', '.join(ep.value for ep in found)}): "
            f"keep one in the entry point group {DEMO_GROUP}"
        )
    run = found[0].load()
    if not callable(run):
        raise RegistryError(f"the demo {found[0].value} is not callable")
    return run


@functools.cache
def suppression() -> Callable[..., list]:
    """Reporting's ``suppress(indicators, threshold)``, for ``polku report``;
    :class:`RegistryError` if none, or more than one, is installed."""
    found = list(entry_points(group=SUPPRESSION_GROUP))
    if len(found) != 1:
        raise RegistryError(
            f"polku report needs exactly one suppression in the entry point group {SUPPRESSION_GROUP}, "
            f"found {len(found)}" + (f" ({', '.join(ep.value for ep in found)})" if found else "")
        )
    suppress = found[0].load()
    if not callable(suppress):
        raise RegistryError(f"the suppression {found[0].value} is not callable")
    return suppress
