"""The Finnish personal identity code (henkilötunnus) and the pseudonymous client id.

``DDMMYYCZZZQ``: birth date, century sign, individual number, check character. The check
character is ``DDMMYYZZZ`` as an integer modulo 31, looked up in ``CHECK_CHARACTERS``. Century
signs: ``+`` 1800s; ``-``, ``U``-``Y`` 1900s; ``A``-``F`` 2000s (the 2023 reform's new signs
included). Individual numbers 900-999 are for temporary and test codes.

The identity code is turned into ``client_id`` at once: a keyed hash (HMAC-SHA-256 with the
pseudonym key from the configuration), so the same person gets the same id, and the id cannot
be turned back into the code without the key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from datetime import date

from polku.keys import KeyRing, legacy_key
from polku.store import derived_key

CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
CENTURIES = {"+": 1800, "-": 1900, "U": 1900, "V": 1900, "W": 1900, "X": 1900, "Y": 1900,
             "A": 2000, "B": 2000, "C": 2000, "D": 2000, "E": 2000, "F": 2000}
#: ASCII digits only (``\d`` takes any script's digits: one person would get two pseudonyms)
_FORMAT = re.compile(r"^([0-9]{2})([0-9]{2})([0-9]{2})([-+A-FU-Y])([0-9]{3})([0-9A-Y])$")


class InvalidIdentityCode(ValueError):
    """The reason says which part is wrong; it never repeats the code."""


def validate(code: str, today: date | None = None) -> str:
    """Return the normalised code (upper case), or raise :class:`InvalidIdentityCode`."""
    normalised = code.strip().upper()
    m = _FORMAT.match(normalised)
    if not m:
        raise InvalidIdentityCode("the identity code must be DDMMYY, a century sign, three digits and a check character")
    dd, mm, yy, sign, individual, check = m.groups()
    try:
        born = date(CENTURIES[sign] + int(yy), int(mm), int(dd))
    except ValueError:
        raise InvalidIdentityCode("the identity code's birth date does not exist") from None
    if born > (today or date.today()):
        raise InvalidIdentityCode("the identity code's birth date is in the future")
    if int(individual) < 2:
        raise InvalidIdentityCode("the identity code's individual number must be 002-999")
    if CHECK_CHARACTERS[int(dd + mm + yy + individual) % 31] != check:
        raise InvalidIdentityCode("the identity code's check character does not match")
    return normalised


def check_character(ddmmyy: str, individual: str) -> str:
    return CHECK_CHARACTERS[int(ddmmyy + individual) % 31]


def pseudonymise(normalised_code: str, key: str) -> str:
    """The client's pseudonymous id: 32 hex characters of HMAC-SHA-256(key, code)."""
    return hmac.new(key.encode(), normalised_code.encode(), hashlib.sha256).hexdigest()[:32]


@functools.lru_cache(maxsize=4)
def _cipher(key: str) -> KeyRing:
    # A key of its own for identity records, derived (HKDF) from the master secret, with a key
    # id in each sealed code; records sealed by v1 (no key id) open with v1's derivation.
    return KeyRing(derived_key(key, "identity-record"), legacy=[legacy_key(key, "identity-record")])


def seal(normalised_code: str, key: str) -> str:
    """The identity code encrypted (AES-GCM) for the protected identity record, base64."""
    from base64 import b64encode

    return b64encode(_cipher(key).encrypt(normalised_code.encode())).decode()


def unseal(sealed: str, key: str) -> str:
    from base64 import b64decode

    return _cipher(key).decrypt(b64decode(sealed)).decode()
