"""``imconnector.*``: custom channel connectors (spec 8.2), application (OAuth) context only.

An app registers a connector, switches it on for a line (``activate``), and then forwards its
channel's customer messages with ``send.messages``: each opens or continues the LINES chat
``connector|line|external chat|customer`` and its session, exactly as the widget does. Operator
and bot replies go back to the app as OnImConnectorMessageAdd (see ``engine/connectors.py``).

The real server registers these methods under both the ``imopenlines`` and ``imconnector``
scopes; here they live in ``imconnector`` and an ``imopenlines`` token is accepted too (the scope
alias in ``methods/invoke.py``). Webhooks get 403 WRONG_AUTH_TYPE.
"""

from __future__ import annotations

from typing import Any

from openlines.domain.connectors import (
    FLAG_DEFAULTS,
    LIVECHAT,
    LIVECHAT_NAME,
    Connector,
    ConnectorLine,
    normalise_id,
)
from openlines.domain.openlines import Chat, Message, user_code
from openlines.engine import connectors
from openlines.engine.dialogs import LineUnavailable, customer_message
from openlines.methods import imconnector_params as params
from openlines.methods.imconnector_params import IncomingMessage, registration_error
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol import errors, php
from openlines.services import Services, run_hooks

SCOPE = "imconnector"
OPTIONS: dict[str, Any] = {"app_context_only": True}
CONNECTOR_PARAMS = (
    Param("connector", "string", True, "Connector id"),
    Param("line", "integer", True, "Open Lines line id"),
)
MESSAGES_PARAM = Param(
    "messages", "array", True, "[{user: {id, ...}, message: {id, date, text, files}, chat: {id}}]"
)


def _icon(value: Any) -> dict[str, Any]:
    block = value if isinstance(value, dict) else {}
    return {str(k).upper(): v for k, v in block.items() if php.is_scalar(v)}


def _connector_from(call: Call, connector_id: str) -> Connector | dict[str, Any]:
    """The connector register describes, or its error answer."""
    if not call.caller.client_id:
        return registration_error("NO_APPLICATION_ID", "The application could not be determined")
    if not connector_id:
        return registration_error("CONNECTOR_ID_REQUIRED", "The connector ID is required (no '.' allowed)")
    name = call.str("NAME").strip()
    if not name:
        return registration_error("NAME_REQUIRED", "The connector name is required")
    icon = _icon(call.get("ICON"))
    if not php.php_str(icon.get("DATA_IMAGE", "")).strip():
        return registration_error("ICON_REQUIRED", "The connector icon (ICON[DATA_IMAGE]) is required")
    handler = call.str("PLACEMENT_HANDLER").strip()
    if not handler:
        return registration_error("NO_PLACEMENT_HANDLER", "The placement handler URL is required")
    options = {
        flag: php.php_truthy(call.get(flag)) if call.has(flag) else v for flag, v in FLAG_DEFAULTS.items()
    }
    return Connector(
        id=connector_id,
        app_id=call.caller.client_id,
        name=name,
        icon=icon,
        icon_disabled=_icon(call.get("ICON_DISABLED")),
        placement_handler=handler,
        options=options,
        created=call.services.clock.now(),
    )


async def _registered(call: Call, connector_id: str) -> Connector:
    connector = await call.services.store.get_connector(connector_id)
    if connector is None:
        raise params.not_registered(connector_id)
    return connector


async def _active_line(call: Call) -> tuple[Connector, int]:
    """CONNECTOR and LINE of a message call: the connector must be switched on for the line."""
    connector_id = params.connector_id(call)
    line = params.line_id(call)
    store = call.services.store
    connector = await store.get_connector(connector_id)
    state = await store.get_connector_line(connector_id, line) if connector else None
    line_row = await store.get_line(line) if state and state.active else None
    if connector is None or line_row is None or not line_row.active:
        raise LineUnavailable()
    return connector, line


async def _customer_id(services: Services, connector: str, incoming: IncomingMessage) -> int:
    return await services.store.connector_user(connector, incoming.user_id)


