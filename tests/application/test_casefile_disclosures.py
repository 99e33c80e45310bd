"""Casefile's disclosure log and the audit of reads by unknown ids, through the command
pipeline on a real SQLite store."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest

from contracts import audit
from contracts import casefile as cmd
from polku.domain import RuleBroken
from polku.pipeline import Pipeline
from polku.settings import Settings
from services.casefile import publishing
from services.casefile.application import CasefileApplication
from services.casefile.domain import RecordProbe, Relationship
from services.casefile.main import build_application, build_pipeline
from tests.application.test_casefile_commands import NOW, SC1, command, last_stored, open_relationship

#: a social worker of another team, on the default roster
OUTSIDER = {"worker_id": "sw-901", "role": "social_worker", "team": "team-south"}

TO_KELA = {"recipient": "kela", "categories": ["relationship_status", "service_need"]}


@pytest.fixture
def app(settings: Settings) -> Any:
    application = build_application(settings)
    yield application
    application.close()


@pytest.fixture
def pipeline(app: CasefileApplication, settings: Settings) -> Pipeline:
    return build_pipeline(app, settings)


def consent(pipeline: Pipeline, rid: uuid.UUID, kind: str, given: bool, command_id: str) -> None:
    pipeline.execute(command(cmd.RecordConsent, rid, kind=kind, given=given), command_id=command_id)


def disclose(pipeline: Pipeline, rid: uuid.UUID, command_id: str, actor: dict[str, str] = SC1, **fields: Any) -> Any:
    return pipeline.execute(command(cmd.RecordDisclosure, rid, actor, **{**TO_KELA, **fields}), command_id=command_id)


def test_a_disclosure_resting_on_consent_is_logged_on_the_audit_stream_without_personal_data(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    consent(pipeline, rid, "information_exchange", True, "c-1")
    reply = disclose(pipeline, rid, "d-1", basis="consent")
    assert reply.relationship_id == rid
    stored = last_of(app, rid)
    assert isinstance(stored, Relationship.DataDisclosed)
    published = publishing.to_contract(stored)
    assert isinstance(published, audit.ClientDataDisclosed)
    assert contracts_subject(published) == "polku.audit.client_data_disclosed"
    assert (published.recipient, published.basis, published.consent, published.statute) == (
        "kela", "consent", "information_exchange", None,
    )
    assert published.categories == ["relationship_status", "service_need"]
    assert published.actor is not None and published.actor.worker_id == "sc-001"
    # Ids, codes and the pseudonym: no identity code, no name, no wording.
    body = msgspec.json.encode(published).decode()
    assert set(msgspec.json.decode(body)) == {
        "event", "event_id", "occurred_at", "actor", "disclosure_id", "relationship_id", "client_id", "recipient",
        "basis", "statute", "consent", "categories",
    }
    # The retry finds the same disclosure; the timeline (casefile's own events) does not show it.
    assert disclose(pipeline, rid, "d-1", basis="consent") == reply
    timeline = app.timeline(rid)
    assert not any(isinstance(e.event, audit.ClientDataDisclosed) for e in timeline.entries)


def last_of(app: CasefileApplication, rid: uuid.UUID) -> Any:
    return list(app.repository.event_store.get(rid))[-1]


def contracts_subject(event: Any) -> str:
    import contracts

    return contracts.event_spec(type(event)).subject


def test_a_disclosure_resting_on_law_needs_no_consent(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    disclose(pipeline, rid, "d-1", recipient="police", basis="law", statute="asiakastietolaki_19", categories=["contact"])
    published = publishing.to_contract(last_of(app, rid))
    assert isinstance(published, audit.ClientDataDisclosed)
    assert (published.recipient, published.basis, published.statute, published.consent) == (
        "police", "law", "asiakastietolaki_19", None,
    )


def test_a_disclosure_without_consent_or_law_is_refused_and_stores_nothing(
    app: CasefileApplication, pipeline: Pipeline
) -> None:
    rid = open_relationship(pipeline)
    consent(pipeline, rid, "family_participation", True, "c-1")  # not a consent to disclose
    position = app.max_position()
    with pytest.raises(RuleBroken) as refused:
        disclose(pipeline, rid, "d-1", basis="consent")
    assert (refused.value.code, refused.value.field) == ("disclosure_without_basis", "basis")
    assert app.max_position() == position


def test_a_disclosure_after_the_consent_is_withdrawn_is_refused(app: CasefileApplication, pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    consent(pipeline, rid, "contact_other_authorities", True, "c-1")
    disclose(pipeline, rid, "d-1", basis="consent")
    consent(pipeline, rid, "contact_other_authorities", False, "c-2")
    with pytest.raises(RuleBroken) as refused:
        disclose(pipeline, rid, "d-2", basis="consent")
    assert refused.value.code == "disclosure_without_basis"


def test_only_the_relationships_workers_record_a_disclosure(pipeline: Pipeline) -> None:
    rid = open_relationship(pipeline)
    with pytest.raises(RuleBroken) as refused:
        disclose(pipeline, rid, "d-1", actor=OUTSIDER, basis="law", statute="shl_35")
    assert refused.value.code == "forbidden"


def test_the_contract_refuses_a_basis_without_its_statute() -> None:
    body = {"relationship_id": str(uuid.uuid4()), "actor": SC1, **TO_KELA, "occurred_at": NOW.isoformat()}
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({**body, "basis": "law"}, cmd.RecordDisclosure, strict=False)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({**body, "basis": "consent", "statute": "shl_35"}, cmd.RecordDisclosure, strict=False)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({**body, "basis": "consent", "recipient": "neighbour"}, cmd.RecordDisclosure, strict=False)


def test_a_read_by_an_unknown_id_is_logged_and_names_no_client(app: CasefileApplication, pipeline: Pipeline) -> None:
    unknown = uuid.uuid4()
    position = app.max_position()
    query = cmd.RecordQuery(relationship_id=unknown, actor=cmd.ActingWorker(**SC1), purpose="client_work")
    with pytest.raises(RuleBroken) as refused:
        pipeline.ask(query, "timeline")
    assert (refused.value.code, refused.value.field) == ("relationship_not_found", "relationship_id")
    assert app.max_position() == position + 1
    probe = last_stored(app)
    assert isinstance(probe, RecordProbe.Probed)
    published = publishing.to_contract(probe)
    assert isinstance(published, audit.ClientRecordProbed)
    assert (published.relationship_id, published.part, published.purpose) == (unknown, "timeline", "client_work")
    assert published.actor is not None and published.actor.worker_id == "sc-001"
    assert probe.env.client_id is None
