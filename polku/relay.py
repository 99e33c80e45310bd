"""From store to bus: the relay.

Never "save, then publish": a crash between the two would lose an event. The relay follows the
service's own notification log, maps each stored event to its contract event (the service's
``publishing.py``), publishes it to JetStream with ``Nats-Msg-Id = <aggregate id>:<version>``,
and records the position it reached in the service's own store.

The service's own stream holds its events in store order, each once. The relay publishes a
page's events for it as one atomic batch (JetStream's ``Nats-Batch-*``, ADR-50: all of the batch
is stored, or none of it), whose first message expects the stream's last sequence to be the one
the relay knows (``Nats-Expected-Last-Sequence``), and the next page only once that batch is
committed. So no event ever lands after one that did not, whether a page fails midway, NATS
goes away, or someone else puts a message in the stream meanwhile (the next batch is refused as
a whole, and the relay looks again). At start, and after any failure, the
relay asks the stream where it ends (the ``Polku-Position`` of its last event) and goes on from
there: what the stream lost (a power cut before JetStream synced, a node lost, the stream
recreated) is published again, and what it holds is not sent twice. Consumers therefore see each
producer's events in position order, which is each aggregate's version order, and resume by
position (polku/consumer.py).

Publishing is asynchronous, a page at a time: every message of a page is sent with a reply
subject of one subscription, and the page is settled when JetStream has acknowledged all of
them. A loop of awaited publishes would be round-trip bound, and nats-py's ``publish_async``
spends more per message (a semaphore, a future and a token each) than the relay spends mapping
the event.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.persistence import Notification

import msgspec
from nats.aio.client import Client

import contracts
from contracts.base import Actor, Event, encoder
from polku.bus import H_BATCH_COMMIT, H_BATCH_ID, H_BATCH_SEQUENCE, H_EXPECTED_LAST_SEQUENCE, event_headers, stream_end
from polku.consumer import sleep_or_stop
from polku.log import get_logger
from polku.store import RELAY_TRACKING, ServiceApplication

log = get_logger("polku.relay")

EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://polku.invalid/event")


def event_id(originator_id: UUID, version: int) -> UUID:
    """The contract event's id: stable for a stored event, so a republished event keeps it."""
    return uuid5(EVENT_ID_NAMESPACE, f"{originator_id}:{version}")


def envelope(e: Any) -> dict[str, Any]:
    """The fields every contract event takes from a stored event: its stable id, its business
    time and who acted (from the envelope)."""
    actor = e.env.actor
    return {
        "event_id": event_id(e.originator_id, e.originator_version),
        "occurred_at": e.env.occurred_at,
        "actor": Actor(**actor) if actor else None,
    }


#: A service's publishing table: a stored domain event in, its contract event out, or None for
#: an event that stays inside the service. It answers by the event's type: a type mapped to None
#: once is never published, so the relay skips its stored events unread from then on.
Mapper = Callable[[Any], Event | None]


def published_topics(table: Iterable[type]) -> tuple[str, ...]:
    """The stored-event topics of a publishing table's domain event classes: the relay reads
    only these from the store, and passes over what stays inside the service unread."""
    from eventsourcing.utils import get_topic

    return tuple(sorted(get_topic(cls) for cls in table))


@dataclass(frozen=True)
class Outgoing:
    subject: str
    payload: bytes
    headers: dict[str, str]
    position: int


def to_outgoing(
    app: ServiceApplication,
    mapper: Mapper,
    notifications: Iterable[Notification],
    internal: set[str] | None = None,
) -> list[Outgoing]:
    """The contract events of stored events; ``internal`` collects (and skips) the topics of
    events that stay inside the service, so they are not even decrypted again."""
    out: list[Outgoing] = []
    for notification in notifications:
        if internal is not None and notification.topic in internal:
            continue
        domain_event = app.mapper.to_domain_event(notification)
        contract_event = mapper(domain_event)
        if contract_event is None:
            if internal is not None:
                internal.add(notification.topic)
            continue
        spec = contracts.EVENTS_BY_NAME[type(contract_event).__name__]
        env = domain_event.env
        out.append(
            Outgoing(
                subject=spec.subject,
                payload=encoder.encode(contract_event),
                headers=event_headers(
                    msg_id=f"{domain_event.originator_id}:{domain_event.originator_version}",
                    event_name=spec.name,
                    schema_version=spec.schema_version,
                    position=notification.id,
                    correlation_id=env.correlation_id,
                    causation_id=env.causation_id,
                    traceparent=env.traceparent,
                ),
                position=notification.id,
            )
        )
    return out


