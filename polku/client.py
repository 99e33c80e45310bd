"""A small client of Polku's published API: commands and queries, request/reply over NATS.

::

    client = await Client.connect("nats://127.0.0.1:14222")
    try:
        reply = await client.command("intake.receive_referral", body, command_id="cis-7:ref:000123")
    except Refusal as e:
        print(e.code, e.field)          # a typed refusal: nothing was stored
    status = await client.query("intake.referral_status", {"referral_id": rid}, reply_type=ReferralStatusReply)

Every command, and every query that names a worker, carries ``Polku-Actor``: a signed token
(JWT, ``sub`` the worker id) for the worker the client system acts for. In production the client
system's identity provider signs it; pass it as ``actor_token=``. A client made with an
:class:`~polku.actor.Issuer` (the demo's, ``Issuer.from_var("var")``) signs itself, for
``as_worker=``, else for the body's ``actor.worker_id``, else for its ``default_worker`` (an
e-service's referral: the service guidance worker on duty).

Every command carries ``Polku-Command-Id`` (its idempotency key: give your own when you may
retry, so that the retry returns the first answer; one is generated when not given) and every
request carries ``Polku-Correlation-Id`` (generated when not given), which the service binds to
every log line of its handling. The ok reply comes back as a dict, or decoded into
``reply_type`` (a contract reply such as ``ReferralRoutedReply``); a refusal
(``{"ok": false, "error": {...}}``) is raised as :class:`Refusal`.

This module speaks only the published language (``contracts``) over NATS: it knows no
service's insides, and the demo, the benchmarks and the tests use it as a client system would.
"""

from __future__ import annotations

import uuid
import weakref
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, overload

import msgspec
from nats.aio.client import Client as Nats

import contracts
from contracts.base import ACTOR_HEADER, COMMAND_ID_HEADER, Error
from contracts.reporting import IndicatorsQuery, IndicatorsReply, OpenRelationshipsReply
from polku import tracing
from polku.actor import Issuer  # re-exported: a client system signs with it
from polku.bus import connect, stream_counts

T = TypeVar("T")

COMMAND_PREFIX = "polku.cmd."
QUERY_PREFIX = "polku.qry."
OPEN_RELATIONSHIPS = "polku.qry.reporting.open_relationships"
INDICATORS = "polku.qry.reporting.indicators"

Body = dict[str, Any] | msgspec.Struct | bytes | None


