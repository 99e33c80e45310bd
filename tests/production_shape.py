"""Polku at its production shape on one machine, for the fault tests.

A 3-node JetStream cluster on loopback ports (``sync_interval: always``, the users, TLS and
permissions of ``polku up``), the streams R3, PostgreSQL stores (a private PostgreSQL cluster
that a test may crash and restart, where Debian's binaries are installed), and the four services
as processes, restarted when they die as an orchestrator would.

A fault test is :func:`run_fault`: a steady load of referrals carried along the path (receive,
screen, triage, route; casefile opens the relationship, followup and reporting project it), a
fault in the middle of it, then :func:`count` checks, per event and from outside (the answers the
client got, the stores' tables, every stream's messages, the query answers), that what was
accepted was stored, published once and projected, and that nothing is stuck.
"""

from __future__ import annotations

import asyncio
import dataclasses
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats.errors
from nats.aio.client import Client as Nats

import contracts
from contracts.casefile import RelationshipOpened, casefile_decoder
from demo.headlines import settled_indicators
from demo.main import routing_commands
from polku.actor import Issuer
from polku.bus import connect
from polku.client import Client, Refusal, bind_issuer
from polku.nats_auth import SERVICE_CONSUMES
from polku.natsserver import Cluster, EmbeddedNats, free_port
from polku.settings import Settings
from polku.stack import Stack, create_streams
from polku.store import postgres_schema
from services.casefile.publishing import TOPICS as CASEFILE_TOPICS
from services.followup.publishing import TOPICS as FOLLOWUP_TOPICS
from services.intake.publishing import TOPICS as INTAKE_TOPICS
from services.reporting.publishing import TOPICS as REPORTING_TOPICS
from tests.helpers import RECEIVE_REFERRAL, referrals_of_distinct_clients, stream_messages

#: what each service's relay publishes: the topics of its publishing table
PUBLISHED_TOPICS = {
    "intake": INTAKE_TOPICS, "casefile": CASEFILE_TOPICS, "followup": FOLLOWUP_TOPICS, "reporting": REPORTING_TOPICS,
}
#: the streams the services publish to (the DLQ is checked apart)
EVENT_STREAMS = ("INTAKE", "CASEFILE", "FOLLOWUP", "REPORTING", "AUDIT")
#: the events of one referral carried along the path: received, screened, triaged, routed
REFERRAL_VERSIONS = (1, 2, 3, 4)


def log(message: str) -> None:
    """Progress of a long test (shown with ``-s``)."""
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------------------ PostgreSQL
def postgres_bin() -> Path | None:
    """Debian's PostgreSQL binaries (the newest version installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own in a temporary directory, on a free port, so a
    test can crash and restart it without touching the machine's shared server. As root its
    binaries run as the ``postgres`` user (PostgreSQL refuses to run as root)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="polku-pg-"))
        self.port = free_port()
        self.data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "postgres.log"), "-w", "-t", "60", "-o", options, "start")

    def crash(self) -> None:
        """Stop as a crash would (``immediate``: no checkpoint; the next start recovers from WAL)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------------------------ NATS
