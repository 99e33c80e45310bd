"""A service's HTTP endpoints for operations: ``/metrics``, ``/healthz`` and ``/readyz``.

A small HTTP/1.1 server on asyncio's streams, in the service's own event loop, rather than
prometheus_client's threaded server or an ASGI app under uvicorn:

- it starts before the service opens its store, so ``/readyz`` says "not ready" while the
  service replays its history, and a probe never finds the port closed;
- the handlers read the relay's and the consumers' state in the loop that changes it, and
  ask JetStream for the streams' ends with the service's own connection (no thread, no lock);
- three GET routes need no framework and no ASGI server as a dependency. Each request gets one
  reply and the connection closes, as Prometheus and orchestrators' probes expect.

``polku serve`` writes the URL it listens on to ``var/run/<service>.http`` (the port may be a
free one: ``POLKU_HTTP_PORT=0``), where ``polku up``, ``polku status`` and the tests find it.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from polku.log import get_logger

log = get_logger("polku.endpoints")

#: a route answers (status, content type, body)
Reply = tuple[int, str, bytes]
Route = Callable[[], Awaitable[Reply]]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}
JSON = "application/json"


def json_reply(status: int, body: Mapping[str, Any]) -> Reply:
    return status, JSON, json.dumps(body).encode()


class Endpoints:
    """The server: ``routes`` by path; started with :meth:`start`, ended with :meth:`close`."""

    def __init__(self, routes: Mapping[str, Route], *, host: str, port: int, url_file: Path | None = None) -> None:
        self.routes = dict(routes)
        self.host = host
        self.port = port
        self.url_file = url_file
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen; return the URL (with the port given, when it was 0) and write it to ``url_file``."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        port = self._server.sockets[0].getsockname()[1]
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        self.url = f"http://{host}:{port}"
        if self.url_file is not None:
            self.url_file.parent.mkdir(parents=True, exist_ok=True)
            self.url_file.write_text(self.url + "\n")
        log.info("http_endpoints_started", url=self.url, paths=sorted(self.routes))
        return self.url

    async def close(self) -> None:
        if self.url_file is not None and self.url_file.exists() and self.url_file.read_text().strip() == self.url:
            self.url_file.unlink(missing_ok=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method = "GET"
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
                status, ctype, body = 400, "text/plain", b"bad request\n"
            else:
                route = self.routes.get(target.split("?", 1)[0])
                if route is None:
                    status, ctype, body = 404, "text/plain", b"not found\n"
                elif method not in ("GET", "HEAD"):
                    status, ctype, body = 405, "text/plain", b"GET only\n"
                else:
                    try:
                        status, ctype, body = await route()
                    except Exception as e:  # noqa: BLE001 - said in the reply and the log, never raised
                        log.error("http_endpoint_failed", path=target.split("?", 1)[0], error=type(e).__name__)
                        status, ctype, body = 500, "text/plain", b"internal error\n"
            head_out = (
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
            writer.write(head_out if method == "HEAD" else head_out + body)
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the client went away
        finally:
            writer.close()


# ----------------------------------------------------------------------- the other side
def service_url(var_dir: Path, service: str) -> str | None:
    """The URL of a running service's endpoints, from ``var/run/<service>.http``, or None."""
    try:
        return (var_dir / "run" / f"{service}.http").read_text().strip() or None
    except OSError:
        return None


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET ``url``: (status, body); a refusal's status too (``/readyz`` answers 503)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own http URL
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def readiness(var_dir: Path, service: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """What a running service's ``/readyz`` answers (``ready``, ``why``), or None when it does
    not answer (not started, or gone)."""
    url = service_url(var_dir, service)
    if url is None:
        return None
    try:
        _status, body = get(url + "/readyz", timeout)
        return json.loads(body)
    except (OSError, ValueError):
        return None
