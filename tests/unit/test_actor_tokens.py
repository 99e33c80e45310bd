"""The Polku-Actor token check alone: configured keys (PEM files or a JWKS), audience, expiry
with clock skew, and the algorithms it accepts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from polku.actor import Issuer, Verifier, ensure_demo_issuer
from polku.domain import RuleBroken


def _pem(key: object, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]
    )
    return path


def _code(verifier: Verifier, token: str | None) -> str:
    with pytest.raises(RuleBroken) as refused:
        verifier.verify(token)
    return refused.value.code


def test_pem_files_of_both_algorithms_verify_their_own_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ed, es = ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    paths = [_pem(ed, tmp_path / "ed.pem"), _pem(es, tmp_path / "es.pem")]
    monkeypatch.setenv("POLKU_ACTOR_PUBLIC_KEYS", ",".join(map(str, paths)))
    monkeypatch.setenv("POLKU_ACTOR_AUDIENCE", "polku-test")
    verifier = Verifier.from_env(tmp_path)
    assert verifier.verify(Issuer(ed, audience="polku-test").mint("sw-001")) == "sw-001"
    assert verifier.verify(Issuer(es, audience="polku-test", algorithm="ES256").mint("sc-001")) == "sc-001"
    assert _code(verifier, Issuer(ed).mint("sw-001")) == "unauthenticated"  # audience "polku"


def test_a_jwks_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [{**jwk, "kid": "idp-1", "alg": "ES256", "use": "sig"}]}))
    monkeypatch.setenv("POLKU_ACTOR_PUBLIC_KEYS", str(tmp_path / "keys.json"))
    verifier = Verifier.from_env(tmp_path)
    assert verifier.verify(Issuer(key, algorithm="ES256").mint("tl-001")) == "tl-001"


def test_the_clock_skew_is_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLKU_ACTOR_PUBLIC_KEYS", raising=False)
    monkeypatch.setenv("POLKU_ACTOR_LEEWAY_S", "0")
    ensure_demo_issuer(tmp_path)
    verifier, issuer = Verifier.from_env(tmp_path), Issuer.from_var(tmp_path)
    assert _code(verifier, issuer.mint("sw-001", ttl_s=-2)) == "unauthenticated"
    assert verifier.verify(issuer.mint("sw-001", ttl_s=60)) == "sw-001"


def test_without_configured_keys_or_the_demo_key_no_service_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLKU_ACTOR_PUBLIC_KEYS", raising=False)
    with pytest.raises(ValueError, match="POLKU_ACTOR_PUBLIC_KEYS"):
        Verifier.from_env(tmp_path)


def test_a_token_without_a_worker_is_refused(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    verifier = Verifier([key.public_key()])
    now = int(time.time())
    token = jwt.encode({"aud": "polku", "exp": now + 60}, key, algorithm="EdDSA")
    assert _code(verifier, token) == "unauthenticated"


def test_the_issuer_reuses_a_token_for_half_its_life() -> None:
    issuer = Issuer(ed25519.Ed25519PrivateKey.generate())
    assert issuer.token("sw-001") == issuer.token("sw-001") != issuer.token("sw-002")


def test_the_demo_issuer_key_is_private_to_its_owner(tmp_path: Path) -> None:
    ensure_demo_issuer(tmp_path)
    assert (tmp_path / "keys" / "actor-issuer.pem").stat().st_mode & 0o077 == 0


def test_a_token_verified_before_is_still_refused_once_it_has_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    verifier = Verifier([key.public_key()], leeway=0)
    token = Issuer(key).mint("sw-001", ttl_s=60)
    assert verifier.verify(token) == "sw-001"
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    assert _code(verifier, token) == "unauthenticated"


@pytest.mark.parametrize("claims", [{"exp": 10**400}, {"nbf": -(10**400)}])
def test_a_token_with_a_time_past_floats_range_is_judged_not_raised(claims: dict[str, int]) -> None:
    """PyJWT accepts an integer ``exp`` or ``nbf`` of any size; remembering it as a float raised
    OverflowError, which the bus answered ``unavailable`` (found by the schema fuzz)."""
    key = ed25519.Ed25519PrivateKey.generate()
    verifier = Verifier([key.public_key()])
    now = int(time.time())
    token = jwt.encode({"sub": "sw-001", "aud": "polku", "nbf": now, "exp": now + 60, **claims}, key, algorithm="EdDSA")
    assert verifier.verify(token) == "sw-001"
    assert verifier.verify(token) == "sw-001"  # and again, from what it remembered
