"""Faults at the production shape: nothing lost, nothing applied twice, nothing stuck.

Each test runs a 3-node JetStream cluster (R3 streams, synced on every write), the four
services on PostgreSQL and a steady load of referrals carried along the path, puts one fault in
the middle of it, and then counts from outside, per event: accepted = stored = published =
projected (tests/production_shape.py). ``-m faults`` selects them; ``-s`` shows their figures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from nats.js.api import DiscardPolicy

import contracts
from polku.settings import Settings
from polku.store import drop_postgres_schemas
from tests.conftest import POSTGRES_DSN, _postgres_reachable
from tests.helpers import nested
from tests.production_shape import Load, PrivatePostgres, ProductionShape, postgres_bin, run_fault

pytestmark = [pytest.mark.faults, pytest.mark.postgres]


def _unavailable(message: str) -> None:
    if os.environ.get("POLKU_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres | None]:
    """A PostgreSQL cluster of the module's own (which a test may crash), where Debian's
    binaries are installed; else None, and the tests use the shared server (none restarts it)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        yield None
        return
    server = PrivatePostgres(bin_dir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres: PrivatePostgres | None) -> str:
    if postgres is not None:
        return postgres.dsn
    if problem := _postgres_reachable(POSTGRES_DSN):
        _unavailable(f"no PostgreSQL binaries under /usr/lib/postgresql and none reachable at {POSTGRES_DSN}: {problem}")
    return POSTGRES_DSN


@pytest.fixture
def shape_env() -> dict[str, str]:
    """Settings of the services for one test (a test parametrizes it to change them)."""
    return {}


@pytest.fixture
async def shape(
    polku_env: dict[str, str], postgres_url: str, shape_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ProductionShape]:
    prefix = f"f{uuid.uuid4().hex[:10]}"
    for name, value in {"POLKU_STORE": "postgres", "POLKU_POSTGRES_DSN": postgres_url,
                        "POLKU_POSTGRES_PREFIX": prefix, **shape_env}.items():
        monkeypatch.setenv(name, value)
    s = ProductionShape(Settings.from_env(), env=shape_env)
    try:
        await s.start()
        yield s
    finally:
        await s.stop()
        drop_postgres_schemas(postgres_url, prefix)


async def test_the_intake_stream_leader_killed_and_brought_back(shape: ProductionShape) -> None:
    killed: list[str] = []

    async def fault(shape: ProductionShape, load: Load) -> float:
        node = await shape.stream_leader("INTAKE")
        killed.append(node.server_name)
        at = time.monotonic()
        node.kill()
        # the two others elect a leader of their own and go on
        while True:
            try:
                if (await shape.stream_leader("INTAKE")).server_name != node.server_name:
                    break
            except Exception:  # noqa: BLE001 - no leader while they elect one
                pass
            assert time.monotonic() - at < 30, "no new INTAKE leader in 30 s"
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(node.start)
        await asyncio.to_thread(shape.cluster.wait_current)
        return time.monotonic() - at

    figures = await run_fault(shape, "NATS node (INTAKE's leader) killed -9, restarted", fault, seed=101)
    assert killed and figures.referrals > 0
    assert not shape.restarted, "a service died with one NATS node of three"


@pytest.mark.parametrize("service", ["intake", "casefile", "followup", "reporting"])
async def test_a_service_killed_and_restarted(shape: ProductionShape, service: str) -> None:
    async def fault(shape: ProductionShape, load: Load) -> float:
        return await shape.kill_service(service)

    figures = await run_fault(shape, f"{service} killed -9, restarted", fault, seed=102)
    assert figures.referrals > 0
    assert shape.restarted == {service: 1}


async def test_postgresql_crashed_and_restarted(shape: ProductionShape, postgres: PrivatePostgres | None) -> None:
    if postgres is None:
        _unavailable("no PostgreSQL binaries under /usr/lib/postgresql: the machine's shared server is never restarted")

    async def fault(shape: ProductionShape, load: Load) -> float:
        at = time.monotonic()
        await asyncio.to_thread(postgres.crash)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(postgres.start)
        # recovered: the services take commands again
        accepted = len(load.tally.accepted_at)
        while len(load.tally.accepted_at) == accepted:
            assert time.monotonic() - at < 60, "no command accepted within 60 s of PostgreSQL's restart"
            await asyncio.sleep(0.05)
        return time.monotonic() - at

    figures = await run_fault(shape, "PostgreSQL crashed (immediate stop), restarted", fault, seed=103)
    assert figures.referrals > 0


