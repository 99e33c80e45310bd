"""The bus: raw nats-py publish_async, and the relay (stored intake events → INTAKE).

The two are measured *interleaved*, in rounds (raw chunk, raw-with-headers chunk, relay pages,
again), each against its own nats-server in its own var dir: the machine may be shared, and a
ratio of two figures taken minutes apart measures the neighbours as much as Polku. Each
figure is its total count over its total time.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from contextlib import ExitStack
from typing import Any

import msgspec

from bench.common import Figure, fresh_var, median, own_nats, progress, say
from bench.raw import PAYLOAD_BYTES
from demo.population import demo_referral
from polku.bus import connect, stream_config
from polku.stack import create_streams
from polku.pipeline import Pipeline
from polku.relay import Relay
from polku.store import RELAY_TRACKING
from services.intake import publishing
from services.intake.handlers import TABLE
from polku.store import store_env
from services.intake.application import IntakeApplication
from contracts.intake import ReceiveReferral

decoder = msgspec.json.Decoder(ReceiveReferral)


def fill_intake(app: Any, count: int, *, seed: int = 7, batch: int = 500) -> int:
    """Store ``count`` referrals as intake's group commit does: each command carried out by
    intake's pipeline (validation, pseudonymisation, the aggregate, the idempotency record),
    ``batch`` commands stored per transaction, so that filling 20k referrals takes seconds. The
    stored events are those the service stores. Not timed.
    """
    rng = random.Random(seed)
    pipeline = Pipeline("intake", app, TABLE, digest_secret="bench")
    commands: list[tuple[Any, str]] = []
    bar = progress("intake referrals stored (setup)", count)
    for i in range(count):
        commands.append((decoder.decode(msgspec.json.encode(demo_referral(rng))), f"bench-relay-{i}"))
        if len(commands) >= batch or i == count - 1:
            for ok, value in pipeline.execute_batch(commands):
                if not ok:
                    raise value
            commands.clear()
        bar.update(i + 1)
    bar.done()
    stored = app.max_position()
    # Each referral and its command's idempotency record, and the protected identity record of
    # each client seen for the first time.
    if not 2 * count <= stored <= 3 * count:
        raise RuntimeError(f"intake store holds {stored} events for {count} referrals")
    return stored


class RawPublisher:
    """nats-py publish_async of PAYLOAD_BYTES messages, then publish_async_completed()."""

    def __init__(self, js: Any) -> None:
        self.js = js
        self.payload = b"x" * PAYLOAD_BYTES
        self.sent = 0
        self.seconds = 0.0
        self.failed = 0

    def _count_failure(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.failed += 1

    async def publish(self, subject: str, count: int, *, headers: bool) -> None:
        started = time.perf_counter()
        for i in range(count):
            hdr = None
            if headers:  # the relay's header set: a unique Nats-Msg-Id makes the server dedupe
                hdr = {
                    "Nats-Msg-Id": f"{uuid.uuid4()}:1",
                    "Polku-Event": "ReferralReceived",
                    "Polku-Schema": "1",
                    "Polku-Position": str(self.sent + i + 1),
                    "Polku-Correlation-Id": "bench",
                    "Polku-Causation-Id": "bench",
                }
            future = await self.js.publish_async(subject, self.payload, headers=hdr)
            future.add_done_callback(self._count_failure)
        await self.js.publish_async_completed()
        self.seconds += time.perf_counter() - started
        self.sent += count
        if self.failed:
            raise RuntimeError(f"{self.failed} publishes failed")

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def publish_figures(raw_count: int, relay_count: int) -> list[Figure]:
    """``raw_nats_publish_async`` and ``relay_events``, measured in interleaved rounds."""
    page = 1000
    rounds = max(1, min(10, relay_count // page))
    with ExitStack() as stack:
        raw_settings = stack.enter_context(fresh_var("raw-nats"))
        raw_server = stack.enter_context(own_nats(raw_settings))
        relay_settings = stack.enter_context(fresh_var("relay"))
        relay_server = stack.enter_context(own_nats(relay_settings))
        # the same raw publishing to a server that does not sync each write: what syncing costs
        unsynced_settings = stack.enter_context(fresh_var("raw-nats-unsynced"))
        unsynced_server = stack.enter_context(own_nats(unsynced_settings, sync_always=False))
        # No roster: the store holds referrals and identity records only.
        app = IntakeApplication(store_env(relay_settings, "intake"), pseudonym_key=relay_settings.pseudonym_key)
        stack.callback(app.close)
        positions = fill_intake(app, relay_count)

        async def run() -> list[Figure]:
            raw_nc = await connect(raw_server.url, name="polku-bench-raw", user="operator", var_dir=raw_settings.var_dir)
            unsynced_nc = await connect(
                unsynced_server.url, name="polku-bench-unsynced", user="operator", var_dir=unsynced_settings.var_dir
            )
            relay_nc = await connect(
                relay_server.url, name="polku-bench-relay", user="intake", var_dir=relay_settings.var_dir
            )
            try:
                # The JetStream context a service makes (polku.service.serve); the relay publishes on the connection.
                raw_js = raw_nc.jetstream(publish_async_max_pending=4000)
                relay_js = relay_nc.jetstream(publish_async_max_pending=4000)
                await raw_js.add_stream(stream_config("BENCH", "bench.>", 1))
                unsynced_js = unsynced_nc.jetstream(publish_async_max_pending=4000)
                await unsynced_js.add_stream(stream_config("BENCH", "bench.>", 1))
                await RawPublisher(unsynced_js).publish("bench.warmup", min(raw_count // 10, 2000), headers=False)
                unsynced = RawPublisher(unsynced_js)
                await asyncio.to_thread(create_streams, relay_server.url, relay_settings.var_dir, 1)  # the operator

                warm = RawPublisher(raw_js)
                await warm.publish("bench.warmup", min(raw_count // 10, 2000), headers=False)
                plain = RawPublisher(raw_js)
                headed = RawPublisher(raw_js)
                # as a service runs it: its own stream, each page one committed atomic batch
                relay = Relay(app, publishing.to_contract, relay_nc, page_size=page, topics=publishing.TOPICS, stream="INTAKE")
                relay.position = await asyncio.to_thread(app.tracking_position, RELAY_TRACKING)
                await relay._check_stream()
                relay_seconds = 0.0
                round_ratios: list[float] = []
                for r in range(rounds):
                    chunk = raw_count // rounds + (1 if r < raw_count % rounds else 0)
                    raw_before = (plain.sent, plain.seconds)
                    await plain.publish("bench.raw", chunk, headers=False)
                    await unsynced.publish("bench.raw", chunk, headers=False)
                    await headed.publish("bench.hdr", chunk, headers=True)
                    target = positions * (r + 1) // rounds
                    relay_before = (relay.published, relay_seconds)
                    started = time.perf_counter()
                    while relay.position < target and await relay.catch_up_once(until=target):
                        pass
                    relay_seconds += time.perf_counter() - started
                    raw_rate = (plain.sent - raw_before[0]) / (plain.seconds - raw_before[1])
                    relay_round = (relay.published - relay_before[0]) / (relay_seconds - relay_before[1])
                    round_ratios.append(relay_round / raw_rate)
                    say(
                        f"round {r + 1}/{rounds}: raw {plain.sent}/{raw_count} at {plain.rate:,.0f}/s, "
                        f"raw+headers {headed.rate:,.0f}/s, relay {relay.published}/{relay_count} events "
                        f"at {relay.published / relay_seconds:,.0f}/s (store position {relay.position}/{positions})"
                    )
                started = time.perf_counter()
                if await relay.catch_up_once():  # must be at the end of the store by now
                    raise RuntimeError(f"relay found more after {relay.position}")
                relay_seconds += time.perf_counter() - started

                info = await raw_js.stream_info("BENCH")
                expected = warm.sent + plain.sent + headed.sent
                if info.state.messages != expected:
                    raise RuntimeError(f"BENCH holds {info.state.messages}, expected {expected}")
                info = await relay_js.stream_info("INTAKE")
                if info.state.messages != relay_count or relay.published != relay_count:
                    raise RuntimeError(
                        f"INTAKE holds {info.state.messages}, relay published {relay.published}; expected {relay_count}"
                    )
            finally:
                await raw_nc.close()
                await unsynced_nc.close()
                await relay_nc.close()
            relay_rate = relay_count / relay_seconds
            say(f"  raw {plain.rate:,.0f}/s, raw+headers {headed.rate:,.0f}/s, relay {relay_rate:,.0f}/s")
            interleave = (
                f"#   measured in {rounds} interleaved rounds (raw chunk, raw+headers chunk, relay pages), "
                "each against its own nats-server in its own var dir, so both see the same load on the machine"
            )
            return [
                Figure(
                    "jetstream_sync_kept",
                    plain.rate / unsynced.rate,
                    "ratio",
                    [
                        "# jetstream_sync_kept = raw_nats_publish_async with each write synced before its "
                        f"acknowledgement (sync_interval: always, as Polku runs) / the same to a server syncing "
                        f"every two minutes (NATS's default): {plain.rate:,.0f} / {unsynced.rate:,.0f} msgs/s",
                    ],
                ),
                Figure(
                    "raw_nats_publish_async",
                    plain.rate,
                    "msgs/s",
                    [
                        f"# raw_nats_publish_async: {plain.sent} x {PAYLOAD_BYTES} B into a file stream (R1), "
                        "no headers, nats-py js.publish_async (max 4000 in flight) then publish_async_completed()",
                        f"#   same with the relay's 6 headers incl. a unique Nats-Msg-Id: {headed.rate:,.0f} msgs/s "
                        f"(not a figure; relay_events / that = {relay_rate / headed.rate:.3f})",
                        interleave,
                    ],
                ),
                Figure(
                    "relay_events",
                    relay_rate,
                    "events/s",
                    [
                        f"# relay_events: {relay_count} stored ReferralReceived events, each beside the client's "
                        "identity record (carried out by intake's pipeline and stored in groups as the "
                        "service does; not timed), then polku.relay.Relay.catch_up_once from position 0 to the "
                        f"store's end into INTAKE, in pages of {page} published events: read (the published topics "
                        "only) + map + publish on one connection + wait for the acks + record the position",
                        f"#   relay/raw per round: min {min(round_ratios):.3f}, median {median(round_ratios):.3f}, "
                        f"max {max(round_ratios):.3f} (how much the machine's load moved the ratio)",
                    ],
                ),
            ]

        return asyncio.run(run())