class PublishFailed(RuntimeError):
    """JetStream refused a message of a page (or nobody answered): the page is published again."""


class _PubAck(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: dict[str, Any] | None = None


_ack_decoder = msgspec.json.Decoder(_PubAck)


class _Page:
    __slots__ = ("done", "duplicates", "error", "last_seq", "messages", "remaining", "size")

    def __init__(self, size: int, done: asyncio.Future[None], messages: int | None = None) -> None:
        self.size = size  # acknowledgements awaited (one for an atomic batch: its commit's)
        self.messages = size if messages is None else messages
        self.remaining = size
        self.duplicates = 0
        self.error: str | None = None
        #: the highest stream sequence acknowledged
        self.last_seq = 0
        self.done = done
        if size == 0:
            done.set_result(None)


class PagePublisher:
    """Publishes pages of messages to JetStream and settles each page by its acknowledgements.

    One subscription (``<inbox>.*``) takes every acknowledgement; each message's reply subject
    ends in its own number, which maps it to its page.
    """

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self._prefix = nc.new_inbox()
        self._sub: Any = None
        self._next = 0
        self._waiting: dict[int, _Page] = {}

    async def publish(self, messages: Sequence[Outgoing], *, atomic: bool = False) -> _Page:
        """Send ``messages``; ``atomic``: as one atomic batch of one stream (at most 1000), of
        which only the commit, on the last message, is acknowledged."""
        if self._sub is None:
            self._sub = await self.nc.subscribe(self._prefix + ".*", cb=self._on_ack)
        loop = asyncio.get_running_loop()
        prefix = self._prefix + "."
        if atomic and messages:
            page = _Page(1, loop.create_future(), len(messages))
            batch = uuid4().hex
            last = len(messages) - 1
            for i, m in enumerate(messages):
                headers = {**m.headers, H_BATCH_ID: batch, H_BATCH_SEQUENCE: str(i + 1)}
                if i < last:
                    await self.nc.publish(m.subject, m.payload, headers=headers)
                    continue
                n = self._next
                self._next += 1
                self._waiting[n] = page
                headers[H_BATCH_COMMIT] = "1"
                await self.nc.publish(m.subject, m.payload, reply=prefix + str(n), headers=headers)
            return page
        page = _Page(len(messages), loop.create_future())
        for m in messages:
            n = self._next
            self._next += 1
            self._waiting[n] = page
            await self.nc.publish(m.subject, m.payload, reply=prefix + str(n), headers=m.headers)
        return page

    async def settle(self, page: _Page, timeout: float = 10.0) -> int:
        """Wait for every acknowledgement of ``page``; return how many were duplicates."""
        try:
            await asyncio.wait_for(asyncio.shield(page.done), timeout)
        except TimeoutError:
            self.forget(page)
            raise TimeoutError(f"{page.remaining} of {page.size} publishes not acknowledged") from None
        if page.error is not None:
            raise PublishFailed(page.error)
        return page.duplicates

    def forget(self, page: _Page) -> None:
        """Stop waiting for ``page`` (its acknowledgements, if any come, are dropped)."""
        for n in [n for n, p in self._waiting.items() if p is page]:
            del self._waiting[n]

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _on_ack(self, msg: Any) -> None:
        try:
            page = self._waiting.pop(int(msg.subject.rsplit(".", 1)[1]), None)
        except ValueError:
            return
        if page is None:
            return
        if not msg.data:  # a status message: no stream takes this subject (503), or the like
            status = (msg.headers or {}).get("Status", "no acknowledgement")
            page.error = page.error or f"JetStream did not take the message (status {status})"
        else:
            try:
                ack = _ack_decoder.decode(msg.data)
            except msgspec.DecodeError:
                page.error = page.error or "an acknowledgement JetStream sent could not be read"
            else:
                if ack.error is not None:
                    page.error = page.error or f"JetStream refused a message: {ack.error.get('description', ack.error)}"
                elif ack.duplicate:
                    page.duplicates += 1
                page.last_seq = max(page.last_seq, ack.seq)
        page.remaining -= 1
        if page.remaining == 0 and not page.done.done():
            page.done.set_result(None)


async def publish_all(nc: Client, messages: Sequence[Outgoing], *, timeout: float = 10.0) -> int:
    """Publish, then wait for every acknowledgement; return the duplicates; raise if any failed."""
    publisher = PagePublisher(nc)
    try:
        return await publisher.settle(await publisher.publish(messages), timeout)
    finally:
        await publisher.close()


class Relay:
    def __init__(
        self,
        app: ServiceApplication,
        mapper: Mapper,
        nc: Client,
        *,
        page_size: int = 1000,
        idle_wait: float = 0.25,
        record_every: float = 0.2,
        topics: Sequence[str] = (),
        stream: str | None = None,
    ) -> None:
        self.app = app
        #: the service's own stream: its events land there in store order, each once
        self.stream = stream
        self._own_prefix = contracts.STREAMS[stream].rstrip(">") if stream else None
        #: what the stream holds: up to this store position, and its last sequence (None: ask
        #: it); whether it takes atomic batches
        self._held = 0
        self._last_seq: int | None = None
        self._atomic = False
        self._atomic_told = False
        self.mapper = mapper
        #: the topics the mapper publishes (all, when empty): the store is read for these only
        self.topics = tuple(topics)
        self.publisher = PagePublisher(nc)
        self._internal: set[str] = set()
        self.page_size = page_size
        self.idle_wait = idle_wait
        self.position = 0  # acknowledged by JetStream
        self.published = 0  # events published and acknowledged since this relay was made
        self.recorded = 0  # recorded in the store
        self.record_every = record_every
        self._recorded_at = 0.0
        #: since when (monotonic) publishing has failed without a success in between; None
        #: while it works. A relay failing too long turns commands away (``polku.service``).
        self.failing_since: float | None = None
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        app.add_listener(self.wake_threadsafe)

    def pending(self, limit: int = 10_000) -> int:
        """How many stored events wait to be published (counted up to ``limit``): the relay's lag."""
        return self.app.count_after(self.position, tuple(self.topics or ()), limit)

    def wake_threadsafe(self) -> None:
        self._loop.call_soon_threadsafe(self._wake.set)

    async def catch_up_once(self, until: int | None = None) -> int:
        """Publish everything stored after our position (up to ``until``); return how many.

        Pages are pipelined where the stream's order does not depend on it (no own stream: the
        next page is read and published while the previous one's acknowledgements are on their
        way); with its own stream, the next page goes once the previous one's batch is committed.
        The position moves only over acknowledged pages.
        """
        total = 0
        inflight: deque[tuple[int, int, list[_Page], float]] = deque()
        depth = 1 if self._last_seq is not None else 2
        read_position = self.position
        try:
            while True:
                started = time.perf_counter()
                page, messages, reached = (
                    await asyncio.to_thread(self._read, read_position + 1, until)
                    if until is None or read_position < until
                    else ([], [], read_position)
                )
                moved = reached > read_position
                if moved:
                    # a range with nothing to publish (events that stay inside the service) is
                    # passed like a page: the position moves over it once what came before is
                    # acknowledged, and no later read scans it again
                    inflight.append((reached, len(page), await self._publish(messages) if messages else [], started))
                    read_position = reached
                if inflight and (not moved or len(inflight) >= depth):
                    last, count, published, started = inflight.popleft()
                    duplicates = 0
                    for part in published:
                        duplicates += await self.publisher.settle(part)
                        self.published += part.messages
                    if self._last_seq is not None and len(published) > 1 and published[1].last_seq:
                        self._last_seq = published[1].last_seq  # the own batch's last message
                    self.position = last
                    total += count
                    if count:
                        log.info(
                            "relay_published",
                            count=count,
                            duplicates=duplicates,
                            position=last,
                            duration_ms=round((time.perf_counter() - started) * 1000, 2),
                        )
                    await self.record_position()
                if not moved and not inflight:
                    return total
        except BaseException:
            self._last_seq = None  # where the stream ends is no longer known: ask it again
            raise
        finally:
            for _last, _count, published, _started in inflight:
                for part in published:
                    self.publisher.forget(part)

    async def _publish(self, messages: list[Outgoing]) -> list[_Page]:
        """Send a page: what goes to other streams (the audit stream several services write) as
        it comes, and the events for the own stream that it does not hold yet in store order, as
        one atomic batch whose first message expects the stream's last sequence. A stream that
        does not take atomic batches (set up before them: ``polku streams --apply``) gets them
        one by one, each expecting the sequence before it."""
        if self._own_prefix is None or self._last_seq is None:
            return [await self.publisher.publish(messages)]
        own: list[Outgoing] = []
        others: list[Outgoing] = []
        for m in messages:
            if not m.subject.startswith(self._own_prefix):
                others.append(m)
            elif m.position > self._held:
                own.append(m)
        # an atomic batch's first message expects for all of it; else each message for itself
        for i in range(min(len(own), 1) if self._atomic else len(own)):
            m = own[i]
            own[i] = Outgoing(m.subject, m.payload, {**m.headers, H_EXPECTED_LAST_SEQUENCE: str(self._last_seq + i)}, m.position)
        if own:
            self._held = own[-1].position
        return [await self.publisher.publish(others), await self.publisher.publish(own, atomic=self._atomic)]

    def _read(self, start: int, stop: int | None) -> tuple[list[Notification], list[Outgoing], int]:
        """The events to publish from ``start`` (to ``stop``), a page at most, and the position
        read up to: the last one of a full page, else the store's end when the read began (or
        ``stop``). Events that are not published (command records, tracking, identity records)
        are passed over, not read: a service that publishes little after storing much (followup
        under casefile's events) must not scan them again at every recording.

        The store's end is read before the page, so the page covers everything up to it: stores
        commit positions in order (SQLite has one writer; eventsourcing's PostgreSQL recorder
        locks the table for each insert), so no position below the end can appear later.
        """
        end = self.app.max_position()
        if stop is not None:
            end = min(end, stop)
        if end < start:
            return [], [], start - 1
        page = list(self.app.recorder.select_notifications(start, self.page_size, stop=end, topics=self.topics))
        reached = page[-1].id if len(page) == self.page_size else end
        return page, to_outgoing(self.app, self.mapper, page, self._internal), reached

    async def _check_stream(self) -> None:
        """Where does the stream end? Its last event from the store names the store position it
        came from (``Polku-Position``). A stream behind the relay's position lost events the relay
        had moved past (a power cut before JetStream synced, a node lost, the stream recreated):
        publish again from where the stream ends. Events the stream holds beyond the position (a
        position recorded late) are not sent again (:meth:`_in_order`)."""
        assert self.stream is not None
        end = await stream_end(self.publisher.nc.jetstream(), self.stream)
        # the position passes over events that are not published: the stream is behind only if
        # some published event lies between where it ends and the position
        if end.position < self.position and await asyncio.to_thread(
            self.app.count_after, end.position, self.topics, 1, self.position
        ):
            log.warning(
                "relay_stream_behind", stream=self.stream, recorded_position=self.position, stream_position=end.position,
                action="publishing again from the stream's position",
            )
            self.position = end.position
        self._held, self._last_seq = end.position, end.last_seq
        if not end.atomic and not self._atomic_told:
            log.warning(
                "relay_stream_not_atomic", stream=self.stream,
                action="polku streams --apply (the stream was made before atomic batches)",
            )
            self._atomic_told = True
        self._atomic = end.atomic

    async def record_position(self, *, force: bool = False) -> None:
        """Record the position in the store, at most every ``record_every`` seconds unless forced.

        A position recorded late only means some events are published again after a crash:
        their ``Nats-Msg-Id`` makes JetStream drop them, and consumers are idempotent anyway.
        """
        now = time.monotonic()
        if self.position <= self.recorded or (not force and now - self._recorded_at < self.record_every):
            return
        position = self.position
        await asyncio.to_thread(self.app.record_position, RELAY_TRACKING, position)
        self.recorded = position
        self._recorded_at = now

    async def run(self, stop: asyncio.Event) -> None:
        self.position = self.recorded = await asyncio.to_thread(
            self.app.tracking_position, RELAY_TRACKING
        )
        log.info("relay_started", position=self.position)
        backoff = 0.2
        while not stop.is_set():
            self._wake.clear()
            try:
                if self.stream is not None and self._last_seq is None:
                    await self._check_stream()
                count = await self.catch_up_once()
                if count == 0:
                    # idle, or only passing over events it does not publish: what the last
                    # pages reached is recorded here once ``record_every`` has passed (the idle
                    # wait is longer), not at every recording the relay is woken by
                    await self.record_position()
                backoff = 0.2
                self.failing_since = None
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - NATS away, a timeout, a locked store, a full stream
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                log.warning(
                    "relay_retrying", error=type(e).__name__, position=self.position, retry_in_s=backoff,
                    detail=str(e)[:200] if isinstance(e, PublishFailed) else None,  # JetStream's words
                )
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if count == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_wait)
                except TimeoutError:
                    pass
        try:
            await self.record_position(force=True)
        except Exception as e:  # noqa: BLE001 - the next start publishes the overlap again
            log.warning("relay_position_not_recorded", error=type(e).__name__, position=self.position)
        log.info("relay_stopped", position=self.position)

