"""Log lines never hold personal data; each is one JSON object."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from polku import log


@pytest.mark.parametrize("to_file", [True, False], ids=["file", "stream"])
def test_personal_data_keys_are_masked_wherever_they_are(tmp_path: Path, to_file: bool) -> None:
    out = io.StringIO()
    log.configure("test", fmt="json", file=tmp_path / "test.jsonl" if to_file else None, stream=out)
    log.get_logger().info(
        "message_handled",
        identity_code="131052-308T",
        referral_id="r-1",
        command={"summary": "lives with a violent partner", "source": {"kind": "client"}, "Name": "Maija"},
        items=[{"email": "maija@example.org"}],
    )
    text = (tmp_path / "test.jsonl").read_text() if to_file else out.getvalue()
    assert text.count("\n") == 1
    if to_file:
        assert out.getvalue() == ""
    line = json.loads(text.strip().splitlines()[-1])
    assert line["event"] == "message_handled"
    assert line["service"] == "test"
    assert line["referral_id"] == "r-1"
    assert line["identity_code"] == "***"
    assert line["command"] == {"summary": "***", "source": {"kind": "client"}, "Name": "***"}
    assert line["items"] == [{"email": "***"}]
    for secret in ("131052", "violent", "Maija", "maija@"):
        assert secret not in text
