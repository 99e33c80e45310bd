"""Specs are derived from the contract classes: each event, command and query is declared once."""

from __future__ import annotations

import typing

import msgspec
import pytest

import contracts
from contracts import audit, base, casefile, followup, intake, reporting
from contracts.base import Command, Event, Query


def _declared(module: object, base_type: type) -> list[type]:
    return [
        tp
        for name, tp in vars(module).items()
        if isinstance(tp, type) and tp.__module__ == module.__name__ and name == tp.__name__  # type: ignore[attr-defined]
        and issubclass(tp, base_type)
    ]


def test_an_event_spec_is_derived_from_its_class() -> None:
    spec = contracts.event_spec(intake.ReferralReceived)
    assert (spec.name, spec.service, spec.type, spec.subject, spec.schema_version) == (
        "ReferralReceived",
        "intake",
        intake.ReferralReceived,
        "polku.intake.referral_received",
        contracts.SCHEMA_VERSION,
    )
    assert spec.summary == "A matter came up (SHL 34-35 §): a referral or a notification was received."
    assert contracts.EVENTS_BY_NAME["ClientRecordViewed"].subject == "polku.audit.client_record_viewed"
    assert contracts.event_spec(followup.ClientDisappeared).service == "followup"


def test_the_event_name_on_the_wire_is_the_class_name() -> None:
    for spec in contracts.EVENTS:
        assert spec.type.__struct_config__.tag == spec.name
        assert spec.type.__struct_config__.tag_field == "event"


def test_a_command_spec_is_derived_from_its_class_and_its_reply() -> None:
    spec = contracts.spec_for(intake.ScreenReferral)
    assert (spec.name, spec.service, spec.kind, spec.request, spec.reply, spec.subject) == (
        "screen_referral",
        "intake",
        "cmd",
        intake.ScreenReferral,
        intake.Done,
        "polku.cmd.intake.screen_referral",
    )
    assert spec.summary == "Service guidance's screening of a referral."


def test_a_query_drops_its_trailing_query() -> None:
    spec = contracts.spec_for(intake.ReferralStatusQuery)
    assert (spec.name, spec.kind, spec.subject, spec.reply) == (
        "referral_status",
        "qry",
        "polku.qry.intake.referral_status",
        intake.ReferralStatusReply,
    )
    assert contracts.spec_for(reporting.OpenRelationshipsQuery).subject == (
        "polku.qry.reporting.open_relationships"
    )


def test_one_struct_serves_two_queries() -> None:
    relationship = contracts.spec_for(casefile.RecordQuery, "relationship")
    timeline = contracts.spec_for(casefile.RecordQuery, "timeline")
    assert (relationship.subject, relationship.reply) == (
        "polku.qry.casefile.relationship",
        casefile.RelationshipState,
    )
    assert (timeline.subject, timeline.reply) == ("polku.qry.casefile.timeline", casefile.Timeline)
    # The summary comes from the reply's docstring, which names the subject.
    assert timeline.summary == "Every event of the relationship, in order."
    with pytest.raises(KeyError):
        contracts.spec_for(casefile.RecordQuery)
    with pytest.raises(KeyError):
        contracts.spec_for(casefile.CasefileCommand)


def test_every_request_names_its_reply_and_every_event_is_published() -> None:
    """A command, query or event class a service declares is in the specs (a leaf request
    class without a ``reply`` ClassVar would silently not be served)."""
    modules = (intake, casefile, followup, reporting, audit)
    requests = [tp for m in modules for tp in _declared(m, (Command, Query)) if not tp.__subclasses__()]  # type: ignore[arg-type]
    assert {spec.request for spec in contracts.COMMANDS} == set(requests)
    events = [tp for m in modules for tp in _declared(m, Event)]
    assert [spec.type for spec in contracts.EVENTS] == events


def test_the_reply_is_a_class_attribute_not_a_field() -> None:
    assert "reply" not in intake.ScreenReferral.__struct_fields__
    assert "replies" not in casefile.RecordQuery.__struct_fields__
    assert Query.__struct_fields__ == ()
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"team": "t", "reply": "x"}', type=intake.DistributionQueueQuery)


def test_each_service_decoder_decodes_its_own_events() -> None:
    assert set(typing.get_args(intake.IntakeEvent)) == {s.type for s in contracts.EVENTS if s.service == "intake"}
    assert set(typing.get_args(casefile.CasefileEvent)) == {
        s.type for s in contracts.EVENTS if s.service == "casefile"
    }
    assert set(typing.get_args(followup.FollowupEvent)) == {s.type for s in contracts.EVENTS if s.service == "followup"}
    assert followup.ClientDisappeared in typing.get_args(followup.FollowupEvent)
    assert set(typing.get_args(audit.AuditEvent)) == {s.type for s in contracts.EVENTS if s.service == "audit"}
    assert audit.ClientRecordViewed in typing.get_args(audit.AuditEvent)
    body = b'{"event": "RelationshipOpened", "event_id": "8d3c3c86-2f5b-4a59-a7a4-0d2a3ad9b0a1",'
    body += b' "occurred_at": "2025-03-04T09:30:00+00:00", "relationship_id":'
    body += b' "8d3c3c86-2f5b-4a59-a7a4-0d2a3ad9b0a2", "client_id": "0123456789abcdef0123456789abcdef",'
    body += b' "referral_id": "8d3c3c86-2f5b-4a59-a7a4-0d2a3ad9b0a3"}'
    assert type(casefile.casefile_decoder.decode(body)) is casefile.RelationshipOpened
    with pytest.raises(msgspec.ValidationError):
        intake.intake_decoder.decode(body)


def test_error_codes_are_the_generic_ones_and_each_services_own() -> None:
    assert contracts.ERROR_CODES == {
        **base.ERROR_CODES, **intake.ERROR_CODES, **casefile.ERROR_CODES, **followup.ERROR_CODES,
        **reporting.ERROR_CODES,
    }
    assert not base.ERROR_CODES.keys() & intake.ERROR_CODES.keys()
    assert not intake.ERROR_CODES.keys() & casefile.ERROR_CODES.keys()
