"""The delivery worker: sends outbox rows to their handlers, retries, parks dead letters.

One asyncio task per server process loops: expand broadcast rows into one row per bound handler,
claim the due rows that head their (handler, chat) line, and send each in its own task. No database
transaction is held while a request is on the wire: the claim, and later the outcome, are two short
transactions of their own. The REST API runs on the same event loop, so a handler that calls the
API before it answers its delivery is served meanwhile (nothing waits on the delivery).

Time comes from ``services.clock``: retry due times are clock times, so ``--fake-clock`` plus
``openlines.clock.advance`` moves retries forward. The loop itself sleeps in real time (the poll
interval) or until woken by a new outbox row, a finished delivery or a clock move.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter

import aiohttp
import yarl

from openlines import faults
from openlines.config import DeliveryConfig
from openlines.delivery import envelope
from openlines.delivery.backoff import RetryPolicy
from openlines.delivery.health import HandlerHealth
from openlines.delivery.tokens import TokenMinter
from openlines.domain.delivery import DEAD, DELIVERED, PENDING, Attempt, Delivery
from openlines.services import Services

log = logging.getLogger("openlines.delivery")

CLAIM_MARGIN = 10.0  # seconds a claim outlives the longest possible attempt
PURGE_EVERY = 60.0  # real seconds between two purges of old deliveries
ANSWER_LIMIT = 64 * 1024  # bytes of a handler's answer read before its connection is dropped
MIN_IDLE = 0.02  # seconds: the shortest sleep between two passes that were not woken
PASS_GAP = 0.005  # seconds: the shortest time between the starts of two passes


class DeliveryWorker:
    def __init__(
        self,
        services: Services,
        config: DeliveryConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.services = services
        self.config = config or services.config.delivery
        self.policy = RetryPolicy.from_config(self.config)
        self.rng = rng or random.Random()
        self.lease = self.config.connect_timeout + self.config.read_timeout + CLAIM_MARGIN
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._claims: dict[int, float] = {}  # claimed_until of each delivery in flight
        self._per_target: Counter[str] = Counter()
        self._client: aiohttp.ClientSession | None = None
        self.sent = 0  # attempts made by this worker (for logs and tests)
        self.tokens = TokenMinter(services)
        self.health = HandlerHealth(self.config.concurrency)  # failing handlers get few slots
        self._next_purge = 0.0  # time.monotonic() of the next purge of old deliveries

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the loop. On SQLite (one process per file) the claims of a previous process are
        forgotten first: that process is gone. Several workers sharing PostgreSQL keep each other's
        claims; a dead worker's claims lapse after ``lease`` seconds."""
        if self.services.store.dialect == "sqlite":
            await self.services.store.release_claims()
        # aiohttp rather than httpx: about a tenth of the CPU per POST (measured 95 vs 920 µs on
        # loopback), which is most of what a delivery costs the server.
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.config.connect_timeout, sock_read=self.config.read_timeout
        )
        connector = aiohttp.TCPConnector(limit=self.config.concurrency, limit_per_host=0)
        self._client = aiohttp.ClientSession(
            connector=connector, timeout=timeout, trust_env=False, auto_decompress=False
        )
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="openlines-delivery")

    async def stop(self, drain: float = 5.0) -> None:
        """Stop claiming; give in-flight deliveries up to ``drain`` seconds, then cancel them.

        A cancelled delivery stays pending and its claim is given back at once, so another server on
        the same database (or this one's next start) sends it again without waiting for the lease
        to lapse: at least once, never lost.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        pending = list(self._in_flight.values())
        if pending:
            _, late = await asyncio.wait(pending, timeout=drain)
            cut = {d: until for d, until in self._claims.items() if self._in_flight.get(d) in late}
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
            if cut:
                with contextlib.suppress(Exception):  # a database that is gone: the lease lapses instead
                    async with self.services.store.atomic():
                        await self.services.store.unclaim(cut)
        if self._client is not None:
            await self._client.close()
            self._client = None

    def wake(self) -> None:
        """Look for work now (new outbox row, finished delivery, moved clock)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def in_flight_by_target(self) -> dict[str, int]:
        """Deliveries on the wire now, per handler URL."""
        return dict(self._per_target)

    # --- the loop ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = 0.0
        while not self._stopping:
            # Under load every new event and every finished delivery wakes the loop; a pass at most
            # every PASS_GAP seconds takes them in groups (each pass walks the due rows once).
            gap = last + PASS_GAP - loop.time()
            if gap > 0:
                await asyncio.sleep(gap)
            last = loop.time()
            self._wake.clear()
            try:
                await self.pump()
            except Exception:  # a broken database must not kill the worker; try again later
                log.exception("delivery pass failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), await self._idle_time())

    async def _idle_time(self) -> float:
        """How long to sleep unless woken: until the next retry is due (real clock), at most the
        poll interval, and never less than ``MIN_IDLE`` (rows waiting for a free slot must not spin
        the loop; a finished delivery wakes it anyway)."""
        wait = self.config.poll_interval
        clock = self.services.clock
        if not clock.fake:
            now = clock.now()
            due = await self.services.store.next_due(now)
            if due is not None:
                wait = min(wait, due - now)
        return max(wait, MIN_IDLE)

    async def pump(self) -> int:
        """One pass: expand broadcasts, claim what is due and start sending it. Returns rows started."""
        store = self.services.store
        now = self.services.clock.now()
        await self._purge(now)
        await store.expand_broadcasts(now)
        room = self.config.concurrency - len(self._in_flight)
        if room <= 0:
            return 0
        cap = self.config.per_target or self.config.concurrency  # 0 = no cap beyond the worker's own
        busy = self.health.claim_view(self._per_target, cap)
        claimed = await store.claim_due_events(now, self.lease, room, tuple(self._in_flight), busy, cap)
        started = 0
        for delivery in claimed:
            self._per_target[delivery.target] += 1
            task = asyncio.create_task(self._deliver(delivery), name=f"openlines-delivery-{delivery.id}")
            self._in_flight[delivery.id] = task
            self._claims[delivery.id] = delivery.claimed_until
            started += 1
        return started

    async def _purge(self, now: float) -> None:
        """Now and then, drop delivered events older than ``keep_days`` (dead letters stay)."""
        keep = self.config.keep_days * 86400.0
        wall = time.monotonic()
        if not keep or wall < self._next_purge:
            return
        self._next_purge = wall + PURGE_EVERY
        removed = await self.services.store.purge_deliveries(now - keep)
        if removed:
            log.info("purged %d delivered events older than %s days", removed, self.config.keep_days)

    # --- one delivery ------------------------------------------------------------------------------

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await self._attempt(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery %s failed unexpectedly", delivery.id)
        finally:
            self._in_flight.pop(delivery.id, None)
            self._claims.pop(delivery.id, None)
            self._per_target[delivery.target] -= 1
            if self._per_target[delivery.target] <= 0:
                del self._per_target[delivery.target]
            self._wake.set()  # the next event of this chat may go now

    async def _attempt(self, delivery: Delivery) -> None:
        services = self.services
        store = services.store
        owner_changed = await self._resolve_owner(delivery)
        sending = delivery
        try:
            sending = await self.tokens.with_tokens(delivery)
        except Exception:  # tokens are a courtesy: the event goes without them
            log.exception("could not mint tokens for delivery %s", delivery.id)
        payload = envelope.body(sending, services.portal, services.clock.now())
        headers = envelope.headers(sending, services.portal, payload)
        attempt = delivery.attempts + 1
        error = ""
        status_code = 0
        began = time.perf_counter()
        sent_at = services.clock.now()
        assert self._client is not None
        self.sent += 1
        try:
            # drop-in lane: an injected fault (openlines.fault.add TARGET=delivery) stands in for the POST
            error = await faults.delivery_error(services, delivery.event, delivery.target)
            if not error:
                status_code = await self._post(delivery.target, payload, headers)
                if not 200 <= status_code < 300:
                    error = f"HTTP {status_code}"
        except TimeoutError as exc:  # no connection in time, or no answer within read_timeout
            error = f"timeout ({type(exc).__name__})"
        except Exception as exc:  # refused, reset, bad URL...: a failed attempt, never a stuck row
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        now = services.clock.now()
        duration = time.perf_counter() - began
        self.health.record(delivery.target, not error)
        outcome, due = DELIVERED, 0.0
        if error and self.policy.gives_up(attempt):
            outcome = DEAD
            log.warning("event %s to %s is a dead letter: %s", delivery.id, delivery.target, error)
        elif error:
            outcome, due = PENDING, now + self.policy.delay(attempt, self.rng)
        owner = (delivery.app_id, delivery.app_token, delivery.handler_id) if owner_changed else None
        await store.record_attempt(
            Attempt(delivery.id, attempt, sent_at, duration, status_code, error, outcome, due, now, owner)
        )

    async def _post(self, url: str, payload: bytes, headers: dict[str, str]) -> int:
        """POST one delivery and answer the handler's HTTP status. The answer's body is not read."""
        assert self._client is not None
        # encoded=True: the URL goes out exactly as it was registered (no re-quoting of its query).
        target = yarl.URL(url, encoded=True)
        async with self._client.post(
            target, data=payload, headers=headers, allow_redirects=False
        ) as response:
            # Read a short answer to the end so the connection is reused; a long one is cut off
            # (closing that connection) rather than held in memory.
            read = 0
            while chunk := await response.content.read(ANSWER_LIMIT):
                read += len(chunk)
                if read > ANSWER_LIMIT:
                    response.close()
                    break
            return response.status

    async def _resolve_owner(self, delivery: Delivery) -> bool:
        """Fill in the application_token and event_handler_id of a bot event on its first try.

        True when the row's owner fields changed (they are saved with the attempt's outcome).
        """
        if delivery.handler_id and (delivery.app_token or not delivery.app_id):
            return False
        store = self.services.store
        before = (delivery.app_id, delivery.app_token, delivery.handler_id)
        if not delivery.app_id:
            owner = await store.bot_owner(delivery.target, envelope.split(delivery.payload)[0])
            if owner is not None:
                delivery.app_id = owner[0]
                delivery.app_token = envelope.application_token(delivery) or owner[1]
        if delivery.app_id and not delivery.handler_id:
            # One statement in autocommit: the binding exists from now on, whatever the outcome.
            delivery.handler_id = await store.handler_binding(
                delivery.app_id, delivery.event, delivery.target, self.services.clock.now()
            )
        return (delivery.app_id, delivery.app_token, delivery.handler_id) != before
