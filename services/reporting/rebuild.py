"""``polku rebuild reporting``: the indicators' fact tables built anew beside the live ones by
replaying INTAKE, CASEFILE and FOLLOWUP from sequence 1, then swapped in with the tracking records
in one transaction. The live model keeps serving (and its consumers keep consuming) until the
swap; if they moved on meanwhile, the new model catches up on each stream before it is swapped.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import re
import time
from asyncio import Queue
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.casefile import casefile_decoder
from contracts.followup import followup_decoder
from contracts.intake import intake_decoder
from contracts import H_POSITION
from polku.settings import Settings
from services.reporting.indicators import SOURCES, IndicatorsView

DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "INTAKE": intake_decoder,
    "CASEFILE": casefile_decoder,
    "FOLLOWUP": followup_decoder,
}


@dataclass
class RebuildResult:
    events: int
    positions: dict[str, int]
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


_SPACE = re.compile(r"\s")


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """nats-py's ``Client._parse_header_lines``, the same parse (it is checked against it on
    random input in the tests), with a name's whitespace found by one regular expression
    (``\\s`` matches what ``str.isspace`` does) rather than a generator over its characters.
    :func:`position_in` falls back on it for a header block it cannot read directly."""
    out: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            key = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if _SPACE.search(key):
            continue
        out[key] = value.strip().decode("utf-8", "replace")
    return out


#: how long a pull request may deliver nothing before it is taken as lost (a connection cut
#: mid-request): the consumer is then made anew from the first message not yet received
STALL_S = 10.0

_POSITION_NAME = H_POSITION.encode("ascii")
_POSITION_LINE = b"\r\n" + _POSITION_NAME + b":"


def position_in(headers: bytes | None) -> int | None:
    """:func:`polku.bus.position_of` on a message's raw header block (``NATS/1.0`` and its
    lines) as nats-py would have parsed it: the store position it names, or None. The line the
    relay writes (the name once, a value of digits) is read where it stands; any other block
    that names a position is parsed in full, as nats-py parses it."""
    if not headers or _POSITION_NAME not in headers:
        return None
    at = headers.find(_POSITION_LINE)
    if at >= 0 and headers.count(_POSITION_NAME) == 1:
        start = at + len(_POSITION_LINE)
        end = headers.find(b"\r\n", start)
        raw = (headers[start:end] if end >= 0 else headers[start:]).strip()
        if raw.isdigit():  # ASCII digits only, unlike str.isdigit
            value = int(raw)
            return value if value > 0 else None
    first_line_end = headers.find(b"\r\n")
    if first_line_end < 0:
        return None
    try:
        value = int(parse_header_lines(headers[first_line_end + 2 :]).get(H_POSITION, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def stream_sequence(reply: bytes) -> int:
    """The stream sequence in a JetStream delivery's reply subject, in either of its forms:
    ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>...`` (9 tokens), or with the domain
    and the account's hash after ``ACK`` (12 or more), as nats-py's ``Msg.metadata`` reads it."""
    tokens = reply.split(b".")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])


#: a message as the reader hands it on: (reply subject, raw headers, payload)
Raw = tuple[bytes, bytes | None, bytes]


@contextmanager
def _taken_raw(nc: Any, sid: int, take: Callable[[bytes, bytes | None, bytes], None]) -> Iterator[None]:
    """The messages of subscription ``sid`` handed to ``take`` as they come off the wire, before
    nats-py makes each a ``Msg`` (its headers parsed into a dict, a task hop through the
    subscription's queue, the reply subject parsed for its metadata): a rebuild needs of each
    only its payload, its position header and its stream sequence, and those steps were most
    of what reading a message cost. Every other subscription of the connection is served as
    before."""
    process = nc._process_msg  # what nats-py's protocol parser calls for each message

    async def _process_msg(s: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        if s == sid:
            take(reply, headers, data)
        else:
            await process(s, subject, reply, data, headers)

    nc._process_msg = _process_msg
    try:
        yield
    finally:
        if nc.__dict__.get("_process_msg") is _process_msg:
            del nc._process_msg


async def _read(
    js: JetStreamContext, stream: str, start: int, target: int, batch: int, handed: Queue[list[Raw]]
) -> None:
    """Read ``stream`` from sequence ``start`` until ``target`` through an ephemeral pull
    consumer that needs no acks, in requests of ``batch`` messages, and hand each request's
    messages on as one list (``batch`` at most). The messages of one consumer come in stream
    order on one inbox, so they are handed on in that order whatever the requests' boundaries.
    A request is made only when the hand-over has room: memory stays bounded."""
    nc = js._nc  # the connection under the JetStream context (nats-py keeps it there)
    prefix = js._prefix
    next_seq = start
    while next_seq <= target:
        got: list[Raw] = []
        ended = asyncio.Event()
        wanted = 0

        def take(reply: bytes, headers: bytes | None, data: bytes) -> None:
            if not data and headers and headers.startswith(b"NATS/1.0 "):
                if headers[9:12] != b"100":  # a status: the request ended, nothing more now (404, 408)
                    ended.set()
                return
            got.append((reply, headers, data))
            if len(got) >= wanted:
                ended.set()

        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        consumer = None
        try:
            with _taken_raw(nc, sub._id, take):
                consumer = (
                    await js.add_consumer(
                        stream,
                        ConsumerConfig(
                            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=next_seq,
                            ack_policy=AckPolicy.NONE, filter_subject="polku.>", inactive_threshold=60.0,
                            mem_storage=True,
                        ),
                    )
                ).name
                pull = f"{prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
                while next_seq <= target:
                    wanted = min(batch, target - next_seq + 1)
                    ended.clear()
                    await nc.publish(pull, msgspec.json.encode({"batch": wanted, "no_wait": True}), reply=inbox)
                    seen = -1
                    while not ended.is_set() and seen != len(got):
                        seen = len(got)
                        try:
                            await asyncio.wait_for(ended.wait(), STALL_S)
                        except TimeoutError:
                            pass
                    if not ended.is_set():
                        break  # the request, or its answer, was lost: a new consumer from next_seq
                    if not got:
                        await asyncio.sleep(0.05)  # nothing there yet (a message beyond the filter)
                        continue
                    msgs, got[:] = got[:batch], got[batch:]
                    next_seq = stream_sequence(msgs[-1][0]) + 1
                    await handed.put(msgs)
        finally:
            await sub.unsubscribe()
            if consumer is not None:
                try:
                    await js.delete_consumer(stream, consumer)
                except Exception:  # noqa: BLE001 - gone already; it would expire unused anyway
                    pass


#: applies one request's payloads to the new model: (stream, payloads, last sequence, source position)
Apply = Callable[[str, list[bytes], int, int], "asyncio.Future[None]"]


def decode_and_apply(view: IndicatorsView, stream: str, payloads: list[bytes], position: int, source: int) -> None:
    """Decode one request's events and apply them to ``view``'s new model in one transaction.
    An event that cannot be decoded, whatever the reason, the live consumer dead-lettered: it is
    left out here too."""
    decode = DECODERS[stream].decode
    events = []
    for data in payloads:
        try:
            events.append(decode(data))
        except Exception:  # noqa: BLE001
            pass
    view.apply_next(stream, events, position, source)


def in_thread(view: IndicatorsView) -> Apply:
    """Decode and apply in a thread of this process."""

    def apply(stream: str, payloads: list[bytes], position: int, source: int) -> asyncio.Future[None]:
        return asyncio.ensure_future(asyncio.to_thread(decode_and_apply, view, stream, payloads, position, source))

    return apply


_worker_view: IndicatorsView | None = None
#: the young objects allocated between two looks of the garbage collector while a rebuild runs
#: (Python's default is 700; see _fewer_collections)
FEWER_COLLECTIONS = 20_000
#: the applying process' SQLite page cache (for as long as the rebuild runs)
WORKER_PAGE_CACHE_MB = 64


def _open_worker_view(settings: Settings) -> None:
    global _worker_view
    from multiprocessing.util import Finalize

    from services.reporting.main import build_view  # main imports this module

    gc.set_threshold(FEWER_COLLECTIONS, *gc.get_threshold()[1:])  # as _fewer_collections, for this process' life
    _worker_view = build_view(settings)
    # the new tables' lookups by relationship over a growing index: 7 % more events/s at 1M
    _worker_view.db.set_page_cache(WORKER_PAGE_CACHE_MB)
    Finalize(_worker_view, _worker_view.close, exitpriority=10)


def _started() -> None:
    pass


def _apply_in_worker(stream: str, payloads: list[bytes], position: int, source: int) -> None:
    assert _worker_view is not None
    decode_and_apply(_worker_view, stream, payloads, position, source)


@contextmanager
def in_worker(settings: Settings) -> Iterator[Apply]:
    """Decode and apply in a process of its own, on its own connection to the same model, while
    this one reads: the two halves of a rebuild then run on two cores. In one process they
    shared one interpreter lock, and a thread for the applying gained nothing (measured); the
    payloads go over as bytes, a request's worth (a few MB) at a time. The process is started
    anew ('spawn'): forking one that runs an event loop and a NATS connection's threads is not
    safe. As with any use of 'spawn', a script that calls this must keep its work under
    ``if __name__ == "__main__":`` (the new process imports the script's main module); the
    ``polku`` command and ``python -m polku`` do."""
    pool = ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"),
        initializer=_open_worker_view, initargs=(settings,),
    )
    pool.submit(_started)  # the process starts (0.6 s of imports) while the new tables are reset and the first requests read

    def apply(stream: str, payloads: list[bytes], position: int, source: int) -> asyncio.Future[None]:
        return asyncio.get_running_loop().run_in_executor(pool, _apply_in_worker, stream, payloads, position, source)

    try:
        yield apply
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


async def _replay(
    view: IndicatorsView,
    js: JetStreamContext,
    stream: str,
    target: int,
    batch: int,
    counted: Callable[[int], None],
    apply: Apply,
) -> None:
    """Apply ``stream`` to the new model from where it stands up to ``target``.

    A reader task pulls the messages (:func:`_read`) and hands them on, a request's worth at a
    time; each is decoded and applied in one transaction (by ``apply``) while the next one is
    read.
    Memory stays bounded whatever the stream's length: at most three requests wait in the
    hand-over, one arrives, one is being sifted here and one decoded and applied, and while the
    hand-over is full the reader asks for nothing more."""
    done, source = await asyncio.to_thread(view.next_cursor, stream)
    start = done + 1
    if start > target:
        return
    handed: Queue[list[Raw]] = Queue(maxsize=3)
    reader = asyncio.ensure_future(_read(js, stream, start, target, batch, handed))
    applying: asyncio.Future[None] | None = None
    applied = 0
    position = start - 1
    try:
        while position < target:
            taking = asyncio.ensure_future(handed.get())
            await asyncio.wait((taking, reader), return_when=asyncio.FIRST_COMPLETED)
            if not taking.done():
                taking.cancel()
                reader.result()  # the reader failed: its error is the rebuild's
                raise RuntimeError(f"the reading of {stream} ended at {position}, before {target}")
            msgs = taking.result()
            payloads = []
            for _reply, headers, data in msgs:
                # each event once, in its producer's order (as the live consumer applies them);
                # a message from no store the live consumer dead-lettered
                at = position_in(headers)
                if at is None or at <= source:
                    continue
                source = at
                payloads.append(data)
            position = stream_sequence(msgs[-1][0])
            if applying is not None:
                await applying
                counted(applied)
            applying = apply(stream, payloads, position, source)
            applied = len(msgs)
        if applying is not None:
            await applying
            counted(applied)
            applying = None
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        if applying is not None:  # a failure meanwhile: the applying's transaction ends before this does
            await asyncio.gather(applying, return_exceptions=True)


async def rebuild(
    view: IndicatorsView,
    js: JetStreamContext,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 5000,
    settings: Settings | None = None,
) -> RebuildResult:
    """Replay the three streams into a new model, then swap it in atomically.

    With ``settings`` (those ``view`` was opened with), the events are decoded and applied in a
    process of its own (:func:`in_worker`), as ``polku rebuild reporting`` does; without, in a
    thread of this one."""
    with _fewer_collections(), (in_worker(settings) if settings else nullcontext(in_thread(view))) as apply:
        return await _rebuild(view, js, progress, batch, apply)


@contextmanager
def _fewer_collections(young: int = FEWER_COLLECTIONS) -> Iterator[None]:
    """The cyclic garbage collector less often while the rebuild runs: by default it looks at
    the young objects every 700 allocations, and the rebuild makes several per message (the
    message, its headers, the decoded event and its values) while it holds a few batches of
    them, few of which form cycles. About a tenth less CPU per event, measured."""
    before = gc.get_threshold()
    gc.set_threshold(max(young, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


async def _rebuild(
    view: IndicatorsView, js: JetStreamContext, progress: Callable[[int, int], None] | None, batch: int, apply: Apply
) -> RebuildResult:
    started = time.perf_counter()
    await asyncio.to_thread(view.reset_next)
    targets = {s: (await js.stream_info(s)).state.last_seq for s in SOURCES}
    total = 0

    def counted(n: int) -> None:
        nonlocal total
        total += n
        if progress:
            progress(total, max(total, sum(targets.values())))

    while True:
        for stream in SOURCES:
            await _replay(view, js, stream, targets[stream], batch, counted, apply)
        behind = await asyncio.to_thread(view.try_swap)
        if not behind:
            break
        for stream, (_built, live) in behind.items():  # the live consumers moved on meanwhile
            targets[stream] = max(live, (await js.stream_info(stream)).state.last_seq)
    positions = {s: view.position(s) for s in SOURCES}
    return RebuildResult(total, positions, time.perf_counter() - started)
