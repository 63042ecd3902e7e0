"""``im.*``: the messenger basics bots and operators need around a dialogue — read it
(``im.dialog.messages.get``, ``im.chat.get``), write into it (``im.message.add``) and mark it read
(``im.dialog.read``). Shapes follow the real messenger: lower-case keys, ISO dates.

Access: chat members; portal administrators may read every chat, and the operators of an Open
Line's queue may read its dialogues (the real server's "fake relations").
"""

from __future__ import annotations

from typing import Any

from openlines.auth.caller import Caller
from openlines.clock import Clock
from openlines.domain.openlines import Chat, Message, Session
from openlines.domain.users import User
from openlines.engine.messages import post
from openlines.methods import message_params as mp
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol import php
from openlines.protocol.errors import RestError
from openlines.services import Services

SCOPE = "im"
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
CHAT_TYPES = {"L": "lines", "C": "chat", "O": "open", "P": "private"}


def access_error() -> RestError:
    return RestError("ACCESS_ERROR", "You do not have access to the specified dialog", 403)


def chat_id_empty() -> RestError:
    return RestError("CHAT_ID_EMPTY", "Chat ID can't be empty", 400)


async def can_read(services: Services, caller: Caller, chat: Chat) -> bool:
    store = services.store
    if caller.admin or await store.is_member(chat.id, caller.user_id):
        return True
    if chat.is_lines:
        session = await store.last_session_of_chat(chat.id)
        line_id = session.line_id if session is not None else chat.line_id
        return caller.user_id in await store.queue_of(line_id)
    return False


async def readable_chat(call: Call) -> Chat:
    """The chat DIALOG_ID names, if the caller may read it (403 ACCESS_ERROR otherwise)."""
    value = call.get("DIALOG_ID")
    if not php.php_truthy(value):
        raise mp.dialog_id_empty()
    kind, ident = mp.parse_dialog(value)
    store = call.services.store
    chat: Chat | None = None
    if kind == "chat":
        chat = await store.get_chat(ident)
    elif kind == "user" and ident != call.caller.user_id:
        low, high = sorted((ident, call.caller.user_id))
        chat = await store.find_chat_by_entity(mp.PRIVATE, f"{low}|{high}")
        if chat is None and await store.get_user(ident) is not None:
            chat = Chat(id=0, type="P", entity_type=mp.PRIVATE)  # no messages yet
            return chat
    if chat is None or not await can_read(call.services, call.caller, chat):
        raise access_error()
    return chat


def message_item(message: Message, clock: Clock) -> dict[str, Any]:
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "author_id": message.author_id,
        "date": clock.iso(message.date),
        "text": message.text,
        "unread": False,
        "uuid": None,
        "replaces": [],
        "params": message.params or [],
    }


def user_item(user: User, clock: Clock) -> dict[str, Any]:
    kind = "bot" if user.kind == "bot" else ("extranet" if user.extranet else "user")
    return {
        "id": user.id,
        "active": user.active,
        "name": user.full_name,
        "first_name": user.name,
        "last_name": user.last_name,
        "work_position": user.work_position,
        "color": "#df532d",
        "avatar": "",
        "gender": user.gender or "M",
        "birthday": "",
        "extranet": user.extranet,
        "network": False,
        "bot": user.kind == "bot",
        "connector": user.kind == "customer",
        "external_auth_id": "imconnector"
        if user.kind == "customer"
        else ("bot" if user.kind == "bot" else "default"),
        "status": "online",
        "idle": False,
        "last_activity_date": clock.iso(user.date_register) if user.date_register else False,
        "absent": False,
        "departments": [] if user.kind != "employee" else [1],
        "phones": False,
        "type": kind,
    }


def chat_item(chat: Chat, session: Session | None, clock: Clock) -> dict[str, Any]:
    """A chat as ``im.chat.get`` shows it."""
    lines = chat.is_lines
    return {
        "id": chat.id,
        "parent_chat_id": 0,
        "parent_message_id": 0,
        "name": chat.title,
        "description": "",
        "owner": chat.author_id,
        "extranet": False,
        "avatar": "",
        "color": "#4ba984",
        "type": CHAT_TYPES.get(chat.type, "chat"),
        "entity_type": chat.entity_type if lines else "",
        "entity_id": chat.entity_id if lines else "",
        "entity_data_1": session.entity_data_1() if lines and session is not None else "",
        "entity_data_2": "",
        "entity_data_3": "",
        "date_create": clock.iso(chat.date_create),
        "message_type": chat.type,
        "last_message_id": chat.last_message_id,
        "dialog_id": chat.dialog_id,
    }


