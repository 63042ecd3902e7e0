"""Distribution of waiting sessions to operators, inside the caller's transaction.

:func:`distribute` loads what :mod:`openlines.domain.routing` needs one operator at a time (stopping at
the first who can take the session), applies the decision — an assignment is an owner change with a
``routing`` history row, the real "according to queuing rules" notice and a transfer event — records
the decision with every candidate's verdict for ``openlines.routing.explain``, and arms the queue
timer that tries the next operator when nobody answers.

The hooks at the bottom connect it to the rest of the engine (see :func:`install`).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from openlines.domain import routing as rules
from openlines.domain import texts
from openlines.domain.openlines import Bot, Chat, Line, Session, Status, Transfer
from openlines.engine import transfer as ownership
from openlines.services import Services, add_hooks
from openlines.store.base import LockConflict

BATCH = 20  # waiting sessions re-tried per line when an operator becomes free
PAGE = 8  # queue operators read per query
ROUTING_WRITE = "routing_write"  # services.extras flag: routing is writing its own owner change
CAUSES = ("opened", "queued", "queue_timer", "operator_free", "operator_unavailable", "welcome_bot_timeout")


def idle_timeout(services: Services) -> float:
    return float(getattr(services.config.server, "operator_idle_timeout", 0) or 0)


async def candidate(
    services: Services, line: Line, user_id: int, sort: int, last_activity: float, stop: int, current: int
) -> rules.Candidate:
    """The facts about one queue operator: three indexed lookups at most."""
    store = services.store
    user = await store.get_user(user_id)
    active = user is not None and user.can_operate
    presence = rules.PresenceState(user_id)
    if active and rules.checks_availability(line):
        presence = await store.get_presence(user_id)
    timeout = idle_timeout(services)
    idle = (
        timeout > 0
        and presence.known
        and presence.status == "online"
        and services.clock.now() - presence.last_seen > timeout
    )
    load = 0
    if active and user_id != current:
        load = await store.count_operator_load(user_id, line.id, stop)
    return rules.Candidate(user_id, sort, last_activity, active, presence.status, presence.paused, idle, load)


def _sync(target: Session, source: Session) -> None:
    """Callers may still hold (and later save) the session object they passed in: keep it current."""
    for f in fields(Session):
        setattr(target, f.name, getattr(source, f.name))


async def _arm_queue_timer(services: Services, line: Line, session: Session, changed: bool = True) -> None:
    """The next distribution pass after QUEUE_TIME. A pass that changed nothing backs off (the wait
    grows with the time since the session last changed), so a long clock advance over a session
    nobody can take costs a few passes, not one per QUEUE_TIME; events assign it at once anyway."""
    from openlines.engine import timers

    now = services.clock.now()
    delay = rules.queue_time(line)
    if not changed:
        delay = max(delay, now - session.date_modify)
    await timers.arm(services, session, "queue", now + delay)


async def distribute(services: Services, chat: Chat, session: Session, cause: str) -> rules.Decision | None:
    """Find who should get a waiting session and make it so (joins the caller's transaction).

    None when the session is not waiting for an operator (answered, with a bot, closed) or its line
    is gone. ``session`` and ``chat`` are updated in place.
    """
    store = services.store
    if not rules.is_waiting_for_answer(session):
        return None
    line = await store.line_settings(session.line_id)
    if line is None:
        return None
    now = services.clock.now()
    kind = rules.queue_type_of(line)
    current = session.operator_id if session.owner_type == "user" else 0
    stop = rules.stop_status(line)
    pass_ = rules.Distribution(
        kind,
        check_available=rules.checks_availability(line),
        limit=rules.max_chat(line),
        history=session.queue_history,
        current_operator=current,
    )
    after: tuple[float, int, int] | None = None
    done = False
    while not done:  # the queue in distribution order, a page at a time: usually one page is enough
        page = await store.queue_page(line.id, kind == "evenly", after, PAGE)
        for uid, sort, seen in page:
            if pass_.consider(await candidate(services, line, uid, sort, seen, stop, current)):
                done = True
                break
        if len(page) < PAGE:
            break
        uid, sort, seen = page[-1]
        after = (seen, sort, uid)
    decision = pass_.result()
    transfer_id = await _apply(services, chat, session, line, decision, now)
    await store.add_decision(
        {
            "session_id": session.id,
            "chat_id": chat.id,
            "line_id": line.id,
            "cause": cause,
            "queue_type": kind,
            "result": "returned" if decision.result == "waiting" and current else decision.result,
            "operator_id": decision.operator_id,
            "transfer_id": transfer_id,
            "candidates": [
                {"user_id": v.user_id, "verdict": v.verdict, "reason": v.reason} for v in decision.verdicts
            ],
            "date_create": now,
        }
    )
    return decision


async def _apply(
    services: Services, chat: Chat, session: Session, line: Line, decision: rules.Decision, now: float
) -> int:
    """Write the decision; answers the id of the transfer-history row it made (0: none)."""
    store = services.store
    if decision.result == "assigned":
        members = await store.member_kinds(chat.id)
        change = rules.plan_assignment(
            session, members, decision.operator_id, decision.queue_history, now=now
        )
        return await _write_change(services, chat, session, line, change, now, decision.operator_id)
    if decision.result == "waiting" and session.owner_type == "user":
        members = await store.member_kinds(chat.id)
        change = rules.plan_return_to_queue(session, members, decision.queue_history, now=now)
        return await _write_change(services, chat, session, line, change, now, 0)
    if decision.result == "offered":
        had_offers = bool(await store.offers_of(session.id))
        added = await store.add_offers(session.id, line.id, decision.offered, now)
        if added or session.status < Status.SKIP:
            session.status = Status.SKIP
            session.date_modify = now
        await store.save_session(session)
        if added and not had_offers:
            await ownership._notify(services, chat, [texts.assign_operator_list()])
        await _arm_queue_timer(services, line, session, changed=bool(added))
        return 0
    # kept, or still nobody
    session.queue_history = decision.queue_history
    await store.save_session(session)
    await _arm_queue_timer(services, line, session, changed=False)
    return 0


async def _write_change(
    services: Services,
    chat: Chat,
    session: Session,
    line: Line,
    change: Any,
    now: float,
    operator_id: int,
) -> int:
    services.extras[ROUTING_WRITE] = True
    try:
        await ownership._write(services, chat, change, now)
    finally:
        services.extras[ROUTING_WRITE] = False
    await ownership._record(services, chat, change)
    if operator_id:
        await services.store.touch_operator(line.id, operator_id, now)
    _sync(session, change.session)
    await ownership._notify(services, chat, change.notices)
    await _arm_queue_timer(services, line, session)
    return int(change.history.id) if change.history is not None else 0


async def _try_lock(services: Services, chat_id: int) -> Chat | None:
    """The chat locked for this transaction, or None when another one holds it (PostgreSQL): that
    session is being changed right now and its own queue timer looks at it again."""
    try:
        return await services.store.lock_chat(chat_id)
    except LockConflict:
        return None


async def operator_freed(
    services: Services, user_id: int, cause: str = "operator_free", exclude: int = 0
) -> int:
    """Someone may take waiting sessions now (came online, ended a pause, freed a slot): run the
    distribution of the oldest waiting sessions of each line of theirs. Answers how many moved."""
    store = services.store
    moved = 0
    async with store.atomic():
        for line_id in await store.lines_of_operator(user_id):
            for session_id in await store.waiting_session_ids(line_id, BATCH + 1):
                session = await store.get_session(session_id) if session_id != exclude else None
                if session is None:
                    continue
                chat = await _try_lock(services, session.chat_id)
                if chat is None:
                    continue
                session = await store.get_session(session_id) or session  # as of the lock
                decision = await distribute(services, chat, session, cause)
                if decision is None:
                    continue
                if decision.result == "waiting":
                    break  # nobody in this line can take more now
                moved += 1
    return moved


async def operator_unavailable(services: Services, user_id: int) -> int:
    """The operator went offline, away or on pause: sessions assigned to them but not yet answered
    go to the next operator where the line checks availability."""
    store = services.store
    moved = 0
    async with store.atomic():
        for session in await store.open_sessions(operator_id=user_id):
            if session.owner_type != "user" or not rules.is_waiting_for_answer(session):
                continue
            line = await store.line_settings(session.line_id)
            chat = await _try_lock(services, session.chat_id)
            if line is None or chat is None or not rules.checks_availability(line):
                continue
            current = await store.get_session(session.id)  # as of the lock
            if current is None or current.owner_type != "user" or current.operator_id != user_id:
                continue
            if await distribute(services, chat, current, "operator_unavailable") is not None:
                moved += 1
    return moved


# --- hooks ------------------------------------------------------------------------------------------


async def on_session_opened(
    services: Services, chat: Chat, session: Session, line: Line, bot: Bot | None
) -> None:
    """A new session: the welcome bot holds it until WELCOME_BOT_TIME (0: forever); without one the
    queue distributes it at once."""
    from openlines.engine import timers

    now = services.clock.now()
    if bot is not None:
        hold = rules.seconds_setting(line, "WELCOME_BOT_TIME")
        if hold > 0:
            await timers.arm(services, session, "welcome_bot", now + hold)
        return
    await _entered_queue(services, chat, session, line, "opened")


async def on_queued(services: Services, chat: Chat, session: Session) -> None:
    store = services.store
    line = await store.line_settings(session.line_id)
    if line is None:
        return
    last = await store.last_transfer_source(session.id)
    if last is not None and last[0] == "user" and last[2:] == ("queue", line.id):
        # An operator rejected it within the line: count them as tried, as the real skip does.
        session.queue_history = [last[1]]
    await _entered_queue(services, chat, session, line, "queued")


async def _entered_queue(services: Services, chat: Chat, session: Session, line: Line, cause: str) -> None:
    from openlines.engine import timers

    if line.setting("NO_ANSWER_RULE") == "text":
        delay = rules.seconds_setting(line, "NO_ANSWER_TIME")
        await timers.arm(services, session, "no_answer", services.clock.now() + delay)
    await distribute(services, chat, session, cause)


async def on_owner_changed(
    services: Services, chat: Chat, session: Session, history: Transfer | None = None
) -> None:
    """Offers and waiting timers lose their meaning once the session has a new owner. ``history``:
    the transfer row the change has just written, when the caller has it (saves reading it back)."""
    store = services.store
    if session.owner_type != "queue":
        await store.clear_offers(session.id)
    kinds: tuple[str, ...] = () if rules.is_waiting_for_answer(session) else ("queue", "no_answer")
    if session.owner_type != "bot":
        kinds += ("welcome_bot",)
    if kinds:
        await store.cancel_timers(session.id, kinds)
    if services.extras.get(ROUTING_WRITE):
        return  # routing's own move: the operator who let it time out gets no new work at once
    if history is not None:
        last: tuple[str, int, str, int] | None = (
            history.from_type,
            history.from_id,
            history.to_type,
            history.to_id,
        )
    else:
        last = await store.last_transfer_source(session.id)
    if (
        last is not None
        and last[0] == "user"
        and not (session.owner_type == "user" and session.operator_id == last[1])
    ):
        # a transfer, a rejection or another operator's answer took it from them: their slot is free
        await operator_freed(services, last[1], exclude=session.id)


async def on_finished(services: Services, chat: Chat, session: Session) -> None:
    store = services.store
    await store.drop_session_timers(session.id)
    await store.clear_offers(session.id)
    if session.owner_type == "user" and session.operator_id > 0:
        await operator_freed(services, session.operator_id)


async def on_message_posted(services: Services, chat: Chat, session: Session, role: str) -> None:
    """An operator's reply arms auto-close (and may free a MAX_CHAT slot); a customer's cancels it."""
    from openlines.engine import timers

    if session.closed:
        return
    if role == "customer":
        await services.store.cancel_timers(session.id, ("auto_close",))
        return
    if role != "operator" or session.status != Status.OPERATOR:
        return
    line = await services.store.line_settings(session.line_id)
    if line is None:
        return
    delay = rules.seconds_setting(line, "AUTO_CLOSE_TIME")
    if delay > 0:
        await timers.arm(services, session, "auto_close", services.clock.now() + delay)
    if session.owner_type == "user" and rules.stop_status(line) <= Status.OPERATOR:
        await operator_freed(services, session.operator_id)


HOOKS: dict[str, Any] = {
    "on_session_opened": on_session_opened,
    ownership.ON_QUEUED: on_queued,
    ownership.ON_OWNER_CHANGED: on_owner_changed,
    ownership.ON_FINISHED: on_finished,
    "on_message_posted": on_message_posted,
}


async def install(services: Services) -> None:
    """Register the hooks, the timer scheduler and the fake-clock hook (idempotent; a catalog
    config applier). Nothing is installed when ``[server] routing`` is off."""
    from openlines.engine import timers

    if not getattr(services.config.server, "routing", False):
        return
    add_hooks(services, HOOKS)
    timers.install(services)
