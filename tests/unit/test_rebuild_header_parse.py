"""The rebuild's parse of a message's headers is nats-py's own, only faster: the same dict for
any bytes, well-formed or not."""

from __future__ import annotations

import random

from nats.aio.client import Client

from services.reporting.rebuild import parse_header_lines

PIECES = [b"a", b"B", b"-", b"1", b":", b" ", b"\t", b"\r\n", b"\r", b"\n", b"\x0b", b"\x0c", b"\x1c", b"\x1f",
          b"\x85", b"\xa0", b"\xff", b"\xc3\xa4", b"\xe2\x80\x83"]


def test_the_rebuilds_header_parse_gives_what_nats_py_gives() -> None:
    theirs = Client()._parse_header_lines
    draw = random.Random(13)
    cases = [
        b"Nats-Msg-Id: 4f1c\r\nPolku-Event: ReferralReceived\r\nPolku-Schema-Version: 1\r\nPolku-Position: 12\r\n\r\n",
        b"Name:Value\r\nName2:\tValue2\r\n", b"", b"\r\n", b"No colon here\r\n", b"Bad Name: x\r\n", b"\xff\xfe: x\r\n",
        b"Ok: \xff\xfe\r\n",
    ]
    cases += [b"".join(draw.choice(PIECES) for _ in range(draw.randint(0, 30))) for _ in range(50_000)]
    for raw in cases:
        assert parse_header_lines(raw) == theirs(raw), raw
