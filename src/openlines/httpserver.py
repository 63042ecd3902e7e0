"""The HTTP server: uvicorn with uvloop and httptools, made to serve what real clients send.

The PHP SDK's libcurl adds ``Connection: Upgrade, HTTP2-Settings`` and ``Upgrade: h2c`` to every
plain-HTTP request. httptools stops parsing at the headers of any upgrade request and uvicorn then
hands the application an empty body, so the call loses its parameters. :class:`H2cTolerantProtocol`
declines the upgrade and reads the body as ordinary HTTP/1.1 (which is what RFC 7540 allows a server
to do), keeping the fast parser for everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

import httptools
from uvicorn import Config, Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("openlines.server")

# Called when the server begins its graceful shutdown, before it waits for open connections: long-lived
# responses (the live-chat event stream) end themselves here instead of holding the shutdown up.
ON_STOPPING: list[Callable[[], None]] = []


class StoppingServer(Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for stopping in list(ON_STOPPING):
            stopping()
        await super().shutdown(sockets)


class H2cTolerantProtocol(HttpToolsProtocol):
    _owed = 0  # body bytes still to come for a request whose upgrade we declined

    def data_received(self, data: bytes) -> None:
        if self._owed:
            rest = self._take_body(data)
            if not rest:
                return
            data = rest
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
        except httptools.HttpParserUpgrade as upgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
                return
            offset = upgrade.args[0] if upgrade.args and isinstance(upgrade.args[0], int) else len(data)
            self._decline_upgrade(data[offset:])

    def on_message_complete(self) -> None:
        # llhttp ends an upgrade request at its headers (httptools asks it to), before any body has
        # been read. For an upgrade we decline, the request really ends in _finish_declined.
        if self.parser.should_upgrade() and not self._should_upgrade():
            return
        super().on_message_complete()

    def _decline_upgrade(self, rest: bytes) -> None:
        length = 0
        for name, value in self.headers:
            if name == b"content-length" and value.strip().isdigit():
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                self.send_400_response("Chunked bodies cannot be combined with an Upgrade header.")
                return
        self._owed = length
        if length == 0:
            self._finish_declined()
            if rest:
                self.data_received(rest)
            return
        leftover = self._take_body(rest)
        if leftover:
            self.data_received(leftover)

    def _take_body(self, data: bytes) -> bytes:
        part = data[: self._owed]
        if part:
            self.on_body(part)
        self._owed -= len(part)
        if self._owed == 0:
            self._finish_declined()
        return data[len(part) :]

    def _finish_declined(self) -> None:
        super().on_message_complete()
        # The paused parser cannot continue after an upgrade; the next request gets a fresh one.
        self.parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)


class PortInUse(Exception):
    pass


def bind(host: str, port: int) -> socket.socket:
    """Bind a listening socket ourselves, so a busy port is one clear message, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def uvicorn_config(
    app: Any, *, access_log: bool, lifespan: str, ssl: tuple[str, str] | None = None
) -> Config:
    options: dict[str, Any] = {
        "http": H2cTolerantProtocol,
        "loop": "uvloop",
        "lifespan": lifespan,
        "access_log": access_log,
        "log_level": "info" if access_log else "warning",
        "timeout_graceful_shutdown": 10,
        "server_header": False,
        # uvicorn would trust X-Forwarded-Proto from 127.0.0.1 and rewrite the scheme, which would let any
        # local client pass require_https; openlines decides that itself (server.trust_forwarded).
        "proxy_headers": False,
        "log_config": None,  # uvicorn's loggers propagate to the root: JSON lines like ours (logs.py)
    }
    if ssl:
        options["ssl_certfile"], options["ssl_keyfile"] = ssl
    try:
        import uvloop  # noqa: F401
    except ImportError:  # pragma: no cover - platforms without uvloop
        options["loop"] = "asyncio"
    return Config(app, **options)


async def serve(
    app: Any,
    main: socket.socket,
    *,
    access_log: bool = False,
    ssl: tuple[str, str] | None = None,
    plain: socket.socket | None = None,
) -> None:
    """Serve ``app`` on ``main`` (TLS if ``ssl``) and optionally plain HTTP on ``plain`` too.

    SIGTERM/SIGINT stop accepting, let in-flight requests finish (up to 10 s), then run shutdown.
    """
    primary = StoppingServer(uvicorn_config(app, access_log=access_log, lifespan="on", ssl=ssl))
    secondary = StoppingServer(uvicorn_config(app, access_log=access_log, lifespan="off")) if plain else None
    extra: asyncio.Task[None] | None = None
    if secondary is not None and plain is not None:
        extra = asyncio.create_task(secondary._serve(sockets=[plain]))
    try:
        await primary.serve(sockets=[main])
    finally:
        if secondary is not None and extra is not None:
            secondary.should_exit = True
            await extra
