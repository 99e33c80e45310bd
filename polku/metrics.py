"""Prometheus metrics: what operations staff scrape from each service's ``/metrics``.

Two kinds. Counters and histograms that the hot path moves as it works (commands answered,
group commits, aggregate cache reads, the replay at start), kept in prometheus_client's default
registry; and figures read from the service's live objects when Prometheus scrapes (relay and
consumer lag and counts, followup's deadlines), produced by :class:`Observed`, which the
runtime (``polku.service``) fills before each scrape.

Every metric is named ``polku_*`` and labelled with the service and, where it has one, the
subject, the refusal code, or the durable consumer's name: all of them from closed sets that
the contracts name. Never a client, a worker, an id or a value from a message.

``POLKU_METRICS=0`` turns the hot path's counting off (``polku bench`` measures its cost); the
figures read at scrape time cost nothing between scrapes and stay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# no `*_created` series beside each counter: Prometheus does not need them, and they double the page
disable_created_metrics()

#: whether the hot path counts (``POLKU_METRICS``); the runtime sets it from the settings
enabled = True

COMMANDS = Counter(
    "polku_commands",
    "Commands and queries answered on the bus, by subject and outcome: ok, the refusal's code, or unavailable",
    ["service", "subject", "outcome"],
)
COMMAND_SECONDS = Histogram(
    "polku_command_duration_seconds",
    "Time from a command or query's arrival to its reply (decoding, checks, the group commit, the reply)",
    ["service", "subject"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GROUP_COMMIT_SIZE = Histogram(
    "polku_group_commit_size",
    "Commands decided together in one group commit (one transaction)",
    ["service"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
GROUP_COMMIT_SYNCS = Counter(
    "polku_group_commit_syncs",
    "Transactions the group commit committed, each one sync to disk (fsync)",
    ["service"],
)
AGGREGATE_READS = Counter(
    "polku_aggregate_reads",
    "Aggregates a command read from the store: from the aggregate cache (hit) or from the database (miss)",
    ["service", "outcome"],
)
REPLAYED = Gauge(
    "polku_replay_events",
    "Events of the service's own store replayed into its read models since it started",
    ["service"],
)
REPLAY_TARGET = Gauge(
    "polku_replay_target_events",
    "The store position the replay at start reads up to (its last event when the replay began)",
    ["service"],
)

#: the labelled children, looked up once (a label lookup takes a lock and a hash each time)
_commands: dict[tuple[str, str], Any] = {}
#: service → (events replayed, of how many): what /readyz says while a service replays
replay_state: dict[str, tuple[int, int]] = {}
_seconds: dict[str, Any] = {}
_group_commits: dict[str, tuple[Any, Any]] = {}
_aggregate_reads: dict[tuple[str, bool], Any] = {}


def service_of(subject: str) -> str:
    """The service a command or query subject belongs to: ``polku.cmd.<service>.<name>``."""
    parts = subject.split(".")
    return parts[2] if len(parts) > 3 else ""


def command_answered(subject: str, outcome: str, seconds: float) -> None:
    """A command or query on ``subject`` answered ``outcome`` (``ok`` or the error code)."""
    if not enabled:
        return
    counter = _commands.get((subject, outcome))
    if counter is None:
        counter = _commands[(subject, outcome)] = COMMANDS.labels(service_of(subject), subject, outcome)
    counter.inc()
    histogram = _seconds.get(subject)
    if histogram is None:
        histogram = _seconds[subject] = COMMAND_SECONDS.labels(service_of(subject), subject)
    histogram.observe(seconds)


def group_committed(service: str, size: int, syncs: int) -> None:
    """A group commit of ``size`` commands, stored in ``syncs`` transactions (0 when none of
    them changed anything, more than 1 when the batch was split)."""
    if not enabled:
        return
    children = _group_commits.get(service)
    if children is None:
        children = _group_commits[service] = (GROUP_COMMIT_SIZE.labels(service), GROUP_COMMIT_SYNCS.labels(service))
    children[0].observe(size)
    if syncs:
        children[1].inc(syncs)


def aggregate_read(service: str, hit: bool) -> None:
    if not enabled:
        return
    counter = _aggregate_reads.get((service, hit))
    if counter is None:
        counter = _aggregate_reads[(service, hit)] = AGGREGATE_READS.labels(service, "hit" if hit else "miss")
    counter.inc()


def replay_progress(service: str, replayed: int, target: int) -> None:
    """The replay of a service's store at start: ``replayed`` of ``target`` events."""
    replay_state[service] = (replayed, target)
    REPLAYED.labels(service).set(replayed)
    REPLAY_TARGET.labels(service).set(target)


