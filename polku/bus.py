"""NATS and JetStream: connecting, the streams, the headers of an event."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

import contracts
from polku import nats_auth
from polku.log import get_logger

log = get_logger("polku.bus")


class _QuietTlsClose(logging.Filter):
    """asyncio warns on every TLS connection a server closes (nats-py returns True from
    eof_received); the close is expected, the warning is noise on every CLI run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect when using ssl" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietTlsClose())

#: JetStream drops a message whose Nats-Msg-Id it saw within this window. Idempotent consumers,
#: not the window, are what make redelivery harmless; the window only saves work.
DUPLICATE_WINDOW_S = 120.0
#: how long the DLQ keeps a message (days; POLKU_DLQ_MAX_AGE_DAYS): long enough to be looked at
DLQ_MAX_AGE_DAYS = 30.0


def dlq_max_age_s() -> float:
    return float(os.environ.get("POLKU_DLQ_MAX_AGE_DAYS", DLQ_MAX_AGE_DAYS)) * 86400.0


async def connect(
    url: str, *, name: str, user: str | None = None, var_dir: Path | None = None, wait: float = 30.0
) -> Client:
    """Connect as ``user``, retrying for up to ``wait`` seconds; afterwards reconnect forever.

    ``url`` may list several servers separated by commas (a cluster). The user's password and
    the CA the server's certificate is checked against come from polku/nats_auth.py (the
    environment in production, ``var_dir``/nats-auth for the embedded server).
    """
    options = nats_auth.credentials(user, var_dir).nats_options()
    deadline = asyncio.get_running_loop().time() + wait
    last_error: Exception | None = None

    async def _quiet(_e: Exception) -> None:  # connection trouble is logged by us, once
        return None

    while True:
        try:
            return await nats.connect(
                [u.strip() for u in url.split(",") if u.strip()],
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                error_cb=_quiet,
                pending_size=64 * 1024 * 1024,
                **options,
            )
        except Exception as e:  # noqa: BLE001 - the nats client raises many kinds here
            last_error = e
            if "authorization violation" in str(e).lower() or isinstance(e, ssl.SSLError):
                raise ConnectionError(f"NATS at {url} refused {user or 'no user'}: {e}") from e
            if asyncio.get_running_loop().time() > deadline:
                raise ConnectionError(f"NATS at {url} not reachable: {last_error}") from e
            await asyncio.sleep(0.5)


def stream_config(name: str, subjects: str, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=[subjects],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_msgs=-1,
        max_bytes=-1,
        max_age=dlq_max_age_s() if name == "DLQ" else 0,
        # the relay publishes each page as one atomic batch: all of it lands, or none
        allow_atomic=True,
    )


#: What Polku's correctness rests on (a stream that does not hold every subject, or drops a
#: message once consumed, would lose events): a difference is reported, set back by ``apply``.
OWNED_FIELDS = ("subjects", "retention", "storage", "allow_atomic")
#: What Polku's settings configure (POLKU_STREAM_REPLICAS; the DLQ's POLKU_DLQ_MAX_AGE_DAYS):
#: a difference is reported, applied by ``apply``.
CONFIGURED_FIELDS = ("num_replicas",)
#: What an operator may tune on the server (limits, the duplicate window): an existing stream
#: keeps the operator's values; `polku streams` says which differ from Polku's defaults.
TUNABLE_FIELDS = ("duplicate_window", "max_msgs", "max_bytes", "max_age", "discard")


Difference = dict[str, tuple[Any, Any]]  # field: (the stream's value, Polku's)


def differences(current: StreamConfig, config: StreamConfig) -> tuple[Difference, Difference, Difference]:
    """How a stream's configuration differs from Polku's: in what Polku owns, in what its
    settings configure, and in what an operator may tune."""
    configured = CONFIGURED_FIELDS + (("max_age",) if config.name == "DLQ" else ())

    def differing(fields: tuple[str, ...]) -> Difference:
        return {f: (_value(current, f), _value(config, f)) for f in fields if _value(current, f) != _value(config, f)}

    return (
        differing(OWNED_FIELDS), differing(configured),
        differing(tuple(f for f in TUNABLE_FIELDS if f not in configured)),
    )


def said(fields: Difference) -> str:
    return ", ".join(f"{f} {now} (Polku's {want})" for f, (now, want) in fields.items())


