"""The published language does not change: today's ``polku contracts --out`` against v1's.

``tests/data/contracts-v1/`` is what the code of commit 9199b68 wrote (see tests/data/README.md).
Integrators validate against those documents, so the JSON Schemas, the subjects and the error
codes must stay as they were. Prose (summaries, titles, descriptions outside the schemas) may
be reworded; the schemas' own descriptions come from the structs' docstrings and may not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts import asyncapi

V1 = Path(__file__).parents[1] / "data" / "contracts-v1"
PROSE = {"summary", "title", "description"}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


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
    return _load(V1 / "asyncapi.json")


def _without_prose(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_prose(v) for k, v in node.items() if k not in PROSE}
    if isinstance(node, list):
        return [_without_prose(item) for item in node]
    return node


def test_the_same_schema_files_are_written(written: Path) -> None:
    assert sorted(p.name for p in (written / "schemas").iterdir()) == sorted(
        p.name for p in (V1 / "schemas").iterdir()
    )


@pytest.mark.parametrize("name", sorted(p.name for p in (V1 / "schemas").iterdir()))
def test_each_schema_file_is_unchanged(written: Path, name: str) -> None:
    assert _load(written / "schemas" / name) == _load(V1 / "schemas" / name)


def test_the_channels_are_at_the_same_subjects(now: dict[str, Any], v1: dict[str, Any]) -> None:
    def addresses(document: dict[str, Any]) -> list[str | None]:
        return sorted(
            (c["address"] for c in document["channels"].values()), key=lambda a: (a is None, a or "")
        )

    assert addresses(now) == addresses(v1)
    assert set(now["channels"]) == set(v1["channels"])


def test_the_component_schemas_are_unchanged(now: dict[str, Any], v1: dict[str, Any]) -> None:
    assert set(now["components"]["schemas"]) == set(v1["components"]["schemas"])
    for name, schema in v1["components"]["schemas"].items():
        assert now["components"]["schemas"][name] == schema, name


def test_the_error_codes_are_unchanged(now: dict[str, Any], v1: dict[str, Any]) -> None:
    def codes(document: dict[str, Any]) -> set[str]:
        return set(document["components"]["messages"]["Refused"]["x-polku-error-codes"])

    assert codes(now) == codes(v1)


def test_only_prose_differs_in_channels_operations_and_messages(
    now: dict[str, Any], v1: dict[str, Any]
) -> None:
    """Messages (payloads, headers, tags), channels and operations are the same but for their
    summaries, titles and descriptions."""
    for part in ("channels", "operations"):
        assert _without_prose(now[part]) == _without_prose(v1[part]), part
    now_messages, v1_messages = now["components"]["messages"], v1["components"]["messages"]
    assert set(now_messages) == set(v1_messages)
    for name, message in v1_messages.items():
        assert _without_prose(now_messages[name]) == _without_prose(message), name
