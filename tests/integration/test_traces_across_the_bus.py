"""One referral's path is one trace: from the caller's commands, through each service's stored
events and the relay, to every consumer's effect, across processes.

The test is the caller: it records its own span in memory and sends the four commands of a
referral inside it (``polku.client`` carries the ``traceparent``). Each service writes its spans
to a file of its own (``POLKU_TRACES=file:...``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from polku.settings import Settings
from polku.stack import Stack
from tests.helpers import distinct_referrals, send_referrals, wait_for_projection


@pytest.fixture
def settings(polku_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Every service of the stack writes its spans to var/traces/<service>.jsonl."""
    monkeypatch.setenv("POLKU_TRACES", f"file:{polku_env['POLKU_VAR_DIR']}/traces/{{service}}.jsonl")
    return Settings.from_env()


def _spans(var: Path, service: str) -> list[dict[str, Any]]:
    path = var / "traces" / f"{service}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _log_lines(var: Path, service: str) -> list[dict[str, Any]]:
    path = var / "log" / f"{service}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


async def test_one_referral_is_one_trace_from_its_first_command_to_reporting(stack: Stack, nc: Client) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("integrator").start_as_current_span("a referral from the client system") as root:
        [reply] = await send_referrals(nc, distinct_referrals(41, 1))
    assert reply["ok"]
    assert (await wait_for_projection(nc, 1)).total == 1
    trace_id = format(root.get_span_context().trace_id, "032x")
    [recorded] = exporter.get_finished_spans()
    assert recorded.context.trace_id == root.get_span_context().trace_id

    var = Path(stack.var)
    deadline = time.monotonic() + 30
    while True:
        spans = {s: [x for x in _spans(var, s) if x["context"]["trace_id"] == "0x" + trace_id] for s in
                 ("intake", "casefile", "followup", "reporting")}
        names = {s: {x["name"] for x in v} for s, v in spans.items()}
        wanted = {"reporting-casefile process", "reporting-intake process"} <= names["reporting"]
        # followup's span of casefile's event is exported by another process, on its own time
        if (wanted and "followup-casefile process" in names["followup"]) or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    # intake: the four commands, each handled in a span of the caller's trace
    for command in ("receive_referral", "screen_referral", "triage_support_need", "route_referral"):
        assert f"polku.cmd.intake.{command} process" in names["intake"], names["intake"]
    # casefile opened the relationship from the routed referral: its consumer's span is in the trace
    assert "casefile-intake process" in names["casefile"], names["casefile"]
    # followup reads casefile's events, reporting intake's and casefile's, in the same trace
    assert "followup-casefile process" in names["followup"], names["followup"]
    assert {"reporting-intake process", "reporting-casefile process"} <= names["reporting"], names["reporting"]

    # each hop is a child: casefile's event (RelationshipOpened) names casefile's span as parent
    by_id = {x["context"]["span_id"]: x for v in spans.values() for x in v}
    [opened] = [x for x in spans["reporting"] if x["name"] == "reporting-casefile process"
                and x["attributes"].get("polku.event") == "RelationshipOpened"]
    parent = by_id[opened["parent_id"]]
    assert parent["name"] == "casefile-intake process"
    assert parent["attributes"]["polku.event"] == "ReferralRouted"
    grandparent = by_id[parent["parent_id"]]
    assert grandparent["name"] == "polku.cmd.intake.route_referral process"

    # and the services' log lines say which trace they belong to
    handled = [e for e in _log_lines(var, "casefile") if e.get("event") == "message_handled"
               and e.get("event_name") == "ReferralRouted"]
    assert [e["trace_id"] for e in handled] == [trace_id]
    commands = [e for e in _log_lines(var, "intake") if e.get("event") == "message_handled"
                and str(e.get("subject", "")).startswith("polku.cmd.intake.")]
    assert {e["trace_id"] for e in commands} == {trace_id}

    # no personal data in any span: the referral's name and identity code appear in none
    everything = "".join((var / "traces" / f"{s}.jsonl").read_text() for s in spans if (var / "traces" / f"{s}.jsonl").exists())
    body = distinct_referrals(41, 1)[0]
    assert body["identity_code"] not in everything
    assert body["contact_details"].split(",")[0] not in everything
