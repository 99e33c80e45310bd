"""NATS's own security: users with permissions, TLS, JetStream encryption at rest.

``polku up`` (and the tests' and the bench's servers) generate everything under
``var/nats-auth/`` on first use, files mode 0600, nothing for anyone to do:

- ``ca.pem``/``ca.key``: a local CA; ``server.pem``/``server.key``: the server's certificate
  (SAN 127.0.0.1, localhost) signed by it. Every client verifies the server against ``ca.pem``.
- ``users.json``: one random password per user (:data:`USERS`).
- ``jetstream.key``: the key of JetStream's encryption at rest (chachapoly).

The permissions are NATS's own (``authorization { users [...] }`` in the server's config): who
may publish and subscribe what, JetStream API calls included. Production uses the same
permissions (``deploy/nats/nats.conf``) with passwords and certificates from files or the
environment: a client reads ``POLKU_NATS_USER`` / ``POLKU_NATS_PASSWORD`` (or
``POLKU_NATS_PASSWORD_FILE``) and ``POLKU_NATS_CA`` before it looks in ``var/``.

Each user has its own inbox prefix (``_INBOX_<user>``): replies to one user cannot be read by
another.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polku.natsserver import Cluster

#: the services' users; each consumes exactly these streams (their ConsumerSpec sources)
SERVICE_CONSUMES: dict[str, tuple[str, ...]] = {
    "intake": ("CASEFILE",),
    "casefile": ("INTAKE", "FOLLOWUP"),
    "reporting": ("INTAKE", "CASEFILE", "FOLLOWUP"),
    "followup": ("INTAKE", "CASEFILE"),
}
SERVICE_STREAM = {"intake": "INTAKE", "casefile": "CASEFILE", "reporting": "REPORTING", "followup": "FOLLOWUP"}
#: what client information systems read
INTEGRATOR_READS = ("INTAKE", "CASEFILE", "FOLLOWUP", "AUDIT", "REPORTING")
USERS = (*SERVICE_CONSUMES, "integrator", "reporting-consumer", "operator")

#: the stored user of each kind of client
OPERATOR = "operator"
INTEGRATOR = "integrator"


def inbox_prefix(user: str) -> str:
    return f"_INBOX_{user}"


def _api(*calls: str) -> list[str]:
    return [f"$JS.API.{c}" for c in calls]


def _read_stream(stream: str, consumer: str) -> list[str]:
    """Reading ``stream`` through consumers named ``consumer`` (a name or ``*``)."""
    return [
        *_api(
            f"STREAM.INFO.{stream}",
            f"CONSUMER.CREATE.{stream}" if consumer == "*" else f"CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
            f"CONSUMER.CREATE.{stream}.{consumer}",
            f"CONSUMER.CREATE.{stream}.{consumer}.>",
            f"CONSUMER.INFO.{stream}.{consumer}",
            f"CONSUMER.DELETE.{stream}.{consumer}",
            f"CONSUMER.MSG.NEXT.{stream}.{consumer}",
        ),
        f"$JS.ACK.{stream}.{consumer}.>",
    ]


def permissions(user: str) -> dict[str, Any]:
    """NATS permissions of ``user``: ``publish``/``subscribe`` allow-lists (deny everything else)."""
    inbox = inbox_prefix(user) + ".>"
    if user == OPERATOR:
        # status, rebuild, republish, stream management: everything
        return {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    if user in SERVICE_CONSUMES:
        own = SERVICE_STREAM[user]
        # its events, and the audit events of the reads and disclosures of the data it holds
        # STREAM.INFO and the last message of its own stream: the relay checks at start what it holds
        pub = [f"polku.{user}.>", "polku.audit.>", "$JS.API.INFO", f"$JS.API.STREAM.INFO.{own}", f"$JS.API.STREAM.MSG.GET.{own}"]
        sub = [inbox, f"polku.ctl.{user}.>"]
        for stream in SERVICE_CONSUMES[user]:
            consumer = f"{user}-{stream.lower()}"  # polku/consumer.py's durable name
            # (a NATS wildcard is a whole token: "intake-*" would match nothing)
            # and its messages by sequence: a consumer checks its cursor against the stream
            pub += [*_read_stream(stream, consumer), f"$JS.API.STREAM.MSG.GET.{stream}", f"polku.dlq.{consumer}"]
        return {
            "publish": {"allow": sorted(set(pub))},
            # commands and queries only in the service's queue group (NATS: "subject queue")
            "subscribe": {"allow": [*sub, f"polku.cmd.{user}.> {user}", f"polku.qry.{user}.> {user}"]},
            # the replies to the commands it receives, and nothing else of anyone's inbox
            "allow_responses": {"max": 1, "expires": "5m"},
        }
    if user == INTEGRATOR:
        # STREAM.INFO of every stream: counts and configuration, no message (the DLQ's included)
        pub = ["polku.cmd.>", "polku.qry.>", "$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.INFO.*"]
        for stream in INTEGRATOR_READS:
            pub += _read_stream(stream, "*")
        return {
            "publish": {"allow": pub},
            # the events themselves too: the same it may read from the streams
            "subscribe": {"allow": [inbox, *(f"polku.{s.lower()}.>" for s in INTEGRATOR_READS)]},
        }
    if user == "reporting-consumer":
        return {
            "publish": {"allow": ["$JS.API.INFO", *_read_stream("REPORTING", "*")]},
            "subscribe": {"allow": [inbox]},
        }
    raise KeyError(f"no such NATS user: {user}")


# ----------------------------------------------------------------------------- files


def _write_secret(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class Secrets:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    @property
    def users_file(self) -> Path:
        return self.dir / "users.json"

    @property
    def jetstream_key(self) -> Path:
        return self.dir / "jetstream.key"

    def passwords(self) -> dict[str, str]:
        return json.loads(self.users_file.read_text())

    def config(self, store_dir: Path, *, sync_always: bool = True, cluster: Cluster | None = None) -> str:
        """The server's configuration (ports and addresses come from the command line);
        ``cluster``: the node's cluster and routes."""
        users = []
        for user, password in sorted(self.passwords().items()):
            users.append({"user": user, "password": password, "permissions": permissions(user)})
        conf = {
            "jetstream": {
                "store_dir": str(store_dir),
                "cipher": "chachapoly",
                "key": self.jetstream_key.read_text().strip(),
                # fsync every write before acknowledging it: an acknowledged event survives a
                # power cut (the default syncs every two minutes)
                **({"sync_interval": "always"} if sync_always else {}),
            },
            "tls": {
                "cert_file": str(self.server_cert),
                "key_file": str(self.server_key),
                "ca_file": str(self.ca),
                "verify": False,
                "timeout": 5,
            },
            "authorization": {"users": users},
            **({"cluster": cluster.config()} if cluster is not None else {}),
        }
        # the NATS config format accepts JSON
        return json.dumps(conf, indent=2)