class Refusal(Exception):
    """Polku refused a command or query: a stable ``code`` to branch on, a ``message`` for
    people and the offending ``field`` (``source.kind``), if any. Nothing was stored."""

    def __init__(
        self, subject: str, code: str, message: str, field: str | None = None, *, reply: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{subject} refused: {code}" + (f" ({field})" if field else "") + f": {message}")
        self.subject = subject
        self.code = code
        self.message = message
        self.field = field
        self._reply = reply

    @property
    def error(self) -> Error:
        return Error(code=self.code, message=self.message, field=self.field)

    @property
    def reply(self) -> dict[str, Any]:
        """The refusal as it came on the wire: ``{"ok": false, "error": {...}}``."""
        if self._reply is not None:
            return self._reply
        return {"ok": False, "error": {"code": self.code, "message": self.message, "field": self.field}}


class _Envelope(msgspec.Struct):
    """Just enough of any reply to tell ok from refused (other fields are ignored)."""

    ok: bool = True
    error: Error | None = None


_envelope = msgspec.json.Decoder(_Envelope)
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_encoder = msgspec.json.Encoder()


def _decoder(reply_type: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(reply_type)
    if decoder is None:
        decoder = _decoders[reply_type] = msgspec.json.Decoder(reply_type)
    return decoder


def subject_for(subject_or_name: str, prefix: str) -> str:
    """``intake.receive_referral`` → ``polku.cmd.intake.receive_referral``; a whole subject
    (``polku.…``) is kept as it is."""
    return subject_or_name if subject_or_name.startswith("polku.") else prefix + subject_or_name


def new_id() -> str:
    return str(uuid.uuid4())


class Client:
    """Commands and queries over an open NATS connection (``nc``, nats-py)."""

    def __init__(
        self, nc: Nats, *, timeout: float = 10.0, issuer: Issuer | None = None, default_worker: str | None = None
    ) -> None:
        """``issuer`` signs the ``Polku-Actor`` tokens (else the one bound to ``nc`` with
        :func:`bind_issuer`, if any); ``default_worker`` is signed for when a command names no worker."""
        self.nc = nc
        self.timeout = timeout
        bound = _issuers.get(id(nc))
        self.issuer = issuer or (bound[0] if bound else None)
        self.default_worker = default_worker or (bound[1] if bound else None)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str = "polku-client",
        user: str = "integrator",
        var_dir: Path | None = None,
        wait: float = 30.0,
        timeout: float = 10.0,
        issuer: Issuer | None = None,
        default_worker: str | None = None,
    ) -> Client:
        """Connect to Polku's NATS (``url`` may list a cluster's servers, comma separated)."""
        nc = await connect(url, name=name, user=user, var_dir=var_dir, wait=wait)
        return cls(nc, timeout=timeout, issuer=issuer, default_worker=default_worker)

    def _actor_header(self, headers: dict[str, str], body: Body, as_worker: str | None, token: str | None) -> None:
        if token is None and self.issuer is not None:
            worker = as_worker or _body_worker(body) or self.default_worker
            if worker is not None:
                token = self.issuer.token(worker)
        if token is not None:
            headers[ACTOR_HEADER] = token
        # the caller's trace, if it is in one: the command's handling and all that follows
        # from it join it (polku/tracing.py)
        if (traceparent := tracing.current_traceparent()) is not None:
            headers[contracts.H_TRACEPARENT] = traceparent

    async def close(self) -> None:
        """Let what is in flight finish, then close the connection."""
        await self.nc.drain()

    # ---------------------------------------------------------------- commands and queries
    @overload
    async def command(
        self, subject_or_name: str, body: Body, command_id: str | None = ..., *, reply_type: None = ...,
        correlation_id: str | None = ..., timeout: float | None = ...,
    ) -> dict[str, Any]: ...

    @overload
    async def command(
        self, subject_or_name: str, body: Body, command_id: str | None = ..., *, reply_type: type[T],
        correlation_id: str | None = ..., timeout: float | None = ...,
    ) -> T: ...

    async def command(
        self,
        subject_or_name: str,
        body: Body,
        command_id: str | None = None,
        *,
        reply_type: Any = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
        as_worker: str | None = None,
        actor_token: str | None = None,
    ) -> Any:
        """Send a command (``polku.cmd.<service>.<command>``, or ``<service>.<command>``) and
        return its ok reply; raise :class:`Refusal` when it is refused."""
        headers = {
            COMMAND_ID_HEADER: command_id or new_id(),
            contracts.H_CORRELATION: correlation_id or new_id(),
        }
        self._actor_header(headers, body, as_worker, actor_token)
        return await self._request(subject_for(subject_or_name, COMMAND_PREFIX), body, headers, reply_type, timeout)

    @overload
    async def query(
        self, subject_or_name: str, body: Body = ..., *, reply_type: None = ...,
        correlation_id: str | None = ..., timeout: float | None = ...,
    ) -> dict[str, Any]: ...

    @overload
    async def query(
        self, subject_or_name: str, body: Body = ..., *, reply_type: type[T],
        correlation_id: str | None = ..., timeout: float | None = ...,
    ) -> T: ...

    async def query(
        self,
        subject_or_name: str,
        body: Body = None,
        *,
        reply_type: Any = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
        as_worker: str | None = None,
        actor_token: str | None = None,
    ) -> Any:
        """Ask a query (``polku.qry.<service>.<query>``, or ``<service>.<query>``); no command
        id, nothing is stored. Raise :class:`Refusal` when it is refused (``forbidden``...)."""
        headers = {contracts.H_CORRELATION: correlation_id or new_id()}
        # A read of client data is logged with the worker who read: sign as for a command (a
        # query that names no worker and is not logged ignores the token).
        self._actor_header(headers, body, as_worker, actor_token)
        return await self._request(subject_for(subject_or_name, QUERY_PREFIX), body, headers, reply_type, timeout)

    async def _request(
        self, subject: str, body: Body, headers: dict[str, str], reply_type: Any, timeout: float | None
    ) -> Any:
        if body is None:
            data = b"{}"
        elif isinstance(body, bytes):
            data = body  # already JSON (or what a broken client system would send)
        else:
            data = _encoder.encode(body)
        msg = await self.nc.request(subject, data, timeout=timeout or self.timeout, headers=headers)
        return decode_reply(subject, msg.data, reply_type)

    # ------------------------------------------------------------------- what operations read
    async def open_relationships(self, team: str | None = None, *, timeout: float | None = None) -> OpenRelationshipsReply:
        """Reporting's open relationships per own worker."""
        return await self.query(
            OPEN_RELATIONSHIPS, {"team": team} if team else None, reply_type=OpenRelationshipsReply, timeout=timeout
        )

    async def indicators(
        self,
        team: str | None = None,
        period_from: date | None = None,
        period_to: date | None = None,
        names: list[str] | None = None,
        *,
        timeout: float | None = None,
    ) -> IndicatorsReply:
        """Reporting's indicators for a team (or all) and a period (see ``IndicatorsQuery``)."""
        q = IndicatorsQuery(team=team, period_from=period_from, period_to=period_to, names=names or [])
        return await self.query(INDICATORS, q, reply_type=IndicatorsReply, timeout=timeout)

    async def health(self, service: str, *, timeout: float = 2.0) -> dict[str, Any]:
        """A running service's answer on ``polku.ctl.<service>.health``: ``{"ok", "service", "pid"}``,
        and ``relay`` (``position``, ``lag``: events stored and not yet published, ``failing_for_s``)
        and ``consumers`` (per durable consumer: ``position``, ``lag`` behind its stream's last
        message, ``dead_lettered`` since start). ``ok`` is False while it turns commands away."""
        return await self.query(f"polku.ctl.{service}.health", b"", timeout=timeout)

    async def stream_counts(self) -> dict[str, int]:
        """Messages in each stream of the published language (a missing stream counts 0)."""
        return await stream_counts(self.nc.jetstream())


#: issuers bound to connections (``id(nc)`` → issuer, default worker; dropped when nc is collected)
_issuers: dict[int, tuple[Issuer, str | None]] = {}


def bind_issuer(nc: Nats, issuer: Issuer, default_worker: str | None = None) -> None:
    """Make every :class:`Client` over ``nc`` sign with ``issuer`` (the demo's and the tests'
    connections: helpers that take a bare connection sign as the client system would)."""
    key = id(nc)
    _issuers[key] = (issuer, default_worker)
    weakref.finalize(nc, _issuers.pop, key, None)


def _body_worker(body: Body) -> str | None:
    """The ``actor.worker_id`` of a body (a dict, a struct or JSON bytes), if any."""
    if body is None:
        return None
    actor: Any
    if isinstance(body, bytes):
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return None
        actor = decoded.get("actor") if isinstance(decoded, dict) else None
    elif isinstance(body, dict):
        actor = body.get("actor")
    else:
        actor = getattr(body, "actor", None)
    if isinstance(actor, dict):
        worker = actor.get("worker_id")
    else:
        worker = getattr(actor, "worker_id", None)
    return worker if isinstance(worker, str) and worker else None


def as_client(client_or_nc: Client | Nats) -> Client:
    """A :class:`Client` over a NATS connection, or the client itself."""
    return client_or_nc if isinstance(client_or_nc, Client) else Client(client_or_nc)


def decode_reply(subject: str, data: bytes, reply_type: Any = None) -> Any:
    """The ok reply (a dict, or ``reply_type``); :class:`Refusal` for ``{"ok": false, ...}``."""
    if reply_type is None:
        reply = msgspec.json.decode(data)
        if isinstance(reply, dict) and reply.get("ok") is False:
            error = reply.get("error") or {}
            raise Refusal(
                subject, str(error.get("code")), str(error.get("message", "")), error.get("field"), reply=reply
            )
        return reply
    envelope = _envelope.decode(data)
    if not envelope.ok:
        error = envelope.error or Error(code="refused", message="refused without an error")
        raise Refusal(subject, error.code, error.message, error.field)
    return _decoder(reply_type).decode(data)


def caseload_lines(reply: OpenRelationshipsReply) -> list[str]:
    """Reporting's open relationships per own worker, a line each, then the totals (the demo's
    summary and ``polku status`` print the same lines)."""
    return [
        *(f"  {w.worker_id:<10} {w.role or '':<18} {w.team or '':<12} {w.open_relationships:>6}" for w in reply.workers),
        f"  {'total':<42} {reply.total:>6}",
        f"  {'without an own worker':<42} {reply.without_own_worker:>6}",
    ]
