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


def test_identity_codes_are_scrubbed_from_every_string_and_from_tracebacks(tmp_path: Path) -> None:
    log.configure("test", fmt="json", file=tmp_path / "test.jsonl")
    try:
        raise ValueError("no client 131052-308T here")
    except ValueError:
        log.get_logger().exception(
            "command_failed",
            command_id="cis-131052-308T",
            correlation_id="010101a123n",
            nested={"ids": ["x", ("１３１０５２-３０８T",)], "deeper": {"reason": "code 010594Y9032 given"}},
            other=object(),
            harmless="2026-11-23 sw-001 20240101-1234",
        )
    text = (tmp_path / "test.jsonl").read_text()
    for code in ("131052-308T", "010101a123n", "１３１０５２-３０８T", "010594Y9032", "131052"):
        assert code not in text
    line = json.loads(text)
    assert line["command_id"] == "cis-[identity-code]"
    assert line["nested"]["ids"] == ["x", ["[identity-code]"]]
    assert "Traceback" in line["exception"] and "[identity-code]" in line["exception"]
    assert line["harmless"] == "2026-11-23 sw-001 20240101-1234"


def test_what_a_service_prints_is_scrubbed_too() -> None:
    out = io.StringIO()
    stream = log.ScrubbingStream(out)
    stream.write("Traceback: ValueError: 131052-")
    stream.write("308T is wrong\npartial 010101A123N")
    assert out.getvalue() == "Traceback: ValueError: [identity-code] is wrong\n"
    stream.flush()
    assert "010101A123N" not in out.getvalue()


def test_a_service_process_scrubs_its_uncaught_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    program = "from polku import log; log.scrub_std_streams(); print('got 131052-308T'); raise SystemExit(f'x {\"010101A123N\"}')"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert "131052-308T" not in done.stdout and "010101A123N" not in done.stderr
    assert "[identity-code]" in done.stdout and "[identity-code]" in done.stderr


def test_a_service_log_file_rotates_by_size_and_keeps_the_backups_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "casefile.jsonl"
    log.configure("casefile", file=path, max_bytes=2_000, backups=2)
    logger = log.get_logger("polku.test")
    for n in range(100):
        logger.info("message_handled", seq=n, outcome="processed")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["casefile.jsonl", "casefile.jsonl.1", "casefile.jsonl.2"]
    assert all((tmp_path / f).stat().st_size <= 2_000 for f in files)
    lines = [json.loads(line) for f in ("casefile.jsonl.2", "casefile.jsonl.1", "casefile.jsonl")
             for line in (tmp_path / f).read_text().splitlines()]
    seqs = [line["seq"] for line in lines]
    assert seqs == list(range(seqs[0], 100))  # the latest lines, whole and in order; the oldest dropped
    assert seqs[0] > 0