class NatsCluster:
    """Three ``nats-server`` nodes (nats-1..3) of the cluster ``polku`` on loopback ports, as
    ``deploy/nats/nats.conf`` configures production: JetStream synced on every write, the users,
    permissions and TLS of polku/nats_auth.py (the routes are plain: they never leave loopback)."""

    def __init__(self, var: Path, size: int = 3) -> None:
        routes = tuple(free_port() for _ in range(size))
        self.nodes = [
            EmbeddedNats(
                var / f"nats-{i}",
                server_name=f"nats-{i}",
                secure_dir=var,
                log_file=var / "log" / f"nats-{i}.log",
                cluster=Cluster("polku", port, routes),
            )
            for i, port in zip(range(1, size + 1), routes, strict=True)
        ]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> EmbeddedNats:
        return next(n for n in self.nodes if n.server_name == name)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        self.wait_current()

    def wait_current(self, timeout: float = 60.0) -> None:
        """Until every node answers ``/healthz`` ok: JetStream's meta leader is elected and the
        node's streams and consumers are current."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            last = ""
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}/healthz", timeout=2) as r:  # noqa: S310
                        if json.loads(r.read() or b"{}").get("status") == "ok":
                            break
                except urllib.error.HTTPError as e:
                    last = e.read().decode(errors="replace")
                except (urllib.error.URLError, OSError, ValueError) as e:
                    last = str(e)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{node.server_name} not current after {timeout}s: {last}")
                time.sleep(0.1)

    def varz(self, node: EmbeddedNats) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}/varz", timeout=5) as r:  # noqa: S310
            return json.loads(r.read())

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


# --------------------------------------------------------------------------- the whole shape
class ProductionShape:
    """The cluster, the streams (R3) and the four services on PostgreSQL (schemas of
    ``prefix``), and the connections a test uses: an integrator's, signing as the worker a
    command names, and the operator's."""

    def __init__(self, settings: Settings, *, env: dict[str, str]) -> None:
        self.cluster = NatsCluster(settings.var_dir)
        self.settings = settings
        self.env = env
        self.stack: Stack | None = None
        self.nc: Nats | None = None
        self.operator: Nats | None = None
        self._supervisor: asyncio.Task[None] | None = None
        #: services the supervisor restarted (the test's kills included)
        self.restarted: Counter[str] = Counter()

    @property
    def var(self) -> Path:
        return self.settings.var_dir

    async def start(self) -> None:
        started = time.monotonic()
        await asyncio.to_thread(self.cluster.start)
        await asyncio.to_thread(create_streams, self.cluster.url, self.var, 3)
        settings = dataclasses.replace(self.settings, nats_url=self.cluster.url)
        self.stack = Stack(settings, env={**self.env, "POLKU_STREAM_REPLICAS": "3"})
        await asyncio.to_thread(self.stack.start)
        self.nc = await connect(self.cluster.url, name="polku-test", user="integrator", var_dir=self.var)
        bind_issuer(self.nc, Issuer.from_var(self.var), "sg-001")
        self.operator = await connect(self.cluster.url, name="polku-test-operator", user="operator", var_dir=self.var)
        self._supervisor = asyncio.create_task(self._supervise())
        await self.check_shape()
        log(f"production shape up in {time.monotonic() - started:.1f}s: 3 NATS nodes, R3 streams, 4 services on PostgreSQL")

    async def check_shape(self) -> None:
        """What the tests claim to run, as the servers say it: each node syncs JetStream on
        every write and routes to the two others; each stream has three replicas."""
        for node in self.cluster.nodes:
            varz = await asyncio.to_thread(self.cluster.varz, node)
            assert varz["jetstream"]["config"]["sync_always"] is True, f"{node.server_name} does not sync always"
            assert varz["cluster"]["name"] == "polku" and len(varz["cluster"]["urls"]) == 3, varz["cluster"]
        assert self.operator is not None
        js = self.operator.jetstream()
        for stream in (*EVENT_STREAMS, "DLQ"):
            info = await js.stream_info(stream)
            assert info.config.num_replicas == 3, f"{stream} has {info.config.num_replicas} replicas"
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2, f"{stream}: {info.cluster}"

    async def _supervise(self) -> None:
        """Restart a service that died, as ``polku up`` or an orchestrator does."""
        assert self.stack is not None
        while True:
            for name in self.stack.supervise():
                self.restarted[name] += 1
                log(f"{name} restarted")
            await asyncio.sleep(0.2)

    def check_supervisor(self) -> None:
        """The supervisor ran all along (it stops on a service that exits on a wrong setting)."""
        assert self._supervisor is not None
        if self._supervisor.done():
            self._supervisor.result()  # raises what stopped it
            raise AssertionError("the supervisor stopped")

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        for client in (self.nc, self.operator):
            if client is not None:
                try:
                    await client.close()
                except Exception:  # noqa: BLE001 - closing after a fault
                    pass
        if self.stack is not None:
            await asyncio.to_thread(self.stack.stop)
        await asyncio.to_thread(self.cluster.stop)

    # ------------------------------------------------------------------ faults' tools
    async def stream_leader(self, stream: str) -> EmbeddedNats:
        assert self.operator is not None
        info = await self.operator.jetstream().stream_info(stream)
        assert info.cluster is not None and info.cluster.leader, f"{stream} has no leader"
        return self.cluster.node(info.cluster.leader)

    async def kill_service(self, name: str) -> float:
        """SIGKILL ``name``; the supervisor starts it again. Seconds until it is ready again."""
        assert self.stack is not None
        killed = time.monotonic()
        old = self.stack.processes[name].process
        self.stack.kill_service(name)
        while self.stack.processes[name].process is old:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(self.stack.wait_ready, (name,))
        return time.monotonic() - killed