def _customer_fields(incoming: IncomingMessage) -> dict[str, Any]:
    user = incoming.user
    picture = user.get("picture")
    fields = {k: user.get(k) for k in ("name", "last_name", "email", "phone", "url", "gender")}
    fields = {k: php.php_str(v) for k, v in fields.items() if php.is_scalar(v)}
    if isinstance(picture, dict) and php.is_scalar(picture.get("url")):
        fields["picture"] = php.php_str(picture["url"])
    fields["external_id"] = incoming.user_id
    return fields


async def _send_one(call: Call, connector: Connector, line: int, incoming: IncomingMessage) -> dict[str, Any]:
    services = call.services
    store = services.store
    async with store.atomic():
        known = await _customer_id(services, connector.id, incoming)
        customer: dict[str, Any] = {"id": known} if known else _customer_fields(incoming)
        extra = {"CONNECTOR_MID": incoming.message_id} if incoming.message_id else None
        chat, session, message = await customer_message(
            services, line, connector.id, incoming.chat_id, customer, incoming.text_or_files(), extra
        )
        if not known:
            await store.save_connector_user(
                connector.id, incoming.user_id, chat.customer_id, services.clock.now()
            )
    return {
        "user": str(chat.customer_id),
        "message": {
            "id": [str(message.id)],
            "date": incoming.date or str(int(message.date)),
            "text": incoming.text,
            "files": incoming.files,
        },
        "chat": {"id": str(chat.id), "name": chat.title, "description": ""},
        "SUCCESS": True,
        "ERRORS": [],
        "session": {"ID": str(session.id), "CHAT_ID": str(chat.id)},
    }


async def _find_message(
    call: Call, connector: Connector, line: int, incoming: IncomingMessage
) -> tuple[Chat | None, Message | None]:
    """The chat and the customer's stored message an update/delete entry points at (or Nones)."""
    store = call.services.store
    customer = await _customer_id(call.services, connector.id, incoming)
    if not customer:
        return None, None
    chat = await store.find_chat_by_entity("LINES", user_code(connector.id, line, incoming.chat_id, customer))
    if chat is None or not incoming.message_id:
        return chat, None
    for message in await store.messages_of(chat.id, limit=200, newest_first=True):
        if message.author_id == customer and message.params.get("CONNECTOR_MID") == incoming.message_id:
            return chat, message
    return chat, None


def _outcome(incoming: IncomingMessage, chat_id: int, done: bool, error: str) -> dict[str, Any]:
    return {
        "user": incoming.user_id,
        "message": {
            "id": incoming.message_id,
            "date": incoming.date,
            "text": incoming.text,
            "files": incoming.files,
        },
        "chat": {"id": str(chat_id) if chat_id else "", "name": "", "description": ""},
        "SUCCESS": done,
        "ERRORS": [] if done else [error],
    }


async def _change_one(
    call: Call, connector: Connector, line: int, incoming: IncomingMessage, delete: bool
) -> dict[str, Any]:
    store = call.services.store
    async with store.atomic():
        chat, message = await _find_message(call, connector, line, incoming)
        if chat is None or message is None:
            return _outcome(incoming, chat.id if chat else 0, False, "MESSAGE_NOT_FOUND")
        if delete:
            await store.delete_message(message.id)
        else:
            message.text = incoming.text_or_files()
            message.date_modify = call.services.clock.now()
            await store.save_message(message)
        kind = "MESSAGE_DELETE" if delete else "MESSAGE_UPDATE"
        await run_hooks(call.services, "on_message_changed", chat, message, kind)  # apps hear the edit
    return _outcome(incoming, chat.id, True, "")


def _answer(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"SUCCESS": True, "DATA": {"RESULT": results}}


