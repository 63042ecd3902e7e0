"""What a human operator does with a dialogue: answer, reject (skip), mark as spam, finish, transfer,
intercept, join, start a new session, pin, and the supervisor's vote.

Ownership changes go through :mod:`openlines.engine.transfer` (so each writes its history row).
Each action runs its access check and the change in one transaction, so a check cannot go stale
before the change commits.
"""

from __future__ import annotations

from dataclasses import replace

from openlines.domain import texts
from openlines.domain.openlines import Chat, Session, Status
from openlines.engine import messages, sessions
from openlines.engine import transfer as ownership
from openlines.engine.access import (
    access_error,
    already_answered,
    can_join,
    chat_id_error,
    chat_type_error,
    kick_denied,
    no_open_session,
    not_your_session,
    operator_wrong,
    user_id_error,
)
from openlines.protocol.errors import RestError
from openlines.services import Services
from openlines.store.base import LockConflict


async def check_access(services: Services, chat_id: int, user_id: int, admin: bool) -> Chat:
    """The chat, locked for this transaction, or the Operator class's error in its order."""
    if chat_id <= 0:
        raise chat_id_error()
    if user_id <= 0:
        raise user_id_error()
    store = services.store
    try:
        chat = await store.lock_chat(chat_id)
    except LockConflict:
        raise operator_wrong() from None
    if chat is None:
        raise chat_id_error()
    if await store.is_member(chat_id, user_id):
        if not chat.is_lines:
            raise chat_type_error()
        return chat
    if not chat.is_lines:
        raise chat_type_error()
    if not await can_join(services, chat, user_id, admin):
        raise access_error()
    return chat


async def _open_session(services: Services, chat: Chat) -> Session:
    session = await services.store.open_session_of_chat(chat.id)
    if session is None:
        raise no_open_session()
    return session


# --- ownership actions ------------------------------------------------------------------------------------


async def answer(services: Services, chat_id: int, user_id: int, admin: bool) -> None:
    """The operator takes the dialogue (``imopenlines.operator.answer``)."""
    async with services.store.atomic():
        chat = await check_access(services, chat_id, user_id, admin)
        session = await _open_session(services, chat)
        taken = session.owner_type == "user" and session.operator_id != user_id
        if taken and session.status >= Status.ANSWER:
            raise already_answered()
        if not await ownership.answer(services, chat.id, user_id, "operator"):
            raise access_error()


async def skip(services: Services, chat_id: int, user_id: int, admin: bool) -> None:
    """The operator rejects the dialogue: it goes back to its line's queue (``operator.skip``)."""
    async with services.store.atomic():
        chat = await check_access(services, chat_id, user_id, admin)
        session = await _open_session(services, chat)
        if session.owner_type != "user" or session.operator_id != user_id:
            raise kick_denied()
        if not await _someone_else_in_queue(services, session.line_id, user_id):
            # The real server keeps the dialogue with its operator and tells them why.
            await messages.post_system(services, chat, texts.skip_alone())
            await services.store.save_chat(chat)
            return
        done = await ownership.transfer(
            services,
            chat.id,
            "queue",
            session.line_id,
            mode="operator",
            from_type="user",
            from_id=user_id,
            actor_id=user_id,
            leave=True,
            reason="skip",
        )
        if not done:
            raise no_open_session()


async def _someone_else_in_queue(services: Services, line_id: int, user_id: int) -> bool:
    """Whether the line's queue has another operator who could take a rejected dialogue."""
    store = services.store
    for other_id in await store.queue_of(line_id):
        if other_id != user_id:
            other = await store.get_user(other_id)
            if other is not None and other.can_operate:
                return True
    return False


async def finish(
    services: Services, chat_id: int, user_id: int, admin: bool, *, spam: bool = False, other: bool = False
) -> None:
    """Close the dialogue: one's own (``finish``), anyone's (``another.finish``), or as spam."""
    async with services.store.atomic():
        chat = await check_access(services, chat_id, user_id, admin)
        session = await _open_session(services, chat)
        holder = session.operator_id if session.owner_type == "user" else 0
        if not (spam or other) and holder not in (0, user_id):
            raise not_your_session()
        if not await ownership.finish(services, chat.id, user_id, spam=spam):
            raise no_open_session()


