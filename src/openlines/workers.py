"""Several worker processes on one machine: ``openlines serve --workers N``.

The supervisor binds the listening sockets, prepares the database once (migrations, the portal
secret, the configuration: so workers starting together never race to create them), then forks N
workers that share the sockets; the kernel hands each connection to one of them. A worker that dies
is started again. Only with PostgreSQL: a SQLite file has one writer and is owned by one process.

No state that matters lives in a worker. What a test sets up is shared through the database
(:func:`share_state`): the fake clock (``meta.fake_clock_now``: every request reads it first, a
request that moved it publishes it), the fault rules and the request-rate buckets of ``[limits]``
(or Redis for those, with ``--redis``). A listener connection per worker (``LISTEN openlines``) hears
at once when another worker moved the clock or changed the rules, so even an idle worker's timers and
retries follow the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from openlines.clock import FakeClock
from openlines.config import Config
from openlines.services import Services
from openlines.store.base import StoreUnavailable

log = logging.getLogger("openlines.workers")

CLOCK_KEY = "fake_clock_now"
CLOCK_KIND = "clock"  # the listener notification of a moved fake clock
BINDINGS_KIND = "bindings"  # an app bound or unbound an event
CLOCK_LOCK = "clock_catch_up_lock"  # services.extras: one catch-up after a clock notice at a time
PUBLISH = (
    "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value "
    "WHERE meta.value::float8 < excluded.value::float8"
)
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
ServeFn = Callable[[Config, bool, tuple[socket.socket, socket.socket | None]], Coroutine[Any, Any, None]]


class WorkersRefused(Exception):
    """``--workers`` cannot be used with this configuration (the message says why)."""


def check(cfg: Config, workers: int) -> None:
    if workers < 1:
        raise WorkersRefused("--workers must be at least 1")
    if workers > 1 and not cfg.server.db.startswith(("postgresql://", "postgres://")):
        raise WorkersRefused(
            "--workers > 1 needs PostgreSQL (--db postgresql://…): a SQLite file has a single writer and "
            "its locks, timers and delivery claims live in one process, so several workers on it would "
            "wait on each other and could deliver an event twice. Run one worker on SQLite."
        )


# --- the fake clock, shared through the database -------------------------------------------------


async def adopt_clock(services: Services, reset: bool = False) -> None:
    """Take the shared fake time from the database, or publish ours when there is none (or ``reset``)."""
    clock = services.clock
    if not isinstance(clock, FakeClock):
        return
    stored = None if reset else await services.store.get_meta(CLOCK_KEY)
    if stored:
        clock.set(float(stored))
    else:
        await services.store.set_meta(CLOCK_KEY, repr(clock.now()))


def shared_clock(app: ASGIApp, services: Services) -> ASGIApp:
    """Wrap the app so each HTTP request first reads the shared fake time, and a request that moved
    the clock publishes the new time before the last part of its answer is sent."""
    clock = services.clock
    if not isinstance(clock, FakeClock):
        return app
    fake: FakeClock = clock
    store = services.store
    from openlines.faults import FAULTS
    from openlines.faults.shared import SharedFaults  # asyncpg: an optional dependency
    from openlines.store.postgres.listener import notify
    from openlines.store.postgres.shared import PgShared

    assert isinstance(store, PgShared)  # installed for PostgreSQL only
    faults = services.extras.get(FAULTS)

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        try:  # and the fault rules' version, in the same round trip
            stored, faults_version = await store.test_state(CLOCK_KEY)
        except Exception:  # the store is down: the request answers 503 itself
            stored, faults_version = None, 0
        if isinstance(faults, SharedFaults):
            faults.seen(faults_version)
        if stored:  # forward only: a clock advance running in this worker may be ahead of the stored time
            fake.set(max(fake.now(), float(stored)))
        before = fake.now()
        published = False

        async def publish() -> None:
            nonlocal published
            published = True
            try:  # forward only too, so a slower request can never publish an older time
                async with store.atomic():
                    await store.execute(PUBLISH, CLOCK_KEY, repr(fake.now()))
                    await notify(store, CLOCK_KIND, repr(fake.now()))
            except StoreUnavailable:
                log.warning("the fake clock moved but could not be shared: the database is unavailable")

        async def send_after_publishing(message: dict[str, Any]) -> None:
            # The last body part is what lets the caller go on: the new time must be in the database
            # before it leaves, or the caller's next request, to another worker, meets the old time.
            last = message["type"] == "http.response.body" and not message.get("more_body", False)
            if last and not published and fake.now() != before:
                await publish()
            await send(message)

        await app(scope, receive, send_after_publishing)
        if not published and fake.now() != before:  # the answer never completed (a dropped stream)
            await publish()

    return wrapped


async def clock_moved(services: Services, value: str | None) -> None:
    """A listener callback: another worker moved the shared fake clock (``value`` is the new time;
    None after a reconnection: read it). Move ours and run what became due, as an advance would."""
    from openlines.methods.openlines_clock import ON_CLOCK_ADVANCED

    clock = services.clock
    if not isinstance(clock, FakeClock):
        return
    # One catch-up at a time: a catch-up sets the clock to each timer's due time while it runs, so a
    # second notice must wait for it rather than compare against that earlier time.
    lock: asyncio.Lock = services.extras.setdefault(CLOCK_LOCK, asyncio.Lock())
    async with lock:
        stored = value or await services.store.get_meta(CLOCK_KEY)
        if not stored or float(stored) <= clock.now():
            return
        clock.set(float(stored))
        hook = services.extras.get(ON_CLOCK_ADVANCED)
        if hook is not None:
            await hook(clock.now())


async def _forget_bindings(services: Services) -> None:
    from openlines.engine.events import forget_bindings

    forget_bindings(services)


async def _publish(store: Any, kind: str) -> None:
    from openlines.store.postgres.listener import notify

    with contextlib.suppress(StoreUnavailable):  # the other workers then see it within a second
        await notify(store, kind)


async def share_state(app: ASGIApp, services: Services) -> ASGIApp:
    """Share what must be shared between workers (see the module's text) and return the app to serve.
    On PostgreSQL: the fault rules, the rate buckets unless ``[server] redis`` holds them, and the
    fake clock; a listener connection keeps each worker's copy current."""
    from openlines.engine.events import PUBLISH_BINDINGS
    from openlines.faults import FAULTS
    from openlines.limits import LIMITS
    from openlines.limits.guard import Limits
    from openlines.limits.shared import PostgresBuckets, RedisBuckets

    store = services.store
    server = services.config.server
    limits: Limits | None = services.extras.get(LIMITS)
    if limits is not None and limits.rate is not None:  # the buckets: Redis if named, else PostgreSQL
        drain, burst = limits.rate.drain, limits.rate.burst
        if server.redis:
            redis_rate = RedisBuckets(server.redis, drain, burst, server.redis_prefix)
            limits.rate = redis_rate
            services.shutdown.append(redis_rate.close)
        elif store.dialect == "postgresql":
            limits.rate = PostgresBuckets(store, drain, burst)
    if store.dialect != "postgresql":
        return app
    from openlines.faults.shared import KIND as FAULTS_KIND
    from openlines.faults.shared import SharedFaults
    from openlines.store.postgres.listener import Listener

    listener = Listener(getattr(store, "dsn"))  # noqa: B009
    faults = SharedFaults(store)
    await faults.reload()
    services.extras[FAULTS] = faults
    listener.on(FAULTS_KIND, faults.changed)
    listener.on(BINDINGS_KIND, lambda _value: _forget_bindings(services))
    services.extras[PUBLISH_BINDINGS] = lambda: _publish(store, BINDINGS_KIND)
    if isinstance(services.clock, FakeClock):
        await adopt_clock(services)
        listener.on(CLOCK_KIND, lambda value: clock_moved(services, value))
        app = shared_clock(app, services)
    services.startup.append(listener.start)
    services.shutdown.append(listener.stop)  # shutdown runs in reverse: the listener stops first
    return app


# --- the supervisor -------------------------------------------------------------------------------------


def serve_workers(
    cfg: Config,
    fake_clock: bool,
    workers: int,
    serve: ServeFn,
    run: Callable[[Coroutine[Any, Any, Any]], Any],
    fail: Callable[[str], None],
) -> None:
    """Bind, prepare the database, fork ``workers`` processes and keep them running until SIGTERM/SIGINT."""
    from openlines import httpserver
    from openlines.portal import bootstrap

    server = cfg.server
    try:
        check(cfg, workers)
    except WorkersRefused as exc:
        fail(str(exc))
        return
    try:
        main_socket = httpserver.bind(server.host, server.port)
        plain_socket = httpserver.bind(server.host, server.http_port) if server.http_port else None
    except httpserver.PortInUse as exc:
        fail(str(exc))
        return
    if server.port == 0:
        server.port = main_socket.getsockname()[1]
    if server.tls and not server.tls_cert:  # make the local CA once, not in every worker at the same time
        from pathlib import Path

        from openlines.tls import ensure_local_tls

        made = ensure_local_tls(Path(server.data_dir) if server.data_dir else Path("openlines-data"))
        server.tls_cert, server.tls_key = str(made.cert), str(made.key)
        print(f"  local CA: {made.ca}  (REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS)")

    async def prepare() -> None:
        boot = await bootstrap(cfg, fake_clock=fake_clock)
        try:
            await adopt_clock(boot.services, reset=True)
        finally:
            await boot.services.store.close()

    try:
        run(prepare())
    except StoreUnavailable as exc:
        main_socket.close()
        fail(str(exc))
        return
    sys.stdout.flush()
    sys.stderr.flush()
    sockets = (main_socket, plain_socket)
    children: dict[int, int] = {}
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.environ["OPENLINES_WORKER"] = str(index)
                run(serve(cfg, fake_clock, sockets))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:  # typer.Exit from fail() carries its code; anything else is a bug
                exit_code = getattr(exc, "exit_code", None)
                if isinstance(exit_code, int):
                    code = exit_code
                else:
                    traceback.print_exc()
                    code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
        children[pid] = index

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(workers):
        spawn(index)
    started = dict.fromkeys(range(workers), time.monotonic())
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, -1)
        if index < 0 or stopping:
            continue
        code = os.waitstatus_to_exitcode(status)
        print(f"openlines: worker {index} (pid {pid}) exited with {code}; starting it again", file=sys.stderr)
        if time.monotonic() - started.get(index, 0.0) < 1.0:
            time.sleep(1.0)  # a worker that cannot start is not restarted in a tight loop
        started[index] = time.monotonic()
        spawn(index)
    main_socket.close()
    if plain_socket is not None:
        plain_socket.close()


__all__ = [
    "CLOCK_KEY",
    "WorkersRefused",
    "adopt_clock",
    "check",
    "clock_moved",
    "serve_workers",
    "share_state",
    "shared_clock",
]
