"""The rebuild reads each message off the wire without nats-py's ``Msg``: its parse of the
headers, the position it finds in them and the stream sequence it reads from the reply subject
are nats-py's own, only faster: the same for any bytes, well-formed or not."""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace

from nats.aio.client import Client
from nats.aio.msg import Msg

from polku.bus import position_of
from services.reporting.rebuild import parse_header_lines, position_in, stream_sequence

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


POSITION_PIECES = [b"Polku-Position", b"Polku-Position: ", b"Polku-Position:", b"polku-position: ", b"\r\nPolku-Position: ",
                   b"Nats-Msg-Id: 4f1c", b"Polku-Event: ReferralReceived", b"0", b"7", b"12", b"-3", b"1_0", b"\xd9\xa1\xd9\xa2",
                   b" ", b"\t", b"\x1c", b"\xa0", b":", b"\r\n", b"\r", b"x"]


def test_the_position_read_off_the_wire_is_the_one_nats_py_parses() -> None:
    client = Client()

    async def theirs(raw: bytes) -> int | None:
        return position_of(SimpleNamespace(headers=await client._process_headers(raw)))

    async def compare() -> int:
        draw = random.Random(31)
        cases = [
            b"NATS/1.0\r\nNats-Msg-Id: 4f1c\r\nPolku-Event: ReferralReceived\r\nPolku-Schema-Version: 1\r\nPolku-Position: 12\r\n\r\n",
            b"NATS/1.0\r\nPolku-Position: 3\r\n\r\n", b"NATS/1.0\r\nPolku-Position: 0\r\n\r\n",
            b"NATS/1.0\r\nPolku-Position: 3\r\nPolku-Position : 4\r\n\r\n", b"NATS/1.0\r\nX: Polku-Position: 5\r\n\r\n",
            b"NATS/1.0\r\nNats-Msg-Id: a\r\n\r\n", b"",
        ]
        cases += [
            b"NATS/1.0\r\n" + b"".join(draw.choice(POSITION_PIECES) for _ in range(draw.randint(0, 12))) + b"\r\n\r\n"
            for _ in range(30_000)
        ]
        named = 0
        for raw in cases:
            expected = await theirs(raw)
            assert position_in(raw) == expected, raw
            named += expected is not None
        return named

    assert asyncio.run(compare()) > 500  # the draw names a position often enough to compare (648 of them)


def test_the_stream_sequence_read_off_the_reply_subject_is_nats_pys() -> None:
    for reply in (
        "$JS.ACK.CASEFILE.c1.1.4711.4700.1732456789000000000.3",  # 9 tokens
        "$JS.ACK.hub.ACCHASH.CASEFILE.c1.1.4711.4700.1732456789000000000.3.token",  # with the domain
        "$JS.ACK._.ACCHASH.INTAKE.c1.2.9.9.1732456789000000000.0.token.extra",
    ):
        expected = Msg(_client=Client(), reply=reply).metadata.sequence.stream
        assert stream_sequence(reply.encode()) == expected > 0
