"""Lookups of Open Lines dialogues: ``imopenlines.dialog.get``, ``imopenlines.crm.chat.get`` /
``.getLastId``, ``imopenlines.session.open`` and ``imopenlines.session.history.get``.

There is no CRM here: a chat is "bound" to a CRM item only through the ``crm_entity_type`` /
``crm_entity_id`` it carries, so the ``crm.chat.*`` methods find only chats bound that way.
"""

from __future__ import annotations

import re
from typing import Any

from openlines.domain.openlines import Chat, Session
from openlines.engine import access
from openlines.methods.imopenlines_params import int_param, scalar, str_param
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol import errors, php
from openlines.protocol.errors import RestError
from openlines.services import Services

SCOPE = "imopenlines"
CRM_TYPES = ("LEAD", "COMPANY", "CONTACT", "DEAL")
CONNECTOR_TITLES = {"livechat": "Live Chat", "network": "Bitrix24.Network", "imessage": "Apple Messages"}
COLORS = ("#df532d", "#64a513", "#4ba984", "#4ba5c3", "#3e99ce", "#8474c8", "#1eb4aa", "#f76187", "#58cc47")
_DIALOG_ID = re.compile(r"chat(\d+)")
HISTORY_LIMIT = 1000


def access_error() -> RestError:
    return RestError("ACCESS_ERROR", "You do not have access to the specified dialog", 400)


# --- dialog.get ---------------------------------------------------------------------------------------


async def _chat_id_from(call: Call) -> int:
    """CHAT_ID, else DIALOG_ID (``chat<ID>``), else SESSION_ID, else USER_CODE; 0 when none names a chat."""
    store = call.services.store
    if call.has("CHAT_ID"):
        return int_param(call, "CHAT_ID")
    if call.has("DIALOG_ID"):
        match = _DIALOG_ID.fullmatch(str_param(call, "DIALOG_ID"))
        return int(match.group(1)) if match and int(match.group(1)) <= php.INT64_MAX else 0
    if call.has("SESSION_ID"):
        session = await store.get_session(int_param(call, "SESSION_ID"))
        return session.chat_id if session else 0
    if call.has("USER_CODE"):
        code = str_param(call, "USER_CODE")
        code = code[5:] if code.startswith("imol|") else code
        chat = await store.find_chat_by_entity("LINES", code) if code else None
        return chat.id if chat else 0
    return 0


def crm_bindings(chat: Chat) -> str:
    """ENTITY_DATA_2: ``LEAD|id|COMPANY|id|CONTACT|id|DEAL|id`` (empty without a binding)."""
    if not chat.crm_entity_type:
        return ""
    kind = chat.crm_entity_type.upper()
    return "|".join(f"{t}|{chat.crm_entity_id if t == kind else 0}" for t in CRM_TYPES)


def entity_data_1(chat: Chat, session: Session | None) -> str:
    if session is None:
        return ""
    crm = bool(chat.crm_entity_type)
    return session.entity_data_1(crm, chat.crm_entity_type.upper(), chat.crm_entity_id)


async def dialog_fields(services: Services, chat: Chat, user_id: int) -> dict[str, Any]:
    """A LINES chat in the messenger's chat format (lower-case keys) plus ``dialog_id``."""
    store = services.store
    session = await store.get_session(chat.session_id) if chat.session_id else None
    members = await store.members(chat.id)
    message_count = len(await store.messages_of(chat.id, limit=2**31 - 1))
    if chat.author_id == user_id:
        role = "owner"
    elif user_id in members:
        role = "member"
    else:
        role = "guest"
    return {
        "id": chat.id,
        "parent_chat_id": 0,
        "parent_message_id": 0,
        "name": chat.title,
        "description": "",
        "owner": chat.author_id,
        "extranet": False,
        "avatar": "",
        "color": COLORS[chat.id % len(COLORS)],
        "type": "lines",
        "counter": 0,
        "user_counter": len(members),
        "message_count": message_count,
        "unread_id": 0,
        "restrictions": {
            key: True
            for key in (
                "avatar",
                "rename",
                "extend",
                "call",
                "mute",
                "leave",
                "leave_owner",
                "send",
                "user_list",
            )
        },
        "last_message_id": chat.last_message_id,
        "last_id": chat.last_message_id,
        "marked_id": 0,
        "disk_folder_id": 0,
        "entity_type": chat.entity_type,
        "entity_id": chat.entity_id,
        "entity_data_1": entity_data_1(chat, session),
        "entity_data_2": crm_bindings(chat),
        "entity_data_3": "",
        "mute_list": [],
        "date_create": services.clock.iso(chat.date_create) if chat.date_create else "",
        "message_type": chat.type,
        "public": "",
        "role": role,
        "entity_link": {"type": chat.entity_type, "url": "", "id": chat.entity_id},
        "text_field_enabled": True,
        "background_id": None,
        "permissions": {
            "manage_users_add": "member",
            "manage_users_delete": "manager",
            "manage_ui": "member",
            "manage_settings": "owner",
            "manage_messages": "member",
            "can_post": "member",
        },
        "is_new": False,
        "readed_list": [],
        "manager_list": [chat.author_id] if chat.author_id else [],
        "last_message_views": {
            "message_id": chat.last_message_id,
            "first_viewers": [],
            "count_of_viewers": 0,
        },
        "dialog_id": chat.dialog_id,
    }


