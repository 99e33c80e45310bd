"""What every service runs on: one process, one asyncio loop.

It connects to NATS, makes sure the streams exist, serves the service's commands and queries
(the pipeline's :class:`~polku.pipeline.Responder`), runs the relay from the service's store to its stream, and runs the
service's durable consumers. ``polku serve <service>`` runs it; ``polku up`` starts one process
per service. SIGTERM or SIGINT stops it cleanly: consumers finish their batch, the relay its
page, and the store is closed.

The runtime knows no service by name. A service registers a :class:`ServiceDefinition` under
the entry point group ``polku.services`` (see pyproject.toml), and :mod:`polku.registry` finds it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

import contracts
from polku import tracing
from polku import log as polku_log
from polku import lease, metrics
from polku.bus import check_stream, connect, wait_for_streams
from polku.consumer import BatchHandler, EventConsumer, sleep_or_stop
from polku.endpoints import Endpoints, Reply, json_reply
from polku.pipeline import Pipeline
from polku.relay import Mapper, Relay
from polku.settings import Settings, SettingsError
from polku.stack import EXIT_CONFIG
from polku.store import ServiceApplication

log = polku_log.get_logger("polku.service")
T = TypeVar("T")

#: the exit code of a service whose relay, consumer or task failed for good (EX_SOFTWARE); not
#: EXIT_CONFIG, so `polku up` (or the orchestrator) starts the service again
EXIT_TASK_FAILED = 70


class TaskFailed(Exception):
    """A relay, consumer or task of the service ended while it ran: the service stopped."""


@dataclass
class ConsumerSpec:
    source: str  # the service whose stream is consumed, e.g. "intake"
    decoder: msgspec.json.Decoder[Any]
    handler: BatchHandler
    #: the service serves commands only once this consumer has handled what its stream held
    #: at start (a read model the commands decide by, replayed into memory)
    before_commands: bool = False

    @property
    def subjects(self) -> tuple[str, ...] | None:
        """The subjects of the source's stream the handler acts on, if it names them (a
        pipeline's consumer: the events of its table; a projection's: those it reads); None:
        every event of the stream."""
        named = getattr(self.handler, "subjects", None)
        if named is None:
            return None
        prefix = f"polku.{self.source}."
        return tuple(s for s in named if s.startswith(prefix)) or None


@dataclass
class ServiceParts:
    """What a service's ``main.build(settings)`` returns: wiring only."""

    name: str
    #: the service's commands and queries (its table, run by the runtime)
    pipeline: Pipeline
    app: ServiceApplication | None = None
    publishing: Mapper | None = None
    #: the stored-event topics ``publishing`` maps (the relay reads only these)
    published_topics: tuple[str, ...] = ()
    consumers: list[ConsumerSpec] = field(default_factory=list)
    close: Callable[[], None] = lambda: None
    #: the service's own background work (a scheduler), each run as ``task(stop)`` once the
    #: service serves its commands, until ``stop`` is set
    tasks: list[Callable[[asyncio.Event], Awaitable[None]]] = field(default_factory=list)
    #: the service's own figures for ``/metrics``, read at each scrape: metric name → (help,
    #: read()) (followup's pending and overdue deadlines)
    gauges: dict[str, tuple[str, Callable[[], float]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service tells the runtime about itself; its ``main.py`` defines one as ``SERVICE``
    and registers it under the entry point group ``polku.services``.

    ``build(settings)`` wires the service: its application, pipeline, relay mapping and consumers
    (:class:`ServiceParts`). ``polku serve`` runs what it returns.

    ``settings()`` reads the service's own settings from the environment and raises
    :class:`polku.settings.SettingsError` naming a variable it cannot use: ``polku up`` calls it
    for every service before it starts any, so a bad value stops it at once.

    ``rebuild(settings)`` rebuilds the service's read models for ``polku rebuild``, showing its
    progress and rate on the terminal, and returns the exit code. A service without it has
    nothing to rebuild.

    ``republish_source(settings)`` opens the service's event store for ``polku republish``
    (:class:`RepublishSource`: the application, its publishing mapper and the topics it maps;
    the same three the relay publishes from). A service without it publishes no events of its
    own.
    """

    name: str
    build: Callable[[Settings], ServiceParts]
    settings: Callable[[], object] | None = None
    rebuild: Callable[[Settings], int] | None = None
    republish_source: Callable[[Settings], RepublishSource] | None = None


@dataclass(frozen=True)
class RepublishSource:
    """A service's stored events as ``polku republish`` reads them; ``app.close()`` ends it."""

    app: ServiceApplication
    publishing: Mapper
    #: the stored-event topics ``publishing`` maps (only these are read)
    published_topics: tuple[str, ...]


async def serve(name: str, settings: Settings, stop: asyncio.Event, ready: Callable[[], None] | None = None) -> None:
    from polku.registry import service

    definition = service(name)
    # one writer per store: a second instance stops here, before it opens the store (LeaseHeld)
    held = await asyncio.to_thread(lease.acquire, name, settings)
    tracing.setup(name, settings.tracing_exporter(name))
    try:
        await _serve(name, definition, settings, stop, ready)
    finally:
        held.release()
        tracing.shutdown()


#: how long the health answer waits for the streams' ends (the consumers' lag) before it says
#: what it could not tell (``detail_error``)
HEALTH_DETAIL_SECONDS = 3.0


class Running:
    """What a running service says about itself, the same everywhere: to NATS
    (``polku.ctl.<service>.health``, for ``polku status``), over HTTP (``/readyz``, ``/metrics``).

    Ready means caught up and accepting commands: the store replayed, the read models the
    commands decide by caught up, the command handlers subscribed, and no gate turning commands
    away (a relay that cannot publish)."""

    def __init__(self, name: str) -> None:
        self.name = name
        #: what the service is doing while it is not serving yet (said by /readyz)
        self.phase = "replaying its store"
        self.serving = False
        self.pipeline: Pipeline | None = None
        self.relay: Relay | None = None
        self.consumers: list[EventConsumer] = []
        self.js: Any = None

    def ready(self) -> tuple[bool, str | None]:
        """Whether the service is ready, and why not."""
        if not self.serving:
            if self.phase == "replaying its store" and (progress := metrics.replay_state.get(self.name)):
                return False, f"replaying its store ({progress[0]} of {progress[1]} events)"
            return False, self.phase
        gate = self.pipeline.gate if self.pipeline is not None else None
        why = gate() if gate is not None else None
        return why is None, why

    async def health(self) -> dict[str, Any]:
        """The health answer: readiness, the relay's position and lag, each consumer's lag."""
        ready, why = self.ready()
        answer: dict[str, Any] = {"ok": ready, "service": self.name, "pid": os.getpid()}
        if why is not None:
            answer["why"] = why
        try:
            relay = self.relay
            if relay is not None:
                answer["relay"] = {
                    "position": relay.position,
                    "published": relay.published,
                    "lag": await asyncio.to_thread(relay.pending),
                    "failing_for_s": None if relay.failing_since is None else round(time.monotonic() - relay.failing_since, 1),
                }
            # bounded: NATS away must not hold a probe or a scrape longer than Prometheus waits
            answer["consumers"] = await asyncio.wait_for(self._consumer_lags(), HEALTH_DETAIL_SECONDS)
        except Exception as e:  # noqa: BLE001 - the answer says the service is up, and what it could not tell
            answer["detail_error"] = type(e).__name__
        return answer

    async def _consumer_lags(self) -> dict[str, dict[str, int]]:
        lags = {}
        for consumer in self.consumers:
            lags[consumer.name] = {
                "position": consumer.position, "lag": await consumer.lag(),
                "processed": consumer.processed, "dead_lettered": consumer.dead_lettered,
                "repeated": consumer.repeated, "resynchronised": consumer.resynchronised,
            }
        return lags

    # ------------------------------------------------------------------- over HTTP
    def endpoints(self, settings: Settings, observed: metrics.Observed) -> Endpoints:
        async def healthz() -> Reply:
            return json_reply(200, {"alive": True, "service": self.name, "pid": os.getpid()})

        async def readyz() -> Reply:
            ready, why = self.ready()
            return json_reply(200 if ready else 503, {"ready": ready, "service": self.name, "why": why})

        async def scrape() -> Reply:
            health = await self.health()
            observed.update(health, bool(health["ok"]))
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)

        return Endpoints(
            {"/healthz": healthz, "/readyz": readyz, "/metrics": scrape},
            host=settings.http_host, port=settings.http_port, url_file=settings.var_dir / "run" / f"{self.name}.http",
        )


async def _serve(
    name: str, definition: ServiceDefinition, settings: Settings, stop: asyncio.Event,
    ready: Callable[[], None] | None,
) -> None:
    metrics.enabled = settings.metrics
    running = Running(name)
    observed = metrics.observed(name)
    endpoints = running.endpoints(settings, observed)
    # before the store is opened: /readyz says "not ready" through the replay
    try:
        await endpoints.start()
    except OSError as e:  # the port is taken: a setting to change, not a crash to restart
        raise SettingsError(
            f"POLKU_HTTP_HOST/POLKU_HTTP_PORT: cannot listen on {settings.http_host}:{settings.http_port} ({e.strerror})"
        ) from None
    try:
        await _serve_running(name, definition, settings, stop, ready, running, observed)
    finally:
        await endpoints.close()


async def _serve_running(
    name: str, definition: ServiceDefinition, settings: Settings, stop: asyncio.Event,
    ready: Callable[[], None] | None, running: Running, observed: metrics.Observed,
) -> None:
    parts: ServiceParts = await asyncio.to_thread(definition.build, settings)
    running.pipeline = parts.pipeline
    observed.gauges = dict(parts.gauges)
    running.phase = "connecting to NATS"
    url = settings.resolved_nats_url()
    nc = await connect(url, name=f"polku-{name}", user=name, var_dir=settings.var_dir)
    js = nc.jetstream(publish_async_max_pending=4000)
    running.js = js
    running.phase = "waiting for its streams"
    # only the operator may create or change streams (`polku up` / `polku streams`): wait for them
    await wait_for_streams(js, [contracts.SERVICE_STREAM[name], *(c.source.upper() for c in parts.consumers)], stop)
    try:
        await check_stream(js, contracts.SERVICE_STREAM[name], settings.stream_replicas)
    except Exception as e:  # noqa: BLE001 - a check: it never keeps the service from starting
        log.warning("stream_check_failed", stream=contracts.SERVICE_STREAM[name], error=type(e).__name__)

    tasks: list[asyncio.Task[None]] = []
    failed: list[str] = []

    def supervise(task: asyncio.Task[None]) -> None:
        """A relay, consumer or task of the service that ends while the service runs has failed
        for good (they retry what is transient themselves): stop the process, so that `polku up`
        or the orchestrator starts it again, instead of answering health checks without it."""
        if stop.is_set() or task.cancelled():
            return
        error = task.exception()
        failed.append(task.get_name())
        log.error("task_failed", task=task.get_name(), error=type(error).__name__ if error else "ended")
        stop.set()

    relay: Relay | None = None
    if parts.app is not None and parts.publishing is not None:
        relay = Relay(
            parts.app, parts.publishing, nc, topics=parts.published_topics, stream=contracts.SERVICE_STREAM[name]
        )
        tasks.append(asyncio.create_task(relay.run(stop), name=f"{name}-relay"))
        running.relay = relay

        def stalled() -> str | None:
            since = relay.failing_since if relay is not None else None
            if since is None or time.monotonic() - since < settings.relay_stall_seconds:
                return None
            return (
                f"{name} cannot publish its events now (for {time.monotonic() - since:.0f}s); "
                "retry later with the same Polku-Command-Id"
            )

        parts.pipeline.gate = stalled
    gates: list[EventConsumer] = []
    consumers: list[EventConsumer] = []
    for spec in parts.consumers:
        consumer = EventConsumer(
            js,
            service=name,
            source=spec.source,
            decoder=spec.decoder,
            handler=spec.handler,
            batch=settings.consumer_batch,
            max_attempts=settings.max_deliveries,
            subjects=spec.subjects,
        )
        tasks.append(asyncio.create_task(consumer.run(stop), name=consumer.name))
        consumers.append(consumer)
        if spec.before_commands:
            gates.append(consumer)
    running.consumers = consumers
    for consumer in gates:
        running.phase = f"catching up on {consumer.stream} ({consumer.name})"
        await _caught_up(consumer, stop)
    running.phase = "starting its command handlers"

    # the commands and queries on a connection of their own: replies are not queued behind the
    # relay's pages, nor its acknowledgements behind a burst of commands
    commands_nc = await connect(url, name=f"polku-{name}-commands", user=name, var_dir=settings.var_dir)
    responder = parts.pipeline.responder(commands_nc)
    await responder.start()
    observed.gauges["polku_commands_in_process"] = (
        "Commands and queries being handled now (taken, not yet answered)", lambda: responder.in_process
    )
    for i, work in enumerate(parts.tasks):
        tasks.append(asyncio.create_task(work(stop), name=f"{name}-task-{i}"))
    if parts.app is not None and settings.snapshot_every > 0:
        tasks.append(asyncio.create_task(_snapshots(parts.app, settings.snapshot_every, stop), name=f"{name}-snapshots"))
    for task in tasks:
        task.add_done_callback(supervise)

    async def health(msg: Any) -> None:
        await msg.respond(msgspec.json.encode(await running.health()))

    health_sub = await nc.subscribe(f"polku.ctl.{name}.health", cb=health)
    running.serving = True
    log.info("service_started", nats=url, store=settings.store, pid=os.getpid())
    if ready:
        ready()
    try:
        await stop.wait()
    finally:
        log.info("service_stopping")
        running.serving, running.phase = False, "stopping"
        await health_sub.unsubscribe()
        await responder.stop()
        await commands_nc.close()
        # what was handed to the group commit is committed and answered before the store closes
        if not await asyncio.to_thread(parts.pipeline.committer.drain):
            log.warning("group_commit_not_drained")
        done, pending = await asyncio.wait(tasks, timeout=10) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() and task.get_name() not in failed:
                log.error("task_failed", task=task.get_name(), error=type(task.exception()).__name__)
        try:
            # Everything consumed is acked and everything relayed is confirmed by now: flush
            # what is buffered and close (a drain would wait out the pull subscriptions).
            await nc.flush(timeout=2)
        except Exception:  # noqa: BLE001 - NATS may be away; nothing is lost by closing
            pass
        await nc.close()
        if parts.app is not None and settings.snapshot_every > 0 and not failed:
            # what a start replays is what came after this; nothing is recorded any more
            try:
                await asyncio.to_thread(parts.app.snapshot_read_models)
            except Exception as e:  # noqa: BLE001 - a snapshot is a cache: the store is the truth
                log.warning("read_models_snapshot_failed", error=type(e).__name__)
        await asyncio.to_thread(parts.close)
        log.info("service_stopped")
    if failed:
        raise TaskFailed(f"{', '.join(failed)} failed for good; stopping so that it is started again")


async def _snapshots(app: ServiceApplication, every: int, stop: asyncio.Event) -> None:
    """A snapshot of the read models whenever ``every`` events have changed them since the last
    (``POLKU_SNAPSHOT_EVERY``), so that a start replays at most about that many. A snapshot that
    fails is retried at the next look; the service goes on (the store is the truth)."""
    while not stop.is_set():
        await sleep_or_stop(stop, SNAPSHOT_LOOK_SECONDS)
        if stop.is_set() or app.changed_since_snapshot() < every:
            continue
        try:
            await asyncio.to_thread(app.snapshot_read_models)
        except Exception as e:  # noqa: BLE001
            log.warning("read_models_snapshot_failed", error=type(e).__name__)


#: how often the read models' changes are looked at for a snapshot
SNAPSHOT_LOOK_SECONDS = 5.0


async def _caught_up(consumer: EventConsumer, stop: asyncio.Event) -> None:
    """Wait until ``consumer`` has handled what its stream held at start, with periodic counts."""
    started = time.monotonic()
    while not stop.is_set():
        try:
            await asyncio.wait_for(consumer.caught_up.wait(), 5.0)
            return
        except TimeoutError:
            elapsed = time.monotonic() - started
            log.info(
                "consumer_catching_up", consumer=consumer.name, position=consumer.position,
                processed=consumer.processed, rate=round(consumer.processed / elapsed),
            )


def _config_error(name: str, e: SettingsError) -> NoReturn:
    # EXIT_CONFIG: `polku up` does not restart it (it would fail the same way again), it says why.
    print(f"polku serve {name}: {e}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_CONFIG) from None


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on libuv's event loop where uvloop is installed (about a sixth less CPU per
    command in a service, and per message in a rebuild), else on asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - no wheel for this platform
        return asyncio.run(main)
    return uvloop.run(main)


def run(name: str) -> None:
    """Entry point of ``polku serve <name>``: configure logging, serve until a signal."""
    polku_log.scrub_std_streams()
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        _config_error(name, e)
    polku_log.configure(
        name, fmt=settings.log_format, level=settings.log_level, file=settings.log_file,
        max_bytes=settings.log_max_bytes, backups=settings.log_backups,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        ready_file = os.environ.get("POLKU_READY_FILE")

        def ready() -> None:
            if ready_file:
                with open(ready_file, "w") as f:
                    f.write(f"{os.getpid()}\n")

        await serve(name, settings, stop, ready)

    try:
        run_loop(main())
    except TaskFailed as e:
        print(f"polku serve {name}: {e}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_TASK_FAILED) from None
    except Exception as e:
        # A key not configured for what the store holds (polku/keys.py), wherever it was read.
        cause: BaseException | None = e
        while cause is not None and not isinstance(cause, SettingsError):
            cause = cause.__cause__
        if isinstance(cause, SettingsError):
            _config_error(name, cause)
        raise