async def check_stream(js: JetStreamContext, name: str, replicas: int) -> None:
    """At a service's start: log how its own stream differs from Polku's configuration (a
    service may not change a stream; `polku streams --apply` does)."""
    current = (await js.stream_info(name)).config
    owned, settings, _tuned = differences(current, stream_config(name, contracts.STREAMS[name], replicas))
    if owned or settings:
        log.warning(
            "stream_config_differs", stream=name, differences=said({**owned, **settings}),
            action="polku streams --apply",
        )


async def ensure_streams(js: JetStreamContext, replicas: int = 1, *, apply: bool = False) -> list[str]:
    """Create the streams that are missing, and check the ones there: one line per difference
    from Polku's configuration (also logged). Nothing existing changes unless ``apply``; then
    what Polku owns (:data:`OWNED_FIELDS`) and what its settings configure are set, and what an
    operator tuned on the server (:data:`TUNABLE_FIELDS`) is kept. Idempotent."""
    report: list[str] = []
    for name, subjects in contracts.STREAMS.items():
        config = stream_config(name, subjects, replicas)
        try:
            current = (await js.stream_info(name)).config
        except NotFoundError:
            await js.add_stream(config)
            log.info("stream_created", stream=name, replicas=replicas)
            report.append(f"{name}: created")
            continue
        owned, settings, tuned = differences(current, config)
        if apply and (owned or settings):
            for f in (*owned, *settings):
                setattr(current, f, getattr(config, f))
            await js.update_stream(current)
        if owned:
            log.warning("stream_config_differs", stream=name, fields=sorted(owned), applied=apply, owned=True)
            report.append(
                f"{name}: {'set back' if apply else 'differs, Polku depends on it'}: {said(owned)}"
                + ("" if apply else "; `polku streams --apply` sets it back")
            )
        if settings:
            log.warning("stream_config_differs", stream=name, fields=sorted(settings), applied=apply, owned=False)
            report.append(
                f"{name}: {'set to Polku settings' if apply else 'differs from Polku settings'}: {said(settings)}"
                + ("" if apply else "; `polku streams --apply` applies them")
            )
        if tuned:
            log.info("stream_config_tuned", stream=name, fields=sorted(tuned))
            report.append(f"{name}: kept as tuned on the server: {said(tuned)}")
    return report


@dataclass(frozen=True)
class StreamEnd:
    """Where a service's stream ends: its last sequence, and the store position of the last
    event in it that came from the store (a message without ``Polku-Position`` did not)."""

    last_seq: int
    position: int
    #: the stream takes atomic batches (``allow_atomic``)
    atomic: bool = False


#: JetStream takes a message only if the stream's last sequence is this one (polku/relay.py)
H_EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"
#: an atomic batch (ADR-50): its id, each message's number in it, and the commit on its last
H_BATCH_ID = "Nats-Batch-Id"
H_BATCH_SEQUENCE = "Nats-Batch-Sequence"
H_BATCH_COMMIT = "Nats-Batch-Commit"

#: how far back from a stream's end, or forward from a sequence, a message that came from a
#: store is looked for among ones that did not (an operator's, a poison message)
_LOOK_AROUND = 200


def position_of(msg: Any) -> int | None:
    """The store position a message names, or None: it did not come from a Polku store."""
    try:
        value = int((msg.headers or {}).get(contracts.H_POSITION, ""))
    except ValueError:
        return None
    return value if value > 0 else None


async def stream_end(js: JetStreamContext, stream: str) -> StreamEnd:
    """The stream's last sequence and the store position it holds up to: the highest position
    among its last messages, back to the last one the relay put there (a copy of an older event,
    or a message from no store, put there by someone else since, does not hide it)."""
    info = await js.stream_info(stream)
    state = info.state
    highest = 0
    seq = state.last_seq
    while state.messages and seq >= max(state.first_seq, state.last_seq - _LOOK_AROUND):
        try:
            msg = await js.get_msg(stream, seq)
        except NotFoundError:  # deleted: the one before
            seq -= 1
            continue
        position = position_of(msg)
        if position is not None:
            highest = max(highest, position)
            headers = msg.headers or {}
            if H_BATCH_ID in headers or H_EXPECTED_LAST_SEQUENCE in headers:
                break  # the relay's own: everything before it came before it
        seq -= 1
    return StreamEnd(state.last_seq, highest, bool(info.config.allow_atomic))