# ------------------------------------------------------------------------------------ load
@dataclass
class Tally:
    """What the client saw: the commands answered ok (by command id), the referrals carried to
    routing, and the answers that were not ok (each retried with the same command id)."""

    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: referral id: whether special support is suspected
    routed: dict[str, bool] = field(default_factory=dict)
    #: when each command was answered ok (monotonic seconds)
    accepted_at: list[float] = field(default_factory=list)
    unavailable: int = 0
    no_answer: int = 0
    #: a refusal other than ``unavailable``: input Polku will never take; the test fails on it
    refused: list[dict[str, Any]] = field(default_factory=list)

    def longest_gap(self, since: float) -> float:
        """The longest time after ``since`` with no command accepted."""
        times = sorted(t for t in self.accepted_at if t >= since)
        return max((b - a for a, b in zip([since, *times], times, strict=False)), default=0.0)


class Load:
    """A steady load of referrals, each received, screened, triaged and routed by one of
    ``workers`` clients in turn. A command that is answered ``unavailable`` or not at all is
    sent again with the same command id until it is answered ok (counted once); a referral in
    flight when the load stops is carried to the end."""

    def __init__(self, nc: Nats, *, seed: int, workers: int = 4, pause: float = 0.05, timeout: float = 5.0) -> None:
        self.client = Client(nc, timeout=timeout)
        self.bodies = referrals_of_distinct_clients(seed)
        self.workers = workers
        self.pause = pause
        self.tally = Tally()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(i)) for i in range(self.workers)]

    async def stop(self, timeout: float = 120.0) -> Tally:
        self._stopping.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), timeout)
        return self.tally

    async def _worker(self, worker: int) -> None:
        n = 0
        while not self._stopping.is_set():
            await self._referral(next(self.bodies), special=(worker + n) % 2 == 0)
            n += 1
            await asyncio.sleep(self.pause)

    async def _referral(self, body: dict[str, Any], *, special: bool) -> None:
        prefix = f"faults-{uuid.uuid4()}"
        received = await self._command(RECEIVE_REFERRAL, body, f"{prefix}-receive")
        referral_id = received["referral_id"]
        for name, command, command_id in routing_commands(referral_id, special=special, prefix=prefix):
            await self._command(name, command, command_id)
        self.tally.routed[referral_id] = special

    async def _command(self, subject: str, body: dict[str, Any], command_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 120
        while True:
            try:
                reply = await self.client.command(subject, body, command_id)
            except Refusal as e:
                if e.code != "unavailable":
                    self.tally.refused.append(e.reply)
                    raise
                self.tally.unavailable += 1
            except (nats.errors.Error, asyncio.TimeoutError):  # no responder, a timeout, a reconnection...
                self.tally.no_answer += 1
            else:
                if command_id in self.tally.accepted:
                    raise AssertionError(f"command {command_id} answered ok twice")
                self.tally.accepted[command_id] = reply
                self.tally.accepted_at.append(time.monotonic())
                return reply
            if time.monotonic() > deadline:
                raise TimeoutError(f"{subject} not accepted in 120 s of retries")
            await asyncio.sleep(0.2)


# ---------------------------------------------------------------------------------- counts
@dataclass
class Figures:
    """One fault's figures, for the test's log and the README's table."""

    fault: str
    referrals: int
    commands: int
    unavailable: int
    no_answer: int
    events: dict[str, int]
    dead_lettered: int
    restarts: dict[str, int]
    #: the fault's own measure (a service ready again, a node current again...), seconds
    recovered_s: float
    #: the longest time with no command accepted from the fault on, seconds
    longest_gap_s: float
    #: from the load's end until every count agreed, seconds
    settled_s: float

    def line(self) -> str:
        return json.dumps(dataclasses.asdict(self))


def stored_events(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """Per service, the events its relay publishes as its PostgreSQL store holds them:
    ``(<aggregate id>:<version>, topic)``, read from the tables themselves."""
    import psycopg
    from psycopg import sql

    assert settings.postgres_dsn
    out: dict[str, list[tuple[str, str]]] = {}
    with psycopg.connect(settings.postgres_dsn) as conn:
        for service, topics in PUBLISHED_TOPICS.items():
            schema = postgres_schema(settings, service)
            tables = [t for (t,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name LIKE %s",
                (schema, "%events"),
            )]
            assert tables, f"no table of events in {schema}"
            out[service] = [
                (f"{oid}:{version}", topic)
                for table in tables
                for oid, version, topic in conn.execute(
                    sql.SQL("SELECT originator_id, originator_version, topic FROM {}.{} WHERE topic = ANY(%s)").format(
                        sql.Identifier(schema), sql.Identifier(table)),
                    (list(topics),),
                )
            ]
    return out


def _counted(events: dict[str, list[tuple[str, str]]]) -> Counter[str]:
    return Counter(msg_id for service in events.values() for msg_id, _topic in service)


async def published_events(operator: Nats) -> tuple[dict[str, Counter[str]], dict[str, list[Any]]]:
    """Every message of every event stream, read with the operator's connection: per stream,
    how many times each ``Nats-Msg-Id`` is there, and the messages themselves."""
    ids: dict[str, Counter[str]] = {}
    messages: dict[str, list[Any]] = {}
    js = operator.jetstream()
    for stream in EVENT_STREAMS:
        msgs = await stream_messages(operator, stream)
        held = (await js.stream_info(stream)).state.messages
        assert len(msgs) == held, f"{stream}: read {len(msgs)} of the {held} messages it holds"
        messages[stream] = msgs
        ids[stream] = Counter((m.headers or {}).get(contracts.H_MSG_ID, "") for m in msgs)
    return ids, messages


async def consumers_caught_up(operator: Nats) -> list[str]:
    """The durable consumers with messages not yet delivered or not yet acknowledged."""
    js = operator.jetstream()
    behind = []
    for stream in ("INTAKE", "CASEFILE", "FOLLOWUP"):
        for info in await js.consumers_info(stream):
            if info.config.durable_name and (info.num_pending or info.num_ack_pending):
                behind.append(f"{stream}/{info.name}: {info.num_pending} pending, {info.num_ack_pending} unacked")
    return behind


async def _when(read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """What ``read`` answers once ``done`` says so (or at the timeout, for the caller to judge)."""
    deadline = time.monotonic() + timeout
    while not done(value := await read()) and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
    return value


async def _eventually(what: str, check: Callable[[], Awaitable[str | None]], timeout: float) -> None:
    """Poll ``check`` (a difference said, or None) until it finds none; fail with the last."""
    deadline = time.monotonic() + timeout
    while (problem := await check()) is not None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {timeout:.0f}s: {problem}")
        await asyncio.sleep(0.25)


async def count(shape: ProductionShape, tally: Tally, *, poison: frozenset[str] = frozenset(), timeout: float = 90.0) -> tuple[dict[str, int], int]:
    """accepted = stored = published = projected, per event, none twice, nothing stuck.

    ``poison``: the ``Nats-Msg-Id`` of messages the test put in a stream itself, which every
    consumer of that stream must dead-letter (and nothing store). Returns the events per stream
    and the dead letters."""
    assert shape.nc is not None and shape.operator is not None
    nc, operator = shape.nc, shape.operator
    assert not tally.refused, f"commands refused for good: {tally.refused[:3]}"
    referrals = set(tally.routed)
    assert len(tally.accepted) == 4 * len(referrals), "a referral not carried through all four commands"

    # projected: reporting's open relationships, casefile's summary, reporting's positions
    async def reporting_total() -> str | None:
        try:
            total = (await Client(nc).open_relationships(timeout=5)).total
        except (nats.errors.Error, asyncio.TimeoutError) as e:
            return f"reporting does not answer: {e!r}"
        except Refusal as e:
            if e.code != "unavailable":
                raise
            return "reporting answers unavailable"
        return None if total == len(referrals) else f"reporting shows {total} open relationships of {len(referrals)}"

    await _eventually("reporting's projection", reporting_total, timeout)

    async def consumers() -> str | None:
        behind = await consumers_caught_up(operator)
        return "; ".join(behind) or None

    await _eventually("consumers stuck", consumers, timeout)
    await settled_indicators(nc, timeout=timeout)  # reporting has read every stream to its end
    summary = await Client(nc).query("casefile.summary", {}, timeout=10)
    assert summary["open"] == len(referrals), summary

    # projected in intake: each referral routed, its four events in its history (a logged read:
    # each leaves an audit event, stored and published like any other)
    async def status(referral_id: str) -> dict[str, Any]:
        return await Client(nc).query("intake.referral_status", {"referral_id": referral_id}, as_worker="sw-001", timeout=10)

    semaphore = asyncio.Semaphore(16)

    async def limited(referral_id: str) -> dict[str, Any]:
        async with semaphore:
            return await status(referral_id)

    statuses = await asyncio.gather(*(limited(r) for r in sorted(referrals)))
    assert all(s["stage"] == "routed" and len(s["history"]) == 4 for s in statuses), [
        s for s in statuses if s["stage"] != "routed" or len(s["history"]) != 4][:3]

    # stored = published: every event a relay publishes is in its stream once and only once
    async def stored_is_published() -> str | None:
        stored = _counted(await asyncio.to_thread(stored_events, shape.settings))
        ids, _ = await published_events(operator)
        published = Counter[str]()
        for stream_ids in ids.values():
            published.update(stream_ids)
        for msg_id in poison:
            assert published.pop(msg_id, 0) == 1, f"the poison {msg_id} is not in its stream once"
        assert not (twice := [k for k, n in published.items() if n > 1]), f"published more than once: {twice[:5]}"
        assert not (twice := [k for k, n in stored.items() if n > 1]), f"stored more than once: {twice[:5]}"
        missing, extra = set(stored) - set(published), set(published) - set(stored)
        if missing or extra:
            return (f"{len(missing)} stored, not published (e.g. {sorted(missing)[:3]}); "
                    f"{len(extra)} published, not stored (e.g. {sorted(extra)[:3]})")
        return None

    await _eventually("stored != published", stored_is_published, timeout)

    # accepted = stored: the referrals' events in intake's store are exactly the accepted
    # commands' (a referral's events are its received, screened, triaged and routed)
    intake = (await asyncio.to_thread(stored_events, shape.settings))["intake"]
    referral_events = {msg_id for msg_id, topic in intake if ":Referral." in topic}
    expected = {f"{r}:{v}" for r in referrals for v in REFERRAL_VERSIONS}
    assert referral_events == expected, (
        f"accepted != stored: {len(expected - referral_events)} accepted not stored, "
        f"{len(referral_events - expected)} stored not accepted (e.g. {sorted(referral_events ^ expected)[:3]})"
    )
    ids, messages = await published_events(operator)

    # casefile opened one relationship per referral, and no other
    opened = [e for e in (casefile_decoder.decode(m.data) for m in messages["CASEFILE"]
                                 if (m.headers or {}).get(contracts.H_MSG_ID) not in poison) if isinstance(e, RelationshipOpened)]
    by_referral = Counter(str(e.referral_id) for e in opened)
    assert set(by_referral) == referrals, f"relationships opened for {len(by_referral)} referrals of {len(referrals)}"
    assert max(by_referral.values()) == 1, "a referral opened two relationships"

    # nothing stuck: every consumer of a poison message dead-lettered it once, nothing else is
    # dead-lettered (a consumer's dead letter goes to polku.dlq.<service>-<stream>)
    expected_dead = Counter[tuple[str, bytes]]()
    for stream, msgs in messages.items():
        for m in msgs:
            if (m.headers or {}).get(contracts.H_MSG_ID) in poison:
                expected_dead.update(
                    (f"polku.dlq.{service}-{stream.lower()}", m.data)
                    for service, sources in SERVICE_CONSUMES.items() if stream in sources
                )
    dead = await _when(lambda: stream_messages(operator, "DLQ"), lambda d: len(d) >= sum(expected_dead.values()))
    assert Counter((m.subject, m.data) for m in dead) == expected_dead, [(m.subject, m.headers) for m in dead][:6]
    return {stream: sum(c.values()) for stream, c in ids.items()}, len(dead)


# ----------------------------------------------------------------------------------- a run
#: A fault: what it does to the shape while the load runs, returning its recovery in seconds.
Fault = Callable[[ProductionShape, Load], Awaitable[float]]


async def run_fault(
    shape: ProductionShape,
    name: str,
    fault: Fault,
    *,
    seed: int,
    before: float = 3.0,
    after: float = 3.0,
    poison: frozenset[str] = frozenset(),
) -> Figures:
    """Load for ``before`` seconds, the fault, load for ``after`` more seconds, then the
    counts. The figures are logged and, with ``POLKU_FAULTS_FIGURES`` naming a file,
    appended to it (one JSON line per fault)."""
    assert shape.nc is not None
    load = Load(shape.nc, seed=seed)
    load.start()
    await asyncio.sleep(before)
    log(f"{name}: {len(load.tally.routed)} referrals routed so far; the fault")
    at = time.monotonic()
    recovered = await fault(shape, load)
    log(f"{name}: recovered in {recovered:.1f}s")
    await asyncio.sleep(after)
    tally = await load.stop()
    stopped = time.monotonic()
    shape.check_supervisor()
    events, dead = await count(shape, tally, poison=poison)
    figures = Figures(
        fault=name,
        referrals=len(tally.routed),
        commands=len(tally.accepted),
        unavailable=tally.unavailable,
        no_answer=tally.no_answer,
        events=events,
        dead_lettered=dead,
        restarts=dict(shape.restarted),
        recovered_s=round(recovered, 2),
        longest_gap_s=round(tally.longest_gap(at), 2),
        settled_s=round(time.monotonic() - stopped, 2),
    )
    log(figures.line())
    if target := os.environ.get("POLKU_FAULTS_FIGURES"):
        with open(target, "a", encoding="utf-8") as f:
            f.write(figures.line() + "\n")
    return figures
