"""Live replies for the live-chat visitor: ``GET /widget/{LINE_ID}/events`` as Server-Sent Events.

The visitor token comes as ``Authorization: Bearer <token>`` or as ``?token=`` (a browser's
``EventSource`` cannot send headers). Every message of the visitor's chat that the visitor may see
(:func:`openlines.web.widget.visible_to_customer`: their own messages, bot and operator replies,
``IMPORTANT_CONNECTOR`` notices, never ``SKIP_CONNECTOR`` ones) is one ``message`` event whose SSE
``id`` is the message id, so a reconnecting ``EventSource`` resumes with ``Last-Event-ID``.

How a stream learns of new messages without holding a transaction or loading the REST API:

* a hook on ``on_message_posted`` (run by :func:`openlines.engine.messages.post`) wakes the streams
  of that chat in this process; the hook runs inside the poster's transaction, so a woken stream that
  reads too early looks again shortly after;
* a fallback read every second catches what another worker process wrote (and system notices,
  which run no hook);
* each read is one short query outside any transaction.

Streams end when the server begins its graceful shutdown (:data:`openlines.httpserver.ON_STOPPING`),
so open streams never hold it up; browsers then reconnect to another worker or the restarted server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response

from openlines.domain.openlines import Chat, Session
from openlines.protocol.errors import RestError
from openlines.protocol.request import bearer_token
from openlines.protocol.rest import error_for
from openlines.services import Services
from openlines.web import widget

log = logging.getLogger("openlines.widget")

HUB = "widget_streams"
KEEP_ALIVE = 15.0  # seconds between ": keep-alive" comments on an idle stream
POLL = 1.0  # seconds between fallback reads (messages written by another worker process)
RECHECK = (0.05, 0.25)  # reads after a wake that found nothing yet (the poster had not committed)
MAX_STREAMS = 5  # open streams per visitor and worker process
RETRY_MS = 2000  # the reconnection delay suggested to EventSource
BATCH = 200
SETTLE = 5.0  # seconds after which no message with a lower id is expected to commit any more


@dataclass
class Hub:
    """The open streams of this process: who to wake per chat, how many per visitor, and whether the
    server is stopping."""

    waiters: dict[int, set[asyncio.Event]] = field(default_factory=dict)
    per_visitor: Counter[tuple[int, str]] = field(default_factory=Counter)
    stopping: bool = False

    def wake(self, chat_id: int) -> None:
        for event in self.waiters.get(chat_id, ()):
            event.set()

    def stop(self) -> None:
        self.stopping = True
        for events in self.waiters.values():
            for event in events:
                event.set()


def hub_of(services: Services) -> Hub:
    """The process's hub, created with its hooks by the first stream opened here."""
    hub = services.extras.get(HUB)
    if isinstance(hub, Hub):
        return hub
    hub = services.extras[HUB] = Hub()

    async def on_message_posted(services: Services, chat: Chat, session: Session, role: str) -> None:
        hub.wake(chat.id)

    services.extras.setdefault("on_message_posted", []).append(on_message_posted)
    from openlines import httpserver

    httpserver.ON_STOPPING.append(hub.stop)
    return hub


def too_many_streams() -> RestError:
    return RestError(
        "TOO_MANY_STREAMS", f"This visitor already has {MAX_STREAMS} open event streams; close one first", 429
    )


def _resume_from(request: Request) -> int:
    """``Last-Event-ID`` (sent by a reconnecting EventSource) wins over ``?after=``."""
    last = request.headers.get("last-event-id", "").strip()
    if last:
        if not (last.isascii() and last.isdigit()) or len(last) > 18:
            raise RestError(
                "ERROR_ARGUMENT", "Last-Event-ID must be a message id", 400, argument="Last-Event-ID"
            )
        return int(last)
    return widget._query_int(request, "after", 0)


