"""Who acts: the worker a command or a query acts for, established by a signed token.

A client system passes, with each command (and each query that names a worker), a JWT in the
``Polku-Actor`` header: signed by its identity provider with an asymmetric key (EdDSA or
ES256; never HS* or ``none``), for the audience ``POLKU_ACTOR_AUDIENCE`` (default ``polku``),
with ``exp`` (and, if given, ``nbf``) checked with ``POLKU_ACTOR_LEEWAY_S`` seconds of clock
skew (default 30). ``sub`` is the worker id. Role and team come from Polku's roster, never from
the token or the body.

The public keys are ``POLKU_ACTOR_PUBLIC_KEYS``: PEM file paths (separated by ``os.pathsep`` or
commas), or one JWKS file (``*.json``). Without it, in the demo and embedded mode, ``polku up``
generates an issuer key pair under ``var/keys/`` and the services trust its public key; the demo,
the benchmarks and the tests sign with its private key (:class:`Issuer`). Production configures
the identity provider's keys.

A token is never logged, never stored.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from polku.domain import RuleBroken

from contracts.base import ACTOR_HEADER  # noqa: E402  (re-exported)
#: Asymmetric only: a shared secret (HS*) would let every verifier mint tokens; ``none`` is no signature.
ALGORITHMS = ("EdDSA", "ES256")
DEFAULT_AUDIENCE = "polku"
DEFAULT_LEEWAY_S = 30.0
#: verified tokens remembered (their signature is not checked again; their time is)
VERIFIED_CACHE = 10_000
ISSUER_KEY = Path("keys") / "actor-issuer.pem"
ISSUER_PUBLIC_KEY = Path("keys") / "actor-issuer.pub.pem"

#: ``worker_id -> (role, team)``, or None for a worker not on the roster.
RosterLookup = Callable[[str], "tuple[str, str] | None"]


class Unauthenticated(RuleBroken):
    code = "unauthenticated"
    field = ACTOR_HEADER


class UnknownActor(RuleBroken):
    code = "unknown_worker"
    field = ACTOR_HEADER


class ActorForbidden(RuleBroken):
    code = "forbidden"
    field = "actor"


class Verifier:
    """Verifies ``Polku-Actor`` tokens against configured public keys; returns the worker id."""

    def __init__(self, keys: list[Any], *, audience: str = DEFAULT_AUDIENCE, leeway: float = DEFAULT_LEEWAY_S) -> None:
        if not any(_algorithm_of(k) for k in keys):
            raise ValueError("no Ed25519, Ed448 or P-256 public key to verify actor tokens with")
        self.keys = keys
        self.audience = audience
        self.leeway = leeway
        #: tokens already verified → (worker id, exp, nbf): a client reuses a token for many
        #: commands, and a signature check costs more than the rest of the step (measured
        #: ~0.3 ms for Ed25519 on the 2-core machine). Only time is checked again on a hit.
        self._verified: dict[str, tuple[str, float, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, var_dir: Path) -> Verifier:
        """``POLKU_ACTOR_PUBLIC_KEYS``, else the demo issuer's public key under ``var/keys``."""
        raw = os.environ.get("POLKU_ACTOR_PUBLIC_KEYS", "").strip()
        paths = [Path(p) for p in raw.replace(",", os.pathsep).split(os.pathsep) if p.strip()] if raw else []
        if not paths:
            demo = var_dir / ISSUER_PUBLIC_KEY
            if not demo.exists():
                raise ValueError(
                    "POLKU_ACTOR_PUBLIC_KEYS is not set and there is no demo issuer key "
                    f"({demo}); configure the identity provider's public keys"
                )
            paths = [demo]
        keys: list[Any] = []
        for path in paths:
            text = path.read_text()
            if path.suffix == ".json":
                keys.extend(k.key for k in jwt.PyJWKSet.from_json(text).keys)
            else:
                keys.append(serialization.load_pem_public_key(text.encode()))
        audience = os.environ.get("POLKU_ACTOR_AUDIENCE", "").strip() or DEFAULT_AUDIENCE
        leeway = float(os.environ.get("POLKU_ACTOR_LEEWAY_S", "").strip() or DEFAULT_LEEWAY_S)
        return cls(keys, audience=audience, leeway=leeway)

    def verify(self, token: str | None) -> str:
        """The worker id (``sub``) of a valid token; :class:`Unauthenticated` otherwise."""
        if not token:
            raise Unauthenticated("a command, and a read of client data, needs a signed Polku-Actor token for the worker it acts for")
        hit = self._verified.get(token)
        if hit is not None:
            sub, exp, nbf = hit
            now = time.time()
            if now > exp + self.leeway:
                raise Unauthenticated("the Polku-Actor token has expired")
            if now < nbf - self.leeway:
                raise Unauthenticated("the Polku-Actor token is not valid yet")
            return sub
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the Polku-Actor token is not a JWT") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise Unauthenticated(f"the Polku-Actor token must be signed with {' or '.join(ALGORITHMS)}")
        # a key only verifies its own algorithm: an EdDSA key never an ES256 token, and back
        for key in (k for k in self.keys if _algorithm_of(k) == alg):
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[alg],
                    audience=self.audience,
                    leeway=self.leeway,
                    options={"require": ["exp", "sub", "aud"]},
                )
            except jwt.InvalidSignatureError:
                continue  # another configured key may have signed it
            except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError):
                continue  # a key of another type
            except jwt.ExpiredSignatureError:
                raise Unauthenticated("the Polku-Actor token has expired") from None
            except jwt.ImmatureSignatureError:
                raise Unauthenticated("the Polku-Actor token is not valid yet") from None
            except jwt.InvalidAudienceError:
                raise Unauthenticated("the Polku-Actor token is not for Polku (audience)") from None
            except jwt.PyJWTError as e:
                raise Unauthenticated(f"the Polku-Actor token is not valid ({type(e).__name__})") from None
            sub = claims.get("sub")
            if not isinstance(sub, str) or not sub:
                raise Unauthenticated("the Polku-Actor token names no worker (sub)")
            nbf = claims.get("nbf")
            with self._lock:
                if len(self._verified) >= VERIFIED_CACHE:
                    self._verified.clear()
                self._verified[token] = (sub, _instant(claims["exp"]), _instant(nbf) if isinstance(nbf, int | float) else 0.0)
            return sub
        raise Unauthenticated("the Polku-Actor token is not signed by a trusted key")


