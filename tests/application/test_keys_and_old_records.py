"""A retry of a command carried out before the HKDF keys (its record's digest keyed as v1 keyed
it) still gets its first reply; the same id with another body is still refused."""

from __future__ import annotations

import pytest

from contracts import casefile as cmd
from polku.domain import RuleBroken
from polku.pipeline import Pipeline
from tests.application.test_casefile_commands import NOW, app, command, open_relationship, pipeline  # noqa: F401

__all__ = ["app", "pipeline"]


def test_a_command_recorded_with_the_v1_digest_key_is_recognised_on_retry(app, pipeline: Pipeline) -> None:  # noqa: F811
    rid = open_relationship(pipeline)
    schedule = command(cmd.ScheduleMeeting, rid, kind="first_meeting", channel="in_person", scheduled_for=NOW.isoformat())
    assert pipeline.digest(schedule) != pipeline.legacy_digest(schedule)
    hkdf_key = pipeline._digest_key
    pipeline._digest_key = pipeline._legacy_digest_key  # as the code before the HKDF keys recorded it
    first = pipeline.execute(schedule, command_id="cis-v1")
    pipeline._digest_key = hkdf_key
    position = app.max_position()
    assert pipeline.execute(schedule, command_id="cis-v1") == first
    assert app.max_position() == position
    with pytest.raises(RuleBroken) as reused:
        pipeline.execute(command(cmd.StartAssessment, rid), command_id="cis-v1")
    assert reused.value.code == "command_id_reused"
