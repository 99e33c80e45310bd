"""``polku rebuild reporting``: the indicators' fact tables built anew beside the live ones by
replaying INTAKE, CASEFILE and FOLLOWUP from sequence 1, then swapped in with the tracking records
in one transaction. The live model keeps serving (and its consumers keep consuming) until the
swap; if they moved on meanwhile, the new model catches up on each stream before it is swapped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from asyncio import Queue
from typing import Any

import msgspec
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from contracts.casefile import casefile_decoder
from contracts.followup import followup_decoder
from contracts.intake import intake_decoder
from polku.bus import position_of
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


async def _replay(
    view: IndicatorsView,
    js: JetStreamContext,
    stream: str,
    target: int,
    batch: int,
    counted: Callable[[int], None],
) -> None:
    """Apply ``stream`` to the new model from where it stands up to ``target``.

    An ordered push consumer reads (JetStream detects gaps and restarts it where it left off);
    its callback only hands each message on, and what it handed on is applied in transactions of
    ``batch``. Memory stays bounded whatever the stream's length: the hand-over holds at most
    four transactions' worth, and while it is full the callback waits, so the subscription's own
    queue (at most ``batch * 50``) fills and JetStream's flow control holds the rest back."""
    done, source = await asyncio.to_thread(view.next_cursor, stream)
    start = done + 1
    if start > target:
        return
    decoder = DECODERS[stream]
    handed: Queue[Any] = Queue(maxsize=batch * 4)

    async def collect(msg: Any) -> None:
        await handed.put(msg)

    sub = await js.subscribe(
        "polku.>",
        stream=stream,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start),
        cb=collect,
        pending_msgs_limit=batch * 50,
    )
    position = start - 1
    try:
        while position < target:
            try:
                msgs = [await asyncio.wait_for(handed.get(), 0.05)]
            except TimeoutError:
                continue
            while len(msgs) < batch and not handed.empty():
                msgs.append(handed.get_nowait())
            events = []
            for m in msgs:
                # each event once, in its producer's order (as the live consumer applies them);
                # a message from no store, or one that cannot be decoded, the live consumer
                # dead-lettered
                at = position_of(m)
                if at is None or at <= source:
                    continue
                source = at
                try:
                    events.append(decoder.decode(m.data))
                except Exception:  # noqa: BLE001  # undecodable for whatever reason
                    pass
            position = msgs[-1].metadata.sequence.stream
            await asyncio.to_thread(view.apply_next, stream, events, position, source)
            counted(len(msgs))
    finally:
        await sub.unsubscribe()


async def rebuild(
    view: IndicatorsView,
    js: JetStreamContext,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 2000,
) -> RebuildResult:
    """Replay the three streams into a new model, then swap it in atomically."""
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
            await _replay(view, js, stream, targets[stream], batch, counted)
        behind = await asyncio.to_thread(view.try_swap)
        if not behind:
            break
        for stream, (_built, live) in behind.items():  # the live consumers moved on meanwhile
            targets[stream] = max(live, (await js.stream_info(stream)).state.last_seq)
    positions = {s: view.position(s) for s in SOURCES}
    return RebuildResult(total, positions, time.perf_counter() - started)