# --- crm.chat.* ----------------------------------------------------------------------------------------


def _crm_params(call: Call) -> tuple[str, int]:
    kind_raw = scalar(call, "CRM_ENTITY_TYPE")
    kind = str_param(call, "CRM_ENTITY_TYPE").strip().upper() if kind_raw is not None else ""
    if not kind:
        raise errors.argument_error("CRM_ENTITY_TYPE", "Argument 'CRM_ENTITY_TYPE' is null or empty")
    raw = call.get("CRM_ENTITY")
    if raw is None or raw == "" or raw == 0 or raw == "0":
        raise errors.argument_error("CRM_ENTITY", "Argument 'CRM_ENTITY' is null or empty")
    if isinstance(raw, bool) or not (
        (isinstance(raw, int) and raw > 0) or (isinstance(raw, str) and raw.strip().isdigit())
    ):
        raise errors.argument_error("CRM_ENTITY", "The value of an argument 'CRM_ENTITY' has an invalid type")
    number = int(raw)
    if number > php.INT64_MAX:
        raise errors.argument_error("CRM_ENTITY", "The value of an argument 'CRM_ENTITY' has an invalid type")
    return kind, number


async def _crm_chats(services: Services, kind: str, entity_id: int, active_only: bool) -> list[Chat]:
    store = services.store
    chats = [c for c in await store.chats_by_crm(kind, entity_id) if c.is_lines]
    if kind.lower() != kind:
        chats += [c for c in await store.chats_by_crm(kind.lower(), entity_id) if c.is_lines]
    chats.sort(key=lambda c: c.id)
    if active_only:
        chats = [c for c in chats if await store.open_session_of_chat(c.id) is not None]
    return chats


# --- session.history.get --------------------------------------------------------------------------------


async def history(services: Services, session: Session, user_id: int, admin: bool) -> dict[str, Any]:
    store = services.store
    chat_id = session.chat_id
    dialog = f"chat{chat_id}"
    messages = await store.messages_of(chat_id, after_id=max(session.start_id - 1, 0), limit=HISTORY_LIMIT)
    if session.closed and session.end_id:
        messages = [m for m in messages if m.id <= session.end_id]
    elif not session.start_id:
        until = session.date_close if session.closed else float("inf")
        messages = [m for m in messages if session.date_create <= m.date <= until]
    clock = services.clock
    message_map: dict[str, Any] = {
        str(m.id): {
            "id": m.id,
            "chatid": m.chat_id,
            "senderid": m.author_id,
            "recipientid": dialog,
            "date": clock.iso(m.date),
            "text": m.text,
            "textlegacy": m.text,
            "params": m.params or [],
        }
        for m in messages
    }
    users: dict[str, Any] = {}
    for author in sorted({m.author_id for m in messages if m.author_id > 0}):
        user = await store.get_user(author)
        if user is None:
            continue
        users[str(author)] = {
            "id": user.id,
            "name": user.full_name,
            "firstName": user.name,
            "lastName": user.last_name,
            "workPosition": user.work_position,
            "avatar": "",
            "avatarId": 0,
            "gender": user.gender or "M",
            "extranet": user.extranet,
            "connector": user.kind == "customer",
            "profile": "",
            "externalAuthId": "imconnector"
            if user.kind == "customer"
            else ("bot" if user.kind == "bot" else "default"),
            "status": "online",
            "lastActivityDate": False,
            "departments": [],
            "type": user.kind if user.kind != "employee" else "user",
        }
    chat = await store.get_chat(chat_id)
    can_join = chat is not None and await access.can_join(services, chat, user_id, admin)
    return {
        "chatId": chat_id,
        "canJoin": "Y" if can_join else "N",
        "canVoteHead": "Y" if admin else "N",
        "sessionId": session.id,
        "sessionVoteHead": session.vote_head,
        "sessionCommentHead": session.comment_head,
        "userId": dialog,
        "message": message_map or [],
        "usersMessage": {dialog: [m.id for m in messages]} if messages else [],
        "users": users or [],
        "openlines": {"canvoteashead": {str(session.line_id): admin}},
        "userInGroup": [],
        "woUserInGroup": [],
        "chat": [],
        "userBlockChat": [],
        "userInChat": [],
        "files": [],
    }


