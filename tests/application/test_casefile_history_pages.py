"""A relationship's timeline and history come in pages: at most ``limit`` events and never a
reply past NATS's payload limit; a page that stops short says where to go on. v1's timeline
carries v1's kinds of event and counts the others as omitted; the history carries every kind."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest

from contracts import casefile as cmd
from contracts.base import encoder
from polku.pipeline import Pipeline
from services.casefile.application import CasefileApplication
from tests.application.test_casefile_commands import SC1, app, open_relationship, pipeline  # noqa: F401  # fixtures
from tests.application.test_casefile_rules import ok

NOW = "2026-11-23T10:00:00+00:00"


def _many_events(pipeline: Pipeline, rid: uuid.UUID) -> None:
    """Ten meetings scheduled, and a consultation (a kind of event added since v1)."""
    for _ in range(10):
        ok(pipeline, cmd.ScheduleMeeting, rid, kind="follow_up", channel="phone", scheduled_for=NOW)
    ok(pipeline, cmd.RecordConsultation, rid, profession="social_worker", topic="service_need_assessment")


def _read_all(pipeline: Pipeline, rid: uuid.UUID, name: str, **page: Any) -> list[Any]:
    pages, after = [], 0
    while True:
        q = cmd.RecordQuery(relationship_id=rid, actor=cmd.ActingWorker(**SC1), purpose="client_work", after_version=after, **page)
        reply = pipeline.ask(q, name)
        pages.append(reply)
        if reply.next_after_version is None:
            return pages
        assert reply.next_after_version > after
        after = reply.next_after_version


def test_the_history_comes_in_pages_that_together_are_every_event_once_in_order(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    _many_events(pipeline, rid)
    whole = app.history(rid)
    assert whole.next_after_version is None
    versions = [e.version for e in whole.entries]
    assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 13

    pages = _read_all(pipeline, rid, "history", limit=4)
    assert [len(p.entries) for p in pages[:-1]] == [4] * (len(pages) - 1)
    assert [e for p in pages for e in p.entries] == whole.entries


def test_the_timeline_pages_alike_and_counts_what_it_leaves_out_per_page(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    _many_events(pipeline, rid)
    pages = _read_all(pipeline, rid, "timeline", limit=5)
    entries = [e for p in pages for e in p.entries]
    history = app.history(rid).entries
    assert [e.version for e in entries] == [h.version for h in history if not isinstance(h.event, cmd.ConsultationRecorded)]
    assert sum(p.omitted for p in pages) == 1 and pages[-1].omitted == 1  # the consultation, last
    assert isinstance(history[-1].event, cmd.ConsultationRecorded)


def test_a_page_stops_before_it_would_pass_the_payload_budget(
    app: CasefileApplication, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = open_relationship(pipeline)
    _many_events(pipeline, rid)
    whole = app.history(rid).entries
    budget = 3 * len(encoder.encode(whole[-2]))  # about three entries
    monkeypatch.setattr(cmd, "PAGE_BYTES_MAX", budget)
    pages = _read_all(pipeline, rid, "history")
    assert [e for p in pages for e in p.entries] == whole
    for p in pages:
        entries = p.entries
        # each page stops at the first entry that reaches the budget
        assert sum(len(encoder.encode(e)) for e in entries[:-1]) < budget
        assert len(msgspec.json.encode(p)) < budget * 2
    assert len(pages) >= 4


def test_a_page_limit_outside_its_bounds_is_refused_by_the_contract() -> None:
    decoder = msgspec.json.Decoder(cmd.RecordQuery)
    body = {"relationship_id": str(uuid.uuid4()), "actor": SC1, "purpose": "client_work"}
    for limit in (0, cmd.PAGE_LIMIT_MAX + 1):
        with pytest.raises(msgspec.ValidationError, match="limit"):
            decoder.decode(msgspec.json.encode({**body, "limit": limit}))
    with pytest.raises(msgspec.ValidationError, match="after_version"):
        decoder.decode(msgspec.json.encode({**body, "after_version": -1}))


@pytest.mark.parametrize("after", [2**63 - 1, 2**63, 2**64 - 1])
@pytest.mark.parametrize("name", ["history", "timeline"])
def test_a_page_after_a_version_past_the_stores_range_is_empty_not_an_overflow(
    pipeline: Pipeline, name: str, after: int
) -> None:
    """after_version has no upper bound in the contract; past 2**63 - 1 SQLite's driver raised
    OverflowError and the bus answered ``unavailable`` (found by the schema fuzz)."""
    rid = open_relationship(pipeline)
    q = cmd.RecordQuery(relationship_id=rid, actor=cmd.ActingWorker(**SC1), purpose="client_work", after_version=after)
    reply = pipeline.ask(q, name)
    assert reply.entries == [] and reply.next_after_version is None
