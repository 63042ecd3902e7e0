"""Helpers of the live-chat stream and page tests: a real server process whose line has a welcome bot
served by a real loopback HTTP handler that answers every customer message with
``imbot.message.add``, and a small Server-Sent Events reader over httpx streaming."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.bots.helpers import ok
from tests.conftest import ServerProcess
from tests.delivery.handler import Handler, Received

CONFIG = """
[delivery]
poll_interval = 0.05
"""


@dataclass
class BotLine:
    """A line whose welcome bot answers "Bot: <text>" to every customer message."""

    server: ServerProcess
    handler: Handler
    line_id: int
    bot_id: int
    client_id: str
    replies: list[int] = field(default_factory=list)  # ids of the bot's replies, in order
    notes: list[int] = field(default_factory=list)  # ids of its SKIP_CONNECTOR notes


def start(folder: Path) -> ServerProcess:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "openlines.toml").write_text(CONFIG)
    return ServerProcess(folder, ["--demo", "--config", str(folder / "openlines.toml")]).start()


def bot_line(server: ServerProcess, handler: Handler, name: str, note: bool = False) -> BotLine:
    """Register a bot on ``handler`` and a line with it as welcome bot. With ``note`` the bot first
    posts an internal note with SKIP_CONNECTOR=Y, then its reply."""
    client_id = f"livechat-{name}"
    with server.client() as api:
        bot_id = int(
            ok(
                api,
                "imbot.register",
                {
                    "CODE": f"lc{name}",
                    "TYPE": "O",
                    "EVENT_HANDLER": handler.url(f"/bot/{name}.php"),
                    "CLIENT_ID": client_id,
                    "PROPERTIES": {"NAME": f"Helper {name}"},
                },
            )
        )
        line_id = int(ok(api, "imopenlines.config.add", {"PARAMS": {"LINE_NAME": f"Help desk {name}"}}))
        settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id, "WELCOME_BOT_JOIN": "always"}
        ok(api, "imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": settings})
    line = BotLine(server, handler, line_id, bot_id, client_id)

    def answer(got: Received) -> None:  # runs inside the handler, before it answers the delivery
        if got.event != "ONIMBOTMESSAGEADD" or f"/bot/{name}.php" not in got.path_qs:
            return
        dialog = got.fields["data[PARAMS][DIALOG_ID]"]
        text = got.fields["data[PARAMS][MESSAGE]"]
        with server.client() as api:
            if note:
                params = {"DIALOG_ID": dialog, "MESSAGE": f"note on {text}", "SKIP_CONNECTOR": "Y"}
                line.notes.append(int(ok(api, "imbot.message.add", {**params, "CLIENT_ID": client_id})))
            params = {"DIALOG_ID": dialog, "MESSAGE": f"Bot: {text}", "CLIENT_ID": client_id}
            line.replies.append(int(ok(api, "imbot.message.add", params)))

    handler.inside.append(answer)
    return line


@dataclass
class Event:
    id: str
    event: str
    data: dict[str, Any]


class SseReader:
    """Reads one SSE stream in a thread of its own and keeps its events."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url, self.headers = url, headers or {}
        self.events: list[Event] = []
        self.comments: list[str] = []
        self.status = 0
        self.content_type = ""
        self.ended = threading.Event()  # the server ended the stream (or it failed)
        self.error: BaseException | None = None
        self._opened = threading.Event()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SseReader:
        self._thread.start()
        if not self._opened.wait(15):
            raise AssertionError(f"the stream {self.url} did not open")
        return self

    def __exit__(self, *exc: object) -> None:
        """Leave the stream (the client side closes the connection)."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not self.ended.is_set():
            loop.call_soon_threadsafe(task.cancel)
        self._thread.join(10)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._task = loop.create_task(self._read())
            loop.run_until_complete(self._task)
        except BaseException as exc:  # leaving from the test's side lands here too (cancelled)
            self.error = exc
        finally:
            loop.close()
            self._opened.set()
            self.ended.set()

    async def _read(self) -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30, read=60)) as client,
            client.stream("GET", self.url, headers=self.headers) as response,
        ):
            self.status = response.status_code
            self.content_type = response.headers.get("content-type", "")
            self._opened.set()
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    with self._lock:
                        self.comments.append(line[1:].strip())
                elif line == "":
                    if "data" in fields:
                        data = orjson.loads(fields["data"])
                        event = Event(fields.get("id", ""), fields.get("event", "message"), data)
                        with self._lock:
                            self.events.append(event)
                    fields = {}
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value

    def snapshot(self) -> list[Event]:
        with self._lock:
            return list(self.events)

    def texts(self) -> list[str]:
        return [e.data["text"] for e in self.snapshot()]

    def wait_for(
        self, condition: Callable[[list[Event]], bool], what: str, timeout: float = 15
    ) -> list[Event]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.snapshot()
            if condition(events):
                return events
            time.sleep(0.02)
        raise AssertionError(f"stream never had {what}; it had {self.texts()} (error: {self.error!r})")


def events_url(server: ServerProcess, line_id: int, **query: str) -> str:
    url = f"{server.url}/widget/{line_id}/events"
    return str(httpx.URL(url, params=query)) if query else url


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def handler_running() -> Iterator[Handler]:
    h = Handler().start()
    yield h
    h.stop()
