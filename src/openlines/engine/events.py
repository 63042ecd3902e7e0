"""Payloads of the events a v1 chat bot receives (spec section 7), ready for the outbox.

Each builder returns an :class:`OutboxEvent` whose ``payload`` is ``{"event", "data", "auth"}``: the
delivery worker adds ``ts`` and ``event_handler_id`` and form-encodes it (PHP bracket style). Values
inside ``data`` are strings, as the real form-encoded events carry them. ``auth`` holds the portal
fields every event has; minting access tokens for the bot is left to the delivery worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from openlines.domain.openlines import Bot, Chat, Message, OutboxEvent, Session
from openlines.domain.users import User
from openlines.engine.bots import is_webhook_bot
from openlines.services import Services

# imbot.register parameter suffix → the REST event it subscribes to.
BOT_EVENTS = {
    "MESSAGE_ADD": "ONIMBOTMESSAGEADD",
    "MESSAGE_UPDATE": "ONIMBOTMESSAGEUPDATE",
    "MESSAGE_DELETE": "ONIMBOTMESSAGEDELETE",
    "WELCOME_MESSAGE": "ONIMBOTJOINCHAT",
    "BOT_DELETE": "ONIMBOTDELETE",
    "CONTEXT_GET": "ONIMBOTCONTEXTGET",
}
LANGUAGE = "en"


def yn(flag: bool) -> str:
    return "Y" if flag else "N"


def handler_url(bot: Bot, handler: str) -> str:
    """The URL an event goes to: the registered one, with ``CLIENT_ID=<value>`` appended for bots
    registered over a webhook (spec 6.1). '' when the bot has no handler for it."""
    url = bot.handlers.get(handler, "")
    if not url or not is_webhook_bot(bot):
        return url
    joiner = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{joiner}CLIENT_ID={bot.application_token}"


def portal_auth(services: Services, bot: Bot | None = None) -> dict[str, str]:
    portal = services.portal
    auth = {
        "domain": portal.domain,
        "client_endpoint": portal.client_endpoint,
        "server_endpoint": portal.server_endpoint,
        "member_id": portal.member_id,
    }
    if bot is not None:
        auth["application_token"] = bot.application_token
    return auth


BOUND_TTL = 1.0  # seconds a process trusts its view of the app bindings
_BOUND = "bound_events"  # services.extras key of that view


@dataclass(frozen=True, slots=True)
class BoundView:
    """The ``(EVENT, app_id)`` pairs bound when the view was read (``time.monotonic()``)."""

    pairs: frozenset[tuple[str, str]]
    events: frozenset[str]
    read: float


async def is_bound(services: Services, name: str, app_id: str = "") -> bool:
    """Whether any app (``app_id`` when given) has bound ``name``. Producers ask on every message, and
    bindings change rarely, so the answer comes from a view read at most once per ``BOUND_TTL``: a
    binding made in this process counts at once (:func:`bindings_changed`), one made through another
    worker as soon as its notice arrives (within a second at worst)."""
    view: BoundView | None = services.extras.get(_BOUND)
    now = time.monotonic()
    if view is None or now - view.read > BOUND_TTL:
        pairs = frozenset(await services.store.bound_events())
        view = BoundView(pairs, frozenset(event for event, _ in pairs), now)
        services.extras[_BOUND] = view
    name = name.upper()
    return (name, app_id) in view.pairs if app_id else name in view.events


PUBLISH_BINDINGS = "publish_bindings"  # services.extras: async () -> None, tells the other workers


async def bindings_changed(services: Services) -> None:
    """This process bound or unbound an event: read the bindings again on the next question, and
    tell the other workers sharing the database (when there are any) to do the same."""
    forget_bindings(services)
    publish = services.extras.get(PUBLISH_BINDINGS)
    if publish is not None:
        await publish()


def forget_bindings(services: Services) -> None:
    """Drop this process's view of the bindings (read again on the next question)."""
    services.extras.pop(_BOUND, None)


async def add_app_event(services: Services, name: str, chat_id: int, data: Any, app_id: str = "") -> None:
    """An app event (``event.bind``) in the caller's transaction: a broadcast row the delivery worker
    copies to every app bound to ``name``, or only to ``app_id``'s bindings when given."""
    payload = {"event": name, "data": data, "auth": portal_auth(services)}
    await services.store.add_event(OutboxEvent(name, payload, "", chat_id, app_id), services.clock.now())


