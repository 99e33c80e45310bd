"""The published language only grows: today's ``polku contracts --out`` against v1's.

``tests/data/contracts-v1/`` is what the code of commit 9199b68 wrote (see tests/data/README.md).
Integrators validate against those documents, so every JSON Schema, subject and error code of v1
is still there as it was. New events, commands and codes may be added (DESIGN: evolve by
adding; a breaking change is a new name). Prose (summaries, titles, descriptions outside the
schemas) may be reworded; the schemas' own descriptions come from the structs' docstrings and
may not.

Two changes are allowed, and only they:

- the pattern of ``Code`` (worker ids, team codes, placement ids) now refuses a value shaped like
  an identity code. v1's documents are compared with that one pattern replaced by today's
  (:func:`_v1`);
- a schema may gain an *optional* property (not required, with a default), and a schema file new
  ``$defs`` for it (:func:`_grows_compatibly`). A v1 payload still validates against today's
  schema (the property is optional), and today's payload against v1's, whose objects allow
  properties they do not name, except commands' (``additionalProperties: false``), where the new
  property is one a v1 sender never sends. This is how casefile's relationship state shows
  followup's disappearance without a new name.

Everything else stays strict: no property removed, renamed, retyped or made required, no enum
value added or removed, no description reworded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts import asyncapi
from contracts.base import CODE_PATTERN, CODE_PATTERN_V1

V1 = Path(__file__).parents[1] / "data" / "contracts-v1"
PROSE = {"summary", "title", "description"}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _new_code_pattern(node: Any) -> Any:
    """``node`` with v1's ``Code`` pattern (the value of a ``pattern`` key) replaced by today's."""
    if isinstance(node, dict):
        return {
            k: (CODE_PATTERN if k == "pattern" and v == CODE_PATTERN_V1 else _new_code_pattern(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_new_code_pattern(item) for item in node]
    return node


def _v1(path: Path) -> Any:
    """A v1 document as today's should be: the same, but for the new ``Code`` pattern."""
    return _new_code_pattern(_load(path))


def test_the_code_pattern_is_the_only_change_and_it_was_there() -> None:
    """The replacement above has something to replace (else it would hide nothing, or the wrong thing)."""
    document = json.dumps(_load(V1 / "asyncapi.json"))
    assert json.dumps(CODE_PATTERN_V1) in document
    assert CODE_PATTERN.endswith(CODE_PATTERN_V1[1:]) and CODE_PATTERN != CODE_PATTERN_V1


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("contracts")
    asyncapi.write(out)
    return out


@pytest.fixture(scope="module")
def now(written: Path) -> dict[str, Any]:
    return _load(written / "asyncapi.json")


@pytest.fixture(scope="module")
def v1() -> dict[str, Any]:
    return _v1(V1 / "asyncapi.json")


def _without_prose(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_prose(v) for k, v in node.items() if k not in PROSE}
    if isinstance(node, list):
        return [_without_prose(item) for item in node]
    return node


def _grows_compatibly(now: Any, old: Any, at: str = "") -> None:
    """``now`` is ``old``, or ``old`` with optional properties (and the ``$defs`` they need) added."""
    if not (isinstance(now, dict) and isinstance(old, dict)):
        assert now == old, at
        return
    assert set(now) == set(old), f"{at}: keys {sorted(set(now) ^ set(old))}"
    for key, value in old.items():
        if key == "properties":
            added = set(now[key]) - set(value)
            assert set(value) <= set(now[key]), f"{at}: properties removed: {sorted(set(value) - set(now[key]))}"
            for name in added:
                assert name not in now.get("required", []), f"{at}.{name}: a new property must be optional"
                assert "default" in now[key][name], f"{at}.{name}: a new property needs a default"
            for name, schema in value.items():
                _grows_compatibly(now[key][name], schema, f"{at}.{name}")
        elif key == "$defs":
            for name, schema in value.items():
                assert name in now[key], f"{at}: $defs.{name} removed"
                _grows_compatibly(now[key][name], schema, f"{at}.$defs.{name}")
        else:
            _grows_compatibly(now[key], value, f"{at}/{key}")


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["properties"].pop("client_id"),
        lambda s: s["properties"].update(extra={"type": "string"}),  # no default: required in effect
        lambda s: s.update(required=[*s["required"], "reason"]),
        lambda s: s["properties"]["reason"]["enum"].append("bored"),
        lambda s: s["properties"]["reason"].update(type="integer"),
        lambda s: s.update(description="reworded"),
        lambda s: s.update(additionalProperties=False),
    ],
    ids=["removed", "added-without-default", "made-required", "enum-widened", "retyped", "reworded", "closed"],
)
def test_the_growth_rule_refuses_breaking_changes(change: Any) -> None:
    schema = _v1(V1 / "schemas" / "RelationshipEnded.json")["$defs"]["RelationshipEnded"]
    changed = json.loads(json.dumps(schema))
    change(changed)
    with pytest.raises(AssertionError):
        _grows_compatibly(changed, schema)


