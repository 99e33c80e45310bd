"""The demo's synthetic population: identity codes, names and referrals.

Demo clients get synthetic identity codes with individual numbers 900-999, the range kept for
temporary and test codes, so no real person's code is ever made up by accident.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any, get_args

from contracts.vocabulary import AuthorityKind, Channel, ConcernCategory, SourceKind

#: The public algorithm of the Finnish personal identity code's check character: the birth
#: date (DDMMYY) and the individual number as one integer, modulo 31, looked up here.
CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def check_character(ddmmyy: str, individual: str) -> str:
    return CHECK_CHARACTERS[int(ddmmyy + individual) % 31]


def synthetic_identity_code(rng: random.Random) -> str:
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 45))
    ddmmyy = born.strftime("%d%m%y")
    sign = "-" if born.year < 2000 else "A"  # the century sign: 1900s, 2000s
    individual = f"{rng.randrange(900, 1000):03d}"
    return f"{ddmmyy}{sign}{individual}{check_character(ddmmyy, individual)}"


#: Synthetic names for the demo's contact details and summaries: the free text a real referral
#: carries, which must stay in intake's encrypted store and appear nowhere else.
FIRST_NAMES = ("Aino", "Eino", "Helmi", "Onni", "Sanni", "Veeti", "Kerttu", "Arvo", "Iida", "Toivo")
LAST_NAMES = ("Hakkarainen", "Kettunen", "Leskinen", "Miettinen", "Pesonen", "Räsänen", "Tikkanen", "Väisänen")


def demo_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def demo_referral(rng: random.Random) -> dict[str, Any]:
    kind = rng.choices(get_args(SourceKind), weights=[35, 15, 35, 10, 5])[0]
    source: dict[str, Any] = {"kind": kind}
    if kind == "authority":
        source["authority"] = rng.choice(get_args(AuthorityKind))
    concerns = rng.sample(get_args(ConcernCategory), rng.randint(1, 3))
    name = demo_name(rng)
    return {
        "identity_code": synthetic_identity_code(rng),
        "channel": rng.choice(get_args(Channel)),
        "source": source,
        "concerns": concerns,
        "urgent": rng.random() < 0.1,
        "consent": rng.random() < 0.8,
        "summary": f"{name} asked for help with {concerns[0].replace('_', ' ')}.",
        "contact_details": f"{name}, 040 {rng.randrange(1_000_000, 10_000_000)}",
    }


def distinct_demo_referrals(rng: random.Random, count: int, seen: set[str] | None = None) -> list[dict[str, Any]]:
    """``count`` referrals about as many clients (another about the same client would be
    attached to the open relationship, not open one); ``seen`` carries codes used before."""
    bodies: list[dict[str, Any]] = []
    codes: set[str] = seen if seen is not None else set()
    while len(bodies) < count:
        body = demo_referral(rng)
        if body["identity_code"] not in codes:
            codes.add(body["identity_code"])
            bodies.append(body)
    return bodies


#: Two commands a client information system might get wrong, to show the error replies.
WRONG_COMMANDS: list[dict[str, Any]] = [
    {"identity_code": "010190-900X", "channel": "phone", "source": {"kind": "client"}, "concerns": ["housing"]},
    {"identity_code": "010190-9000", "channel": "fax", "source": {"kind": "client"}, "concerns": ["housing"]},
]
