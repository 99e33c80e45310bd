"""NATS's own security, against the real nats-server with the configuration Polku generates:
TLS only, no anonymous clients, and each user held to its allow-lists by the server itself."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from polku import nats_auth
from polku.natsserver import EmbeddedNats





async def _connect(url: str, var: Path, user: str | None, *, errors: list[str], tls: bool = True) -> Any:
    options = nats_auth.credentials(user, var).nats_options()
    if not tls:
        options.pop("tls", None)

    async def error_cb(e: Exception) -> None:
        errors.append(str(e).lower())

    return await nats.connect(
        url, name="polku-security-test", allow_reconnect=False, connect_timeout=2, error_cb=error_cb, **options
    )


async def _refused(nc: Any, errors: list[str]) -> bool:
    """Whether the server reported a permissions violation (it does so asynchronously)."""
    for _ in range(40):
        try:
            await nc.flush(timeout=1)
        except Exception:  # noqa: BLE001 - the connection may be going away
            pass
        if any("permissions violation" in e for e in errors):
            return True
        await asyncio.sleep(0.05)
    return False


def test_secrets_are_private_files(secure: tuple[EmbeddedNats, Path]) -> None:
    _, var = secure
    secrets = nats_auth.Secrets(var / "nats-auth")
    for path in (secrets.users_file, secrets.server_key, secrets.jetstream_key, secrets.dir / "ca.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert set(secrets.passwords()) == set(nats_auth.USERS)
    assert "chachapoly" in (secrets.dir / "nats-server.conf").read_text()


async def test_no_credentials_refused(secure: tuple[EmbeddedNats, Path]) -> None:
    server, var = secure
    with pytest.raises(Exception, match="(?i)authorization"):
        await _connect(server.url, var, None, errors=[])


async def test_wrong_password_refused(secure: tuple[EmbeddedNats, Path]) -> None:
    server, var = secure
    options = nats_auth.credentials("integrator", var).nats_options()
    options["password"] = "not-the-password"
    with pytest.raises(Exception, match="(?i)authorization"):
        await nats.connect(server.url, allow_reconnect=False, connect_timeout=2, **options)


async def test_plain_tcp_refused(secure: tuple[EmbeddedNats, Path]) -> None:
    """A client that speaks the protocol in the clear, with the right password, is turned away."""
    server, var = secure
    password = nats_auth.Secrets(var / "nats-auth").passwords()["integrator"]
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        info = await reader.readline()
        assert b'"tls_required":true' in info
        writer.write(
            b'CONNECT {"verbose":false,"user":"integrator","pass":"' + password.encode() + b'"}\r\nPING\r\n'
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(200), 5)
        assert b"PONG" not in answer, answer  # an -ERR, or the server simply hangs up
    finally:
        writer.close()


async def test_a_server_the_ca_did_not_sign_is_not_believed(secure: tuple[EmbeddedNats, Path], tmp_path: Path) -> None:
    server, var = secure
    other = nats_auth.ensure(tmp_path)  # another CA
    options = nats_auth.credentials("integrator", var).nats_options()
    options["tls"] = nats_auth.tls_context(other.ca)
    with pytest.raises(Exception, match="(?i)certificate"):
        await nats.connect(server.url, allow_reconnect=False, connect_timeout=2, **options)


@pytest.mark.parametrize(
    "attempt",
    ["subscribe_commands", "join_queue_group", "publish_intake", "publish_casefile", "delete_stream", "subscribe_other_inbox"],
)
async def test_integrator_refused(secure: tuple[EmbeddedNats, Path], attempt: str) -> None:
    server, var = secure
    errors: list[str] = []
    nc = await _connect(server.url, var, "integrator", errors=errors)
    try:
        if attempt == "subscribe_commands":
            await nc.subscribe("polku.cmd.>")
        elif attempt == "join_queue_group":
            await nc.subscribe("polku.cmd.intake.receive_referral", queue="intake")
        elif attempt == "publish_intake":
            await nc.publish("polku.intake.referral_received.v1", b"{}")
        elif attempt == "publish_casefile":
            await nc.publish("polku.casefile.own_worker_named.v1", b"{}")
        elif attempt == "subscribe_other_inbox":
            await nc.subscribe("_INBOX_intake.>")
        else:
            with pytest.raises(Exception):  # noqa: B017 - no answer: the request never reached JetStream
                await nc.jetstream(timeout=1).delete_stream("INTAKE")
        assert await _refused(nc, errors), errors
    finally:
        await nc.close()
    if attempt == "delete_stream":
        op = await _connect(server.url, var, "operator", errors=[])
        try:
            assert (await op.jetstream().stream_info("INTAKE")).config.name == "INTAKE"
        finally:
            await op.close()


async def test_integrator_reads_event_streams_and_sends_commands(secure: tuple[EmbeddedNats, Path]) -> None:
    server, var = secure
    errors: list[str] = []
    nc = await _connect(server.url, var, "integrator", errors=errors)
    try:
        js = nc.jetstream(timeout=2)
        for stream in ("INTAKE", "CASEFILE", "AUDIT", "REPORTING"):
            sub = await js.pull_subscribe(
                "", stream=stream,
                config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=5.0),
            )
            await sub.unsubscribe()
        await nc.publish("polku.cmd.intake.receive_referral", b"{}")  # no service here: nobody answers
        await nc.flush()
        assert not any("permissions violation" in e for e in errors), errors
    finally:
        await nc.close()


@pytest.mark.parametrize("stream", ["INTAKE", "CASEFILE", "AUDIT"])
async def test_reporting_consumer_cannot_read_client_streams(secure: tuple[EmbeddedNats, Path], stream: str) -> None:
    server, var = secure
    errors: list[str] = []
    nc = await _connect(server.url, var, "reporting-consumer", errors=errors)
    try:
        for durable in ("statistics", None):  # neither a durable consumer of its own nor an ephemeral one
            with pytest.raises(Exception):  # noqa: B017 - refused: no answer from JetStream
                await nc.jetstream(timeout=1).pull_subscribe(
                    "", durable=durable, stream=stream,
                    config=ConsumerConfig(ack_policy=AckPolicy.NONE, inactive_threshold=5.0),
                )
        assert await _refused(nc, errors), errors
    finally:
        await nc.close()


async def test_reporting_consumer_reads_reporting(secure: tuple[EmbeddedNats, Path]) -> None:
    server, var = secure
    op = await _connect(server.url, var, "operator", errors=[])
    await op.jetstream().publish("polku.reporting.snapshot.v1", b'{"n": 1}')
    await op.close()
    errors: list[str] = []
    nc = await _connect(server.url, var, "reporting-consumer", errors=errors)
    try:
        sub = await nc.jetstream(timeout=2).pull_subscribe(
            "", stream="REPORTING",
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=5.0),
        )
        msgs = await sub.fetch(1, timeout=2)
        assert msgs[0].data == b'{"n": 1}'
        await sub.unsubscribe()
        assert not any("permissions violation" in e for e in errors), errors
    finally:
        await nc.close()


async def test_a_service_answers_only_in_its_queue_group(secure: tuple[EmbeddedNats, Path]) -> None:
    server, var = secure
    errors: list[str] = []
    nc = await _connect(server.url, var, "casefile", errors=errors)
    try:
        await nc.subscribe("polku.cmd.casefile.>", queue="casefile")
        await nc.flush()
        assert not errors
        await nc.subscribe("polku.cmd.intake.receive_referral", queue="intake")
        assert await _refused(nc, errors)
    finally:
        await nc.close()


async def test_only_the_operator_changes_streams(secure: tuple[EmbeddedNats, Path]) -> None:
    server, var = secure
    for user in ("intake", "casefile", "followup", "reporting", "integrator", "reporting-consumer"):
        errors: list[str] = []
        nc = await _connect(server.url, var, user, errors=errors)
        try:
            with pytest.raises(Exception):  # noqa: B017
                await nc.jetstream(timeout=0.5).delete_stream("DLQ")
            assert await _refused(nc, errors), (user, errors)
        finally:
            await nc.close()
    op = await _connect(server.url, var, "operator", errors=[])
    try:
        info = await op.jetstream().stream_info("DLQ")
        assert info.config.max_age and info.config.max_age >= 86400
    finally:
        await op.close()


def test_production_users_are_the_embedded_ones() -> None:
    """deploy/nats/auth.conf is generated from the same permissions (and holds no password)."""
    committed = (Path(__file__).parents[2] / "deploy" / "nats" / "auth.conf").read_text()
    assert committed == nats_auth.production_authorization()
    for user in nats_auth.USERS:
        assert f"password: ${nats_auth.password_variable(user)}" in committed


def test_only_the_operator_may_touch_stream_management() -> None:
    for user in nats_auth.USERS:
        allowed = nats_auth.permissions(user)["publish"]["allow"]
        if user == "operator":
            assert allowed == [">"]
            continue
        assert not any(s in (">", "$JS.>", "$JS.API.>", "$JS.API.STREAM.>") for s in allowed), user
        for op in ("CREATE", "UPDATE", "DELETE", "PURGE", "MSG.DELETE"):
            assert not any(s.startswith(f"$JS.API.STREAM.{op}") for s in allowed), (user, op)


async def test_a_service_sends_its_dead_letters_only_under_its_own_consumers(secure: tuple[EmbeddedNats, Path]) -> None:
    server, var = secure
    errors: list[str] = []
    nc = await _connect(server.url, var, "casefile", errors=errors)
    try:
        ack = await nc.jetstream(timeout=2).publish("polku.dlq.casefile-intake", b"dead")
        assert ack.stream == "DLQ"
        assert not errors
        await nc.publish("polku.dlq.reporting-casefile", b"forged")
        assert await _refused(nc, errors)
    finally:
        await nc.close()


def test_each_service_connects_as_its_own_user_over_tls(stack: Any) -> None:
    """The running stack: every connection of a service is its own NATS user, over TLS."""
    import json
    import urllib.request

    assert stack.nats is not None
    url = f"http://127.0.0.1:{stack.nats.monitor_port}/connz?auth=true&subs=true"
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - localhost
        connections = json.loads(resp.read())["connections"]
    seen: dict[str, set[str]] = {}
    for c in connections:
        name = c.get("name", "")
        assert c.get("tls_version"), c  # no connection in the clear
        assert c.get("authorized_user"), c  # nobody anonymous
        for service in stack.services:
            if name in (f"polku-{service}", f"polku-{service}-commands"):
                seen.setdefault(service, set()).add(c["authorized_user"])
    assert seen == {s: {s} for s in stack.services}
