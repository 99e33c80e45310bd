"""Every command and query subject, fuzzed from the published JSON Schemas, as an integrator would.

For each subject of the published language (``contracts.COMMANDS``: 43 of them) the bodies come
from its JSON Schema (the files ``contracts.asyncapi.write`` writes) through
hypothesis-jsonschema: valid-shaped bodies, half of them anchored on what exists (a worker of the
roster whose role may act, a relationship and referral opened for the subject, dates near today)
so that they reach the domain's rules, some with a number field at the extremes of int64 and
float. Then mutations of every kind: bytes that are not JSON, truncated JSON, invalid UTF-8,
a BOM, JSON that is not an object, deep nesting, huge strings, numbers past int64 and float,
NaN and Infinity, unknown fields (top level and nested), a wrong JSON type for each field, and
header oddities (Polku-Command-Id missing, overlong, not ASCII, shaped like an identity code;
Polku-Actor missing, garbage, unsigned, expired, for another audience or signed by a stranger;
an identity code in Polku-Correlation-Id).

Every reply must be a JSON object: ``ok: true``, or ``ok: false`` with ``error.code`` among the
documented codes (the AsyncAPI document's ``Refused`` message, ``x-polku-error-codes``) and a
message; never ``unavailable`` (a "retry" answer for input that can never succeed), never a
timeout. What is refused stores nothing: the malformed batch (every input of which must be
refused) leaves every stream and every service's store as it was, counted after the relays and
consumers settle (the REPORTING stream and reporting's snapshots are left out: its ticker
publishes snapshots of its own when the day turns); and for the schema-drawn commands, a
command's idempotency record exists in its service's store exactly when its reply was ok, and
each one carried out, sent again under its Polku-Command-Id, gets its first reply (another body
under that id: ``command_id_reused``) and stores nothing more. An ok reply must match its
published reply schema. Each extreme number goes in each number field of an anchored body too.

POLKU_FUZZ_EXAMPLES (default 60) sets the schema-drawn bodies per subject; POLKU_FUZZ_SEED
replays a run (every failure names the seed).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import msgspec
import pytest
from jsonschema import Draft202012Validator
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from nats.aio.client import Client

import contracts
from contracts import asyncapi
from contracts.base import ACTOR_HEADER, COMMAND_ID_HEADER
from polku.actor import Issuer
from polku.bus import connect, stream_counts
from polku.pipeline import CommandRecord
from polku.settings import DEFAULT_ROSTER, parse_roster
from polku.stack import Stack
from services.intake.identity import InvalidIdentityCode, validate
from demo.main import route_through
from tests.casefile_helpers import relationship_of
from tests.helpers import RECEIVE_REFERRAL, referral_body, remember_personal_data, request, synthetic_identity_code

SEED = int(os.environ.get("POLKU_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
EXAMPLES = int(os.environ.get("POLKU_FUZZ_EXAMPLES") or 60)
#: requests in flight at once (2 busy cores: enough to keep every service busy, not more)
CONCURRENCY = 16
#: a reply later than this is a timeout, and a failure
TIMEOUT = 30.0



def _published() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The AsyncAPI document and the JSON Schemas as an integrator gets them: the files
    ``asyncapi.write`` writes (``polku contracts``)."""
    with tempfile.TemporaryDirectory() as out:
        asyncapi.write(Path(out))
        document = json.loads((Path(out) / "asyncapi.json").read_text(encoding="utf-8"))
        schemas = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (Path(out) / "schemas").glob("*.json")}
    return document, schemas


DOCUMENT, SCHEMAS = _published()
DOCUMENTED_CODES = frozenset(DOCUMENT["components"]["messages"]["Refused"]["x-polku-error-codes"])
SPECS = contracts.COMMANDS
SPEC_BY_SUBJECT = {spec.subject: spec for spec in SPECS}
#: each subject's ok reply is checked against its published schema
REPLY_SCHEMAS = {spec.subject: Draft202012Validator(SCHEMAS[spec.reply.__name__]) for spec in SPECS}
ROSTER = parse_roster(DEFAULT_ROSTER)
CONFIGURED = {w.worker_id for w in ROSTER}
SERVICES = ("intake", "casefile", "followup", "reporting")
#: streams whose counts a refusal must leave alone (REPORTING: see the module's docstring)
STREAMS = ("INTAKE", "CASEFILE", "FOLLOWUP", "AUDIT", "DLQ")
COMMAND_RECORD = "CommandRecord.Recorded"
#: int64 and float at and past their extremes
EXTREME_NUMBERS = [
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808", b"-9223372036854775809",
    b"18446744073709551616", b"1" + b"0" * 400, b"1.7976931348623157e308", b"1.8e308", b"-1.8e308",
    b"5e-324", b"1e-400", b"-0.0", b"0.1e1", b"1E+2",
]
NAN_ISH = [b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"inf", b"nan", b"1e", b"01", b"+1", b".5", b"0x10"]