async def emit_to_apps(services: Services, name: str, chat_id: int, data: Any, app_id: str = "") -> bool:
    """:func:`add_app_event` unless no binding would receive it. True when a row was written."""
    if not await is_bound(services, name, app_id):
        return False
    await add_app_event(services, name, chat_id, data, app_id)
    return True


def bot_block(services: Services, bot: Bot) -> dict[str, Any]:
    """``data[BOT][<id>]``: who the event is for. Tokens are added by the delivery worker."""
    auth = {**portal_auth(services, bot), "user_id": str(bot.id)}
    return {**auth, "AUTH": auth, "BOT_ID": str(bot.id), "BOT_CODE": bot.code}


def user_block(user: User | None, flags: bool = True) -> dict[str, str] | list[Any]:
    """``data[USER]``: the author (message events) or the inviter (join). Empty for user 0."""
    if user is None or user.id <= 0:
        return []
    block = {
        "ID": str(user.id),
        "NAME": user.full_name,
        "FIRST_NAME": user.name,
        "LAST_NAME": user.last_name,
        "WORK_POSITION": user.work_position,
        "GENDER": user.gender or "M",
    }
    if flags:
        block.update(
            IS_BOT=yn(user.kind == "bot"),
            IS_CONNECTOR=yn(user.kind == "customer"),
            IS_NETWORK="N",
            IS_EXTRANET=yn(user.extranet),
        )
    return block


def entity_data_1(chat: Chat, session: Session | None) -> str:
    """The chat's session string (field 6 = session id), with the chat's CRM binding."""
    if session is None:
        return ""
    crm = bool(chat.crm_entity_type)
    return session.entity_data_1(crm, chat.crm_entity_type.upper(), chat.crm_entity_id)


def chat_params(chat: Chat, session: Session | None) -> dict[str, str]:
    """The ``CHAT_*`` fields of a group or Open Lines chat."""
    return {
        "CHAT_ID": str(chat.id),
        "CHAT_TITLE": chat.title,
        "CHAT_AUTHOR_ID": str(chat.author_id),
        "CHAT_TYPE": chat.type,
        "CHAT_AVATAR": "",
        "CHAT_COLOR": "",
        "CHAT_ENTITY_TYPE": chat.entity_type,
        "CHAT_ENTITY_ID": chat.entity_id,
        "CHAT_ENTITY_DATA_1": entity_data_1(chat, session),
        "CHAT_ENTITY_DATA_2": "",
        "CHAT_ENTITY_DATA_3": "",
        "CHAT_EXTRANET": "N",
    }


def message_params(
    chat: Chat, session: Session | None, message: Message, bot: Bot, private_to: int = 0
) -> dict[str, Any]:
    """``data[PARAMS]`` of ONIMBOTMESSAGEADD (spec 7.1), including the Open Lines fields."""
    private = chat.type == "P"
    params: dict[str, Any] = {
        "MESSAGE": message.text,
        "TEMPLATE_ID": str(message.params.get("TEMPLATE_ID", "")),
        "MESSAGE_TYPE": chat.type,
        "FROM_USER_ID": str(message.author_id),
        "DIALOG_ID": str(message.author_id) if private else chat.dialog_id,
        "TO_CHAT_ID": str(chat.id),
        "AUTHOR_ID": str(message.author_id),
        "SYSTEM": yn(message.system),
        "TO_USER_ID": str(private_to if private else 0),
    }
    if not private:
        params.update(chat_params(chat, session))
    for flag in ("SKIP_CONNECTOR", "IMPORTANT_CONNECTOR", "URL_PREVIEW"):
        if flag in message.params:
            params[flag] = str(message.params[flag])
    for block in ("ATTACH", "KEYBOARD"):
        if message.params.get(block):
            params[block] = message.params[block]
    params.update(
        MESSAGE_ID=str(message.id),
        CHAT_TYPE=chat.type,
        LANGUAGE=LANGUAGE,
    )
    return params


def message_add(
    services: Services,
    bot: Bot,
    chat: Chat,
    session: Session | None,
    message: Message,
    author: User | None,
    private_to: int = 0,
) -> OutboxEvent | None:
    """ONIMBOTMESSAGEADD for one bot, or None when it has no handler."""
    target = handler_url(bot, "MESSAGE_ADD")
    if not target:
        return None
    data = {
        "BOT": {str(bot.id): bot_block(services, bot)},
        "PARAMS": message_params(chat, session, message, bot, private_to),
        "USER": user_block(author),
    }
    return _event("ONIMBOTMESSAGEADD", target, chat.id, data, services, bot)