@pytest.mark.parametrize("shape_env", [{"POLKU_RELAY_STALL_SECONDS": "2"}])
async def test_a_full_stream_turns_commands_away_until_its_limit_is_lifted(shape: ProductionShape) -> None:
    async def fault(shape: ProductionShape, load: Load) -> float:
        assert shape.operator is not None
        js = shape.operator.jetstream()
        info = await js.stream_info("INTAKE")
        # the operator limits INTAKE to 20 messages more, refusing new ones beyond
        await js.update_stream(dataclasses.replace(info.config, max_msgs=info.state.messages + 20, discard=DiscardPolicy.NEW))
        at = time.monotonic()
        while load.tally.unavailable == 0:
            assert time.monotonic() - at < 60, "commands still accepted 60 s after INTAKE filled"
            await asyncio.sleep(0.1)
        # full: the relay's atomic batches filled it as far as a whole batch fitted (a batch that
        # does not fit is refused whole, leaving less room than it needs)
        held = (await js.stream_info("INTAKE")).state.messages
        assert info.state.messages < held <= info.state.messages + 20
        await js.update_stream(info.config)  # the limit lifted
        lifted = time.monotonic()
        accepted = len(load.tally.accepted_at)
        while len(load.tally.accepted_at) == accepted:
            assert time.monotonic() - lifted < 60, "no command accepted within 60 s of the limit's lifting"
            await asyncio.sleep(0.05)
        return time.monotonic() - lifted

    figures = await run_fault(shape, "INTAKE full (max_msgs, discard new), then lifted", fault, seed=104)
    assert figures.unavailable > 0
    assert not shape.restarted


async def test_messages_nested_too_deeply_to_decode_are_dead_lettered_under_load(shape: ProductionShape) -> None:
    """One in INTAKE, one in CASEFILE (which intake replays before it serves)."""

    async def fault(shape: ProductionShape, load: Load) -> float:
        assert shape.operator is not None
        js = shape.operator.jetstream()
        # on subjects that each of the stream's consumers takes
        await js.publish("polku.intake.roster_worker_set", nested("RosterWorkerSet"),
                         headers={contracts.H_MSG_ID: "poison-intake"})
        await js.publish("polku.casefile.relationship_opened", nested("RelationshipOpened"),
                         headers={contracts.H_MSG_ID: "poison-casefile"})
        return 0.0

    figures = await run_fault(
        shape, "a message nested 1,100 brackets deep in INTAKE and in CASEFILE", fault, seed=105,
        poison=frozenset({"poison-intake", "poison-casefile"}),
    )
    # by casefile's, followup's and reporting's consumers of INTAKE; intake's, followup's and
    # reporting's of CASEFILE
    assert figures.dead_lettered == 6
    assert not shape.restarted


async def test_a_stream_deleted_and_recreated_under_load_reuses_its_sequences(shape: ProductionShape) -> None:
    """CASEFILE is deleted and made again while referrals flow: its relay fills it again from
    casefile's store, so every sequence number is used a second time. Its consumers (intake's,
    followup's, reporting's) find their durable consumers gone, check their cursor against the
    new stream by position, and go on: each event applied once."""

    async def fault(shape: ProductionShape, load: Load) -> float:
        assert shape.operator is not None
        js = shape.operator.jetstream()
        before = (await js.stream_info("CASEFILE")).state.last_seq
        config = (await js.stream_info("CASEFILE")).config
        await js.delete_stream("CASEFILE")
        at = time.monotonic()
        await js.add_stream(config)
        while (await js.stream_info("CASEFILE")).state.last_seq < before:
            assert time.monotonic() - at < 60, "CASEFILE not filled again within 60 s"
            await asyncio.sleep(0.1)
        return time.monotonic() - at

    figures = await run_fault(shape, "CASEFILE deleted and recreated (every sequence reused)", fault, seed=106)
    assert figures.referrals > 0
    assert not shape.restarted