def test_the_growth_rule_allows_an_optional_property() -> None:
    schema = _v1(V1 / "schemas" / "RelationshipEnded.json")["$defs"]["RelationshipEnded"]
    grown = json.loads(json.dumps(schema))
    grown["properties"]["note_code"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    _grows_compatibly(grown, schema)


def test_every_schema_file_of_v1_is_written(written: Path) -> None:
    assert {p.name for p in (V1 / "schemas").iterdir()} <= {p.name for p in (written / "schemas").iterdir()}


@pytest.mark.parametrize("name", sorted(p.name for p in (V1 / "schemas").iterdir()))
def test_each_schema_file_is_unchanged(written: Path, name: str) -> None:
    _grows_compatibly(_load(written / "schemas" / name), _v1(V1 / "schemas" / name), name)


def test_the_channels_are_at_the_same_subjects(now: dict[str, Any], v1: dict[str, Any]) -> None:
    def addresses(document: dict[str, Any]) -> list[str | None]:
        return sorted(
            (c["address"] for c in document["channels"].values()), key=lambda a: (a is None, a or "")
        )

    assert set(addresses(v1)) <= set(addresses(now))
    assert set(v1["channels"]) <= set(now["channels"])


def test_the_component_schemas_are_unchanged(now: dict[str, Any], v1: dict[str, Any]) -> None:
    assert set(v1["components"]["schemas"]) <= set(now["components"]["schemas"])
    for name, schema in v1["components"]["schemas"].items():
        _grows_compatibly(now["components"]["schemas"][name], schema, name)


def test_the_error_codes_are_unchanged(now: dict[str, Any], v1: dict[str, Any]) -> None:
    def codes(document: dict[str, Any]) -> set[str]:
        return set(document["components"]["messages"]["Refused"]["x-polku-error-codes"])

    assert codes(v1) <= codes(now)


def test_only_prose_differs_in_channels_operations_and_messages(
    now: dict[str, Any], v1: dict[str, Any]
) -> None:
    """v1's messages (payloads, headers, tags), channels and operations are the same but for
    their summaries, titles and descriptions, and optional headers a message may gain (a
    reader ignores a header it does not know)."""
    for part in ("channels", "operations"):
        for key, value in v1[part].items():
            assert _without_prose(now[part][key]) == _without_prose(value), (part, key)
    now_messages, v1_messages = now["components"]["messages"], v1["components"]["messages"]
    assert set(v1_messages) <= set(now_messages)
    for name, message in v1_messages.items():
        if name == "Refused":  # its list of error codes grows; the codes are checked above
            message = {k: v for k, v in message.items() if k != "x-polku-error-codes"}
            now_messages = {**now_messages, name: {k: v for k, v in now_messages[name].items() if k != "x-polku-error-codes"}}
        now_message, old_message = _without_prose(now_messages[name]), _without_prose(message)
        _headers_grow_compatibly(now_message.pop("headers", None), old_message.pop("headers", None), name)
        assert now_message == old_message, name


def _headers_grow_compatibly(now: Any, old: Any, at: str) -> None:
    """A message's headers are v1's, and perhaps optional ones more (never a required one)."""
    if old is None:
        assert now is None, at
        return
    assert {k: v for k, v in now.items() if k != "properties"} == {k: v for k, v in old.items() if k != "properties"}, at
    for name, schema in old["properties"].items():
        assert now["properties"].get(name) == schema, f"{at}: header {name} changed"
    for name in set(now["properties"]) - set(old["properties"]):
        assert name not in now.get("required", []), f"{at}: a new header {name} must be optional"


def test_a_message_may_gain_an_optional_header_but_not_a_required_one_nor_change_one() -> None:
    old = {"type": "object", "properties": {"Polku-Command-Id": {"type": "string"}}, "required": ["Polku-Command-Id"]}
    grown = {**old, "properties": {**old["properties"], "traceparent": {"type": "string"}}}
    _headers_grow_compatibly(grown, old, "m")
    with pytest.raises(AssertionError):  # required grew
        _headers_grow_compatibly({**grown, "required": ["Polku-Command-Id", "traceparent"]}, old, "m")
    with pytest.raises(AssertionError, match="changed"):
        _headers_grow_compatibly({**old, "properties": {"Polku-Command-Id": {"type": "integer"}}}, old, "m")
