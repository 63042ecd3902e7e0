"""Posting messages into chats. Every message goes through :func:`post`, so the session status
machine and the events a message causes (bot events, slash commands) live in one place.

Everything :func:`post` does joins the caller's transaction: the message, the session's new status
and the outbox rows commit together.
"""

from __future__ import annotations

import re
from typing import Any

from openlines.domain.message_status import AuthorRole, status_after_message
from openlines.domain.openlines import Bot, Chat, Message, Session
from openlines.domain.users import User
from openlines.engine import events
from openlines.services import Services, run_hooks

# "/command rest of the line": a slash command a bot registered (imbot.command.register).
_COMMAND = re.compile(r"^/([^\s/]+)(?:\s+(.*))?$", re.DOTALL)
# What a customer types to leave the welcome bot for a human (im Bot::onMessageAdd).
HAND_OVER_TEXT = "0"


def role_of(user: User | None) -> AuthorRole:
    if user is None:
        return "system"
    if user.kind == "customer":
        return "customer"
    if user.kind == "bot":
        return "bot"
    return "operator"


async def post(
    services: Services,
    chat: Chat,
    author_id: int,
    text: str,
    *,
    system: bool = False,
    params: dict[str, Any] | None = None,
    author: User | None = None,
    session: Session | None = None,
) -> Message:
    """Store a message in ``chat`` (inside the caller's transaction) and return it with its id.

    ``author`` and ``session`` may be passed when the caller already holds them (saves queries).
    System messages and messages by user 0 change no status and reach no bot.
    """
    store = services.store
    now = services.clock.now()
    message = Message(
        id=0, chat_id=chat.id, author_id=author_id, text=text, system=system, params=params or {}, date=now
    )
    async with store.atomic():
        await store.add_message(message)
        chat.last_message_id = message.id
        if author_id > 0:
            if author is None or author.id != author_id:
                author = await store.get_user(author_id)
            await _after_message(services, chat, message, author, session)
        else:
            await run_hooks(services, "on_system_message", chat, message)  # connectors, app events
    return message


async def post_system(services: Services, chat: Chat, text: str, **params: Any) -> Message:
    """A system notice (author 0). Not forwarded to the customer unless ``IMPORTANT_CONNECTOR='Y'``."""
    return await post(services, chat, 0, text, system=True, params=params)


async def _after_message(
    services: Services, chat: Chat, message: Message, author: User | None, session: Session | None
) -> None:
    store = services.store
    role = role_of(author)
    if chat.is_lines:
        if session is None or session.chat_id != chat.id or session.closed:
            session = await store.open_session_of_chat(chat.id)
        if session is not None:
            if not message.system:
                session.status = status_after_message(session.status, session.wait_answer, role)
            session.message_count += 1
            session.date_modify = message.date
            await store.save_session(session)
            await run_hooks(
                services, "on_message_posted", chat, session, role
            )  # routing, connectors, app events
            if role == "customer" and message.text == HAND_OVER_TEXT and session.owner_type == "bot":
                # The real server ends the bot's part instead of passing the "0" to the bot.
                await _end_bot_session(services, chat.id, message.author_id)
                return
    await _notify_bots(services, chat, session, message, author)


async def _end_bot_session(services: Services, chat_id: int, actor_id: int) -> None:
    from openlines.engine.transfer import end_bot_session  # imported late: transfer posts through here

    await end_bot_session(services, chat_id, actor_id)


def _hears(bot: Bot, chat: Chat, message: Message) -> bool:
    """Whether ``bot`` gets ONIMBOTMESSAGEADD for ``message`` (spec 7.1)."""
    if bot.id == message.author_id:
        return False
    if chat.is_lines:
        return bot.openline or bot.type == "O"
    if chat.type == "P":
        return True
    return bot.type == "S" or f"[USER={bot.id}]" in message.text


async def _notify_bots(
    services: Services, chat: Chat, session: Session | None, message: Message, author: User | None
) -> None:
    store = services.store
    bots = await store.bots_in_chat(chat.id)
    commanded: set[int] = set()
    match = _COMMAND.match(message.text) if message.text.startswith("/") else None
    if match is not None:
        for command in await store.commands_for_chat(chat.id, match.group(1)):
            bot = next((b for b in bots if b.id == command.bot_id), None) or await store.get_bot(
                command.bot_id
            )
            if bot is None or bot.id == message.author_id:
                continue
            event = events.command_add(
                services,
                bot,
                command.id,
                command.command,
                (match.group(2) or "").strip(),
                command.handler,
                chat,
                session,
                message,
                author,
            )
            if event is not None:
                commanded.add(bot.id)
                await store.add_event(event, message.date)
    private_to = 0
    if chat.type == "P":
        private_to = next((b.id for b in bots if b.id != message.author_id), 0)
    for bot in bots:
        if bot.id in commanded or not _hears(bot, chat, message):
            continue
        event = events.message_add(services, bot, chat, session, message, author, private_to)
        if event is not None:
            await store.add_event(event, message.date)