# -------------------------------------------------------------------------- schema helpers
def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def properties(spec: contracts.CommandSpec) -> dict[str, dict[str, Any]]:
    """The request's fields and their schemas (an optional field's non-null branch)."""
    root = SCHEMAS[spec.request.__name__]
    out = {}
    for name, node in _resolve(root, root).get("properties", {}).items():
        node = _resolve(node, root)
        for branch in node.get("anyOf", []):
            if _resolve(branch, root).get("type") != "null":
                node = _resolve(branch, root)
                break
        out[name] = node
    return out


def _types(node: dict[str, Any]) -> set[str]:
    if "enum" in node:
        return {"string" if isinstance(v, str) else "integer" for v in node["enum"]}
    t = node.get("type")
    return set(t) if isinstance(t, list) else {t} if t else set()


def wrong_value(node: dict[str, Any]) -> Any:
    types = _types(node) or {"object"}
    for candidate in ({"k": 1}, [1], True, "x", 12):
        kind = {dict: "object", list: "array", bool: "boolean", str: "string", int: "integer"}[type(candidate)]
        if kind not in types and not (kind == "integer" and "number" in types):
            return candidate
    return None


# ------------------------------------------------------------------------------ anchoring
@dataclass
class Anchor:
    relationship_id: str
    referral_id: str
    #: the relationship's team: its workers may act on it
    team: str


def _workers_for(spec: contracts.CommandSpec, team: str) -> list[dict[str, str]]:
    """The roster's workers whose role may give the command, of ``team`` first (any team else)."""
    roles = getattr(spec.request, "roles", None)
    may = [{"worker_id": w.worker_id, "role": w.role, "team": w.team} for w in ROSTER if roles is None or w.role in roles]
    return [w for w in may if w["team"] == team] or may


#: commands that change the roster itself: their worker stays the schema's (a new one), so that
#: the fuzz does not move or remove the roster's workers under the other subjects
ROSTER_CHANGES = {"set_roster_worker", "remove_roster_worker"}


def anchored(spec: contracts.CommandSpec, body: dict[str, Any], rng: random.Random, anchor: Anchor) -> dict[str, Any]:
    """The body, with what a real integrator would hold: a worker of the roster who may act,
    the ids that exist, business time now and dates near today."""
    body = dict(body)
    props = properties(spec)
    today = datetime.now(UTC).date()
    for name, node in props.items():
        fmt = node.get("format")
        if name == "actor" and (name in body or rng.random() < 0.5):
            workers = _workers_for(spec, anchor.team)
            if workers:
                body["actor"] = rng.choice(workers)
        elif name == "worker_id" and name in body and spec.name not in ROSTER_CHANGES:
            body[name] = rng.choice([w.worker_id for w in ROSTER])
        elif fmt == "uuid" and name in body:
            body[name] = {"relationship_id": anchor.relationship_id, "referral_id": anchor.referral_id}.get(
                name, rng.choice([anchor.relationship_id, str(uuid.UUID(int=rng.getrandbits(128), version=4))])
            )
        elif fmt == "date-time" and name in body:
            body[name] = (datetime.now(UTC) + timedelta(minutes=rng.randint(-600, 600) if name != "occurred_at" else -rng.randint(0, 600))).isoformat()
        elif fmt == "date" and name in body:
            body[name] = (today + timedelta(days=rng.randint(-20, 120))).isoformat()
    return body


def with_extreme(spec: contracts.CommandSpec, body: dict[str, Any], rng: random.Random) -> bytes | None:
    """The body with one number field at an extreme (raw JSON: past float's range too)."""
    numeric = [n for n, node in properties(spec).items() if _types(node) & {"integer", "number"}]
    if not numeric:
        return None
    name = rng.choice(numeric)
    marker = f"__extreme_{uuid.uuid4().hex}__"
    text = json.dumps({**body, name: marker}).replace(json.dumps(marker), rng.choice(EXTREME_NUMBERS).decode())
    return text.encode()


