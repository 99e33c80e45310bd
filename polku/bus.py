"""NATS and JetStream: connecting, the streams, the headers of an event."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

import contracts
from polku.log import get_logger

log = get_logger("polku.bus")

#: JetStream drops a message whose Nats-Msg-Id it saw within this window. Idempotent consumers,
#: not the window, are what make redelivery harmless; the window only saves work.
DUPLICATE_WINDOW_S = 120.0


async def connect(url: str, *, name: str, wait: float = 30.0) -> Client:
    """Connect, retrying for up to ``wait`` seconds; afterwards reconnect forever.

    ``url`` may list several servers separated by commas (a cluster).
    """
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
            )
        except Exception as e:  # noqa: BLE001 - the nats client raises many kinds here
            last_error = e
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
        max_age=0,
    )


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the streams, or bring an existing one's configuration up to date. Idempotent."""
    for name, subjects in contracts.STREAMS.items():
        config = stream_config(name, subjects, replicas)
        try:
            await js.add_stream(config)
        except BadRequestError as e:
            if e.err_code != 10058:  # stream name already in use with a different configuration
                raise
            await js.update_stream(config)


def event_headers(
    *,
    msg_id: str,
    event_name: str,
    schema_version: int,
    position: int,
    correlation_id: str | None,
    causation_id: str | None,
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