async def transfer(
    services: Services, chat_id: int, user_id: int, admin: bool, to_type: str, to_id: int
) -> bool:
    """``imopenlines.operator.transfer``: False for every refusal (answered OPERATOR_WRONG)."""
    if to_type == "user" and to_id == user_id:
        return False  # the real server refuses a transfer to oneself
    try:
        async with services.store.atomic():
            chat = await check_access(services, chat_id, user_id, admin)
            return await ownership.transfer(
                services,
                chat.id,
                "user" if to_type == "user" else "queue",
                to_id,
                mode="operator",
                from_type="user",
                from_id=user_id,
                actor_id=user_id,
                leave=True,
            )
    except RestError:
        # The real handler reports any access failure as OPERATOR_WRONG. Raising out of the block
        # rolls the transaction back (on PostgreSQL a refused lock has already aborted it).
        return False


async def intercept(services: Services, chat_id: int, user_id: int, admin: bool) -> bool:
    """Take the dialogue from whoever holds it (``imopenlines.session.intercept``); False → OPERATOR_WRONG."""
    try:
        async with services.store.atomic():
            chat = await check_access(services, chat_id, user_id, admin)
            session = await services.store.open_session_of_chat(chat.id)
            if session is None or (session.owner_type == "user" and session.operator_id == user_id):
                return False
            from_type = session.owner_type if session.operator_id > 0 else "queue"
            return await ownership.transfer(
                services,
                chat.id,
                "user",
                user_id,
                mode="intercept",
                from_type=from_type,
                from_id=session.operator_id,
                actor_id=user_id,
                leave=True,
            )
    except RestError:
        return False


# --- membership, new sessions, pins, votes ------------------------------------------------------------------


async def join(services: Services, chat_id: int, user_id: int, admin: bool) -> None:
    """Join the chat as an extra participant; the owner does not change (``session.join``)."""
    async with services.store.atomic():
        chat = await check_access(services, chat_id, user_id, admin)
        await services.store.add_member(chat.id, user_id, services.clock.now())


async def start(services: Services, chat_id: int, user_id: int, admin: bool, message_id: int = 0) -> None:
    """Close the open session (if any) and open a new one held by this operator (``session.start``,
    ``message.session.start``). The new session skips the welcome bot: an operator started it."""
    store = services.store
    async with store.atomic():
        chat = await check_access(services, chat_id, user_id, admin)
        line = await store.get_line(chat.line_id)
        if line is None:
            raise chat_type_error()
        if await store.open_session_of_chat(chat.id) is not None:
            await ownership.finish(services, chat.id, user_id, restart=True)
            chat = await store.get_chat(chat.id) or chat
        no_bot = replace(line, settings={**line.settings, "WELCOME_BOT_ENABLE": "N"})
        session = await sessions.open_session(services, chat, no_bot, chat_is_new=False)
        session.mode = "output"
        if message_id > 0:
            message = await store.get_message(message_id)
            if message is not None and message.chat_id == chat.id:
                session.start_id = message_id
        await store.save_session(session)
        if not await ownership.answer(services, chat.id, user_id, "operator"):
            raise access_error()


async def set_pin(services: Services, chat_id: int, user_id: int, admin: bool, pinned: bool) -> None:
    """Pin (pause) or unpin the chat's open session (``session.mode.pin`` / ``.unpin``)."""
    async with services.store.atomic():
        chat = await check_access(services, chat_id, user_id, admin)
        session = await _open_session(services, chat)
        if session.pinned != pinned:
            session.pinned = pinned
            session.date_modify = services.clock.now()
            await services.store.save_session(session)


async def pin_all(services: Services, user_id: int, pinned: bool) -> list[int]:
    """Pin or unpin every open session this operator holds; the ids that changed."""
    store = services.store
    changed: list[int] = []
    async with store.atomic():
        for listed in await store.open_sessions(operator_id=user_id):
            if listed.owner_type != "user" or listed.pinned == pinned:
                continue
            try:
                await store.lock_chat(listed.chat_id)
            except LockConflict:
                continue  # being changed right now; left as it is
            session = await store.get_session(listed.id)  # re-read under the chat's lock
            if (
                session is None
                or session.closed
                or session.operator_id != user_id
                or session.pinned == pinned
            ):
                continue
            session.pinned = pinned
            session.date_modify = services.clock.now()
            await store.save_session(session)
            changed.append(session.id)
    return changed


async def vote_head(services: Services, session_id: int, rating: int | None, comment: str | None) -> bool:
    """Store a supervisor's rating (1-5) and/or comment on a session; False if there is none."""
    store = services.store
    async with store.atomic():
        session = await store.get_session(session_id)
        if session is None:
            return False
        try:
            await store.lock_chat(session.chat_id)
        except LockConflict:
            raise operator_wrong() from None
        session = await store.get_session(session_id) or session  # re-read under the chat's lock
        if rating is not None:
            session.vote_head = rating
        if comment is not None:
            session.comment_head = comment
        await store.save_session(session)
    return True