def draw_bodies(spec: contracts.CommandSpec, n: int, salt: int) -> list[tuple[dict[str, Any], random.Random]]:
    """``n`` bodies from the subject's JSON Schema, each with a random source of its own."""
    drawn: list[tuple[dict[str, Any], random.Random]] = []

    @seed(SEED + salt)
    @settings(
        max_examples=n, deadline=None, database=None, phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(from_schema(SCHEMAS[spec.request.__name__]), st.integers(0, 2**32 - 1))
    def collect(body: dict[str, Any], rng_seed: int) -> None:
        drawn.append((body, random.Random(rng_seed)))

    collect()
    return drawn[:n]


# ---------------------------------------------------------------------------------- sending
@dataclass
class Sent:
    subject: str
    case: str
    data: bytes
    headers: dict[str, str]
    must_refuse: bool
    expect: frozenset[str] | None = None  # the codes this case may get, when it is known
    field: str | None = None  # the error.field it must name, when it is known
    reply: dict[str, Any] | None = None
    problem: str | None = None
    raw: bytes = b""

    @property
    def command_id(self) -> str | None:
        return self.headers.get(COMMAND_ID_HEADER)

    @property
    def worker(self) -> str | None:
        """The worker the Polku-Actor token was signed for (by this module's issuer)."""
        try:
            return jwt.decode(self.headers.get(ACTOR_HEADER, ""), options={"verify_signature": False}).get("sub")
        except jwt.PyJWTError:
            return None

    @property
    def service(self) -> str:
        return self.subject.split(".")[2]


@dataclass
class Fuzzer:
    nc: Client
    issuer: Issuer
    sent: list[Sent] = field(default_factory=list)

    def headers(self, spec: contracts.CommandSpec, body: Any, **overrides: str | None) -> dict[str, str]:
        worker = None
        if isinstance(body, dict) and isinstance(body.get("actor"), dict):
            worker = body["actor"].get("worker_id")
        if not isinstance(worker, str) or not worker:
            worker = "sg-001"
        headers = {contracts.H_CORRELATION: str(uuid.uuid4()), ACTOR_HEADER: self.issuer.token(worker)}
        if spec.kind == "cmd":
            headers[COMMAND_ID_HEADER] = f"fuzz-{uuid.uuid4()}"
        for name, value in overrides.items():
            key = {"command_id": COMMAND_ID_HEADER, "actor": ACTOR_HEADER, "correlation": contracts.H_CORRELATION}[name]
            if value is None:
                headers.pop(key, None)
            else:
                headers[key] = value
        return headers

    def add(self, spec: contracts.CommandSpec, case: str, data: bytes, headers: dict[str, str], *,
            must_refuse: bool, expect: Iterable[str] | None = None, field: str | None = None) -> None:
        self.sent.append(Sent(spec.subject, case, data, headers, must_refuse, frozenset(expect) if expect else None, field))

    async def run(self) -> list[Sent]:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(s: Sent) -> None:
            async with semaphore:
                try:
                    msg = await self.nc.request(s.subject, s.data, timeout=TIMEOUT, headers=s.headers or None)
                except TimeoutError:
                    s.problem = f"no reply in {TIMEOUT}s"
                    return
                s.raw = msg.data
                try:
                    s.reply = json.loads(msg.data.decode("utf-8"))
                except ValueError:
                    s.problem = "the reply is not JSON"

        await asyncio.gather(*(one(s) for s in self.sent))
        return self.sent


def problems(sent: Iterable[Sent]) -> list[str]:
    """What is wrong with each reply, described without the body (it may be large)."""
    out = []
    for s in sent:
        where = f"{s.subject} [{s.case}]"
        reply = s.reply
        if s.problem:
            out.append(f"{where}: {s.problem}")
            continue
        if not isinstance(reply, dict):
            out.append(f"{where}: the reply is not a JSON object: {s.raw[:200]!r}")
            continue
        if reply.get("ok") is False:
            error = reply.get("error")
            if not isinstance(error, dict):
                out.append(f"{where}: a refusal without an error object: {reply}")
                continue
            code = error.get("code")
            if code == "unavailable":
                out.append(f"{where}: answered unavailable (retry) for input that can never succeed: {error}")
            elif code not in DOCUMENTED_CODES:
                out.append(f"{where}: an undocumented code: {error}")
            elif s.expect is not None and code not in s.expect:
                out.append(f"{where}: refused {code}, expected one of {sorted(s.expect)}: {error}")
            elif s.field is not None and error.get("field") != s.field:
                out.append(f"{where}: refused naming the field {error.get('field')!r}, expected {s.field!r}: {error}")
            if not isinstance(error.get("message"), str) or not error["message"].strip():
                out.append(f"{where}: a refusal without a message: {error}")
            if error.get("field") is not None and not isinstance(error.get("field"), str):
                out.append(f"{where}: error.field is not a string: {error}")
        elif reply.get("ok") is True or (s.subject.startswith("polku.qry.") and "ok" not in reply):
            if s.must_refuse:
                out.append(f"{where}: accepted ({str(reply)[:200]}), must be refused")
            if errors := [e.message for e in REPLY_SCHEMAS[s.subject].iter_errors(reply)]:
                out.append(f"{where}: the ok reply does not match its published schema: {errors[:3]}")
        else:
            out.append(f"{where}: the reply says neither ok true nor ok false: {str(reply)[:200]}")
    return out


def refused(s: Sent) -> bool:
    return isinstance(s.reply, dict) and s.reply.get("ok") is False


# ---------------------------------------------------------------------- what is stored
def store_counts(stack: Stack) -> dict[str, Counter[str]]:
    """Each service's stored events by topic, read from its SQLite file (read only)."""
    out: dict[str, Counter[str]] = {}
    for service in SERVICES:
        path = stack.var / "store" / f"{service}.db"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            rows = db.execute("SELECT topic, COUNT(*) FROM stored_events GROUP BY topic").fetchall()
        counts = Counter({topic.rsplit(":", 1)[-1]: n for topic, n in rows})
        if service == "reporting":  # its ticker's snapshots (see the module's docstring)
            counts = Counter({t: n for t, n in counts.items() if "Snapshot" not in t and t != COMMAND_RECORD})
        out[service] = counts
    return out


def command_records(stack: Stack, service: str) -> set[str]:
    path = stack.var / "store" / f"{service}.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute("SELECT originator_id FROM stored_events WHERE topic LIKE ?", (f"%{COMMAND_RECORD}",)).fetchall()
    return {str(uuid.UUID(str(r[0]))) for r in rows}


async def settle(stack: Stack, nc: Client, timeout: float = 90.0) -> dict[str, int]:
    """Wait until every relay has published what its store holds and every consumer has handled
    its stream, twice in a row with the same stream counts; the counts."""
    operator = await connect(stack.url, name="polku-fuzz-operator", user="operator", var_dir=stack.var)
    try:
        deadline = time.monotonic() + timeout
        last: dict[str, int] | None = None
        while True:
            quiet = True
            for service in SERVICES:
                msg = await operator.request(f"polku.ctl.{service}.health", b"", timeout=10)
                health = json.loads(msg.data)
                lags = [health.get("relay", {}).get("lag", 0)] + [c["lag"] for c in health.get("consumers", {}).values()]
                quiet &= not any(lags) and "detail_error" not in health
            counts = await stream_counts(nc.jetstream())
            if quiet and counts == last:
                return counts
            last = counts if quiet else None
            assert time.monotonic() < deadline, f"the stack did not settle in {timeout}s (seed {SEED})"
            await asyncio.sleep(0.5)
    finally:
        await operator.close()


@pytest.fixture
def issuer(module_stack: Stack) -> Issuer:
    return Issuer.from_var(module_stack.var)


async def anchor_of(nc: Client) -> Anchor:
    """A relationship opened as an integrator opens one: a referral received, screened, triaged
    and routed; the worker it was routed to is its team's, who may act on it."""
    body = referral_body()
    received = await request(nc, RECEIVE_REFERRAL, json.dumps(body).encode(), f"fuzz-anchor-{uuid.uuid4()}")
    assert received["ok"], received
    routed = await route_through(nc, received["referral_id"], special=False, prefix=f"fuzz-anchor-{uuid.uuid4()}")
    rid = await relationship_of(nc, uuid.UUID(received["referral_id"]))
    return Anchor(str(rid), received["referral_id"], team=routed.team)


async def anchors_of(nc: Client) -> dict[str, Anchor]:
    """A relationship of its own for each subject, so that one subject's commands (ending the
    relationship, say) do not close the rules of another to the fuzz."""
    semaphore = asyncio.Semaphore(8)

    async def one() -> Anchor:
        async with semaphore:
            return await anchor_of(nc)

    anchors = await asyncio.gather(*(one() for _ in SPECS))
    return {spec.subject: anchor for spec, anchor in zip(SPECS, anchors, strict=True)}


# --------------------------------------------------------------------------- the mutations
#: a synthetic identity code (valid checksum) for the headers that must never hold one
IDENTITY_CODE = synthetic_identity_code(random.Random(SEED))
remember_personal_data({"identity_code": IDENTITY_CODE})


def malformed_cases(fuzzer: Fuzzer, spec: contracts.CommandSpec, valid: dict[str, Any]) -> None:
    """Every input to ``spec``'s subject that must be refused whatever the state."""
    add = fuzzer.add
    h = lambda **o: fuzzer.headers(spec, valid, **o)  # noqa: E731
    good = json.dumps(valid).encode()
    malformed = {"malformed_json"}
    raw_cases: list[tuple[str, bytes, set[str]]] = [
        ("not JSON", b"not json at all", malformed),
        ("truncated JSON", good[: max(1, len(good) // 2)], malformed),
        ("an open brace", b"{", malformed),
        ("invalid UTF-8", b'{"\xff\xfe": "\xc3\x28"}', malformed | {"unknown_field"}),
        ("a lone surrogate", b'{"\xed\xa0\x80": 1}', malformed | {"unknown_field"}),
        ("a BOM", b"\xef\xbb\xbf" + good, malformed),
        ("UTF-16", good.decode().encode("utf-16"), malformed),
        ("a JSON array", b"[1, 2]", malformed),
        ("a JSON string", b'"{}"', malformed),
        ("a JSON number", b"12", malformed),
        ("JSON null", b"null", malformed),
        ("JSON true", b"true", malformed),
        # msgspec checks a struct's own rules before it reads what trails: any refusal
        ("two objects", good + good, set()),
        ("invalid UTF-8 in a value", b'{"actor": "\xff\xfe", "zz_unknown": "\xc3\x28"}', malformed | {"wrong_type", "unknown_field"}),
        ("deeply nested arrays", b"[" * 100_000 + b"]" * 100_000, malformed),
        ("deeply nested objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, malformed | {"unknown_field"}),
        ("deep nesting in an unknown field", b'{"zz_unknown":' + b"[" * 100_000 + b"]" * 100_000 + b"}", malformed | {"unknown_field"}),
        ("a huge unknown string", b'{"zz_unknown": "' + b"x" * 900_000 + b'"}', {"unknown_field"}),
        ("a huge body of spaces", b" " * 900_000, malformed),
        ("an unknown field first", b'{"zz_unknown": 1, ' + good[1:] if valid else b'{"zz_unknown": 1}', {"unknown_field"}),
        ("NUL bytes", b"\x00" * 64, malformed),
    ]
    for nan in NAN_ISH:
        raw_cases.append((f"{nan.decode()} as a value", b'{"zz_unknown": ' + nan + b"}", malformed | {"unknown_field"}))
    if spec.kind == "cmd":  # an empty body is a query's {} (no parameters)
        raw_cases.append(("an empty body", b"", malformed))
    for case, data, expect in raw_cases:
        add(spec, case, data, h(), must_refuse=True, expect=expect or None)
    props = properties(spec)
    for name, node in props.items():
        wrong = wrong_value(node)
        if wrong is not None:
            data = json.dumps({name: wrong, **{k: v for k, v in valid.items() if k != name}}).encode()
            add(spec, f"{name}: a wrong type", data, h(), must_refuse=True, expect={"wrong_type"}, field=name)
        if "string" in _types(node) or node.get("format"):
            huge = json.dumps({name: "x" * 100_000, **{k: v for k, v in valid.items() if k != name}}).encode()
            # a huge string in a field: too long, or not the field's format; or (free text
            # bounded at 4000) too long
            add(spec, f"{name}: a huge string", huge, h(), must_refuse=True,
                expect={"invalid_value", "unknown_value", "invalid_identity_code"})
        if _types(node) & {"integer", "number"}:
            rest = json.dumps({k: v for k, v in valid.items() if k != name})[1:]
            for nan in NAN_ISH:  # not JSON at all, wherever a number goes
                data = b'{"' + name.encode() + b'": ' + nan + (b", " + rest.encode() if rest != "}" else b"}")
                # msgspec checks the number it has read ("0" of "0x10") against the field's
                # bounds before it sees what follows: invalid_value then
                add(spec, f"{name}: {nan.decode()}", data, h(), must_refuse=True, expect=malformed | {"invalid_value"})
        if "array" in _types(node) and "maxItems" in node:  # past its bound, and far past it
            item = (valid.get(name) or ["x"])[0]
            # far past: as many as fit under NATS's payload limit (1 MB), at most 100,000
            for count in (node["maxItems"] + 1, min(100_000, 800_000 // (len(json.dumps(item)) + 2))):
                data = json.dumps({name: [item] * count, **{k: v for k, v in valid.items() if k != name}}).encode()
                add(spec, f"{name}: {count} items", data, h(), must_refuse=True,
                    expect={"invalid_value", "unknown_value", "wrong_type"}, field=None)
        if node.get("type") == "object" and "properties" in node:
            data = json.dumps({name: {"zz_unknown": 1}, **{k: v for k, v in valid.items() if k != name}}).encode()
            add(spec, f"{name}: an unknown nested field", data, h(), must_refuse=True, expect={"unknown_field"},
                field=f"{name}.zz_unknown")
    # the headers: a body that is valid-shaped, headers that are not
    if spec.kind == "cmd":
        for case, value, expect in [
            ("no Polku-Command-Id", None, "missing_command_id"),
            ("an empty Polku-Command-Id", "", "missing_command_id"),
            ("an overlong Polku-Command-Id", "c" * 129, "missing_command_id"),
            ("a very long Polku-Command-Id", "c" * 20_000, "missing_command_id"),
            ("a Polku-Command-Id with a space", "fuzz id", "missing_command_id"),
            ("a Polku-Command-Id not in ASCII", "fuzz-ääkkönen", "missing_command_id"),
            ("an identity code as Polku-Command-Id", IDENTITY_CODE, "invalid_value"),
        ]:
            add(spec, case, good, h(command_id=value), must_refuse=True, expect={expect}, field=COMMAND_ID_HEADER)
        for case, token in garbage_tokens(fuzzer.issuer):
            # any refusal: the body's own fields may be refused before the token is read
            add(spec, case, good, h(actor=token), must_refuse=True)
    code = synthetic_identity_code(random.Random(SEED + 1))
    remember_personal_data({"identity_code": code})
    add(spec, "an identity code as Polku-Correlation-Id", good, h(correlation=f"corr-{code}"), must_refuse=True,
        expect={"invalid_value"}, field=contracts.H_CORRELATION)


def garbage_tokens(issuer: Issuer) -> list[tuple[str, str | None]]:
    """Polku-Actor headers no request may be carried out with."""
    stranger = ed25519.Ed25519PrivateKey.generate()
    now = int(time.time())
    claims = {"sub": "sw-001", "aud": issuer.audience, "iat": now, "nbf": now, "exp": now + 300}
    return [
        ("no Polku-Actor", None),
        ("an empty Polku-Actor", ""),
        ("a garbage Polku-Actor", "not.a.token"),
        ("a huge Polku-Actor", "x" * 50_000),
        ("an unsigned Polku-Actor", jwt.encode(claims, None, algorithm="none")),
        ("an HS256 Polku-Actor", jwt.encode(claims, "a-shared-secret-of-32-bytes-long!", algorithm="HS256")),
        ("a stranger's Polku-Actor", jwt.encode(claims, stranger, algorithm="EdDSA")),
        ("an expired Polku-Actor", issuer.mint("sw-001", ttl_s=-600)),
        ("a Polku-Actor for another audience", jwt.encode({**claims, "aud": "elsewhere"}, issuer.key, algorithm="EdDSA")),
        ("a Polku-Actor with no sub", jwt.encode({k: v for k, v in claims.items() if k != "sub"}, issuer.key, algorithm="EdDSA")),
        ("a Polku-Actor with a number as sub", jwt.encode({**claims, "sub": 7}, issuer.key, algorithm="EdDSA")),
        ("a Polku-Actor with exp as text", jwt.encode({**claims, "exp": "soon"}, issuer.key, algorithm="EdDSA")),
        ("a Polku-Actor not yet valid", jwt.encode({**claims, "nbf": now + 3600}, issuer.key, algorithm="EdDSA")),
    ]


def odd_but_valid_tokens(issuer: Issuer, worker: str) -> list[tuple[str, str]]:
    """Tokens a trusted identity provider could sign, with times at the edge (valid ones)."""
    now = int(time.time())
    claims = {"sub": worker, "aud": issuer.audience, "iat": now, "nbf": now, "exp": now + 300}
    return [
        ("a Polku-Actor with an exp of 10**400", jwt.encode({**claims, "exp": 10**400}, issuer.key, algorithm="EdDSA")),
        ("a Polku-Actor with an nbf of -10**400", jwt.encode({**claims, "nbf": -(10**400)}, issuer.key, algorithm="EdDSA")),
        ("a Polku-Actor with exp as a float", jwt.encode({**claims, "exp": 1.7976931348623157e308}, issuer.key, algorithm="EdDSA")),
    ]


def _remember(spec: contracts.CommandSpec, body: dict[str, Any]) -> None:
    """A drawn referral's identity code, when it is one (a real date, its check character), is
    searched for in everything Polku wrote (tests/test_personal_data.py). A code of the right
    shape only, such as 000000-0000, and the drawn contact details are not: "0000000000" or a
    "name" as short as "os" turn up in any file (a screenshot, ordinary words)."""
    if spec.request.__name__ != "ReceiveReferral":
        return
    try:
        validate(str(body.get("identity_code")))
    except InvalidIdentityCode:
        return
    remember_personal_data({"identity_code": body["identity_code"]})


async def retry_carried_out(nc: Client, issuer: Issuer, sent: list[Sent]) -> int:
    """Send every command that was carried out again under its Polku-Command-Id: the same body
    gets the first reply, another body of the same subject ``command_id_reused``. Only those of
    the configured roster's workers: a worker the fuzz added to the roster may have been removed
    by then, and who acts is established before the first reply is looked up."""
    done = [s for s in sent if s.command_id is not None and not refused(s) and s.worker in CONFIGURED]
    again = Fuzzer(nc, issuer)
    canonical: dict[int, bytes] = {}
    for s in done:
        spec = SPEC_BY_SUBJECT[s.subject]
        again.sent.append(Sent(s.subject, f"{s.case}, again", s.data, dict(s.headers), must_refuse=False))
        canonical[id(s)] = msgspec.json.encode(msgspec.json.decode(s.data, type=spec.request), order="sorted")
    for s in done:
        other = next((o for o in done if o.subject == s.subject and canonical[id(o)] != canonical[id(s)]), None)
        if other is not None:
            headers = {**other.headers, COMMAND_ID_HEADER: s.command_id or ""}
            again.add(SPEC_BY_SUBJECT[s.subject], f"{s.case}: another body under its id", other.data, headers,
                      must_refuse=True, expect={"command_id_reused"}, field=COMMAND_ID_HEADER)
    replies = await again.run()
    found = problems(replies)
    for first, retry in zip(done, replies, strict=False):
        if retry.reply != first.reply:
            found.append(f"{first.subject} [{first.case}]: retried, answered {retry.reply} after {first.reply}")
    assert not found, f"seed {SEED}: {len(found)} retries are wrong:\n" + "\n".join(found[:40])
    return len(replies)


# ------------------------------------------------------------------------------- the tests
async def test_the_schemas_cover_every_subject_and_the_codes_are_documented() -> None:
    subjects = {spec.subject for spec in SPECS}
    assert len(subjects) == len(SPECS) >= 40
    published = {
        str(c["address"]) for c in DOCUMENT["channels"].values()
        if str(c.get("address")).startswith(("polku.cmd.", "polku.qry."))
    }
    assert subjects == published
    assert DOCUMENTED_CODES == set(contracts.ERROR_CODES)
    for spec in SPECS:
        assert spec.request.__name__ in SCHEMAS, spec.subject


async def test_malformed_input_to_every_subject_is_refused_with_a_documented_code_and_stores_nothing(
    module_stack: Stack, module_nc: Client, issuer: Issuer
) -> None:
    anchor = await anchor_of(module_nc)
    fuzzer = Fuzzer(module_nc, issuer)
    for i, spec in enumerate(SPECS):
        body, rng = draw_bodies(spec, 1, salt=1000 + i)[0]
        valid = anchored(spec, body, rng, anchor)
        _remember(spec, valid)
        malformed_cases(fuzzer, spec, valid)
    before_streams = await settle(module_stack, module_nc)
    before_stores = store_counts(module_stack)
    assert all(before_stores[s] for s in ("intake", "casefile", "followup")), before_stores  # the anchor's
    started = time.monotonic()
    sent = await fuzzer.run()
    elapsed = time.monotonic() - started
    found = problems(sent)
    assert not found, f"seed {SEED}: {len(found)} of {len(sent)} replies are wrong:\n" + "\n".join(found[:60])
    assert all(refused(s) for s in sent)
    after_streams = await settle(module_stack, module_nc)
    assert {k: after_streams[k] for k in STREAMS} == {k: before_streams[k] for k in STREAMS}, f"seed {SEED}"
    assert store_counts(module_stack) == before_stores, f"seed {SEED}"
    codes = Counter(s.reply["error"]["code"] for s in sent)  # type: ignore[index]
    print(f"\nfuzz seed {SEED}: {len(sent)} malformed inputs to {len(SPECS)} subjects in {elapsed:.1f}s: {dict(codes)}")


async def test_bodies_drawn_from_each_schema_get_a_documented_answer_and_refused_commands_store_nothing(
    module_stack: Stack, module_nc: Client, issuer: Issuer
) -> None:
    anchors = await anchors_of(module_nc)
    fuzzer = Fuzzer(module_nc, issuer)
    for i, spec in enumerate(SPECS):
        anchor = anchors[spec.subject]
        for j, (body, rng) in enumerate(draw_bodies(spec, EXAMPLES, salt=i)):
            if rng.random() < 0.5:
                body = anchored(spec, body, rng, anchor)
            _remember(spec, body)
            data = json.dumps(body).encode()
            extreme = with_extreme(spec, body, rng) if rng.random() < 0.25 else None
            headers = fuzzer.headers(spec, body)
            if rng.random() < 0.1:  # odd, not wrong: a long correlation id, or none
                headers = fuzzer.headers(spec, body, correlation=rng.choice(["k" * 4000, None, "ääk ö", "-"]))
            fuzzer.add(spec, f"schema example {j}" + (" with an extreme number" if extreme else ""), extreme or data,
                       headers, must_refuse=False)
        body, rng = draw_bodies(spec, 1, salt=3000 + i)[0]
        body = anchored(spec, body, rng, anchor)
        for name in (n for n, node in properties(spec).items() if _types(node) & {"integer", "number"}):
            rest = json.dumps({k: v for k, v in body.items() if k != name})[1:]
            for number in EXTREME_NUMBERS:  # each extreme in each number field, the rest anchored
                data = b'{"' + name.encode() + b'": ' + number + (b", " + rest.encode() if rest != "}" else b"}")
                fuzzer.add(spec, f"{name}: {number[:24].decode()}", data, fuzzer.headers(spec, body), must_refuse=False)
        if spec.kind == "qry":
            fuzzer.add(spec, "an empty body", b"", fuzzer.headers(spec, {}), must_refuse=False)
            body, rng = draw_bodies(spec, 1, salt=2000 + i)[0]
            body = anchored(spec, body, rng, anchor)
            for case, token in garbage_tokens(issuer):
                # a query that names a worker is a read of client data: it needs the token
                fuzzer.add(spec, case, json.dumps(body).encode(), fuzzer.headers(spec, body, actor=token),
                           must_refuse=isinstance(body.get("actor"), dict))
        else:
            body, rng = draw_bodies(spec, 1, salt=2000 + i)[0]
            body = anchored(spec, body, rng, anchor)
            worker = body["actor"]["worker_id"] if isinstance(body.get("actor"), dict) else "sg-001"
            for case, token in odd_but_valid_tokens(issuer, worker):
                fuzzer.add(spec, case, json.dumps(body).encode(), fuzzer.headers(spec, body, actor=token), must_refuse=False)
    started = time.monotonic()
    sent = await fuzzer.run()
    elapsed = time.monotonic() - started
    found = problems(sent)
    assert not found, f"seed {SEED}: {len(found)} of {len(sent)} replies are wrong:\n" + "\n".join(found[:60])
    await settle(module_stack, module_nc)
    # a command's idempotency record is stored exactly when it was carried out
    carried_out = 0
    records_after = {service: command_records(module_stack, service) for service in SERVICES}
    for service in SERVICES:
        records = records_after[service]
        for s in sent:
            if s.service != service or s.command_id is None:
                continue
            stored = str(CommandRecord.id_for(s.command_id)) in records
            carried_out += stored
            assert stored == (not refused(s)), f"seed {SEED}: {s.subject} [{s.case}] {s.reply}: stored {stored}"
    retried = await retry_carried_out(module_nc, issuer, sent)
    assert {service: command_records(module_stack, service) for service in SERVICES} == records_after, (
        f"seed {SEED}: a retry stored a command again"
    )
    outcomes = Counter("ok" if not refused(s) else s.reply["error"]["code"] for s in sent)  # type: ignore[index]
    reached = {s.subject for s in sent if not refused(s) or s.reply["error"]["code"] not in {  # type: ignore[index]
        "malformed_json", "missing_field", "wrong_type", "unknown_value", "invalid_value", "unknown_field",
        "unauthenticated", "unknown_worker"}}
    unreached = sorted({spec.subject for spec in SPECS} - reached)
    print(f"\nfuzz seed {SEED}: {len(sent)} schema-drawn bodies ({EXAMPLES} a subject) in {elapsed:.1f}s; "
          f"{len(reached)} of {len(SPECS)} subjects reached their rules (not: {unreached}); {carried_out} "
          f"commands carried out, {retried} retried: {dict(outcomes)}")
    assert carried_out, "no schema-drawn command was carried out: the record check checked nothing"
    # the anchoring works: most subjects get past decoding and authentication to their rules
    assert len(reached) >= len(SPECS) // 2, unreached
