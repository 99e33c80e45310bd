"""The metrics' names and labels: `polku_*`, labelled by service, subject, outcome or consumer
only (closed sets; never a client, a worker or a value), and counted where they are meant."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from polku import metrics
from polku.domain import RuleBroken
from polku.pipeline import Unavailable, handle_request

#: every label a polku_* metric may carry (``le``: a histogram's bucket)
ALLOWED_LABELS = {"service", "subject", "outcome", "consumer", "le"}

HEALTH = {
    "ok": True, "service": "unittest", "pid": 1,
    "relay": {"position": 40, "published": 38, "lag": 2, "failing_for_s": None},
    "consumers": {
        "unittest-intake": {"position": 10, "lag": 0, "processed": 9, "dead_lettered": 1, "repeated": 2, "resynchronised": 1},
        "unittest-casefile": {"position": 7, "lag": 3, "processed": 7, "dead_lettered": 0},
    },
}


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def answer(subject: str, outcome: Exception | None) -> None:
    async def call(ids: dict[str, str], correlation_id: str | None) -> bytes:
        if outcome is not None:
            raise outcome
        return b'{"ok":true}'

    asyncio.run(handle_request(subject, {}, "c-1", call))


class NoSuchThing(RuleBroken):
    code = "relationship_not_found"


def test_a_command_is_counted_by_its_subject_and_outcome_ok_a_refusal_code_or_unavailable() -> None:
    subject = "polku.cmd.unittest.do_it"
    before = {o: sample("polku_commands_total", service="unittest", subject=subject, outcome=o) or 0
              for o in ("ok", "relationship_not_found", "unavailable")}
    answer(subject, None)
    answer(subject, None)
    answer(subject, NoSuchThing("no relationship has this id", "relationship_id"))
    answer(subject, RuntimeError("the store went away"))  # answered unavailable
    answer(subject, Unavailable("the relay cannot publish"))  # turned away: unavailable too
    after = {o: sample("polku_commands_total", service="unittest", subject=subject, outcome=o) for o in before}
    assert {o: after[o] - before[o] for o in before} == {"ok": 2, "relationship_not_found": 1, "unavailable": 2}
    assert sample("polku_command_duration_seconds_count", service="unittest", subject=subject) == 5 + sum(before.values())


def test_with_metrics_off_a_command_is_not_counted() -> None:
    subject = "polku.cmd.unittest.quietly"
    metrics.enabled = False
    try:
        answer(subject, None)
    finally:
        metrics.enabled = True
    assert sample("polku_commands_total", service="unittest", subject=subject, outcome="ok") is None
    answer(subject, None)
    assert sample("polku_commands_total", service="unittest", subject=subject, outcome="ok") == 1


def test_the_scrape_time_figures_come_from_the_health_answer() -> None:
    observed = metrics.observed("unittest")
    observed.gauges = {"polku_deadlines_pending": ("Deadlines set and not fired", lambda: 4)}
    observed.update(HEALTH, ready=False)
    assert sample("polku_ready", service="unittest") == 0
    assert sample("polku_relay_lag", service="unittest") == 2
    assert sample("polku_relay_position", service="unittest") == 40
    assert sample("polku_relay_published_total", service="unittest") == 38
    assert sample("polku_relay_failing_seconds", service="unittest") == 0
    assert sample("polku_consumer_lag", service="unittest", consumer="unittest-casefile") == 3
    assert sample("polku_consumer_position", service="unittest", consumer="unittest-intake") == 10
    assert sample("polku_consumer_processed_total", service="unittest", consumer="unittest-intake") == 9
    assert sample("polku_consumer_dead_lettered_total", service="unittest", consumer="unittest-intake") == 1
    assert sample("polku_consumer_repeated_total", service="unittest", consumer="unittest-intake") == 2
    assert sample("polku_consumer_resynchronised_total", service="unittest", consumer="unittest-intake") == 1
    assert sample("polku_consumer_repeated_total", service="unittest", consumer="unittest-casefile") == 0
    assert sample("polku_deadlines_pending", service="unittest") == 4
    # the next scrape's answer replaces the last one's, it does not add to it
    observed.update({**HEALTH, "consumers": {}}, ready=True)
    assert sample("polku_ready", service="unittest") == 1
    assert sample("polku_consumer_lag", service="unittest", consumer="unittest-casefile") is None
    assert metrics.observed("unittest") is observed  # registered once


def test_group_commits_cache_reads_and_the_replay_are_counted_by_service() -> None:
    syncs = sample("polku_group_commit_syncs_total", service="unittest") or 0
    metrics.group_committed("unittest", 5, 1)
    metrics.group_committed("unittest", 3, 0)  # nothing changed: no transaction
    assert sample("polku_group_commit_syncs_total", service="unittest") == syncs + 1
    assert sample("polku_group_commit_size_bucket", service="unittest", le="4.0") >= 1
    hits = sample("polku_aggregate_reads_total", service="unittest", outcome="hit") or 0
    metrics.aggregate_read("unittest", True)
    metrics.aggregate_read("unittest", False)
    assert sample("polku_aggregate_reads_total", service="unittest", outcome="hit") == hits + 1
    assert sample("polku_aggregate_reads_total", service="unittest", outcome="miss") >= 1
    metrics.replay_progress("unittest", 1000, 2500)
    assert (sample("polku_replay_events", service="unittest"), sample("polku_replay_target_events", service="unittest")) == (
        1000, 2500
    )
    assert metrics.replay_state["unittest"] == (1000, 2500)


def test_every_polku_metric_is_named_polku_and_labelled_by_closed_sets_only() -> None:
    answer("polku.qry.unittest.look", None)
    metrics.observed("unittest").update(HEALTH, ready=True)
    families = [f for f in text_string_to_metric_families(generate_latest(REGISTRY).decode()) if f.name.startswith("polku")]
    names = {f.name for f in families}
    assert {
        "polku_commands", "polku_command_duration_seconds", "polku_group_commit_size", "polku_group_commit_syncs",
        "polku_aggregate_reads", "polku_replay_events", "polku_replay_target_events", "polku_ready",
        "polku_relay_lag", "polku_relay_position", "polku_relay_published", "polku_relay_failing_seconds",
        "polku_consumer_lag", "polku_consumer_position", "polku_consumer_processed", "polku_consumer_dead_lettered",
        "polku_consumer_repeated", "polku_consumer_resynchronised",
    } <= names
    for family in families:
        assert family.name.startswith("polku_")
        assert family.documentation, family.name
        for s in family.samples:
            assert set(s.labels) <= ALLOWED_LABELS, (s.name, s.labels)
            assert "service" in s.labels, s.name
            if "subject" in s.labels:
                assert s.labels["subject"].startswith(("polku.cmd.", "polku.qry.")), s.labels
    assert not any(s.name.endswith("_created") for f in families for s in f.samples)


@pytest.mark.parametrize(("subject", "service"), [
    ("polku.cmd.intake.receive_referral", "intake"), ("polku.qry.reporting.indicators", "reporting"), ("odd", ""),
])
def test_the_service_label_comes_from_the_subject(subject: str, service: str) -> None:
    assert metrics.service_of(subject) == service