def ensure(var_dir: Path) -> Secrets:
    """The secrets under ``var_dir/nats-auth``, generated what is missing. Idempotent."""
    s = Secrets(Path(var_dir) / "nats-auth")
    s.dir.mkdir(parents=True, exist_ok=True)
    os.chmod(s.dir, 0o700)
    if not (s.ca.exists() and s.server_cert.exists() and s.server_key.exists()):
        _make_certificates(s)
    passwords = s.passwords() if s.users_file.exists() else {}
    if set(USERS) - set(passwords):
        for user in USERS:
            passwords.setdefault(user, secrets.token_urlsafe(32))
        _write_secret(s.users_file, json.dumps(passwords, indent=2).encode())
    if not s.jetstream_key.exists():
        _write_secret(s.jetstream_key, secrets.token_hex(32).encode())
    return s


def _make_certificates(s: Secrets) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Polku local NATS CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    _write_secret(s.dir / "ca.key", ca_key.private_bytes(pem, pkcs8, none))
    _write_secret(s.ca, ca.public_bytes(pem))
    _write_secret(s.server_key, key.private_bytes(pem, pkcs8, none))
    _write_secret(s.server_cert, cert.public_bytes(pem))


# ---------------------------------------------------------------------------- clients


def tls_context(ca: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@dataclass(frozen=True)
class Credentials:
    user: str | None
    password: str | None
    ca: Path | None

    def nats_options(self) -> dict[str, Any]:
        """Keyword arguments of ``nats.connect`` for these credentials."""
        options: dict[str, Any] = {}
        if self.user:
            options["user"] = self.user
            options["password"] = self.password
            options["inbox_prefix"] = inbox_prefix(self.user)
        if self.ca is not None:
            options["tls"] = tls_context(self.ca)
        return options


def credentials(user: str | None, var_dir: Path | None = None) -> Credentials:
    """The credentials of ``user``: from the environment (production), else from ``var/``.

    ``POLKU_NATS_USER`` overrides the user; ``POLKU_NATS_PASSWORD`` / ``POLKU_NATS_PASSWORD_FILE``
    its password; ``POLKU_NATS_CA`` the CA that signs the server's certificate.
    """
    if var_dir is None:
        var_dir = Path(os.environ.get("POLKU_VAR_DIR", "var")).absolute()
    s = Secrets(Path(var_dir) / "nats-auth")
    user = os.environ.get("POLKU_NATS_USER") or user
    password = os.environ.get("POLKU_NATS_PASSWORD")
    password_file = os.environ.get("POLKU_NATS_PASSWORD_FILE")
    if password is None and password_file:
        password = Path(password_file).read_text().strip()
    if password is None and user and s.users_file.exists():
        password = s.passwords().get(user)
    ca_env = os.environ.get("POLKU_NATS_CA")
    ca = Path(ca_env) if ca_env else (s.ca if s.ca.exists() else None)
    return Credentials(user if password else None, password, ca)


# ------------------------------------------------------------------------- production


def password_variable(user: str) -> str:
    """The environment variable that holds ``user``'s password in production's nats.conf."""
    return "POLKU_NATS_PASSWORD_" + user.upper().replace("-", "_")


def production_authorization() -> str:
    """``deploy/nats/auth.conf``: the same users and permissions as the embedded server's, the
    passwords from the nats containers' environment (a bcrypt hash from ``nats server passwd``
    or the password itself), never in the file. A test keeps the committed file equal to this."""
    lines = [
        "# Generated from polku/nats_auth.py (python -c 'from polku.nats_auth import "
        "production_authorization as p; print(p(), end=\"\")' > deploy/nats/auth.conf).",
        "# Passwords come from the environment of the nats containers; nothing secret is in this file.",
        "authorization {",
        "  users: [",
    ]
    for user in USERS:
        perms = json.dumps(permissions(user), indent=2).replace("\n", "\n      ")
        lines += [
            "    {",
            f'      user: "{user}"',
            f"      password: ${password_variable(user)}",
            f"      permissions: {perms}",
            "    }",
        ]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)
