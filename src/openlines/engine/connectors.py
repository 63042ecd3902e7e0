"""What custom channel connectors hear: operator and bot replies in their chats
(OnImConnectorMessageAdd / Update / Delete) and the start and end of their dialogues
(OnImConnectorDialogStart / Finish).

Each event is an outbox row written in the transaction of its cause, aimed at the app that registered
the connector: the delivery worker hands it to that app's ``event.bind`` handlers only, never to
another app's. Nothing is written when the app has not bound the event. The functions here are hooks
(see :func:`install_hooks`), so the message and session code stays unaware of connectors.
"""

from __future__ import annotations

from typing import Any

from openlines.domain.connectors import LIVECHAT, Connector, reply_text
from openlines.domain.openlines import Bot, Chat, Line, Message, Session
from openlines.engine.events import emit_to_apps
from openlines.services import Services, add_hooks

MESSAGE_ADD = "ONIMCONNECTORMESSAGEADD"
MESSAGE_UPDATE = "ONIMCONNECTORMESSAGEUPDATE"
MESSAGE_DELETE = "ONIMCONNECTORMESSAGEDELETE"
DIALOG_START = "ONIMCONNECTORDIALOGSTART"
DIALOG_FINISH = "ONIMCONNECTORDIALOGFINISH"
STATUS_DELETE = "ONIMCONNECTORSTATUSDELETE"
LINE_DELETE = "ONIMCONNECTORLINEDELETE"


def reaches_customer(message: Message) -> bool:
    """Whether the external channel shows ``message``: never with SKIP_CONNECTOR=Y; system notices
    only when flagged IMPORTANT_CONNECTOR=Y (behaviour notes 2.5)."""
    params = message.params
    if str(params.get("SKIP_CONNECTOR", "")).upper() == "Y":
        return False
    if message.system or message.author_id == 0:
        return str(params.get("IMPORTANT_CONNECTOR", "")).upper() == "Y"
    return True


async def custom_connector(services: Services, chat: Chat) -> Connector | None:
    """The registered custom connector of a LINES chat (None for livechat and other chats)."""
    if not chat.is_lines or not chat.connector or chat.connector == LIVECHAT:
        return None
    return await services.store.get_connector(chat.connector)


async def message_block(
    services: Services, connector: Connector, chat: Chat, message: Message
) -> dict[str, Any]:
    """One entry of ``data[MESSAGES]``: ``{im, message, chat}`` as spec 8.2 shows it."""
    author = await services.store.get_user(message.author_id) if message.author_id else None
    name = author.full_name if author is not None else ""
    text = reply_text(name, message.text, connector.flag("NEED_SIGNATURE") and not message.system)
    body: dict[str, Any] = {"user_id": str(message.author_id), "text": text}
    files = message.params.get("FILES")
    if files:
        body["files"] = files
    return {
        "im": {"chat_id": str(chat.id), "message_id": str(message.id)},
        "message": body,
        "chat": {"id": chat.external_chat_id},
    }


def _envelope(connector: Connector, chat: Chat, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"CONNECTOR": connector.id, "LINE": str(chat.line_id), key: items}


async def message_changed(services: Services, chat: Chat, message: Message, name: str) -> None:
    """An operator's or bot's message in a connector chat was added, edited or deleted."""
    connector = await custom_connector(services, chat)
    if connector is None or message.author_id == chat.customer_id or not reaches_customer(message):
        return
    block = await message_block(services, connector, chat, message)
    await emit_to_apps(
        services, name, chat.id, _envelope(connector, chat, "MESSAGES", [block]), connector.app_id
    )


async def on_message_posted(services: Services, chat: Chat, session: Session, role: str) -> None:
    """``on_message_posted`` hook: a reply by an operator or bot goes out to the connector app."""
    if role == "customer" or chat.last_message_id <= 0:
        return
    if await custom_connector(services, chat) is None:
        return
    message = await services.store.get_message(chat.last_message_id)
    if message is not None:
        await message_changed(services, chat, message, MESSAGE_ADD)


async def on_system_message(services: Services, chat: Chat, message: Message) -> None:
    """``on_system_message`` hook: a notice flagged IMPORTANT_CONNECTOR=Y (welcome text, closing
    notice) reaches the channel too."""
    await message_changed(services, chat, message, MESSAGE_ADD)


CHANGES = {"MESSAGE_UPDATE": MESSAGE_UPDATE, "MESSAGE_DELETE": MESSAGE_DELETE}


async def on_message_changed(services: Services, chat: Chat, message: Message, kind: str) -> None:
    """``on_message_changed`` hook (imbot.message.update / delete): OnImConnectorMessageUpdate / Delete."""
    name = CHANGES.get(kind)
    if name is not None:
        await message_changed(services, chat, message, name)


def _dialog_entry(connector: Connector, chat: Chat, session: Session) -> dict[str, Any]:
    return {
        "connector": {
            "connector_id": connector.id,
            "line_id": str(chat.line_id),
            "chat_id": chat.external_chat_id,
            "user_id": str(chat.customer_id),
        },
        "session": {"ID": str(session.id), "CHAT_ID": str(chat.id)},
        "chat": {"id": chat.external_chat_id},
        "user": {"id": str(chat.customer_id)},
    }


async def _dialog(services: Services, chat: Chat, session: Session, name: str) -> None:
    connector = await custom_connector(services, chat)
    if connector is not None:
        entry = _dialog_entry(connector, chat, session)
        await emit_to_apps(
            services, name, chat.id, _envelope(connector, chat, "DATA", [entry]), connector.app_id
        )


async def on_session_opened(
    services: Services, chat: Chat, session: Session, line: Line, bot: Bot | None
) -> None:
    """``on_session_opened`` hook: OnImConnectorDialogStart."""
    await _dialog(services, chat, session, DIALOG_START)


async def on_finished(services: Services, chat: Chat, session: Session) -> None:
    """``on_finished`` hook: OnImConnectorDialogFinish."""
    await _dialog(services, chat, session, DIALOG_FINISH)


async def switched_off(services: Services, connector: Connector, line_id: int) -> None:
    """The connector was switched off on a line (``imconnector.activate`` with ACTIVE=0):
    OnImConnectorStatusDelete ``{CONNECTOR, LINE}`` to its app."""
    data = {"CONNECTOR": connector.id, "LINE": str(line_id)}
    await emit_to_apps(services, STATUS_DELETE, 0, data, connector.app_id)


async def line_deleted(services: Services, line_id: int) -> None:
    """A line is being deleted (in the caller's transaction): its connector states go, and each app
    with a connector on it hears OnImConnectorLineDelete once. Its ``data`` is the line id itself,
    as handlers in the field read it (the documentation names a LINE_ID parameter; UNCONFIRMED)."""
    apps: list[str] = []
    for state in await services.store.drop_line_connectors(line_id):
        connector = await services.store.get_connector(state.connector)
        if connector is not None and connector.app_id not in apps:
            apps.append(connector.app_id)
    for app_id in apps:
        await emit_to_apps(services, LINE_DELETE, 0, str(line_id), app_id)


HOOKS: dict[str, Any] = {
    "on_message_posted": on_message_posted,
    "on_message_changed": on_message_changed,
    "on_system_message": on_system_message,
    "on_session_opened": on_session_opened,
    "on_finished": on_finished,
}


async def install_hooks(services: Services) -> None:
    """Register the connector hooks on the services (idempotent; a catalog config applier)."""
    add_hooks(services, HOOKS)