def message_change(
    services: Services,
    kind: str,
    bot: Bot,
    chat: Chat,
    session: Session | None,
    message: Message,
    author: User | None,
) -> OutboxEvent | None:
    """ONIMBOTMESSAGEUPDATE (``kind`` "MESSAGE_UPDATE") or ONIMBOTMESSAGEDELETE ("MESSAGE_DELETE")."""
    target = handler_url(bot, kind)
    if not target:
        return None
    params: dict[str, Any] = {
        "ID": str(message.id),
        "CHAT_ID": str(chat.id),
        "AUTHOR_ID": str(message.author_id),
        "MESSAGE": message.text,
        "MESSAGE_TYPE": chat.type,
        "FROM_USER_ID": str(message.author_id),
        "TO_USER_ID": "0",
        "DIALOG_ID": chat.dialog_id,
    }
    params.update(chat_params(chat, session))
    params.update(MESSAGE_ID=str(message.id), CHAT_TYPE=chat.type, LANGUAGE=LANGUAGE)
    data = {
        "BOT": {str(bot.id): bot_block(services, bot)},
        "PARAMS": params,
        "USER": user_block(author),
    }
    return _event(BOT_EVENTS[kind], target, chat.id, data, services, bot)


def join_chat(
    services: Services, bot: Bot, chat: Chat, session: Session | None, inviter: User | None
) -> OutboxEvent | None:
    """ONIMBOTJOINCHAT (spec 7.2): the bot was added to a chat, e.g. as a line's welcome bot."""
    target = handler_url(bot, "WELCOME_MESSAGE")
    if not target:
        return None
    inviter_id = str(inviter.id if inviter else 0)
    params = {
        "CHAT_TYPE": chat.type,
        "MESSAGE_TYPE": chat.type,
        "BOT_ID": str(bot.id),
        "USER_ID": inviter_id,
        "DIALOG_ID": inviter_id if chat.type == "P" else chat.dialog_id,
        "LANGUAGE": LANGUAGE,
    }
    if chat.type == "P":  # a user opened a one-to-one dialogue with the bot
        params.update(TO_USER_ID=str(bot.id), FROM_USER_ID=inviter_id)
    else:
        params.update(
            CHAT_ID=str(chat.id),
            CHAT_AUTHOR_ID=str(chat.author_id),
            CHAT_ENTITY_TYPE=chat.entity_type,
            CHAT_ENTITY_ID=chat.entity_id,
            CHAT_ENTITY_DATA_1=entity_data_1(chat, session),
            ACCESS_HISTORY="1",
        )
    data = {
        "BOT": {str(bot.id): bot_block(services, bot)},
        "PARAMS": params,
        "USER": user_block(inviter, flags=False),
    }
    return _event("ONIMBOTJOINCHAT", target, chat.id, data, services, bot)


def bot_delete(services: Services, bot: Bot) -> OutboxEvent | None:
    """ONIMBOTDELETE (spec 7.3): ``data`` is just the bot's id and code."""
    target = handler_url(bot, "BOT_DELETE")
    if not target:
        return None
    data = {"BOT_ID": str(bot.id), "BOT_CODE": bot.code}
    return _event("ONIMBOTDELETE", target, 0, data, services, bot)


def command_add(
    services: Services,
    bot: Bot,
    command_id: int,
    command: str,
    command_params: str,
    handler: str,
    chat: Chat,
    session: Session | None,
    message: Message,
    author: User | None,
) -> OutboxEvent | None:
    """ONIMCOMMANDADD (spec 7.5): someone typed ``/command`` in a chat with the bot."""
    target = handler
    if target and is_webhook_bot(bot):
        target = f"{target}{'&' if urlsplit(target).query else '?'}CLIENT_ID={bot.application_token}"
    if not target:
        return None
    entry = {
        **bot_block(services, bot),
        "COMMAND": command,
        "COMMAND_ID": str(command_id),
        "COMMAND_PARAMS": command_params,
        "COMMAND_CONTEXT": "TEXTAREA",
        "MESSAGE_ID": str(message.id),
    }
    data = {
        "COMMAND": {str(command_id): entry},
        "PARAMS": message_params(chat, session, message, bot),
        "USER": user_block(author, flags=False),
    }
    return _event("ONIMCOMMANDADD", target, chat.id, data, services, bot)


def _event(
    name: str, target: str, chat_id: int, data: dict[str, Any], services: Services, bot: Bot
) -> OutboxEvent:
    payload = {"event": name, "data": data, "auth": portal_auth(services, bot)}
    return OutboxEvent(event=name, payload=payload, target=target, chat_id=chat_id)