def register(registry: Registry) -> None:
    @registry.method(
        "imconnector.register",
        SCOPE,
        Param("id", "string", True, "Connector id (lower case, no '.')"),
        Param("name", "string", True, "Name shown to operators"),
        Param("icon", "object", True, "{DATA_IMAGE, COLOR, SIZE, POSITION}"),
        Param("placement_handler", "string", True, "URL of the connector's settings page"),
        description="Register a custom channel connector of the calling application.",
        **OPTIONS,
    )
    async def register_connector(call: Call) -> dict[str, Any]:
        store = call.services.store
        connector_id = normalise_id(call.str("ID")) if php.is_scalar(call.get("ID", "")) else ""
        made = _connector_from(call, connector_id)
        if isinstance(made, dict):
            return made
        existing = await store.get_connector(made.id)
        if made.id == LIVECHAT or (existing is not None and existing.app_id != made.app_id):
            return registration_error(
                "GENERAL_CONNECTOR_REGISTRATION_ERROR", "The connector ID is already taken"
            )
        if existing is not None:
            made.created = existing.created
        async with store.atomic():
            await store.save_connector(made)
        return {"result": True}

    @registry.method(
        "imconnector.unregister",
        SCOPE,
        Param("id", "string", True, "Connector id"),
        description="Remove a connector the calling application registered.",
        **OPTIONS,
    )
    async def unregister(call: Call) -> Any:
        store = call.services.store
        connector_id = normalise_id(call.str("ID")) if php.is_scalar(call.get("ID", "")) else ""
        if not call.caller.client_id:
            return registration_error("NO_APPLICATION_ID", "The application could not be determined")
        existing = await store.get_connector(connector_id) if connector_id else None
        if existing is None or existing.app_id != call.caller.client_id:
            return registration_error(
                "APPLICATION_UNREGISTRATION_ERROR", "The connector could not be unregistered"
            )
        async with store.atomic():
            await store.delete_connector(connector_id)
        return True

    @registry.method(
        "imconnector.activate",
        SCOPE,
        *CONNECTOR_PARAMS,
        Param("active", "string", True, "1 to switch the connector on for the line, 0 to switch it off"),
        description="Switch a connector on or off for an Open Lines line.",
        **OPTIONS,
    )
    async def activate(call: Call) -> bool:
        store = call.services.store
        connector_id = params.connector_id(call)
        line = params.line_id(call)
        params.required(call, "ACTIVE")
        connector = await _registered(call, connector_id)
        if await store.get_line(line) is None:
            raise LineUnavailable()
        async with store.atomic():
            state = await store.get_connector_line(connector.id, line) or ConnectorLine(connector.id, line)
            was_active, state.active = state.active, php.php_truthy(call.get("ACTIVE"))
            state.changed = call.services.clock.now()
            await store.save_connector_line(state)
            if was_active and not state.active:
                await connectors.switched_off(call.services, connector, line)
        return True

    @registry.method(
        "imconnector.status",
        SCOPE,
        Param("connector", "string", True, "Connector id"),
        Param("line", "integer", False, "Open Lines line id"),
        description="Whether a connector is set up and working on a line.",
        **OPTIONS,
    )
    async def status(call: Call) -> dict[str, Any]:
        store = call.services.store
        connector_id = params.connector_id(call)
        line = call.int("LINE")
        state = await store.get_connector_line(connector_id, line)
        registered = await store.get_connector(connector_id) is not None
        active = registered and state is not None and state.active
        return {
            "LINE": str(line),
            "CONNECTOR": connector_id,
            "ERROR": False,
            "CONFIGURED": active,
            "STATUS": active,
        }

    @registry.method(
        "imconnector.list", SCOPE, description="Every connector of the portal: {id: name}.", **OPTIONS
    )
    async def list_connectors(call: Call) -> dict[str, str]:
        found = {LIVECHAT: LIVECHAT_NAME}
        for connector in await call.services.store.list_connectors():
            found[connector.id] = connector.name
        return found

    @registry.method(
        "imconnector.connector.data.set",
        SCOPE,
        *CONNECTOR_PARAMS,
        Param("data", "object", True, "{ID, URL, URL_IM, NAME} of the channel (replaced as a whole)"),
        description="Set the channel data a connector shows for a line.",
        **OPTIONS,
    )
    async def data_set(call: Call) -> bool:
        store = call.services.store
        connector_id = params.connector_id(call)
        line = params.line_id(call)
        data = params.required(call, "DATA")
        if not isinstance(data, (dict, list)):
            raise errors.argument_error("DATA", "The value of an argument 'DATA' must be of type array")
        connector = await _registered(call, connector_id)
        if await store.get_line(line) is None:
            raise LineUnavailable()
        block = params.as_block(data) or {}
        async with store.atomic():
            state = await store.get_connector_line(connector.id, line) or ConnectorLine(connector.id, line)
            state.data = {str(k).upper(): v for k, v in block.items() if php.is_scalar(v)}
            state.changed = call.services.clock.now()
            await store.save_connector_line(state)
        return True

    @registry.method(
        "imconnector.send.messages",
        SCOPE,
        *CONNECTOR_PARAMS,
        MESSAGES_PARAM,
        description="Customer messages from the external channel into Open Lines.",
        **OPTIONS,
    )
    async def send_messages(call: Call) -> dict[str, Any]:
        params.connector_id(call)
        params.line_id(call)
        incoming = params.messages(call)
        connector, line = await _active_line(call)
        return _answer([await _send_one(call, connector, line, item) for item in incoming])

    @registry.method(
        "imconnector.update.messages",
        SCOPE,
        *CONNECTOR_PARAMS,
        MESSAGES_PARAM,
        description="Customer messages edited in the external channel.",
        **OPTIONS,
    )
    async def update_messages(call: Call) -> dict[str, Any]:
        params.connector_id(call)
        params.line_id(call)
        incoming = params.messages(call)
        connector, line = await _active_line(call)
        return _answer([await _change_one(call, connector, line, item, False) for item in incoming])

    @registry.method(
        "imconnector.delete.messages",
        SCOPE,
        *CONNECTOR_PARAMS,
        MESSAGES_PARAM,
        description="Customer messages deleted in the external channel.",
        **OPTIONS,
    )
    async def delete_messages(call: Call) -> dict[str, Any]:
        params.connector_id(call)
        params.line_id(call)
        incoming = params.messages(call, need_text=False)
        connector, line = await _active_line(call)
        return _answer([await _change_one(call, connector, line, item, True) for item in incoming])

    async def acknowledge(call: Call) -> bool:
        params.connector_id(call)
        params.line_id(call)
        params.required(call, "MESSAGES")
        if not isinstance(call.get("MESSAGES"), (dict, list)):
            raise errors.argument_error("MESSAGES", params.NOT_ARRAY)
        await _active_line(call)
        return True

    for name, what in (("delivery", "delivered"), ("reading", "read")):
        registry.method(
            f"imconnector.send.status.{name}",
            SCOPE,
            *CONNECTOR_PARAMS,
            Param("messages", "array", True, "[{im: {chat_id, message_id}, message: {id}, chat: {id}}]"),
            description=f"Mark operator messages as {what} in the external channel.",
            **OPTIONS,
        )(acknowledge)

    @registry.method(
        "imconnector.chat.name.set",
        SCOPE,
        *CONNECTOR_PARAMS,
        Param("chat_id", "string", True, "External chat id"),
        Param("name", "string", True, "New chat name"),
        Param("user_id", "string", False, "External user id of the customer"),
        description="Rename the Open Lines chat of an external chat.",
        **OPTIONS,
    )
    async def chat_name_set(call: Call) -> bool:
        store = call.services.store
        connector, line = await _active_line(call)
        chat_id = php.php_str(params.required(call, "CHAT_ID")).strip()
        name = php.php_str(params.required(call, "NAME")).strip()
        customer = (
            await store.connector_user(connector.id, call.str("USER_ID").strip())
            if call.has("USER_ID")
            else 0
        )
        if not customer:
            raise errors.argument_error("USER_ID", "Argument 'USER_ID' is null or empty")
        async with store.atomic():
            chat = await store.find_chat_by_entity("LINES", user_code(connector.id, line, chat_id, customer))
            if chat is None:
                raise errors.argument_error("CHAT_ID", "The chat was not found")
            chat.title = name
            await store.save_chat(chat)
        return True
