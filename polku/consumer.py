"""From bus to service: durable consumers with exactly-once effect.

A consumer named ``<service>-<source>`` (e.g. ``casefile-intake``) fetches messages in batches
from a durable pull consumer, given only the subjects its handler acts on when it names them.
The batch's effect and the consumer's cursor are committed in one transaction in the service's
own store, and the batch is acknowledged only after that commit, by its last message
(``AckPolicy.ALL``: one acknowledgement takes the whole batch off the pending).

The cursor is (the stream sequence of the last message handled, the store position of the last
event applied): each event names the position it has in its producer's store
(``Polku-Position``), which is its identity (one aggregate id and version) and its order. The
relay puts a producer's events in its stream in position order, each once (polku/relay.py), so:

- an event at or below the cursor's position is one already applied, whatever its sequence (a
  redelivery, or the same event published again): it is acknowledged and passed over;
- each aggregate's events are applied in version order;
- at start the cursor is checked against the stream: the message at the tracked sequence must
  still be the event at the tracked position. If it is not (the stream was recreated, or lost
  its last messages and got them again, so sequences were reused), the consumer says so and
  resynchronises by identity: it goes on from the first event after its position
  (``polku.bus.first_after``). It never skips by a sequence number it cannot trust.

The cursor, not JetStream's ack floor, is where a consumer starts: the durable consumer is
(re)created to deliver from there, so messages delivered but unacknowledged before a crash come
back first and in order. A transient fault (a locked database, a lost connection) is retried in
place, never skipped.

A message that cannot be decoded, that names no store position (it did not come from a Polku
store), or whose handling keeps failing, goes to
``polku.dlq.<consumer>`` with its headers and the error, and is then acknowledged and tracked:
one poison message never stops a consumer.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import msgspec
import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

import contracts
from polku import tracing
from polku.bus import first_after, position_at, position_of
from polku.log import get_logger

log = get_logger("polku.consumer")


def _why(e: Exception) -> str:
    """Why a message could not be decoded: msgspec's message (it names the field, never a value),
    or the kind of failure for anything else (a RecursionError from a too deeply nested value)."""
    if isinstance(e, (msgspec.ValidationError, msgspec.DecodeError)):
        return str(e)
    if isinstance(e, RecursionError):
        return "the message nests too deeply to be decoded"
    return f"the message could not be decoded ({type(e).__name__})"

T = TypeVar("T")


@dataclass
class Delivery(Generic[T]):
    """One message from a stream, decoded."""

    seq: int
    subject: str
    headers: dict[str, str]
    data: bytes
    event: T
    msg: Any = field(repr=False, default=None)
    #: the trace context its effect is stored with: the consumer's span for it (polku/tracing.py)
    trace: str | None = None

    @property
    def event_name(self) -> str | None:
        return self.headers.get(contracts.H_EVENT)

    @property
    def correlation_id(self) -> str | None:
        return self.headers.get(contracts.H_CORRELATION)

    @property
    def source_position(self) -> int | None:
        """The event's position in its producer's store (``Polku-Position``): its identity and
        its order; None for a message that did not come from a Polku store."""
        return position_of(self)


@dataclass
class Failure:
    delivery: Delivery[Any]
    code: str
    message: str


@dataclass
class Prepared:
    """What a batch will change, computed without writing; ``failures`` go to the DLQ."""

    deliveries: list[Delivery[Any]]
    failures: list[Failure] = field(default_factory=list)
    state: Any = None
    #: per delivery seq: ids worth a log line (relationship_id, ...), never personal data
    log_ids: dict[int, dict[str, str]] = field(default_factory=dict)


class BatchHandler(Protocol):
    """A service's side of a consumer. Both methods are synchronous; they run in a thread."""

    def cursor(self, stream: str) -> tuple[int, int | None]:
        """The committed cursor: (the last stream sequence handled, the source position of the
        last event applied); the position is None where it was never recorded (a store of
        before positions were tracked)."""

    def prepare(self, deliveries: list[Delivery[Any]]) -> Prepared:
        """Decide each delivery's effect; a delivery that breaks a rule becomes a Failure."""

    def commit(self, prepared: Prepared, stream: str, last_seq: int, source_position: int | None = None) -> None:
        """Commit the prepared effect with the cursor (last_seq, source_position), atomically."""


class TransientError(Exception):
    """Worth retrying in place: the database is locked, a connection dropped."""


