"""The relay and its page publisher against a real nats-server: a page is settled only when
JetStream acknowledged every message of it, duplicates are counted, refusals raise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client
from structlog.testing import capture_logs

from polku.bus import connect, ensure_streams
from polku.natsserver import EmbeddedNats
from polku.relay import Outgoing, PagePublisher, PublishFailed, Relay
from contracts.intake import ReceiveReferral
from polku.settings import Settings
from services.intake import publishing
from services.intake.main import build_application as build_intake
from services.intake.main import build_pipeline as build_intake_pipeline
from tests.helpers import distinct_referrals, stream_messages


@pytest.fixture
async def js_nc(tmp_path: Path) -> AsyncIterator[Client]:
    server = EmbeddedNats(tmp_path / "nats", secure_dir=tmp_path)
    server.start()
    nc = await connect(server.url, name="polku-test", user="operator", var_dir=tmp_path)
    try:
        await ensure_streams(nc.jetstream(), 1)
        yield nc
    finally:
        await nc.close()
        server.stop()


def message(n: int, subject: str = "polku.intake.referral_received") -> Outgoing:
    return Outgoing(subject, b'{"n": %d}' % n, {"Nats-Msg-Id": f"m-{n}"}, n)


async def test_a_page_is_settled_when_every_message_is_acknowledged_and_duplicates_are_counted(js_nc: Client) -> None:
    publisher = PagePublisher(js_nc)
    assert await publisher.settle(await publisher.publish([message(n) for n in range(1, 501)])) == 0
    # The same ids again, with new ones: JetStream drops the repeats by Nats-Msg-Id.
    again = await publisher.publish([message(n) for n in range(491, 511)])
    assert await publisher.settle(again) == 10
    assert (await js_nc.jetstream().stream_info("INTAKE")).state.messages == 510
    assert await publisher.settle(await publisher.publish([])) == 0


async def test_a_message_no_stream_takes_fails_its_page(js_nc: Client) -> None:
    publisher = PagePublisher(js_nc)
    page = await publisher.publish([message(1), message(2, "polku.nowhere.event")])
    with pytest.raises(PublishFailed, match="status 503"):
        await publisher.settle(page, timeout=5)


async def test_a_page_not_acknowledged_in_time_times_out_and_its_late_acknowledgements_are_dropped(js_nc: Client) -> None:
    publisher = PagePublisher(js_nc)
    page = await publisher.publish([message(n) for n in range(1, 101)])
    with pytest.raises(TimeoutError, match="not acknowledged"):
        await publisher.settle(page, timeout=0)  # no time for the acknowledgements to come
    await js_nc.flush()  # they come now, for nobody
    assert page.remaining == 100
    # The relay publishes the page again; the repeats are acknowledged as duplicates.
    assert await publisher.settle(await publisher.publish([message(n) for n in range(1, 101)])) == 100


async def test_the_relay_reads_only_the_published_topics_and_publishes_each_event_once(
    js_nc: Client, settings: Settings
) -> None:
    app = build_intake(settings)  # seeds the roster: an event that stays inside intake
    try:
        pipeline = build_intake_pipeline(app, settings)
        commands = [
            (msgspec.convert(body, ReceiveReferral), f"relay-{i}") for i, body in enumerate(distinct_referrals(41, 30))
        ]
        # One group commit, stored in one transaction: 30 referrals, 30 identity records and 30
        # idempotency records.
        assert all(ok for ok, _ in pipeline.execute_batch(commands))
        relay = Relay(app, publishing.to_contract, js_nc, page_size=7, topics=publishing.TOPICS)
        assert await relay.catch_up_once() == 30
        assert relay._internal == set()  # identity records, command records and the roster were never read
        assert await relay.catch_up_once() == 0
        messages = await stream_messages(js_nc, "INTAKE")
        assert len(messages) == 30 and {m.subject for m in messages} == {"polku.intake.referral_received"}
        last_referral = max(
            n.id for n in app.recorder.select_notifications(1, 1000) if n.topic.endswith("Referral.Received")
        )
        # it passed over the records stored after the last referral too: the next read starts after them
        assert last_referral < relay.position == app.max_position()
    finally:
        app.close()


def _referrals(pipeline: Any, seed: int, count: int) -> None:
    commands = [
        (msgspec.convert(body, ReceiveReferral), f"relay-{seed}-{i}") for i, body in enumerate(distinct_referrals(seed, count))
    ]
    assert all(ok for ok, _ in pipeline.execute_batch(commands))


async def test_the_relay_reads_each_position_once_however_much_it_does_not_publish(
    js_nc: Client, settings: Settings
) -> None:
    """What stays inside the service (here identity and command records, two for each published
    referral) is passed over once: a service that publishes little of what it stores (followup
    under casefile's events) would otherwise read it all again at every recording."""
    app = build_intake(settings)
    try:
        pipeline = build_intake_pipeline(app, settings)
        relay = Relay(app, publishing.to_contract, js_nc, page_size=7, topics=publishing.TOPICS, stream="INTAKE")
        reads: list[tuple[int, int | None]] = []
        select = app.recorder.select_notifications

        def spied(start: int, limit: int, stop: int | None = None, topics: Any = ()) -> Any:
            reads.append((start, stop))
            return select(start, limit, stop=stop, topics=topics)

        app.recorder.select_notifications = spied  # type: ignore[method-assign]
        _referrals(pipeline, 41, 10)
        assert await relay.catch_up_once() == 10
        end = app.max_position()
        assert relay.position == end and relay.pending() == 0
        reads.clear()
        _referrals(pipeline, 42, 10)
        assert await relay.catch_up_once() == 10
        assert reads and min(start for start, _ in reads) == end + 1
        assert relay.position == app.max_position()
        reads.clear()
        assert await relay.catch_up_once() == 0
        assert reads == []  # nothing stored since: nothing read
        assert len(await stream_messages(js_nc, "INTAKE")) == 20
    finally:
        app.close()


async def test_a_relay_started_again_past_what_it_does_not_publish_does_not_take_the_stream_for_behind(
    js_nc: Client, settings: Settings
) -> None:
    """The stream ends at the last referral; the recorded position is further on, past records
    that are not published. Started again, the relay publishes nothing twice and warns of
    nothing; when the stream did lose its events (made again), it publishes them again."""
    app = build_intake(settings)
    try:
        _referrals(build_intake_pipeline(app, settings), 43, 12)

        async def run_relay() -> list[dict[str, Any]]:
            stop = asyncio.Event()
            relay = Relay(app, publishing.to_contract, js_nc, topics=publishing.TOPICS, stream="INTAKE")
            with capture_logs() as logs:
                task = asyncio.create_task(relay.run(stop))
                for _ in range(500):
                    checked = relay._last_seq is not None  # it asked the stream where it ends
                    if checked and relay.position == app.max_position() and relay.recorded == relay.position:
                        break
                    await asyncio.sleep(0.01)
                stop.set()
                await task
            assert relay.position == relay.recorded == app.max_position(), logs
            return logs

        await run_relay()
        assert len(await stream_messages(js_nc, "INTAKE")) == 12
        assert app.tracking_position("relay") == app.max_position()
        logs = await run_relay()
        assert [e for e in logs if e["event"] in ("relay_stream_behind", "relay_published")] == []
        assert len(await stream_messages(js_nc, "INTAKE")) == 12

        await js_nc.jetstream().delete_stream("INTAKE")  # lost, and made again
        await ensure_streams(js_nc.jetstream(), 1)
        logs = await run_relay()
        assert [e["event"] for e in logs if e["event"] == "relay_stream_behind"] == ["relay_stream_behind"]
        assert sum(e["count"] for e in logs if e["event"] == "relay_published") == 12
        assert len(await stream_messages(js_nc, "INTAKE")) == 12
    finally:
        app.close()
