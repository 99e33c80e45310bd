"""Helpers for tests: sending commands, waiting for projections, reading stores and streams."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from demo.main import query_open_relationships, route_through
from demo.population import demo_referral, synthetic_identity_code
from polku import client as polku_client

RECEIVE_REFERRAL = "polku.cmd.intake.receive_referral"


#: Every identity code and client name this session's tests sent to Polku: the search in
#: tests/test_personal_data.py looks for each of them in everything Polku wrote.
SENT_CODES: set[str] = set()
SENT_NAMES: set[str] = set()


def referral_body(rng: random.Random | None = None, **overrides: Any) -> dict[str, Any]:
    body = demo_referral(rng or random.Random())
    body.update(overrides)
    remember_personal_data(body)
    return body


def remember_personal_data(body: dict[str, Any]) -> None:
    if isinstance(code := body.get("identity_code"), str) and code:
        SENT_CODES.add(code)
    if isinstance(contact := body.get("contact_details"), str) and contact:
        SENT_NAMES.add(contact.split(",")[0])


def distinct_referrals(seed: int, n: int) -> list[dict[str, Any]]:
    """``n`` referrals about ``n`` different clients. Casefile attaches a referral about a client
    with an open relationship to that relationship, so each of these opens one of its own."""
    return list(itertools.islice(referrals_of_distinct_clients(seed), n))


def referrals_of_distinct_clients(seed: int) -> Iterator[dict[str, Any]]:
    """Referrals about different clients, drawn as they are taken (a load that sends as many
    as it has time for; only what is drawn is remembered as sent)."""
    rng = random.Random(seed)
    codes: set[str] = set()
    while True:
        body = referral_body(rng)
        if body["identity_code"] not in codes:
            codes.add(body["identity_code"])
            yield body


async def request(nc: Client, subject: str, body: bytes, command_id: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """The reply as it came on the wire (``{"ok": false, "error": ...}`` too), through
    :mod:`polku.client`. With a ``command_id`` it goes as a command; without one as a bare
    request with no ``Polku-Command-Id`` at all (a query, or a command that must be refused
    ``missing_command_id``)."""
    client = polku_client.Client(nc, timeout=timeout)
    try:
        if command_id:
            return await client.command(subject, body, command_id)
        return await client.query(subject, body)
    except polku_client.Refusal as e:
        return e.reply


async def send_referrals(
    nc: Client, bodies: list[dict[str, Any]], concurrency: int = 32, *, route: bool = True
) -> list[dict[str, Any]]:
    """Receive each referral; unless ``route`` is False, also screen, triage and route it, so
    that casefile opens its relationship (every other one with special support suspected)."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int, body: dict[str, Any]) -> dict[str, Any]:
        async with semaphore:
            reply = await request(nc, RECEIVE_REFERRAL, msgspec.json.encode(body), f"test-{uuid.uuid4()}")
            if route and reply.get("ok"):
                await route_through(nc, reply["referral_id"], special=i % 2 == 0, prefix=f"test-{uuid.uuid4()}")
            return reply

    return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))


async def wait_for_projection(nc: Client, total: int, timeout: float = 60.0) -> Any:
    """Poll reporting until it shows ``total``; ride out a NATS or service that is coming back."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = await query_open_relationships(nc)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, nats.errors.ConnectionClosedError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        if reply.total >= total or time.monotonic() > deadline:
            return reply
        await asyncio.sleep(0.1)


async def stream_messages(nc: Client, stream: str, subject: str = ">") -> list[Any]:
    """Every message in a stream, read with an ephemeral consumer (nothing acked, nothing moved)."""
    js = nc.jetstream()
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return []
    filter_subject = subject if subject != ">" else info.config.subjects[0]
    sub = await js.pull_subscribe(
        filter_subject,
        stream=stream,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=10.0),
    )
    out: list[Any] = []
    unavailable = 0
    try:
        while len(out) < info.state.messages:
            try:
                out.extend(await sub.fetch(1000, timeout=2))
            except (asyncio.TimeoutError, TimeoutError):
                break
            except nats.js.errors.ServiceUnavailableError:
                # in a cluster, the new consumer's leader is not elected yet (503)
                unavailable += 1
                if unavailable > 100:
                    raise
                await asyncio.sleep(0.1)
    finally:
        await sub.unsubscribe()
    return out


def stored_events(app: Any) -> Counter[str]:
    """How many of each domain event a service's store holds (by class name, e.g. Referral.Received)."""
    counts: Counter[str] = Counter()
    start = 1
    while page := app.recorder.select_notifications(start, 1000):
        for n in page:
            counts[n.topic.rsplit(":", 1)[-1]] += 1
        start = page[-1].id + 1
    return counts


def nested(event: str) -> bytes:
    """An event with an unknown field nested 1,100 brackets deep (2 KB): msgspec raises
    RecursionError decoding it (not a ValidationError)."""
    return b'{"event":"%s","extra":' % event.encode() + b"[" * 1100 + b"]" * 1100 + b"}"


async def messages_when(nc: Client, stream: str, count: int, subject: str = ">", timeout: float = 15.0) -> list[Any]:
    """The stream's messages once it holds ``count`` of them (the relay is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        messages = await stream_messages(nc, stream, subject)
        if len(messages) >= count or time.monotonic() > deadline:
            return messages
        await asyncio.sleep(0.05)
__all__ = ["referral_body", "distinct_referrals", "request", "send_referrals", "wait_for_projection", "stream_messages", "synthetic_identity_code"]


def polku_rebuild_reporting(stack: Any) -> subprocess.CompletedProcess[str]:
    """``polku rebuild reporting`` against ``stack``, as an operator runs it, in this test's
    environment (its store settings included)."""
    env = {**os.environ, "POLKU_VAR_DIR": str(stack.var), "POLKU_NATS_URL": stack.url}
    return subprocess.run(
        [sys.executable, "-m", "polku", "rebuild", "reporting"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
