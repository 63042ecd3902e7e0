"""Session lifecycle: opening a session in a chat, owned by the line's welcome bot or its queue."""

from __future__ import annotations

from openlines.domain.openlines import Chat, Line, Session, Status
from openlines.protocol.php import php_int
from openlines.services import Services, run_hooks


def welcome_bot_of(line: Line, chat_is_new: bool) -> int:
    """The bot that takes a new session on this line, or 0 (behaviour notes 2.6, "Welcome bot")."""
    if not line.active or line.setting("WELCOME_BOT_ENABLE") != "Y":
        return 0
    bot_id = php_int(line.setting("WELCOME_BOT_ID"))
    if bot_id <= 0:
        return 0
    if line.setting("WELCOME_BOT_JOIN") == "first" and not chat_is_new:
        return 0
    return bot_id


async def open_session(services: Services, chat: Chat, line: Line, chat_is_new: bool) -> Session:
    """Start a session in ``chat`` inside the caller's transaction.

    With a welcome bot the bot owns it and joins the chat; otherwise the line's queue owns it and
    routing (when present) decides who gets it.
    """
    store = services.store
    now = services.clock.now()
    bot_id = welcome_bot_of(line, chat_is_new)
    bot = await store.get_bot(bot_id) if bot_id else None
    session = Session(
        id=0,
        chat_id=chat.id,
        line_id=line.id,
        customer_id=chat.customer_id,
        user_code=chat.entity_id,
        source=chat.connector,
        status=Status.NEW,
        owner_type="bot" if bot else "queue",
        operator_id=bot.id if bot else 0,
        wait_answer=True,
        date_create=now,
        date_modify=now,
    )
    await store.create_session(session)
    chat.session_id = session.id
    chat.line_id = line.id
    await store.save_chat(chat)
    if bot is not None:
        await store.add_member(chat.id, bot.id, now)
    await run_hooks(services, "on_session_opened", chat, session, line, bot)
    return session
