"""Keys: none outside the demo, none short; one per purpose (HKDF); a key id in what is encrypted."""

from __future__ import annotations

import base64
import dataclasses
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate, event

from polku.projections import Projection
from polku.keys import PURPOSES, KeyRing, UnknownKey, derive, key_id, legacy_key
from polku.settings import Settings, SettingsError
from polku.store import ServiceApplication, store_env

KEY = base64.b64encode(b"k" * 32).decode()


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


@pytest.fixture
def bare_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("POLKU_PSEUDONYM_KEY", "POLKU_CIPHER_KEY", "POLKU_CIPHER_KEYS", "POLKU_DEMO", "POLKU_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLKU_VAR_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def test_no_key_outside_the_demo_is_a_clear_error(bare_env: Path) -> None:
    with pytest.raises(SettingsError) as e:
        Settings.from_env()
    assert "POLKU_PSEUDONYM_KEY is not set" in str(e.value)
    assert "os.urandom(32)" in str(e.value) and "polku up --demo" in str(e.value)
    assert not (bare_env / "keys").exists()


@pytest.mark.parametrize("value", ["", "   ", "polku-embedded-demo-key", "test-pseudonym-key",
                                   base64.b64encode(os.urandom(31)).decode(), os.urandom(31).hex()])
def test_empty_and_short_keys_are_refused(bare_env: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("POLKU_PSEUDONYM_KEY", value)
    with pytest.raises(SettingsError, match="POLKU_PSEUDONYM_KEY"):
        Settings.from_env()


@pytest.mark.parametrize(
    "value", [base64.b64encode(os.urandom(32)).decode(), base64.urlsafe_b64encode(os.urandom(48)).decode().rstrip("="),
              os.urandom(32).hex()]
)
def test_keys_of_32_bytes_or_more_are_taken(bare_env: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("POLKU_PSEUDONYM_KEY", value)
    assert Settings.from_env().pseudonym_key == value


def test_an_old_cipher_key_that_is_no_aes_key_is_refused(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLKU_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("POLKU_CIPHER_KEYS", f"{new_key()},short")
    with pytest.raises(SettingsError, match="POLKU_CIPHER_KEYS"):
        Settings.from_env()


def test_the_demo_makes_its_keys_once_under_var_keys(bare_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POLKU_DEMO", "1")
    first = Settings.from_env()
    path = bare_env / "keys" / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "made demo keys" in capsys.readouterr().err
    assert len(base64.b64decode(first.pseudonym_key)) == 32
    assert Settings.from_env().pseudonym_key == first.pseudonym_key  # read again, not made again
    assert "made demo keys" not in capsys.readouterr().err


def test_plain_polku_up_without_keys_stops_at_once(bare_env: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    env["POLKU_VAR_DIR"] = str(bare_env)
    done = subprocess.run([sys.executable, "-m", "polku", "up"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "POLKU_PSEUDONYM_KEY is not set" in done.stderr
    assert not (bare_env / "nats").exists()


def test_each_purpose_has_a_key_of_its_own() -> None:
    keys = {purpose: derive(KEY, purpose) for purpose in PURPOSES}
    assert len(set(keys.values())) == len(PURPOSES)
    assert all(len(base64.b64decode(k)) == 32 for k in keys.values())
    assert derive(KEY, "event-store") == derive(KEY, "event-store")  # the same secret, the same key
    assert derive(KEY, "event-store") != derive(new_key(), "event-store")
    assert derive(KEY, "event-store") != legacy_key(KEY, "event-store")  # not v1's SHA-256
    with pytest.raises(ValueError):
        derive(KEY, "anything")


def test_a_ciphertext_names_its_key() -> None:
    a, b = new_key(), new_key()
    sealed = KeyRing(a).encrypt(b"text")
    assert sealed[3:7].hex() == key_id(a)
    assert KeyRing(b, old=[a]).decrypt(sealed) == b"text"
    with pytest.raises(UnknownKey, match=key_id(a)):
        KeyRing(b).decrypt(sealed)


def _settings(tmp_path: Path, **changes: object) -> Settings:
    base = Settings.from_env(keys=False)
    values: dict[str, object] = {"cipher_key": None, "cipher_keys": (), **changes}
    return dataclasses.replace(base, var_dir=tmp_path, store="sqlite", pseudonym_key=KEY, aggregate_cache=0, **values)


def _write(settings: Settings, text: str) -> object:
    app = ServiceApplication(store_env(settings, "notes"))
    note = Note(text)
    app.save(note)
    app.close()
    return note.id


class Texts(Projection):
    texts: list[str]

    def __init__(self) -> None:
        self.texts = []

    def apply(self, e: object) -> None:
        self.texts.append(e.text)  # type: ignore[attr-defined]


def test_a_store_written_with_key_a_replays_with_key_b_current_and_a_old(tmp_path: Path) -> None:
    a, b = new_key(), new_key()
    first = _write(_settings(tmp_path, cipher_key=a), "written with A")
    rotated = _settings(tmp_path, cipher_key=b, cipher_keys=(a,))
    second = _write(rotated, "written with B")
    app = ServiceApplication(store_env(rotated, "notes"))
    try:
        texts = Texts()
        app.follow(texts)
        assert texts.texts == ["written with A", "written with B"]
        assert app.repository.get(first).text == "written with A"
        ids = [bytes(n.state[3:7]).hex() for n in app.recorder.select_notifications(1, 10)]
        assert ids == [key_id(a), key_id(b)]
    finally:
        app.close()
    assert second


def test_a_store_with_a_key_not_configured_stops_with_its_key_id(tmp_path: Path) -> None:
    a = new_key()
    _write(_settings(tmp_path, cipher_key=a), "written with A")
    app = ServiceApplication(store_env(_settings(tmp_path, cipher_key=new_key()), "notes"))
    try:
        with pytest.raises(UnknownKey) as e:
            app.follow(Texts())
        assert key_id(a) in str(e.value) and "POLKU_CIPHER_KEYS" in str(e.value)
        assert isinstance(e.value, SettingsError)
    finally:
        app.close()


def test_the_derived_store_key_replaces_v1s_and_v1s_still_reads(tmp_path: Path) -> None:
    """A store of v1 (no key id, the SHA-256 key) reads on; what is added carries the HKDF key's id."""
    from eventsourcing.persistence import StoredEvent

    settings = _settings(tmp_path)
    env = store_env(settings, "notes")
    assert env["CIPHER_KEY"] == derive(KEY, "event-store")
    app = ServiceApplication(env)
    try:
        note = Note("by v1")
        [stored] = [app.mapper.to_stored_event(e) for e in note.collect_events()]
        from eventsourcing.cryptography import AESCipher
        from eventsourcing.utils import Environment

        plain = app.mapper.cipher.decrypt(stored.state)  # type: ignore[union-attr]
        old = AESCipher(Environment(env={"CIPHER_KEY": legacy_key(KEY, "event-store")})).encrypt(plain)
        app.recorder.insert_events([StoredEvent(stored.originator_id, stored.originator_version, stored.topic, old)])
        assert app.repository.get(note.id).text == "by v1"
    finally:
        app.close()


def test_a_service_whose_store_has_an_unknown_key_exits_once_with_the_reason(tmp_path: Path) -> None:
    """``polku serve`` says which key id is missing and exits 78, which `polku up` does not restart."""
    a = new_key()
    settings = _settings(tmp_path, cipher_key=a)
    from polku.settings import RosterEntry
    from services.intake.application import IntakeApplication

    app = IntakeApplication(store_env(settings, "intake"), pseudonym_key=KEY,
                            roster=(RosterEntry("sw-001", "social_worker", "team-north"),))
    assert app.max_position() > 0  # the roster, seeded
    app.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    env.update(POLKU_VAR_DIR=str(tmp_path), POLKU_PSEUDONYM_KEY=KEY, POLKU_CIPHER_KEY=new_key(),
               POLKU_NATS_URL="nats://127.0.0.1:9", POLKU_LOG_FILE=str(tmp_path / "intake.jsonl"))
    done = subprocess.run([sys.executable, "-m", "polku", "serve", "intake"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 78, done.stderr[-2000:]
    assert f"key id {key_id(a)}" in done.stderr
    assert "Traceback" not in done.stderr