async def published_position(js: JetStreamContext, stream: str) -> int:
    """The store position the stream holds up to: the ``Polku-Position`` of its last event from
    the store (0 when it holds none). ``polku republish`` starts after it."""
    return (await stream_end(js, stream)).position


async def _positioned_from(js: JetStreamContext, stream: str, seq: int, stop: int) -> tuple[int, int] | None:
    """The first message at or after ``seq`` (before ``stop``) that names a store position:
    (its sequence, the position); None if there is none."""
    for _ in range(_LOOK_AROUND):
        if seq >= stop:
            return None
        try:
            msg = await js.get_msg(stream, seq, subject=contracts.STREAMS[stream], next=True)
        except NotFoundError:
            return None
        position = position_of(msg)
        if msg.seq is not None and msg.seq >= stop:
            return None
        if position is not None:
            return msg.seq or seq, position
        seq = (msg.seq or seq) + 1
    return None


async def position_at(js: JetStreamContext, stream: str, seq: int) -> int | None:
    """The store position of the last event from the store at or before ``seq``: what a consumer
    that handled up to ``seq`` has seen. None when the stream no longer holds that message."""
    for back in range(_LOOK_AROUND):
        if seq - back < 1:
            return 0
        try:
            position = position_of(await js.get_msg(stream, seq - back))
        except NotFoundError:
            return None
        if position is not None:
            return position
    return None


async def first_after(js: JetStreamContext, stream: str, position: int) -> int:
    """The first stream sequence from which every event of the store comes after ``position``:
    where a consumer that has applied up to ``position`` goes on, whatever sequence numbers the
    stream gave them (a recreated stream, one that lost its last messages and got them again).

    A binary search over the stream: the relay publishes in store order (each message expects
    the stream's last sequence), so positions grow with the sequence."""
    state = (await js.stream_info(stream)).state
    low, high = max(state.first_seq, 1), state.last_seq + 1
    while low < high:
        middle = (low + high) // 2
        found = await _positioned_from(js, stream, middle, high)
        if found is None or found[1] > position:
            high = middle
        else:
            low = found[0] + 1
    return low


def _value(config: StreamConfig, field: str) -> Any:
    value = getattr(config, field)
    if field == "subjects":
        return sorted(value or [])
    if field in ("duplicate_window", "max_age"):
        return float(value or 0)  # seconds; the server answers nanoseconds as seconds
    if field in ("max_msgs", "max_bytes"):
        return -1 if value is None else value
    if field == "num_replicas":
        return value or 1
    if field == "allow_atomic":
        return bool(value)
    return getattr(value, "value", value)


def event_headers(
    *,
    msg_id: str,
    event_name: str,
    schema_version: int,
    position: int,
    correlation_id: str | None,
    causation_id: str | None,
    traceparent: str | None = None,
) -> dict[str, str]:
    headers = {
        contracts.H_MSG_ID: msg_id,
        contracts.H_EVENT: event_name,
        contracts.H_SCHEMA: str(schema_version),
        contracts.H_POSITION: str(position),
    }
    if correlation_id:
        headers[contracts.H_CORRELATION] = correlation_id
    if causation_id:
        headers[contracts.H_CAUSATION] = causation_id
    if traceparent:
        headers[contracts.H_TRACEPARENT] = traceparent
    return headers


async def stream_counts(js: JetStreamContext) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in contracts.STREAMS:
        try:
            info = await js.stream_info(name)
        except Exception:  # noqa: BLE001 - a missing stream counts as empty
            counts[name] = 0
            continue
        counts[name] = info.state.messages
    return counts


def header(msg: Any, name: str) -> str | None:
    headers = getattr(msg, "headers", None) or {}
    return headers.get(name)


async def wait_for_streams(js: JetStreamContext, names: list[str], stop: asyncio.Event | None = None) -> None:
    """Wait until each stream exists: a service only looks streams up, the operator makes them."""
    for name in dict.fromkeys(names):
        told = False
        while True:
            try:
                await js.stream_info(name)
                break
            except NotFoundError:
                if not told:
                    log.warning("stream_missing", stream=name, hint="the operator creates it: polku streams")
                    told = True
                if stop is not None and stop.is_set():
                    return
                await asyncio.sleep(0.5)
