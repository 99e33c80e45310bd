"""Keys: one master secret, a key of its own per purpose (HKDF), a key id in what is encrypted.

``POLKU_PSEUDONYM_KEY`` is the master secret: at least 32 random bytes, base64 (or hex).
Every other key is derived from it with HKDF-SHA-256 and an ``info`` of its own per purpose
(:data:`PURPOSES`), so a key of one purpose tells nothing about another's. Outside the demo a
service does not start without it; ``polku up --demo`` (``POLKU_DEMO=1``) makes one under
``var/keys/`` on first start.

What is encrypted (events at rest, intake's identity record) starts with a key id, so that a key
can be changed: :class:`KeyRingCipher` encrypts with the current key and decrypts with the key
the id names (old ones in ``POLKU_CIPHER_KEYS``). Ciphertexts without a key id (the v1 format)
are read with the keys of before: the SHA-256 derivation (:func:`legacy_key`) or a configured
key. A ciphertext whose key is not configured stops the service with :class:`UnknownKey`, which
names the key id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from polku.settings import SettingsError

#: What a key is derived for: each its own HKDF ``info``.
PURPOSES = frozenset({"event-store", "identity-record", "command-digest", "ids", "history"})
MIN_SECRET_BYTES = 32
MAKE_ONE = "python3 -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())'"
_SALT = b"polku-hkdf-v1"


def derive(secret: str, purpose: str) -> str:
    """A 256-bit key for ``purpose`` (base64), derived from the master secret with HKDF-SHA-256."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=f"polku/{purpose}".encode())
    return base64.b64encode(hkdf.derive(secret.encode())).decode()


def legacy_key(secret: str, purpose: str) -> str:
    """The key of ``purpose`` as v1 derived it (one SHA-256): only to read what v1 wrote."""
    return base64.b64encode(hashlib.sha256(f"polku-{purpose}:".encode() + secret.encode()).digest()).decode()


def secret_bytes(raw: str) -> int:
    """How many bytes ``raw`` holds as base64 (standard or URL-safe) or hex; 0 if neither."""
    text = raw.strip()
    if text and all(c in "0123456789abcdefABCDEF" for c in text):
        return len(text) // 2  # hex (a random base64 key is never all hex digits)
    padded = text + "=" * (-len(text) % 4)
    for alphabet in (None, b"-_"):
        try:
            return len(base64.b64decode(padded, altchars=alphabet, validate=True))
        except (binascii.Error, ValueError):
            continue
    return 0


def check_secret(name: str, raw: str | None) -> str:
    """``raw`` if it holds at least 32 bytes; else :class:`SettingsError` naming ``name``."""
    if raw is None or not raw.strip():
        raise SettingsError(
            f"{name} is not set: Polku does not start without its keys outside the demo. "
            f"Make one with: {MAKE_ONE} (or run `polku up --demo`, which makes demo keys under var/keys/)"
        )
    if secret_bytes(raw) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"{name} is too short: it must be at least {MIN_SECRET_BYTES} random bytes in base64 (or hex). "
            f"Make one with: {MAKE_ONE}"
        )
    return raw.strip()


def demo_secret(var_dir: Path) -> tuple[str, bool]:
    """The demo's master secret in ``var/keys/master.key`` (0600), made if missing; (secret, made)."""
    folder = var_dir / "keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "master.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip(), False
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return path.read_text().strip(), True


# --------------------------------------------------------------------------- the cipher
MAGIC = b"PK\x01"  #: a ciphertext with a key id: MAGIC, 4 bytes of key id, nonce, tag, data


class UnknownKey(SettingsError):
    """What is stored was encrypted with a key that is not configured."""


def key_id(key: str) -> str:
    """The key id of an AES key (base64): 8 hex characters, from a hash of the key."""
    return hashlib.sha256(b"polku-key-id:" + base64.b64decode(key)).digest()[:4].hex()


def _aes(key: str) -> AESGCM:
    raw = base64.b64decode(key)
    if len(raw) not in (16, 24, 32):
        raise SettingsError("a cipher key must be an AES key of 16, 24 or 32 bytes in base64")
    return AESGCM(raw)


class KeyRing:
    """AES-GCM with a key id: encrypts with ``current``, decrypts with the key an id names."""

    def __init__(self, current: str, old: list[str] | tuple[str, ...] = (), legacy: list[str] | tuple[str, ...] = ()) -> None:
        self.current_id = key_id(current)
        self._current = _aes(current)
        self._by_id = {key_id(k): _aes(k) for k in (*old, *legacy)}
        self._by_id[self.current_id] = self._current
        #: keys that may have written ciphertexts without a key id (v1)
        self._unmarked = [_aes(k) for k in (*legacy, current, *old)]

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        sealed = self._current.encrypt(nonce, plaintext, None)
        return MAGIC + bytes.fromhex(self.current_id) + nonce + sealed[-16:] + sealed[:-16]

    def decrypt(self, ciphertext: bytes) -> bytes:
        if ciphertext[:3] == MAGIC and len(ciphertext) >= 3 + 4 + 28:
            kid = ciphertext[3:7].hex()
            aes = self._by_id.get(kid)
            if aes is not None:
                return self._open(aes, ciphertext[7:])
            # 1 in 2**24 v1 ciphertexts starts with MAGIC by chance: try it as one.
            plain = self._unmarked_open(ciphertext)
            if plain is not None:
                return plain
            raise UnknownKey(
                f"stored data is encrypted with key id {kid}, which is not configured: set the key as "
                f"POLKU_CIPHER_KEY (current) or add it to POLKU_CIPHER_KEYS (old keys, comma-separated)"
            )
        plain = self._unmarked_open(ciphertext)
        if plain is None:
            raise UnknownKey(
                "stored data without a key id (v1 format) does not decrypt with any configured key: "
                "the POLKU_PSEUDONYM_KEY it was written with, or its POLKU_CIPHER_KEY in POLKU_CIPHER_KEYS, is needed"
            )
        return plain

    @staticmethod
    def _open(aes: AESGCM, body: bytes) -> bytes:
        nonce, tag, data = body[:12], body[12:28], body[28:]
        try:
            return aes.decrypt(nonce, data + tag, None)
        except InvalidTag:
            raise ValueError("damaged ciphertext: it does not authenticate") from None

    def _unmarked_open(self, ciphertext: bytes) -> bytes | None:
        for aes in self._unmarked:
            try:
                return self._open(aes, ciphertext)
            except ValueError:
                continue
        return None


class KeyRingCipher(KeyRing):
    """:class:`KeyRing` as ``eventsourcing``'s cipher (``CIPHER_TOPIC``): ``CIPHER_KEY`` is the
    current key, ``CIPHER_OLD_KEYS`` and ``CIPHER_LEGACY_KEYS`` comma-separated lists."""

    def __init__(self, environment: object) -> None:
        get = environment.get  # type: ignore[attr-defined]
        current = get("CIPHER_KEY")
        if not current:
            raise SettingsError("no cipher key: CIPHER_KEY is not in the store's environment")
        split = lambda name: [k for k in (get(name) or "").split(",") if k]  # noqa: E731
        super().__init__(current, split("CIPHER_OLD_KEYS"), split("CIPHER_LEGACY_KEYS"))
