"""A real HTTP event handler on a loopback port, for the delivery tests.

It runs aiohttp in a thread of its own, records every request (path and query, headers, raw body,
the form fields) and answers from a plan: per ``data[PARAMS][MESSAGE]`` (or per event name) a list
of statuses to answer in turn, where ``"hang"`` means "hold the request until released".
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from b24pysdk.credentials._utils.parse_flattened_keys import parse_flattened_keys

Plan = list[int | str]


@dataclass
class Received:
    path_qs: str
    headers: dict[str, str]
    body: bytes
    fields: dict[str, str]  # flat form fields, as PHP's $_POST keys before nesting
    posted: dict[str, str]  # what aiohttp's request.post() read (bitrixogram's way)

    @property
    def nested(self) -> dict[str, Any]:
        return parse_flattened_keys(self.fields)

    @property
    def event(self) -> str:
        return self.fields.get("event", "")

    @property
    def key(self) -> str:
        return self.headers.get("X-Openlines-Delivery", "")

    @property
    def label(self) -> str:
        return self.fields.get("data[PARAMS][MESSAGE]", self.event)


class Handler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answered: list[Received] = []  # requests whose answer has been sent (hooks ran)
        self.plans: dict[str, Plan] = {}
        self.default: int | str = 200
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None
        self.inside: list[Callable[[Received], None]] = []  # run (in a thread) before answering

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Handler:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the test handler did not start")
        return self

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)

        async def up() -> None:
            self._release = asyncio.Event()
            app = web.Application()
            app.router.add_route("POST", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert server is not None and server.sockets
            self.port = server.sockets[0].getsockname()[1]

        loop.run_until_complete(up())
        ready.set()
        loop.run_forever()
        loop.close()

    def stop(self) -> None:
        if self.loop is None:
            return
        self.release()

        async def down() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(down(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self.loop = None

    def release(self) -> None:
        """Let every hanging request answer (200)."""
        if self.loop is not None and self._release is not None:
            self.loop.call_soon_threadsafe(self._release.set)

    def url(self, path: str = "/hook/bot.php?app=1") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # --- requests ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        posted = {k: str(v) for k, v in (await request.post()).items()}
        fields = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))
        got = Received(request.path_qs, dict(request.headers), body, fields, posted)
        with self.lock:
            self.received.append(got)
            plan = self.plans.get(got.label)
            action = plan.pop(0) if plan else self.default
        try:
            for hook in self.inside:
                await asyncio.get_running_loop().run_in_executor(None, hook, got)
        finally:
            with self.lock:
                self.answered.append(got)
        if action == "hang":
            assert self._release is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), 60)
            return web.Response(text="OK")
        return web.Response(status=int(action), text="OK")

    def labels(self) -> list[str]:
        with self.lock:
            return [r.label for r in self.received]

    def of(self, label: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.label == label]

    def wait_for(
        self, count: int, label: str | None = None, timeout: float = 20, answered: bool = False
    ) -> list[Received]:
        """Block until ``count`` requests (of ``label``) arrived (and, with ``answered``, had their
        hooks run); fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                pool = list(self.answered if answered else self.received)
            found = [r for r in pool if r.label == label] if label else pool
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"expected {count} deliveries of {label or 'anything'}, got {self.labels()}")
