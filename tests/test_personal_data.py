"""No identity code and no client name anywhere Polku wrote during the tests.

Runs after every other test of the session (``after_all``) and searches everything they left
under the session's temporary directory: event stores and read models (SQLite), JetStream's
files, the service logs and their output. Intake keeps the identity code only sealed in its
identity record, and free text about a client only in its store, which is encrypted at rest.

The codes searched for include those tests/integration/test_identity_codes_in_odd_places.py put
where they do not belong: in free text, in command ids, correlation ids and id fields (refused),
and in bodies that fail to decode (the paths of exceptions).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import SENT_CODES, SENT_NAMES

pytestmark = pytest.mark.after_all

#: An identity code's shape (with its century sign, or written without it)
CODE = re.compile(rb"(?<![0-9A-Za-z])(\d{6})([-+A-FU-Y]?)(\d{3}[0-9A-Y])(?![0-9A-Za-z])")
#: Two capitalised words: the shape of the names the tests send
NAME = re.compile(r"\b([A-ZÅÄÖ][a-zåäö]+ [A-ZÅÄÖ][a-zåäö]+)\b")


def written_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def test_no_identity_code_and_no_name_in_anything_polku_wrote(tmp_path_factory: pytest.TempPathFactory) -> None:
    if not SENT_CODES:
        pytest.skip("no other test sent a referral in this session: nothing to search for")
    root = tmp_path_factory.getbasetemp()
    files = written_files(root)
    assert any(p.suffix == ".db" for p in files), f"the other tests left no stores under {root}"
    codes = {c.encode() for c in SENT_CODES} | {(c[:6] + c[7:]).encode() for c in SENT_CODES}
    found: list[str] = []
    for path in files:
        data = path.read_bytes()
        for m in CODE.finditer(data):
            if m.group(1) + m.group(2) + m.group(3) in codes:
                found.append(f"an identity code in {path.relative_to(root)}")
        text = data.decode("utf-8", errors="ignore")
        for m in NAME.finditer(text):
            if m.group(1) in SENT_NAMES:
                found.append(f"a client's name in {path.relative_to(root)}")
    assert not found, "\n".join(sorted(set(found)))
