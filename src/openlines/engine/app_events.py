"""What apps hear about Open Lines dialogues through ``event.bind`` (spec 8.1): OnSessionStart,
OnSessionFinish and OnOpenLineMessageAdd / Update / Delete.

Who hears it: a dialogue that came in through an app's custom connector concerns that app only (the
documented rule: "only events that concern the connector registered by the same app"); dialogues of
the built-in live chat, which no app registered, go to every app bound to the event. Each event is an
outbox row written in the transaction of its cause, and nothing is written while no app that would
receive it has bound the event. The functions here are engine hooks (see :func:`install_hooks`), so
the session and message code stays unaware of apps.
"""

from __future__ import annotations

from typing import Any

from openlines.domain.openlines import Bot, Chat, Line, Message, Session
from openlines.engine.connectors import custom_connector
from openlines.engine.events import add_app_event, is_bound, yn
from openlines.services import Services, add_hooks

SESSION_START = "ONSESSIONSTART"
SESSION_FINISH = "ONSESSIONFINISH"
MESSAGE_ADD = "ONOPENLINEMESSAGEADD"
MESSAGE_UPDATE = "ONOPENLINEMESSAGEUPDATE"
MESSAGE_DELETE = "ONOPENLINEMESSAGEDELETE"
CHANGES = {"MESSAGE_UPDATE": MESSAGE_UPDATE, "MESSAGE_DELETE": MESSAGE_DELETE}


async def listener(services: Services, chat: Chat, name: str) -> str | None:
    """The app ``name`` about ``chat`` goes to ('' = every bound app), or None when no app that
    should hear it has bound it. The cheap check (is anybody bound?) comes first: it is the usual
    answer, and it spares the connector lookup."""
    if not chat.is_lines or not await is_bound(services, name):
        return None
    connector = await custom_connector(services, chat)
    if connector is None:
        return ""
    return connector.app_id if await is_bound(services, name, connector.app_id) else None


def connector_block(chat: Chat, line_id: int, customer_id: int) -> dict[str, str]:
    return {
        "connector_id": chat.connector,
        "line_id": str(line_id),
        "chat_id": chat.external_chat_id,
        "user_id": str(customer_id),
    }


def session_entry(chat: Chat, session: Session) -> dict[str, Any]:
    """One ``DATA`` entry of OnSessionStart / OnSessionFinish, in the documented list shape."""
    return {
        "connector": connector_block(chat, session.line_id, session.customer_id),
        "session": {
            "id": str(session.id),
            "closed": yn(session.closed),
            "parent_id": str(session.parent_id),
            "close_term": "0",
        },
        "chat": {"id": str(chat.id)},
        "user": {"id": str(session.customer_id)},
    }


def message_entry(chat: Chat, message: Message) -> dict[str, Any]:
    """One ``DATA`` entry of OnOpenLineMessageAdd (and of a customer's edit or deletion). A
    customer's message that came through a connector is known by its id in the external channel."""
    external_id = message.params.get("CONNECTOR_MID") if message.author_id == chat.customer_id else None
    return {
        "connector": connector_block(chat, chat.line_id, chat.customer_id),
        "chat": {"id": chat.external_chat_id},
        "message": {
            "id": str(external_id or message.id),
            "date": str(int(message.date)),
            "text": message.text,
            "files": message.params.get("FILES") or [],
            "attach": message.params.get("ATTACH") or [],
            "system": yn(message.system),
            "user_id": str(message.author_id),
        },
        "ref": [],
        "extra": {"EXTRA_URL": ""},
    }


def change_data(chat: Chat, message: Message) -> dict[str, Any]:
    """``data`` of OnOpenLineMessageUpdate / Delete. A customer's own edit carries the message as
    Add does; an operator's or bot's carries the ids the connector needs to find its copy."""
    if message.author_id == chat.customer_id:
        return {"DATA": [message_entry(chat, message)]}
    return {
        "CONNECTOR": chat.connector,
        "LINE": str(chat.line_id),
        "DATA": [
            {
                "im": {"chat_id": str(chat.id), "message_id": str(message.id)},
                "message": {"id": str(message.id)},
                "chat": {"id": chat.external_chat_id},
            }
        ],
    }


async def _session_event(services: Services, chat: Chat, session: Session, name: str) -> None:
    app_id = await listener(services, chat, name)
    if app_id is not None:
        await add_app_event(services, name, chat.id, {"DATA": [session_entry(chat, session)]}, app_id)


async def on_session_opened(
    services: Services, chat: Chat, session: Session, line: Line, bot: Bot | None
) -> None:
    """``on_session_opened`` hook: OnSessionStart."""
    await _session_event(services, chat, session, SESSION_START)


async def on_finished(services: Services, chat: Chat, session: Session) -> None:
    """``on_finished`` hook: OnSessionFinish."""
    await _session_event(services, chat, session, SESSION_FINISH)


async def on_system_message(services: Services, chat: Chat, message: Message) -> None:
    """``on_system_message`` hook: a notice is a message of the chat too (OnOpenLineMessageAdd)."""
    app_id = await listener(services, chat, MESSAGE_ADD)
    if app_id is not None:
        await add_app_event(services, MESSAGE_ADD, chat.id, {"DATA": [message_entry(chat, message)]}, app_id)


async def on_message_posted(services: Services, chat: Chat, session: Session, role: str) -> None:
    """``on_message_posted`` hook: OnOpenLineMessageAdd for a customer's, operator's or bot's message."""
    app_id = await listener(services, chat, MESSAGE_ADD)
    if app_id is None:
        return
    message = await services.store.get_message(chat.last_message_id)
    if message is not None:
        await add_app_event(services, MESSAGE_ADD, chat.id, {"DATA": [message_entry(chat, message)]}, app_id)


async def on_message_changed(services: Services, chat: Chat, message: Message, kind: str) -> None:
    """``on_message_changed`` hook (a bot's edit or deletion, a customer's through its connector):
    OnOpenLineMessageUpdate / Delete."""
    name = CHANGES.get(kind)
    if name is None:
        return
    app_id = await listener(services, chat, name)
    if app_id is not None:
        await add_app_event(services, name, chat.id, change_data(chat, message), app_id)


HOOKS: dict[str, Any] = {
    "on_session_opened": on_session_opened,
    "on_finished": on_finished,
    "on_system_message": on_system_message,
    "on_message_posted": on_message_posted,
    "on_message_changed": on_message_changed,
}


async def install_hooks(services: Services) -> None:
    """Register the hooks on the services (idempotent; a catalog config applier)."""
    add_hooks(services, HOOKS)