async def events(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        line_id = widget._line_id(request)
        if line_id <= 0 or not await widget._active_line(services, line_id):
            raise widget.line_unavailable()
        token = bearer_token(cast(dict[str, Any], request.scope)) or request.query_params.get("token") or None
        if not token:
            raise RestError(
                "TOKEN_REQUIRED", "Send the visitor token as Authorization: Bearer <token> or ?token=", 401
            )
        visitor, customer_id, chat_id = await widget._token_visitor(services, token, line_id)
        claimed = request.query_params.get("visitor")
        if claimed is not None and claimed.strip() != visitor:
            raise widget.token_of_other_visitor()
        after = _resume_from(request)
        hub = hub_of(services)
        if hub.stopping:
            raise RestError("SERVICE_UNAVAILABLE", "The server is shutting down; reconnect shortly", 503)
        if hub.per_visitor[(line_id, visitor)] >= MAX_STREAMS:
            raise too_many_streams()
    except Exception as exc:  # every failure before the stream starts answers in the envelope
        error = error_for(exc)
        return widget._json(error.status, error.body())
    return EventStream(services, hub, (line_id, visitor), customer_id, chat_id, after)


def _frame(item: dict[str, Any]) -> bytes:
    return b"id: %d\nevent: message\ndata: %s\n\n" % (item["id"], orjson.dumps(item))


class EventStream(Response):
    """The SSE response: the backlog after ``after``, then live messages until the client leaves or
    the server stops."""

    media_type = "text/event-stream"

    def __init__(
        self, services: Services, hub: Hub, who: tuple[int, str], customer_id: int, chat_id: int, after: int
    ) -> None:
        # No super().__init__(): it would announce Content-Length: 0 for a body that never ends.
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),  # nginx: pass events on at once
        ]
        self.services, self.hub, self.who = services, hub, who
        self.customer_id, self.chat_id, self.after = customer_id, chat_id, after
        self.fresh: dict[int, float] = {}  # ids sent above self.after -> when first seen (loop time)
        self.hub.per_visitor[who] += 1  # counted from here, so concurrent opens cannot overshoot
        self.wakeup = asyncio.Event()
        self.hub.waiters.setdefault(chat_id, set()).add(self.wakeup)

    def _release(self) -> None:
        waiters = self.hub.waiters.get(self.chat_id)
        if waiters is not None:
            waiters.discard(self.wakeup)
            if not waiters:
                del self.hub.waiters[self.chat_id]
        self.hub.per_visitor[self.who] -= 1
        if self.hub.per_visitor[self.who] <= 0:
            del self.hub.per_visitor[self.who]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        gone = asyncio.Event()

        async def listen() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    self.wakeup.set()
                    return

        listener = asyncio.create_task(listen())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send(
                {
                    "type": "http.response.body",
                    "body": b"retry: %d\n: connected\n\n" % RETRY_MS,
                    "more_body": True,
                }
            )
            await self._run(send, gone)
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away while we wrote
            pass
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            self._release()

    async def _run(self, send: Any, gone: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        pending: list[float] = []  # quick re-reads after a wake
        while not gone.is_set() and not self.hub.stopping:
            self.wakeup.clear()  # before the read: a wake during it is not lost
            try:
                sent = await self._send_new(send)
            except Exception as exc:  # a store outage ends the stream; EventSource reconnects later
                log.warning("widget stream of chat %s ends: %s", self.chat_id, exc)
                return
            now = loop.time()
            if sent:
                quiet_since, pending = now, []
            elif now - quiet_since >= KEEP_ALIVE:
                await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                quiet_since = now
            timeout = pending.pop(0) if pending else POLL
            try:
                await asyncio.wait_for(self.wakeup.wait(), timeout)
            except TimeoutError:
                continue
            # Woken by a post in this process: read now, and again shortly in case the poster's
            # transaction had not committed yet.
            pending = list(RECHECK)

    async def _send_new(self, send: Any) -> bool:
        """Send every visible message not sent yet; whether anything was sent.

        Ids are handed out when a message is inserted, not when it commits: with several writers
        (PostgreSQL) message 10 may become visible after message 11. So each read starts at
        ``self.after``, the highest id below which everything has been seen for ``SETTLE`` seconds,
        and skips the ids already sent since (``self.fresh``). A late commit within ``SETTLE``
        seconds is still sent, a little out of order."""
        now = asyncio.get_running_loop().time()
        cursor, any_sent = self.after, False
        while True:
            batch = await self.services.store.messages_of(self.chat_id, after_id=cursor, limit=BATCH)
            frames = []
            for m in batch:
                if m.id in self.fresh:
                    continue
                self.fresh[m.id] = now
                if widget.visible_to_customer(m):
                    frames.append(_frame(widget.message_item(self.services, m, self.customer_id)))
            if frames:
                await send({"type": "http.response.body", "body": b"".join(frames), "more_body": True})
                any_sent = True
            if len(batch) < BATCH:
                break
            cursor = batch[-1].id
        for message_id in sorted(self.fresh):
            if now - self.fresh[message_id] < SETTLE:
                break
            self.after = message_id
            del self.fresh[message_id]
        return any_sent
