"""A bot's event handler for tests: a small HTTP server on loopback that records every event POSTed
to it (form-encoded like Bitrix24's, decoded with PHP bracket rules)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from openlines.protocol.php import parse_str


@dataclass
class Event:
    """One delivery as the handler saw it."""

    name: str  # e.g. ONIMBOTMESSAGEADD
    data: dict[str, Any]  # the decoded form: event, data[...], auth[...], ts...
    query: dict[str, str]  # the handler URL's query (webhook bots get CLIENT_ID there)
    headers: dict[str, str]

    @property
    def params(self) -> dict[str, Any]:
        """``data[PARAMS]``: the message, chat and dialog of a bot event."""
        params = self.data.get("data", {}).get("PARAMS", {})
        return params if isinstance(params, dict) else {}


class EventReceiver:
    """Start with :meth:`start`; pass :attr:`url` as EVENT_HANDLER to ``imbot.register``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.status = 200  # what the handler answers; set e.g. 500 to fail deliveries for real
        self._events: list[Event] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> EventReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_str(self.rfile.read(length).decode("utf-8", errors="replace"))
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                event = Event(str(form.get("event", "")), form, query, dict(self.headers.items()))
                status = receiver.status
                if 200 <= status < 300:
                    receiver._record(event)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="openlines-events").start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the receiver first"
        return f"http://{self.host}:{self._server.server_address[1]}/events"

    def _record(self, event: Event) -> None:
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    def __iter__(self) -> Any:
        with self._changed:
            return iter(list(self._events))

    def __len__(self) -> int:
        with self._changed:
            return len(self._events)

    def named(self, name: str) -> list[Event]:
        with self._changed:
            return [e for e in self._events if e.name == name.upper()]

    def wait_for(self, name: str, count: int = 1, timeout: float = 20.0, **params: Any) -> Event:
        """The ``count``-th event called ``name`` whose PARAMS contain ``params`` (as strings);
        waits for it to arrive (up to ``timeout`` seconds, then AssertionError)."""
        wanted = {k: str(v) for k, v in params.items()}

        def found() -> list[Event]:
            return [
                e
                for e in self._events
                if e.name == name.upper() and all(str(e.params.get(k)) == v for k, v in wanted.items())
            ]

        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [e.name for e in self._events]
                    raise AssertionError(f"no {name} {wanted or ''} arrived within {timeout} s; got {seen}")
                self._changed.wait(left)
            return found()[count - 1]

    def clear(self) -> None:
        with self._changed:
            self._events.clear()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