# --------------------------------------------------------------- read when Prometheus scrapes
class Observed(Collector):
    """The figures a scrape reads from a running service's objects (its relay, its consumers,
    its own gauges): :meth:`update` is given a new snapshot before each scrape, and
    :meth:`collect` hands the registry what the last one held.

    A snapshot is the runtime's health answer (``polku.service``), so ``/metrics``, ``/readyz``
    and ``polku.ctl.<service>.health`` say the same thing.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._families: list[Metric] = []
        #: the service's own figures read at scrape time: name → (help, read()) (followup's deadlines)
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def describe(self) -> Iterable[Metric]:
        return []  # names vary with the service: nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        return list(self._families)

    def update(self, health: dict[str, Any], ready: bool) -> None:
        s = self.service
        families: list[Metric] = []

        def gauge(name: str, doc: str, value: float, **labels: str) -> None:
            family = GaugeMetricFamily(name, doc, labels=["service", *labels])
            family.add_metric([s, *labels.values()], value)
            families.append(family)

        gauge("polku_ready", "1 when the service has caught up and accepts commands (its /readyz), else 0", int(ready))
        relay = health.get("relay")
        if relay is not None:
            gauge("polku_relay_lag", "Stored events not yet published to the service's stream (counted up to 10,000)",
                  relay["lag"])
            gauge("polku_relay_position", "The store position of the last event JetStream acknowledged", relay["position"])
            published = CounterMetricFamily(
                "polku_relay_published", "Events the relay published and JetStream acknowledged since the service started",
                labels=["service"],
            )
            published.add_metric([s], relay["published"])
            families.append(published)
            gauge("polku_relay_failing_seconds", "How long publishing has failed without a success (0 while it works)",
                  relay["failing_for_s"] or 0.0)
        consumers = health.get("consumers", {})
        if consumers:
            lag = GaugeMetricFamily("polku_consumer_lag", "Messages of the consumer's subjects on the consumed stream not yet handled",
                                    labels=["service", "consumer"])
            position = GaugeMetricFamily("polku_consumer_position", "The last stream sequence whose effect is committed",
                                         labels=["service", "consumer"])
            processed = CounterMetricFamily("polku_consumer_processed", "Messages handled since the service started",
                                            labels=["service", "consumer"])
            dead = CounterMetricFamily(
                "polku_consumer_dead_lettered", "Messages sent to the DLQ (polku.dlq.<consumer>) since the service started",
                labels=["service", "consumer"],
            )
            repeated = CounterMetricFamily(
                "polku_consumer_repeated",
                "Events passed over as applied already: the same Polku-Position again (a copy, a republished event)",
                labels=["service", "consumer"],
            )
            resynchronised = CounterMetricFamily(
                "polku_consumer_resynchronised",
                "Times the consumed stream was not the one tracked (recreated, sequences reused) and the cursor went on by position",
                labels=["service", "consumer"],
            )
            for name, c in sorted(consumers.items()):
                lag.add_metric([s, name], c["lag"])
                position.add_metric([s, name], c["position"])
                processed.add_metric([s, name], c["processed"])
                dead.add_metric([s, name], c["dead_lettered"])
                repeated.add_metric([s, name], c.get("repeated", 0))
                resynchronised.add_metric([s, name], c.get("resynchronised", 0))
            families += [lag, position, processed, dead, repeated, resynchronised]
        for name, (doc, read) in self.gauges.items():
            gauge(name, doc, read())
        self._families = families


def observed(service: str) -> Observed:
    """The scrape-time collector of ``service``, registered once per process."""
    collector = _observed.get(service)
    if collector is None:
        collector = _observed[service] = Observed(service)
        REGISTRY.register(collector)
    return collector


_observed: dict[str, Observed] = {}