def is_transient(e: BaseException) -> bool:
    import sqlite3

    from eventsourcing.persistence import InterfaceError, OperationalError

    kinds: tuple[type[BaseException], ...] = (
        TransientError,
        OperationalError,
        InterfaceError,
        sqlite3.OperationalError,
        TimeoutError,
        ConnectionError,
    )
    try:
        import psycopg

        kinds += (psycopg.OperationalError,)
    except ImportError:  # pragma: no cover - psycopg comes with eventsourcing[postgres]
        pass
    return isinstance(e, kinds)


class EventConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        service: str,
        source: str,
        decoder: msgspec.json.Decoder[Any],
        handler: BatchHandler,
        batch: int = 256,
        max_attempts: int = 5,
        ack_wait: float = 30.0,
        on_committed: Callable[[int], None] | None = None,
        subjects: Sequence[str] | None = None,
    ) -> None:
        self.js = js
        self.service = service
        self.source = source
        self.name = f"{service}-{source}"
        self.stream = contracts.SERVICE_STREAM[source]
        self.filter_subject = f"polku.{source}.>"
        #: the subjects the handler acts on, when it names them: JetStream delivers only these
        #: (a service that acts on 3 of intake's events does not fetch, decode and track the rest)
        self.subjects = tuple(sorted(subjects)) if subjects else None
        self.dlq_subject = f"polku.dlq.{self.name}"
        self.decoder = decoder
        self.handler = handler
        self.batch = batch
        self.max_attempts = max_attempts
        self.ack_wait = ack_wait
        self.on_committed = on_committed
        #: the cursor: the stream sequence last handled, the source position last applied
        self.position = 0
        self.source_position = 0
        self.processed = 0
        self.dead_lettered = 0
        #: events passed over because they were applied already (the same position again)
        self.repeated = 0
        #: times the stream was found not to be the one tracked, and the cursor resynchronised
        self.resynchronised = 0
        self._stored = (0, 0)
        #: set once everything the stream held when the consumer started has been handled
        self.caught_up = asyncio.Event()
        self._catch_up_to = 0

    # ------------------------------------------------------------------ setup
    async def _bind(self) -> Any:
        seq, source = await asyncio.to_thread(self.handler.cursor, self.stream)
        self._stored = (seq, source or 0)
        self.position, self.source_position = await self._checked(seq, source)
        try:
            await self.js.delete_consumer(self.stream, self.name)
        except NotFoundError:
            pass
        config = ConsumerConfig(
            durable_name=self.name,
            **({"filter_subjects": list(self.subjects)} if self.subjects else {"filter_subject": self.filter_subject}),
            # one acknowledgement a batch: the last message's acknowledges every one before it
            ack_policy=AckPolicy.ALL,
            ack_wait=self.ack_wait,
            max_ack_pending=self.batch * 4,
            max_deliver=-1,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.position + 1,
        )
        info = await self.js.add_consumer(self.stream, config)
        sub = await self.js.pull_subscribe_bind(durable=self.name, stream=self.stream)
        if not self.caught_up.is_set():
            # The stream's last sequence now; should the filter leave the last ones out, the
            # first fetch that finds nothing more says the consumer has caught up.
            self._catch_up_to = (await self.js.stream_info(self.stream)).state.last_seq
            self._check_caught_up()
        log.info(
            "consumer_started", consumer=self.name, stream=self.stream, position=self.position,
            pending=info.num_pending,
        )
        return sub

    async def _checked(self, seq: int, source: int | None) -> tuple[int, int]:
        """The cursor to go on from: the committed one if the stream still holds, at its
        sequence, the event of its position; else the stream is not the one tracked, and the
        consumer goes on from the first event after its position (resynchronised by identity)."""
        if seq == 0:
            return 0, 0
        there = await position_at(self.js, self.stream, seq)
        if source is None:  # a cursor of before positions were tracked: take the stream's word
            return seq, there or 0
        if there == source:
            return seq, source
        resume = await first_after(self.js, self.stream, source)
        self.resynchronised += 1
        log.warning(
            "consumer_stream_changed", consumer=self.name, stream=self.stream, tracked_seq=seq,
            tracked_position=source, position_there=there, resume_seq=resume,
            action="resynchronised by position: going on from the first event after the tracked one",
        )
        return resume - 1, source

    async def lag(self) -> int:
        """Messages of its subjects on the stream not yet handled: JetStream's count of the
        durable consumer's pending and unacknowledged ones (its position says less when it is
        filtered: the stream's last message may be one it never gets); the stream's end less
        the position while the consumer is not there (before it binds, or being made again)."""
        try:
            info = await self.js.consumer_info(self.stream, self.name)
        except NotFoundError:
            last = (await self.js.stream_info(self.stream)).state.last_seq
            return max(last - self.position, 0)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    def _check_caught_up(self) -> None:
        if not self.caught_up.is_set() and self.position >= self._catch_up_to:
            self.caught_up.set()
            log.info("consumer_caught_up", consumer=self.name, position=self.position, processed=self.processed)

    # ------------------------------------------------------------------- loop
    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        sub = None
        while not stop.is_set():
            try:
                if sub is None:
                    sub = await self._bind()
                try:
                    msgs = await sub.fetch(self.batch, timeout=0.5)
                except (nats.errors.TimeoutError, TimeoutError):
                    self._catch_up_to = min(self._catch_up_to, self.position)  # nothing more came
                    self._check_caught_up()
                    continue
                await self.handle(msgs)
                self._check_caught_up()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - NATS away or a store fault: retry in place
                log.warning("consumer_retrying", consumer=self.name, error=type(e).__name__, retry_in_s=backoff)
                await _unsubscribe(sub)
                sub = None  # rebind from the tracked position: nothing is skipped
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 5.0)
        await _unsubscribe(sub)
        log.info("consumer_stopped", consumer=self.name, position=self.position)

    async def handle(self, msgs: list[Any]) -> None:
        started = time.perf_counter()
        fresh: list[Delivery[Any]] = []
        poison: list[Failure] = []
        duplicates: list[Any] = []
        repeated: list[Delivery[Any]] = []
        source = self.source_position
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            if seq <= self.position:
                duplicates.append(msg)
                continue
            headers = dict(msg.headers or {})
            try:
                event = self.decoder.decode(msg.data)
            except Exception as e:  # noqa: BLE001  # whatever the reason (RecursionError: nesting too deep), the message is dead-lettered and the consumer goes on
                poison.append(
                    Failure(Delivery(seq, msg.subject, headers, msg.data, None, msg), contracts.DLQ_UNDECODABLE, _why(e))
                )
                continue
            delivery = Delivery(seq, msg.subject, headers, msg.data, event, msg)
            position = delivery.source_position
            if position is None:
                poison.append(Failure(delivery, contracts.DLQ_NO_POSITION, NO_POSITION))
            elif position <= source:
                repeated.append(delivery)  # this event was applied already: the same identity again
            else:
                source = position
                fresh.append(delivery)
        for msg in duplicates:
            await msg.ack()
            log.info("message_handled", consumer=self.name, subject=msg.subject, seq=msg.metadata.sequence.stream, outcome="duplicate", duration_ms=0.0)

        last_seq = max((m.metadata.sequence.stream for m in msgs), default=0)
        if last_seq <= self.position:
            return
        spans = {d.seq: self._span(d) for d in fresh}
        if not fresh and last_seq <= self._stored[0] and source <= self._stored[1]:
            # resynchronised into lower sequences, and nothing here is new: the stored cursor
            # is not moved back for it (it is ahead on both counts already)
            prepared = Prepared([])
            await self._dead_letter(poison)
        else:
            prepared = await self._commit_with_retries(fresh, poison, last_seq, source)
            self._stored = (last_seq, source)
        self.position, self.source_position = last_seq, source
        # every message of the batch is handled (applied, passed over, or dead-lettered): the
        # last one's acknowledgement (AckPolicy.ALL) takes them all off the consumer's pending
        await max(msgs, key=lambda m: m.metadata.sequence.stream).ack()
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        failed = {f.delivery.seq: f for f in prepared.failures + poison}
        for seq, span in spans.items():
            if seq in failed:
                span.set_status(tracing.Status(tracing.StatusCode.ERROR, failed[seq].code))
            span.end()
        for d in repeated:
            log.info(
                "message_handled", consumer=self.name, subject=d.subject, event_name=d.event_name, seq=d.seq,
                source_position=d.source_position, outcome="repeated", duration_ms=duration_ms,
            )
        for d in sorted(fresh + [f.delivery for f in poison], key=lambda d: d.seq):
            failure = failed.get(d.seq)
            log.info(
                "message_handled",
                consumer=self.name,
                subject=d.subject,
                event_name=d.event_name,
                seq=d.seq,
                correlation_id=d.correlation_id,
                outcome="dead_lettered" if failure else "processed",
                error_code=failure.code if failure else None,
                duration_ms=duration_ms,
                **prepared.log_ids.get(d.seq, {}),
                **(tracing.span_ids(spans[d.seq]) if d.seq in spans else {}),
            )
        self.processed += len(fresh) - len(prepared.failures)
        self.dead_lettered += len(failed)
        self.repeated += len(repeated)
        if self.on_committed:
            self.on_committed(self.position)

    def _span(self, d: Delivery[Any]) -> Any:
        """The span of one event's handling, child of the trace it came with; what the event
        causes is stored with this span's context (``Delivery.trace``)."""
        span = tracing.start_span(
            f"{self.name} process", d.headers.get(contracts.H_TRACEPARENT),
            **{"messaging.system": "nats", "messaging.destination.name": d.subject,
               "messaging.consumer.group.name": self.name, "polku.event": d.event_name, "polku.seq": d.seq},
        )
        d.trace = tracing.traceparent_of(span)
        return span

    async def _commit_with_retries(
        self, fresh: list[Delivery[Any]], poison: list[Failure], last_seq: int, source: int
    ) -> Prepared:
        """Prepare and commit a batch; isolate a delivery that keeps failing and dead-letter it."""
        attempt = 0
        while True:
            attempt += 1
            try:
                prepared = await asyncio.to_thread(self.handler.prepare, fresh)
                await self._dead_letter(poison + prepared.failures)
                await asyncio.to_thread(self.handler.commit, prepared, self.stream, last_seq, source)
                return prepared
            except Exception as e:  # noqa: BLE001
                if is_transient(e):
                    log.warning("consumer_commit_retrying", consumer=self.name, error=type(e).__name__, attempt=attempt)
                    for d in fresh:
                        await d.msg.in_progress()
                    await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
                    continue
                if len(fresh) > 1:
                    # Something in the batch breaks the commit: go one by one to find it.
                    log.warning("consumer_batch_split", consumer=self.name, error=type(e).__name__, size=len(fresh))
                    return await self._one_by_one(fresh, poison, last_seq, source)
                if attempt < self.max_attempts:
                    await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
                    continue
                failures = [Failure(d, contracts.DLQ_HANDLER_FAILED, type(e).__name__) for d in fresh]
                await self._dead_letter(poison + failures)
                await asyncio.to_thread(
                    self.handler.commit, Prepared([], failures), self.stream, last_seq, source
                )
                return Prepared([], failures)

    async def _one_by_one(
        self, fresh: list[Delivery[Any]], poison: list[Failure], last_seq: int, source: int
    ) -> Prepared:
        result = Prepared([])
        await self._dead_letter(poison)
        for d in fresh:
            single = await self._commit_with_retries([d], [], d.seq, d.source_position or source)
            result.failures += single.failures
            result.log_ids.update(single.log_ids)
        if not fresh or fresh[-1].seq < last_seq:  # the batch ended with poison or repeats: track it too
            await asyncio.to_thread(self.handler.commit, Prepared([]), self.stream, last_seq, source)
        return result

    async def _dead_letter(self, failures: list[Failure]) -> None:
        for failure in failures:
            d = failure.delivery
            headers = {k: v for k, v in d.headers.items() if k != contracts.H_MSG_ID}
            headers.update(
                {
                    contracts.H_MSG_ID: f"dlq:{self.name}:{self.stream}:{d.seq}",
                    contracts.H_DLQ_CONSUMER: self.name,
                    contracts.H_DLQ_STREAM: self.stream,
                    contracts.H_DLQ_SEQUENCE: str(d.seq),
                    contracts.H_DLQ_SUBJECT: d.subject,
                    contracts.H_DLQ_ERROR_CODE: failure.code,
                    contracts.H_DLQ_ERROR: _without_values(failure.message)[:500],
                }
            )
            await self.js.publish(self.dlq_subject, d.data, headers=headers)
            log.warning(
                "message_dead_lettered",
                consumer=self.name,
                seq=d.seq,
                subject=d.subject,
                error_code=failure.code,
                correlation_id=d.headers.get(contracts.H_CORRELATION),
            )


async def _unsubscribe(sub: Any) -> None:
    if sub is None:
        return
    try:
        await sub.unsubscribe()
    except Exception:  # noqa: BLE001 - the connection may be gone already
        pass


NO_POSITION = (
    "the message names no store position (Polku-Position): it did not come from a Polku store's relay"
)


def _without_values(message: str) -> str:
    """An error message without the quoted values it may echo (they could be personal data)."""
    return re.sub(r"'[^']*'", "'…'", message)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set first (a retry's back-off)."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
