"""The dashboard and the alert rules ask for metrics the services serve, under their names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from polku import metrics

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\b((?:polku|faststream)_[a-z_]+)\b")  # FastStream's would be named, and not served


def served() -> set[str]:
    """Every sample name a service's /metrics can hold (each family made once here)."""
    metrics.command_answered("polku.cmd.dashboard.check", "ok", 0.01)
    metrics.group_committed("dashboard", 2, 1)
    metrics.aggregate_read("dashboard", True)
    metrics.replay_progress("dashboard", 1, 1)
    observed = metrics.Observed("dashboard")
    observed.gauges = {
        "polku_deadlines_pending": ("pending", lambda: 0), "polku_deadlines_overdue": ("overdue", lambda: 0),
        "polku_commands_in_process": ("in process", lambda: 0),
    }
    observed.update({
        "relay": {"position": 1, "published": 1, "lag": 0, "failing_for_s": None},
        "consumers": {"dashboard-intake": {"position": 1, "lag": 0, "processed": 1, "dead_lettered": 0}},
    }, ready=True)
    names = {s.name for f in text_string_to_metric_families(generate_latest(metrics.REGISTRY).decode()) for s in f.samples}
    names |= {s.name for f in observed.collect() for s in f.samples}
    return names


def test_every_dashboard_query_names_a_metric_the_services_serve() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "polku-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 20
    named = {m for e in exprs for m in METRIC.findall(e)}
    assert named <= served(), named - served()
    # what the operations section says to watch is on it
    for metric in ("polku_relay_lag", "polku_consumer_lag", "polku_consumer_dead_lettered_total",
                   "polku_commands_total", "polku_deadlines_overdue", "polku_commands_in_process"):
        assert metric in named
    assert any('outcome="unavailable"' in e for e in exprs)


def test_every_alert_rule_names_a_metric_the_services_serve() -> None:
    rules = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    exprs = re.findall(r"^\s+expr: (.+)$", rules, re.M)
    named = {m for e in exprs for m in METRIC.findall(e)}
    assert {"polku_relay_lag", "polku_consumer_lag", "polku_consumer_dead_lettered_total", "polku_commands_total"} <= named
    assert named <= served(), named - served()


def test_prometheus_scrapes_each_service_on_the_port_compose_gives_it() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    port = re.search(r'POLKU_HTTP_PORT: "(\d+)"', compose).group(1)
    scrape = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    targets = set(re.findall(r'"(\w+):(\d+)"', scrape))
    services = {"intake", "casefile", "followup", "reporting"}
    assert targets == {(name, port) for name in services}
    for name in services:
        assert re.search(rf'^  {name}:\n    <<: \*polku-service', compose, re.M)