def register(registry: Registry) -> None:
    @registry.method(
        "im.dialog.messages.get",
        SCOPE,
        Param("DIALOG_ID", "string", True, "chat<ID> or a user id"),
        Param("LAST_ID", "integer", description="Messages older than this id (newest first)"),
        Param("FIRST_ID", "integer", description="Messages newer than this id (oldest first)"),
        Param("LIMIT", "integer", description="At most 50 (default 20)"),
        description="Messages of a dialogue with their authors.",
    )
    async def dialog_messages_get(call: Call) -> dict[str, Any]:
        chat = await readable_chat(call)
        services = call.services
        store = services.store
        limit = call.int("LIMIT")
        limit = DEFAULT_LIMIT if limit <= 0 else min(limit, MAX_LIMIT)
        first_id, last_id = call.int("FIRST_ID"), call.int("LAST_ID")
        messages: list[Message] = []
        if chat.id:
            if first_id > 0:
                messages = await store.messages_of(chat.id, after_id=first_id, limit=limit)
            else:
                messages = await store.messages_of(
                    chat.id, before_id=max(last_id, 0), limit=limit, newest_first=True
                )
        clock = services.clock
        users: list[dict[str, Any]] = []
        for author_id in dict.fromkeys(m.author_id for m in messages if m.author_id > 0):
            user = await store.get_user(author_id)
            if user is not None:
                users.append(user_item(user, clock))
        return {
            "chat_id": chat.id,
            "messages": [message_item(m, clock) for m in messages],
            "users": users,
            "files": [],
        }

    @registry.method(
        "im.chat.get",
        SCOPE,
        Param("CHAT_ID", "integer", description="The chat id (or use DIALOG_ID)"),
        Param("DIALOG_ID", "string", description="chat<ID>"),
        Param("ENTITY_TYPE", "string", description="With ENTITY_ID: answers {ID} of the bound chat"),
        Param("ENTITY_ID", "string"),
        description="A chat's data.",
    )
    async def chat_get(call: Call) -> Any:
        store = call.services.store
        if not call.has("CHAT_ID") and not call.has("DIALOG_ID") and call.has("ENTITY_TYPE"):
            entity_type, entity_id = call.get("ENTITY_TYPE"), call.get("ENTITY_ID")
            if not (php.is_scalar(entity_type) and php.is_scalar(entity_id)):
                return None
            found = await store.find_chat_by_entity(php.php_str(entity_type), php.php_str(entity_id))
            return {"ID": found.id} if found is not None else None
        chat_id = call.int("CHAT_ID")
        if chat_id <= 0 and call.has("DIALOG_ID"):
            kind, ident = mp.parse_dialog(call.get("DIALOG_ID"))
            chat_id = ident if kind == "chat" else 0
        if chat_id <= 0:
            raise chat_id_empty()
        chat = await store.get_chat(chat_id)
        if chat is None or not await can_read(call.services, call.caller, chat):
            raise access_error()
        session = await store.last_session_of_chat(chat.id) if chat.is_lines else None
        return chat_item(chat, session, call.services.clock)

    @registry.method(
        "im.message.add",
        SCOPE,
        Param("DIALOG_ID", "string", True, "chat<ID> or a user id"),
        Param("MESSAGE", "string", True),
        Param("ATTACH", "any"),
        Param("KEYBOARD", "any"),
        Param("MENU", "any"),
        Param("SYSTEM", "string"),
        Param("URL_PREVIEW", "string"),
        description="A message from the calling user; answers its id.",
    )
    async def message_add(call: Call) -> int:
        params = call.params
        if not php.php_truthy(params.get("DIALOG_ID")):
            raise mp.dialog_id_empty()
        dialog = mp.parse_dialog(params.get("DIALOG_ID"))
        value = params.get("MESSAGE")
        text = php.php_str(value).strip() if php.is_scalar(value) else ""
        blocks = mp.message_blocks(params)
        if not text and not blocks.get("ATTACH"):
            raise mp.message_empty()
        extra = {**blocks, **mp.message_flags(params)}
        services = call.services
        store = services.store
        async with store.atomic():
            author = await store.get_user(call.caller.user_id)
            chat = await mp.dialog_chat(services, call.caller.user_id, dialog, services.clock.now())
            if chat is None or author is None:
                raise access_error()
            message = await post(
                services,
                chat,
                author.id,
                text,
                system=params.get("SYSTEM") == "Y",
                params=extra,
                author=author,
            )
        return message.id

    @registry.method(
        "im.dialog.read",
        SCOPE,
        Param("DIALOG_ID", "string", True),
        Param("MESSAGE_ID", "integer", description="Read up to this message (default: all)"),
        description="Mark a dialogue read.",
    )
    async def dialog_read(call: Call) -> dict[str, Any]:
        chat = await readable_chat(call)
        message_id = call.int("MESSAGE_ID")
        last = chat.last_message_id if message_id <= 0 else min(message_id, chat.last_message_id)
        return {
            "dialogId": chat.dialog_id if chat.type != "P" else php.php_str(call.get("DIALOG_ID")),
            "chatId": chat.id,
            "lastId": last,
            "counter": 0,
        }
