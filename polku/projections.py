"""Read models built from events, by one mechanism for replay and for live events.

A projection is a class with a method per event type it reads, marked ``@on(EventType, ...)``;
``apply(event)`` calls the one for the event's type and passes over the rest. The same object is
fed by the service's own store (replayed at start by :meth:`ServiceApplication.follow`, then each
new recording) and, where it reads another service's events, by a
:class:`ProjectionConsumer` on that service's stream. Every read model can be thrown away and
built again from where its events come from.

A projection's state is its attributes (all but its lock): :class:`polku.store.ServiceApplication`
stores them now and then, with the store position and the consumers' cursors they reflect (a
*read-model snapshot*), so that a start replays only what came after. A projection that holds
anything a pickle cannot hold overrides :meth:`Projection.snapshot_state`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

from polku.consumer import Delivery, Prepared


def on(*event_types: type) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a projection method as the one that applies events of these types."""

    def mark(method: Callable[..., None]) -> Callable[..., None]:
        method.__polku_applies__ = event_types  # type: ignore[attr-defined]
        return method

    return mark


class Projection:
    """A read model. Subclasses mark their methods with :func:`on`."""

    _appliers: ClassVar[dict[type, Callable[..., None]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        appliers: dict[type, Callable[..., None]] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                for event_type in getattr(value, "__polku_applies__", ()):
                    appliers[event_type] = value
        cls._appliers = appliers

    #: held while events are applied; readers of the model take it too
    lock: threading.RLock

    def __new__(cls, *args: Any, **kwargs: Any) -> Projection:
        self = super().__new__(cls)
        self.lock = threading.RLock()
        #: where a :class:`ProjectionConsumer` has applied another service's stream up to:
        #: stream -> (sequence, source position); part of the state, so a snapshot has it
        self.consumed: dict[str, tuple[int, int]] = {}
        return self

    def snapshot_state(self) -> dict[str, Any]:
        """The model's state as a snapshot keeps it (call with the lock held)."""
        return {name: value for name, value in vars(self).items() if name != "lock"}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take up a state :meth:`snapshot_state` gave (before any event is applied)."""
        vars(self).update(state)

    def reads(self, event: Any) -> bool:
        return type(event) in self._appliers

    def apply(self, event: Any) -> None:
        applier = self._appliers.get(type(event))
        if applier is not None:
            with self.lock:
                applier(self, event)


class ProjectionConsumer:
    """A consumer's handler that applies another service's events to an in-memory projection.

    The cursor lives in the projection (``consumed``), moved with each batch it applies: with
    no snapshot of the projection the stream is replayed from its start, with one from the
    cursor the snapshot holds (see ``ConsumerSpec.before_commands``).
    """

    def __init__(self, projection: Projection) -> None:
        self.projection = projection

    def cursor(self, stream: str) -> tuple[int, int | None]:
        with self.projection.lock:
            return self.projection.consumed.get(stream, (0, 0))

    def prepare(self, deliveries: list[Delivery[Any]]) -> Prepared:
        return Prepared(deliveries)

    def commit(self, prepared: Prepared, stream: str, last_seq: int, source_position: int | None = None) -> None:
        failed = {f.delivery.seq for f in prepared.failures}
        with self.projection.lock:
            for d in prepared.deliveries:
                if d.seq not in failed:
                    self.projection.apply(d.event)
            self.projection.consumed[stream] = (last_seq, source_position or 0)