def _instant(value: Any) -> float:
    """A claim's time (PyJWT has checked that it is an integer, or a number or text that makes
    one) as a float; past float's range it is infinitely far (an ``exp`` of 10**400 never
    expires, as PyJWT judged it), never an OverflowError answered ``unavailable``."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _algorithm_of(key: Any) -> str | None:
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    return None  # another kind of key verifies no actor token


def ensure_demo_issuer(var_dir: Path) -> Path:
    """The demo issuer's key pair under ``var/keys`` (generated once): the public key's path."""
    private = var_dir / ISSUER_KEY
    public = var_dir / ISSUER_PUBLIC_KEY
    if not private.exists():
        private.parent.mkdir(parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = private.with_suffix(".tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.replace(private)
    if not public.exists():
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        public.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    return public


class Issuer:
    """Signs ``Polku-Actor`` tokens for workers: what a client system's identity provider does.

    The demo, the benchmarks and the tests use the demo issuer (:meth:`from_var`). A token is
    reused until half its life has passed (signing each command would cost the client, not Polku).
    """

    def __init__(self, key: Any, *, audience: str = DEFAULT_AUDIENCE, ttl_s: float = 300.0, algorithm: str = "EdDSA") -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}")
        self.key = key
        self.audience = audience
        self.ttl_s = ttl_s
        self.algorithm = algorithm
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_var(cls, var_dir: Path | str, **kwargs: Any) -> Issuer:
        private = Path(var_dir) / ISSUER_KEY
        if not private.exists():
            ensure_demo_issuer(Path(var_dir))
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        kwargs.setdefault("audience", os.environ.get("POLKU_ACTOR_AUDIENCE", "").strip() or DEFAULT_AUDIENCE)
        return cls(key, **kwargs)

    def mint(self, worker_id: str, *, ttl_s: float | None = None, now: float | None = None, **claims: Any) -> str:
        """A fresh token for ``worker_id``."""
        now = time.time() if now is None else now
        payload = {
            "sub": worker_id,
            "aud": self.audience,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + (self.ttl_s if ttl_s is None else ttl_s)),
            **claims,
        }
        return jwt.encode(payload, self.key, algorithm=self.algorithm)

    def token(self, worker_id: str) -> str:
        """A token for ``worker_id``, reused while more than half its life is left."""
        now = time.time()
        with self._lock:
            cached = self._tokens.get(worker_id)
            if cached and cached[1] > now:
                return cached[0]
        token = self.mint(worker_id, now=now)
        with self._lock:
            self._tokens[worker_id] = (token, now + self.ttl_s / 2)
        return token

