"""Workers tell each other about changes through PostgreSQL ``LISTEN/NOTIFY``.

Each worker keeps one connection of its own listening on the ``openlines`` channel. A payload is
``<kind>:<value>`` (``clock:1771928985.0``, ``faults:``); the callbacks registered for the kind run in
the worker's event loop. :func:`notify` sends one inside the caller's transaction, so listeners hear
it only once the change is committed. A notification sent while a worker was disconnected is lost,
so after every (re)connection each callback also runs once with ``None``: "read it all again".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger("openlines.store")

CHANNEL = "openlines"
RETRY = 1.0  # seconds between reconnection attempts
APPLICATION_NAME = "openlines-listener"  # how its connection shows in pg_stat_activity
Callback = Callable[[str | None], Awaitable[None]]  # called at once; what it returns is awaited


class Listener:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.callbacks: dict[str, list[Callback]] = {}
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def on(self, kind: str, callback: Callback) -> None:
        self.callbacks.setdefault(kind, []).append(callback)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="openlines-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            connection: Any = None
            try:
                connection = await asyncpg.connect(
                    self.dsn, timeout=10.0, server_settings={"application_name": APPLICATION_NAME}
                )
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _connection, gone=lost: gone.set())
                await connection.add_listener(CHANNEL, self._received)
                self.connected.set()
                await self._dispatch_all(None)  # whatever was missed while not listening
                while not lost.is_set():
                    # asyncpg notices a dead socket only when it uses it: ask now and then
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 5.0)
                    if not lost.is_set():
                        await connection.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("listener connection lost: %s", exc)
            finally:
                self.connected.clear()
                if connection is not None:
                    connection.terminate()
            await asyncio.sleep(RETRY)

    def _received(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        kind, _, value = payload.partition(":")
        for callback in self.callbacks.get(kind, []):
            self._spawn(callback(value))

    async def _dispatch_all(self, value: str | None) -> None:
        for callbacks in self.callbacks.values():
            for callback in callbacks:
                try:
                    await callback(value)
                except Exception:
                    log.exception("a change listener failed")

    def _spawn(self, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("a change listener failed")

        task = asyncio.create_task(guarded())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


async def notify(store: Any, kind: str, value: str = "") -> None:
    """Tell every worker (this one too) about a change; sent when the caller's transaction commits."""
    await store.execute("SELECT pg_notify(?, ?)", CHANNEL, f"{kind}:{value}")