def register(registry: Registry) -> None:
    @registry.method(
        "imopenlines.dialog.get",
        SCOPE,
        Param("CHAT_ID", "integer", False, "The chat id"),
        Param("DIALOG_ID", "string", False, "chat<ID>"),
        Param("SESSION_ID", "integer", False, "An Open Lines session id"),
        Param("USER_CODE", "string", False, "connector|line|chat|user (an imol| prefix is allowed)"),
        description="An Open Lines chat in the messenger's format; entity_data_1 field 6 is the session id.",
    )
    async def dialog_get(call: Call) -> dict[str, Any]:
        services = call.services
        chat_id = await _chat_id_from(call)
        chat = await services.store.get_chat(chat_id) if chat_id > 0 else None
        caller = call.caller
        if chat is None or not chat.is_lines:
            raise access_error()
        if not await access.can_see(services, chat, caller.user_id, caller.admin):
            raise access_error()
        return await dialog_fields(services, chat, caller.user_id)

    @registry.method(
        "imopenlines.crm.chat.get",
        SCOPE,
        Param("CRM_ENTITY_TYPE", "string", True, "lead, deal, company or contact"),
        Param("CRM_ENTITY", "integer", True, "The CRM item id"),
        Param("ACTIVE_ONLY", "string", False, "Y (default): only chats with an open session"),
        description="Open Lines chats bound to a CRM item (an array; [] when none).",
    )
    async def crm_chat_get(call: Call) -> list[dict[str, str]]:
        kind, entity_id = _crm_params(call)
        active_only = scalar(call, "ACTIVE_ONLY") != "N"
        chats = await _crm_chats(call.services, kind, entity_id, active_only)
        return [
            {
                "CHAT_ID": str(chat.id),
                "CONNECTOR_ID": chat.connector,
                "CONNECTOR_TITLE": CONNECTOR_TITLES.get(chat.connector, chat.connector),
            }
            for chat in chats
        ]

    @registry.method(
        "imopenlines.crm.chat.getLastId",
        SCOPE,
        Param("CRM_ENTITY_TYPE", "string", True, "lead, deal, company or contact"),
        Param("CRM_ENTITY", "integer", True, "The CRM item id"),
        description="The id of the newest Open Lines chat bound to a CRM item.",
    )
    async def crm_chat_last_id(call: Call) -> int:
        kind, entity_id = _crm_params(call)
        chats = await _crm_chats(call.services, kind, entity_id, active_only=False)
        if not chats:
            raise RestError("CRM_CHAT_EMPTY_CRM_DATA", "Could not find CRM entity", 400)
        return chats[-1].id

    @registry.method(
        "imopenlines.session.open",
        SCOPE,
        Param("USER_CODE", "string", True, "connector|line|chat|user"),
        description='The chat id of a dialogue by its user code: {"chatId": ...}.',
        upper_keys=False,
    )
    async def session_open(call: Call) -> dict[str, str]:
        services = call.services
        caller = call.caller
        code = str_param(call, "USER_CODE")
        user = await services.store.get_user(caller.user_id)
        chat = await services.store.find_chat_by_entity("LINES", code) if code else None
        if user is None or user.extranet or chat is None:
            raise access.access_error()
        if chat.author_id != caller.user_id and not await access.can_join(
            services, chat, caller.user_id, caller.admin
        ):
            raise access.access_error()
        return {"chatId": str(chat.id)}  # a database string, as PHP returns it

    @registry.method(
        "imopenlines.session.history.get",
        SCOPE,
        Param("SESSION_ID", "integer", False, "The session id"),
        Param("CHAT_ID", "integer", False, "A chat id (numeric); its latest session is used"),
        description="A session's messages, authors and head vote (camelCase keys).",
        upper_keys=False,
    )
    async def history_get(call: Call) -> dict[str, Any]:
        services = call.services
        store = services.store
        caller = call.caller
        session_id = int_param(call, "SESSION_ID")
        chat_id = int_param(call, "CHAT_ID")
        if session_id <= 0 and chat_id <= 0:
            if call.has("SESSION_ID") or call.has("CHAT_ID"):
                raise RestError(
                    "INVALID_SESSION_ID", "Unable to determine session ID from provided parameters", 400
                )
            raise RestError("MISSING_REQUIRED_PARAM", "Session ID or Chat ID must be provided", 400)
        if session_id <= 0:
            last = await store.last_session_of_chat(chat_id)
            if last is None:
                raise RestError(
                    "INVALID_SESSION_ID", "Unable to determine session ID from provided parameters", 400
                )
            session_id = last.id
        session = await store.get_session(session_id)
        if session is None:
            raise access.access_error()
        chat = await store.get_chat(session.chat_id)
        if chat is None or not (
            session.operator_id == caller.user_id
            or await access.can_see(services, chat, caller.user_id, caller.admin)
        ):
            raise access.access_error()
        return await history(services, session, caller.user_id, caller.admin)
