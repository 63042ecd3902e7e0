"""Timers that survive a restart: due jobs in the ``timers`` table and the scheduler that runs them.

Each job is claimed and applied in ONE transaction together with everything it causes (owner change,
history row, system messages, outbox rows), so it takes effect exactly once even if the process dies
half-way: either the whole job committed, or the row is still there for the next run. A job checks
that its session is still in the state it was armed for (an answer, a transfer or a close may have
happened since) and otherwise does nothing.

The scheduler sleeps until the next due time, woken early when a nearer timer is armed. With the
fake clock it never sleeps on real time: ``openlines.clock.advance`` runs every job due by the new
time, in due order, with the clock set to each job's due time while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from openlines.clock import FakeClock
from openlines.domain import routing as rules
from openlines.domain.openlines import Session, Status
from openlines.services import Services
from openlines.store.base import LockConflict

log = logging.getLogger("openlines.timers")

SCHEDULER = "timer_scheduler"  # services.extras key
MAX_SLEEP = 30.0  # re-check at least this often on the real clock (a moved system clock, a lost wake)
BUSY_RETRY = 0.05  # seconds before retrying a timer whose chat another transaction holds


async def arm(services: Services, session: Session, kind: rules.TimerKind, due: float) -> None:
    """Set the session's timer of this kind (replacing an earlier one) inside the caller's transaction."""
    await services.store.arm_timer(
        session.id, session.chat_id, kind, due, session.version, services.clock.now()
    )
    scheduler = services.extras.get(SCHEDULER)
    if isinstance(scheduler, Scheduler):
        scheduler.armed(due)


async def _fire(services: Services, timer: rules.Timer) -> None:
    """The effect of one claimed timer, inside the claiming transaction."""
    from openlines.engine import routing
    from openlines.engine import transfer as ownership
    from openlines.engine.messages import post_system

    store = services.store
    session = await store.get_session(timer.session_id)
    if session is None or session.closed:
        return
    # Lock the chat first: a chat another transaction holds raises LockConflict, and the claim rolls
    # back with it (the engine calls below would otherwise refuse quietly and the job would be lost).
    chat = await store.lock_chat(session.chat_id)
    if chat is None:
        return
    session = await store.get_session(timer.session_id) or session
    kind = timer.kind
    if kind == "queue":
        if rules.is_waiting_for_answer(session):
            await routing.distribute(services, chat, session, "queue_timer")
    elif kind == "welcome_bot":
        if session.owner_type == "bot" and session.version == timer.version:
            await ownership.end_bot_session(services, session.chat_id, 0)
    elif kind == "auto_close":
        if session.status == Status.OPERATOR:
            await ownership.finish(services, session.chat_id, 0)
    elif kind == "no_answer":
        line = await store.get_line(session.line_id)
        if (
            line is not None
            and rules.is_waiting_for_answer(session)
            and line.setting("NO_ANSWER_RULE") == "text"
        ):
            text = str(line.setting("NO_ANSWER_TEXT") or "").strip()
            if text:
                await post_system(services, chat, text, IMPORTANT_CONNECTOR="Y")
                await store.save_chat(chat)


async def run_one(services: Services, now: float) -> bool:
    """Claim and apply the earliest timer due by ``now``; False when none is due."""
    store = services.store
    claimed: rules.Timer | None = None
    try:
        async with store.atomic():
            claimed = await store.take_due_timer(now)
            if claimed is None:
                return False
            await _fire(services, claimed)
        return True
    except LockConflict:
        raise  # the chat is busy (PostgreSQL, another worker): the claim rolled back; try again soon
    except Exception:
        if claimed is None:
            raise
        # The job failed and its transaction rolled back, claim included: drop it, or it would fail forever.
        log.exception(
            "timer %s (%s, session %s) failed and was dropped", claimed.id, claimed.kind, claimed.session_id
        )
        async with store.atomic():
            await store.cancel_timers(claimed.session_id, (claimed.kind,))
        return True


async def run_due(services: Services) -> int:
    """Every timer due by the clock's now, in due order. Answers how many ran."""
    count = 0
    while await run_one(services, services.clock.now()):
        count += 1
    return count


class Scheduler:
    """The background task that runs due timers on the real clock (and catches up at start)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.seen = services.clock.now()  # the fake clock's time at the last run (see on_clock_advanced)
        self.waiting_for: float | None = None  # the due time the real-clock loop sleeps until

    def wake(self) -> None:
        self._wake.set()

    def armed(self, due: float) -> None:
        """A timer was armed: wake only if it is due before what the scheduler is waiting for."""
        clock = self.services.clock
        if clock.fake:
            if due <= clock.now():
                self._wake.set()
        elif self.waiting_for is None or due < self.waiting_for:
            self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="openlines-timers")
        # Appended now (after the store's close was registered) so it runs before the store closes.
        self.services.shutdown.append(self.stop)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        clock = self.services.clock
        while not self._stopping:
            self._wake.clear()
            try:
                await run_due(self.services)
                due = await self.services.store.next_timer_due()
            except LockConflict:
                await asyncio.sleep(BUSY_RETRY)
                continue
            except Exception:  # a broken database must not kill the scheduler; try again later
                log.exception("timer pass failed")
                due = clock.now() + MAX_SLEEP
            if self._stopping:
                break
            timeout: float | None
            if due is None:
                timeout = None if clock.fake else MAX_SLEEP
            elif clock.fake:
                timeout = 0.0 if due <= clock.now() else None
            else:
                timeout = min(max(0.0, due - clock.now()), MAX_SLEEP)
            if timeout == 0.0:
                await asyncio.sleep(0)
                continue
            self.waiting_for = None if timeout is None else clock.now() + timeout
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self.waiting_for = None

    async def catch_up(self, target: float) -> int:
        """Fake clock moved to ``target``: run every timer due by then in due order, the clock set to
        each one's due time (never earlier than the last run) while it runs."""
        clock = self.services.clock
        assert isinstance(clock, FakeClock)
        store = self.services.store
        floor = min(self.seen, target)
        count = 0
        try:
            while True:
                due = await store.next_timer_due()
                if due is None or due > target:
                    break
                moment = min(max(due, floor), target)
                clock.set(moment)
                try:
                    if not await run_one(self.services, moment):
                        break
                except LockConflict:
                    self.wake()  # the background loop retries what is left
                    break
                floor = moment
                count += 1
        finally:
            clock.set(target)
            self.seen = target
        return count


def install(services: Services) -> None:
    """Add the scheduler to the server's background tasks and chain the fake-clock hook (once)."""
    from openlines.methods.openlines_clock import ON_CLOCK_ADVANCED, ClockHook

    if SCHEDULER in services.extras:
        return
    scheduler = Scheduler(services)
    services.extras[SCHEDULER] = scheduler
    services.startup.append(scheduler.start)
    previous: ClockHook | None = services.extras.get(ON_CLOCK_ADVANCED)

    async def on_clock_advanced(now: float) -> None:
        await scheduler.catch_up(now)
        if previous is not None:
            await previous(now)

    services.extras[ON_CLOCK_ADVANCED] = on_clock_advanced


async def advance_clock(services: Services, seconds: float) -> float:
    """Move the fake clock and run what became due, as ``openlines.clock.advance`` does."""
    from openlines.methods.openlines_clock import ON_CLOCK_ADVANCED

    clock = services.clock
    assert isinstance(clock, FakeClock)
    now = clock.advance(seconds)
    hook: Callable[[float], Awaitable[None]] | None = services.extras.get(ON_CLOCK_ADVANCED)
    if hook is not None:
        await hook(now)
    return now
