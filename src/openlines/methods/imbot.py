"""``imbot.*``: the v1 chat-bot API (spec section 6) — registering bots, their messages, chats and
slash commands. Bots are owned by the calling app: an OAuth app's ``client_id``, or
``"custom" + CLIENT_ID`` for webhooks (``openlines.engine.bots``).

Browser-session callers are refused with WRONG_AUTH_TYPE, as the real server does for bot management
(every method here except ``imbot.chat.get``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from openlines.domain.bot_commands import BotCommand
from openlines.domain.openlines import Bot, Chat, Message
from openlines.domain.users import User
from openlines.engine import events
from openlines.engine.bots import WEBHOOK_APP_PREFIX, app_id_for, bot_not_found, bot_of_other_app, resolve_bot
from openlines.engine.messages import post
from openlines.engine.transfer import end_bot_session
from openlines.methods import message_params as mp
from openlines.methods.im import access_error, can_read
from openlines.methods.imopenlines_dialog import dialog_fields
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol import php
from openlines.protocol.envelope import php_shape
from openlines.protocol.errors import RestError
from openlines.services import Services, run_hooks

SCOPE = "imbot"
MAX_BOTS_PER_APP = 5
BOT_TYPES = ("B", "O", "H", "S")
DELETED_TEXT = "This message was deleted."
# EVENT_* parameter suffix, whether imbot.register requires it, and its "isn't specified" name.
HANDLERS: tuple[tuple[str, bool, str], ...] = (
    ("MESSAGE_ADD", True, "Message add"),
    ("MESSAGE_UPDATE", False, ""),
    ("MESSAGE_DELETE", False, ""),
    ("CONTEXT_GET", False, ""),
    ("WELCOME_MESSAGE", True, "Welcome message"),
    ("BOT_DELETE", True, "Bot delete"),
)
PROPERTY_KEYS = (
    "NAME",
    "LAST_NAME",
    "COLOR",
    "EMAIL",
    "PERSONAL_BIRTHDAY",
    "WORK_POSITION",
    "PERSONAL_WWW",
    "PERSONAL_GENDER",
)
_COMMAND_NAME = re.compile(r"^[A-Za-z0-9_\-.]+$")


def _error(code: str, text: str, status: int = 400) -> RestError:
    return RestError(code, text, status)


def valid_url(value: Any) -> bool:
    """An absolute http(s) URL with a host. Loopback hosts are fine: this is a local server."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _handlers(params: dict[str, Any], *, required: bool) -> dict[str, str]:
    """EVENT_* handler URLs in the real server's check order. EVENT_HANDLER fills every one."""
    common = params.get("EVENT_HANDLER")
    given = {
        name: common if php.php_truthy(common) else params.get("EVENT_" + name) for name, _, _ in HANDLERS
    }
    out: dict[str, str] = {}
    for name, needed, title in HANDLERS:
        value = given[name]
        if not php.php_truthy(value):
            if needed and required:
                raise _error(f"EVENT_{name}_ERROR", f'Handler for "{title}" event isn\'t specified')
            continue
        if not valid_url(value):
            raise _error(f"EVENT_{name}_ERROR", "Wrong handler URL")
        out[name] = str(value)
    return out


def _properties(value: Any) -> dict[str, str]:
    props = value if isinstance(value, dict) else {}
    out: dict[str, str] = {}
    for key, item in props.items():
        upper = str(key).upper()
        if upper in PROPERTY_KEYS and php.is_scalar(item):
            out[upper] = php.php_str(item).strip()
    return out


def _apply_properties(user: User, props: dict[str, str]) -> None:
    if "NAME" in props:
        user.name = props["NAME"]
    if "LAST_NAME" in props:
        user.last_name = props["LAST_NAME"]
    if "WORK_POSITION" in props:
        user.work_position = props["WORK_POSITION"]
    if "EMAIL" in props:
        user.email = props["EMAIL"]
    if "PERSONAL_GENDER" in props:
        user.gender = props["PERSONAL_GENDER"] if props["PERSONAL_GENDER"] in ("M", "F") else ""
    for key in ("COLOR", "PERSONAL_BIRTHDAY", "PERSONAL_WWW"):
        if key in props:
            user.extra[key.lower()] = props[key]


def _bot_type(params: dict[str, Any]) -> str:
    value = params.get("TYPE")
    return value if isinstance(value, str) and value in BOT_TYPES else "B"


async def _application_token(call: Call, app_id: str) -> str:
    """Webhook bots keep their raw CLIENT_ID (it comes back as auth[application_token]); app bots
    the app's token."""
    if not call.caller.client_id:
        return app_id[len(WEBHOOK_APP_PREFIX) :]
    app = await call.services.store.get_app(call.caller.client_id)
    return app.application_token if app is not None else ""


async def _explicit_bot(call: Call) -> Bot:
    """The bot named by a required BOT_ID (unregister, update, command.register)."""
    app_id_for(call)  # a webhook without CLIENT_ID is refused first
    bot_id = call.int("BOT_ID")
    if bot_id <= 0:
        raise bot_not_found()
    return await resolve_bot(call, bot_id)


async def _bot_user(services: Services, bot: Bot) -> User | None:
    return await services.store.get_user(bot.id)


async def _editable(call: Call, bot: Bot) -> Message:
    message_id = call.int("MESSAGE_ID")
    if message_id <= 0:
        raise mp.message_id_error()
    message = await call.services.store.get_message(message_id)
    now = call.services.clock.now()
    if (
        message is None
        or message.deleted
        or message.author_id != bot.id
        or now - message.date > mp.EDIT_WINDOW
    ):
        raise mp.cant_edit()
    return message


async def _tell_bots(services: Services, kind: str, message: Message, author: User | None) -> None:
    """ONIMBOTMESSAGEUPDATE / ONIMBOTMESSAGEDELETE to the other bots of the chat that get them
    (spec 7.4: Open Lines bots and types other than B/H)."""
    store = services.store
    chat = await store.get_chat(message.chat_id)
    if chat is None:
        return
    await run_hooks(services, "on_message_changed", chat, message, kind)  # connectors, app events
    session = await store.last_session_of_chat(chat.id) if chat.is_lines else None
    for bot in await store.bots_in_chat(chat.id):
        if bot.id == message.author_id or not (bot.openline or bot.type not in ("B", "H")):
            continue
        event = events.message_change(services, kind, bot, chat, session, message, author)
        if event is not None:
            await store.add_event(event, services.clock.now())


def _text(params: dict[str, Any]) -> str:
    value = params.get("MESSAGE")
    return php.php_str(value).strip() if php.is_scalar(value) else ""


async def _write(call: Call, bot: Bot, chat_id: int | None = None) -> int:
    """imbot.message.add / imbot.command.answer: checks in the real order, then one post."""
    params = call.params
    dialog = ("chat", chat_id) if chat_id else None
    if dialog is None:
        if not php.php_truthy(params.get("DIALOG_ID")):
            raise mp.dialog_id_empty()
        dialog = mp.parse_dialog(params.get("DIALOG_ID"))
    text = _text(params)
    blocks = mp.message_blocks(params)
    if not text and not blocks.get("ATTACH"):
        raise mp.message_empty()
    extra = {**blocks, **mp.message_flags(params)}
    system = params.get("SYSTEM") == "Y"
    services = call.services
    store = services.store
    async with store.atomic():
        now = services.clock.now()
        chat = (
            await store.get_chat(dialog[1])
            if chat_id
            else await mp.dialog_chat(services, bot.id, dialog, now)
        )
        if chat is None:
            raise mp.message_not_added()
        author = await _bot_user(services, bot)
        message = await post(services, chat, bot.id, text, system=system, params=extra, author=author)
    return message.id


def register(registry: Registry) -> None:
    @registry.method(
        "imbot.register",
        SCOPE,
        Param("CODE", "string", True, "Bot code, unique within the application"),
        Param("TYPE", "string", description="B (default), O (Open Lines), H (human-like), S (supervisor)"),
        Param("OPENLINE", "string", description="Y: the bot also works in Open Lines"),
        Param("EVENT_HANDLER", "string", description="One URL for every event"),
        Param("EVENT_MESSAGE_ADD", "string", description="URL for ONIMBOTMESSAGEADD (required)"),
        Param("EVENT_WELCOME_MESSAGE", "string", description="URL for ONIMBOTJOINCHAT (required)"),
        Param("EVENT_BOT_DELETE", "string", description="URL for ONIMBOTDELETE (required)"),
        Param("EVENT_MESSAGE_UPDATE", "string"),
        Param("EVENT_MESSAGE_DELETE", "string"),
        Param("PROPERTIES", "object", True, "NAME or LAST_NAME required; COLOR, EMAIL, WORK_POSITION, ..."),
        Param("CLIENT_ID", "string", description="Webhooks only: the bot owner's key"),
        description="Register a chat bot; answers its BOT_ID (the same one again for a known CODE).",
        session_auth=False,
    )
    async def imbot_register(call: Call) -> int:
        app_id = app_id_for(call)
        params = call.params
        handlers = _handlers(params, required=True)
        code = params.get("CODE")
        if not php.is_scalar(code) or not php.php_truthy(code):
            raise _error("CODE_ERROR", "Bot code isn't specified")
        code = php.php_str(code)
        props = _properties(params.get("PROPERTIES"))
        if not props.get("NAME") and not props.get("LAST_NAME"):
            raise _error("NAME_ERROR", "Bot name isn't specified")
        services = call.services
        store = services.store
        token = await _application_token(call, app_id)
        bot_type = _bot_type(params)
        async with store.atomic():
            existing = await store.find_bot_by_code(code, app_id)
            if existing is not None:
                return existing.id
            if len(await store.list_bots(app_id)) >= MAX_BOTS_PER_APP:
                raise _error(
                    "MAX_COUNT_ERROR",
                    f"Has reached the maximum number of bots for application (max: {MAX_BOTS_PER_APP})",
                )
            now = services.clock.now()
            user = User(id=0, kind="bot", date_register=now)
            _apply_properties(user, props)
            user.id = await store.create_user(user)
            bot = Bot(
                id=user.id,
                code=code,
                app_id=app_id,
                type=bot_type,
                openline=bot_type == "O" or php.php_equals_y(params.get("OPENLINE")),
                handlers=handlers,
                application_token=token,
                date_create=now,
            )
            await store.save_bot(bot)
        return bot.id

    @registry.method(
        "imbot.unregister",
        SCOPE,
        Param("BOT_ID", "integer", True),
        Param("CLIENT_ID", "string"),
        description="Remove a bot of the calling application (sends ONIMBOTDELETE).",
        session_auth=False,
    )
    async def imbot_unregister(call: Call) -> bool:
        bot = await _explicit_bot(call)
        services = call.services
        store = services.store
        async with store.atomic():
            event = events.bot_delete(services, bot)
            if event is not None:
                await store.add_event(event, services.clock.now())
            for session in await store.open_sessions(operator_id=bot.id):
                if session.owner_type == "bot":  # its dialogues go to their queues, not into limbo
                    await end_bot_session(services, session.chat_id, call.caller.user_id)
            for chat_id in await store.chats_of_member(bot.id):
                await store.remove_member(chat_id, bot.id)
            await store.delete_bot(bot.id)
            user = await store.get_user(bot.id)
            if user is not None:
                user.active = False
                await store.upsert_user(user)
        return True

    @registry.method(
        "imbot.update",
        SCOPE,
        Param("BOT_ID", "integer", True),
        Param("FIELDS", "object", True, "CODE, TYPE, OPENLINE, EVENT_* URLs, PROPERTIES"),
        Param("CLIENT_ID", "string"),
        description="Change a bot's code, handlers or properties.",
        session_auth=False,
    )
    async def imbot_update(call: Call) -> bool:
        bot = await _explicit_bot(call)
        fields = call.get("FIELDS")
        if not isinstance(fields, dict) or not fields:
            raise _error("WRONG_REQUEST", "Update fields can't be empty")
        fields = php.upper_keys(fields)
        handlers = _handlers(fields, required=False)
        store = call.services.store
        async with store.atomic():
            user = await store.get_user(bot.id)
            if "PROPERTIES" in fields and user is not None:
                props = _properties(fields["PROPERTIES"])
                _apply_properties(user, props)
                if ("NAME" in props or "LAST_NAME" in props) and not (user.name or user.last_name):
                    raise _error("NAME_ERROR", "Bot name isn't specified")
                await store.upsert_user(user)
            code = fields.get("CODE")
            if php.is_scalar(code) and php.php_truthy(code):
                bot.code = php.php_str(code)
            if "TYPE" in fields:
                bot.type = _bot_type(fields)
            if "OPENLINE" in fields:
                bot.openline = php.php_equals_y(fields["OPENLINE"])
            if bot.type == "O":
                bot.openline = True
            bot.handlers.update(handlers)
            await store.save_bot(bot)
        return True

    @registry.method(
        "imbot.bot.list",
        SCOPE,
        description="Every chat bot of the portal, keyed by bot id.",
        session_auth=False,
    )
    async def imbot_bot_list(call: Call) -> Any:
        store = call.services.store
        listing: dict[str, Any] = {}
        for bot in await store.list_bots():
            user = await store.get_user(bot.id)
            listing[str(bot.id)] = {
                "ID": bot.id,
                "NAME": user.full_name if user else "",
                "CODE": bot.code,
                "OPENLINE": "Y" if bot.openline else "N",
            }
        return php_shape(listing)

    @registry.method(
        "imbot.message.add",
        SCOPE,
        Param("BOT_ID", "integer"),
        Param("DIALOG_ID", "string", True, "chat<ID> or a user id"),
        Param("MESSAGE", "string", True),
        Param("ATTACH", "any"),
        Param("KEYBOARD", "any"),
        Param("MENU", "any"),
        Param("SYSTEM", "string"),
        Param("URL_PREVIEW", "string"),
        Param("SKIP_CONNECTOR", "string"),
        Param("CLIENT_ID", "string"),
        description="A message from the bot; answers the message id.",
        session_auth=False,
    )
    async def imbot_message_add(call: Call) -> int:
        bot = await resolve_bot(call, call.int("BOT_ID"))
        return await _write(call, bot)

    @registry.method(
        "imbot.message.update",
        SCOPE,
        Param("BOT_ID", "integer"),
        Param("MESSAGE_ID", "integer", True),
        Param("MESSAGE", "string", description="Empty deletes the message; absent keeps the text"),
        Param("ATTACH", "any"),
        Param("KEYBOARD", "any"),
        Param("MENU", "any"),
        Param("URL_PREVIEW", "string"),
        Param("CLIENT_ID", "string"),
        description="Change a message the bot wrote (up to three days old).",
        session_auth=False,
    )
    async def imbot_message_update(call: Call) -> bool:
        bot = await resolve_bot(call, call.int("BOT_ID"))
        params = call.params
        services = call.services
        store = services.store
        async with store.atomic():
            message = await _editable(call, bot)
            blocks = mp.message_blocks(params, updating=True)
            if "MESSAGE" in params and not _text(params) and not blocks.get("ATTACH"):
                _soft_delete(message, services.clock.now())
                await store.save_message(message)
                await _tell_bots(services, "MESSAGE_DELETE", message, await _bot_user(services, bot))
                return True
            if "MESSAGE" in params:
                message.text = _text(params)
            for key, value in blocks.items():
                if value is None:
                    message.params.pop(key, None)
                else:
                    message.params[key] = value
            if params.get("URL_PREVIEW") == "N":
                message.params["URL_PREVIEW"] = "N"
            message.date_modify = services.clock.now()
            message.params["IS_EDITED"] = "Y"
            await store.save_message(message)
            await _tell_bots(services, "MESSAGE_UPDATE", message, await _bot_user(services, bot))
        return True

    @registry.method(
        "imbot.message.delete",
        SCOPE,
        Param("BOT_ID", "integer"),
        Param("MESSAGE_ID", "integer", True),
        Param("COMPLETE", "string", description="Y: remove it without a trace"),
        Param("CLIENT_ID", "string"),
        description="Delete a message the bot wrote.",
        session_auth=False,
    )
    async def imbot_message_delete(call: Call) -> bool:
        bot = await resolve_bot(call, call.int("BOT_ID"))
        services = call.services
        store = services.store
        async with store.atomic():
            message = await _editable(call, bot)
            if call.get("COMPLETE") == "Y":
                await store.delete_message(message.id)
            else:
                _soft_delete(message, services.clock.now())
                await store.save_message(message)
            await _tell_bots(services, "MESSAGE_DELETE", message, await _bot_user(services, bot))
        return True

    @registry.method(
        "imbot.message.like",
        SCOPE,
        Param("BOT_ID", "integer"),
        Param("MESSAGE_ID", "integer", True),
        Param("ACTION", "string", description="auto (default: toggle), plus or minus"),
        Param("CLIENT_ID", "string"),
        description="The bot likes (or stops liking) a message in one of its chats.",
        session_auth=False,
    )
    async def imbot_message_like(call: Call) -> bool:
        bot = await resolve_bot(call, call.int("BOT_ID"))
        message_id = call.int("MESSAGE_ID")
        if message_id <= 0:
            raise mp.message_id_error()
        action = call.get("ACTION")
        action = action if action in ("plus", "minus") else "auto"
        store = call.services.store
        async with store.atomic():
            message = await store.get_message(message_id)
            if message is None or not await store.is_member(message.chat_id, bot.id):
                raise mp.message_id_error()
            likes = [php.php_int(u) for u in php.as_items(message.params.get("LIKE")) if php.php_int(u) > 0]
            liked = bot.id in likes
            wanted = not liked if action == "auto" else action == "plus"
            if wanted == liked:
                raise _error("WITHOUT_CHANGES", "Action completed without changes")
            likes = [*likes, bot.id] if wanted else [u for u in likes if u != bot.id]
            if likes:
                message.params["LIKE"] = likes
            else:
                message.params.pop("LIKE", None)
            await store.save_message(message)
        return True

    @registry.method(
        "imbot.chat.sendTyping",
        SCOPE,
        Param("BOT_ID", "integer"),
        Param("DIALOG_ID", "string", True),
        Param("CLIENT_ID", "string"),
        description="Show 'typing…' for the bot (nothing to see on this server).",
        session_auth=False,
    )
    async def imbot_send_typing(call: Call) -> bool:
        await resolve_bot(call, call.int("BOT_ID"))
        if not php.php_truthy(call.get("DIALOG_ID")):
            raise mp.dialog_id_empty()
        return True

    @registry.method(
        "imbot.chat.leave",
        SCOPE,
        Param("CHAT_ID", "integer", True),
        Param("BOT_ID", "integer"),
        Param("CLIENT_ID", "string"),
        description="The bot leaves a chat.",
        session_auth=False,
    )
    async def imbot_chat_leave(call: Call) -> bool:
        bot = await resolve_bot(call, call.int("BOT_ID"))
        chat_id = call.int("CHAT_ID")
        if chat_id <= 0:
            raise _error("CHAT_ID_EMPTY", "Chat ID can't be empty")
        services = call.services
        store = services.store
        async with store.atomic():
            if not await store.is_member(chat_id, bot.id):
                raise _error("ACCESS_ERROR", "Action unavailable", 403)
            session = await store.open_session_of_chat(chat_id)
            if session is not None and session.owner_type == "bot" and session.operator_id == bot.id:
                # a bot that walks out of its own dialogue hands it to the queue, like "0" does
                await end_bot_session(services, chat_id, call.caller.user_id)
            await store.remove_member(chat_id, bot.id)
        return True

    @registry.method(
        "imbot.chat.get",
        SCOPE,
        Param("ENTITY_TYPE", "string", True, "e.g. LINES"),
        Param("ENTITY_ID", "string", True, "for LINES: connector|line|chat|user"),
        description='The chat bound to an entity: {"ID": n}, or null.',
    )
    async def imbot_chat_get(call: Call) -> Any:
        entity_type, entity_id = call.get("ENTITY_TYPE"), call.get("ENTITY_ID")
        if not (php.is_scalar(entity_type) and php.is_scalar(entity_id)):
            return None
        if not php.php_truthy(entity_type) or not php.php_truthy(entity_id):
            return None
        chat = await call.services.store.find_chat_by_entity(php.php_str(entity_type), php.php_str(entity_id))
        return {"ID": chat.id} if chat is not None else None

    _register_commands(registry)
    _register_lookups(registry)
    _register_group_chats(registry)


def _soft_delete(message: Message, now: float) -> None:
    message.text = DELETED_TEXT
    message.deleted = True
    message.date_modify = now
    for key in ("ATTACH", "KEYBOARD", "MENU"):
        message.params.pop(key, None)
    message.params["IS_DELETED"] = "Y"


def _register_commands(registry: Registry) -> None:
    @registry.method(
        "imbot.command.register",
        SCOPE,
        Param("BOT_ID", "integer", True),
        Param("COMMAND", "string", True, "Latin letters and digits, no spaces"),
        Param("EVENT_COMMAND_ADD", "string", True, "URL for ONIMCOMMANDADD"),
        Param("LANG", "array", True, "[{LANGUAGE_ID, TITLE, PARAMS}]"),
        Param("COMMON", "string"),
        Param("HIDDEN", "string"),
        Param("EXTRANET_SUPPORT", "string"),
        Param("CLIENT_ID", "string"),
        description="Register a slash command for a bot; answers the command id.",
        session_auth=False,
    )
    async def imbot_command_register(call: Call) -> int:
        bot = await _explicit_bot(call)
        params = call.params
        handler = params.get("EVENT_COMMAND_ADD")
        if not php.php_truthy(handler):
            raise _error("EVENT_COMMAND_ADD_ERROR", 'Handler for "Command add" event isn\'t specified')
        if not valid_url(handler):
            raise _error("EVENT_COMMAND_ADD_ERROR", "Wrong handler URL")
        name = php.php_str(params.get("COMMAND")).strip() if php.is_scalar(params.get("COMMAND")) else ""
        if not name:
            raise _error("COMMAND_ERROR", "Command can't be empty")
        if not _COMMAND_NAME.match(name):
            raise _error("COMMAND_ERROR", "Command name is incorrect")
        lang = [php.upper_keys(item) for item in php.as_items(params.get("LANG")) if isinstance(item, dict)]
        lang = [item for item in lang if php.php_truthy(item.get("LANGUAGE_ID"))]
        if not lang:
            raise _error("LANG_ERROR", "Lang set can't be empty")
        store = call.services.store
        async with store.atomic():
            command = await store.find_command(bot.id, name) or BotCommand(
                id=0, bot_id=bot.id, app_id=bot.app_id, command=name
            )
            command.common = params.get("COMMON") == "Y"
            command.hidden = params.get("HIDDEN") == "Y"
            command.extranet_support = params.get("EXTRANET_SUPPORT") == "Y"
            command.handler = str(handler)
            command.lang = lang
            return await store.save_command(command)

    @registry.method(
        "imbot.command.unregister",
        SCOPE,
        Param("COMMAND_ID", "integer", True),
        Param("CLIENT_ID", "string"),
        description="Remove a slash command.",
        session_auth=False,
    )
    async def imbot_command_unregister(call: Call) -> bool:
        app_id = app_id_for(call)
        store = call.services.store
        async with store.atomic():
            command = await store.get_command(call.int("COMMAND_ID"))
            if command is None:
                raise _error("COMMAND_ID_ERROR", "Command not found")
            if command.app_id != app_id:
                raise bot_of_other_app()
            await store.delete_command(command.id)
        return True

    @registry.method(
        "imbot.command.answer",
        SCOPE,
        Param("COMMAND_ID", "integer"),
        Param("COMMAND", "string"),
        Param("MESSAGE_ID", "integer", True, "The message that carried the command"),
        Param("MESSAGE", "string", True),
        Param("ATTACH", "any"),
        Param("KEYBOARD", "any"),
        Param("MENU", "any"),
        Param("SYSTEM", "string"),
        Param("URL_PREVIEW", "string"),
        Param("CLIENT_ID", "string"),
        description="Answer a slash command in the chat where it was typed; answers the message id.",
        session_auth=False,
    )
    async def imbot_command_answer(call: Call) -> int:
        app_id = app_id_for(call)
        store = call.services.store
        command: BotCommand | None = None
        if call.int("COMMAND_ID") > 0:
            command = await store.get_command(call.int("COMMAND_ID"))
        elif php.is_scalar(call.get("COMMAND")) and php.php_truthy(call.get("COMMAND")):
            bot = await resolve_bot(call, call.int("BOT_ID"))
            command = await store.find_command(bot.id, php.php_str(call.get("COMMAND")))
        if command is None:
            raise _error("COMMAND_ID_ERROR", "Command not found")
        if command.app_id != app_id:
            raise bot_of_other_app()
        message_id = call.int("MESSAGE_ID")
        if message_id <= 0:
            raise mp.message_id_error()
        origin = await store.get_message(message_id)
        if origin is None:
            raise mp.message_id_error()
        owner = await store.get_bot(command.bot_id)
        if owner is None:
            raise bot_not_found()
        return await _write(call, owner, chat_id=origin.chat_id)


def _register_lookups(registry: Registry) -> None:
    @registry.method(
        "imbot.dialog.get",
        SCOPE,
        Param("DIALOG_ID", "string", True, "chat<ID>"),
        description="A chat's data as imopenlines.dialog.get shows it.",
        session_auth=False,
    )
    async def imbot_dialog_get(call: Call) -> dict[str, Any]:
        if not php.php_truthy(call.get("DIALOG_ID")):
            raise mp.dialog_id_empty()
        kind, chat_id = mp.parse_dialog(call.get("DIALOG_ID"))
        store = call.services.store
        chat = await store.get_chat(chat_id) if kind == "chat" else None
        if chat is None or not await can_read(call.services, call.caller, chat):
            raise access_error()
        return await dialog_fields(call.services, chat, call.caller.user_id)

    @registry.method(
        "imbot.chat.user.list",
        SCOPE,
        Param("CHAT_ID", "integer", True),
        Param("BOT_ID", "integer"),
        Param("CLIENT_ID", "string"),
        description="The user ids of a chat the bot is in.",
        session_auth=False,
    )
    async def imbot_chat_user_list(call: Call) -> list[int]:
        bot = await resolve_bot(call, call.int("BOT_ID"))
        chat_id = call.int("CHAT_ID")
        if chat_id <= 0:
            raise _error("CHAT_ID_EMPTY", "Chat ID can't be empty")
        store = call.services.store
        if not await store.is_member(chat_id, bot.id):
            raise _error("ACCESS_ERROR", "You do not have access to this chat", 403)
        return await store.members(chat_id)

    @registry.method(
        "imbot.command.update",
        SCOPE,
        Param("COMMAND_ID", "integer", True),
        Param("FIELDS", "object", True, "EVENT_COMMAND_ADD, HIDDEN, EXTRANET_SUPPORT, LANG"),
        Param("CLIENT_ID", "string"),
        description="Change a slash command.",
        session_auth=False,
    )
    async def imbot_command_update(call: Call) -> bool:
        app_id = app_id_for(call)
        store = call.services.store
        async with store.atomic():
            command = await store.get_command(call.int("COMMAND_ID"))
            if command is None:
                raise _error("COMMAND_ID_ERROR", "Command not found")
            if command.app_id != app_id:
                raise bot_of_other_app()
            fields = call.get("FIELDS")
            if not isinstance(fields, dict) or not fields:
                raise _error("WRONG_REQUEST", "Update fields can't be empty")
            fields = php.upper_keys(fields)
            if "EVENT_COMMAND_ADD" in fields:
                if not valid_url(fields["EVENT_COMMAND_ADD"]):
                    raise _error("EVENT_COMMAND_ADD_ERROR", "Wrong handler URL")
                command.handler = str(fields["EVENT_COMMAND_ADD"])
            if "LANG" in fields:
                lang = [php.upper_keys(i) for i in php.as_items(fields["LANG"]) if isinstance(i, dict)]
                lang = [item for item in lang if php.php_truthy(item.get("LANGUAGE_ID"))]
                if not lang:
                    raise _error("LANG_ERROR", "Lang set can't be empty")
                command.lang = lang
            for key in ("COMMON", "HIDDEN", "EXTRANET_SUPPORT"):
                if key in fields:
                    setattr(command, key.lower(), fields[key] == "Y")
            await store.save_command(command)
        return True


def _user_ids(value: Any) -> list[int] | None:
    """USERS as a list of positive ids (JSON list or bracket form); None when it is not an array."""
    if not isinstance(value, (list, dict)):
        return None
    return list(dict.fromkeys(u for u in (php.php_int(v) for v in php.as_items(value)) if u > 0))


async def _group_of_bot(call: Call, bot: Bot) -> int:
    """CHAT_ID of a group chat the bot is in (CHAT_ID_EMPTY, or 403 ACCESS_ERROR)."""
    chat_id = call.int("CHAT_ID")
    if chat_id <= 0:
        raise _error("CHAT_ID_EMPTY", "Chat ID can't be empty")
    if not await call.services.store.is_member(chat_id, bot.id):
        raise _error("ACCESS_ERROR", "Action unavailable", 403)
    return chat_id


def _register_group_chats(registry: Registry) -> None:
    @registry.method(
        "imbot.chat.add",
        SCOPE,
        Param("TYPE", "string", description="CHAT (default) or OPEN"),
        Param("TITLE", "string"),
        Param("DESCRIPTION", "string"),
        Param("MESSAGE", "string", description="A first notice in the new chat"),
        Param("USERS", "array", description="User ids to add beside the bot"),
        Param("ENTITY_TYPE", "string"),
        Param("ENTITY_ID", "string"),
        Param("BOT_ID", "integer"),
        Param("CLIENT_ID", "string"),
        description="The bot creates a group chat; answers its id.",
        session_auth=False,
    )
    async def imbot_chat_add(call: Call) -> int:
        bot = await resolve_bot(call, call.int("BOT_ID"))
        users: list[int] = []
        if call.has("USERS"):
            found = _user_ids(call.get("USERS"))
            if found is None:
                raise _error("INVALID_FORMAT", "Parameter USERS has wrong type")
            users = found
        entity_type = call.str("ENTITY_TYPE") if php.is_scalar(call.get("ENTITY_TYPE")) else ""
        if entity_type.upper() in ("LINES", "LIVECHAT", mp.PRIVATE):  # those chats are made by dialogues
            raise _error("WRONG_REQUEST", "Chat can't be created")
        services = call.services
        store = services.store
        async with store.atomic():
            now = services.clock.now()
            title = call.str("TITLE") if php.is_scalar(call.get("TITLE")) else ""
            chat = Chat(
                id=0,
                type="O" if call.get("TYPE") == "OPEN" else "C",
                entity_type=entity_type,
                entity_id=call.str("ENTITY_ID") if php.is_scalar(call.get("ENTITY_ID")) else "",
                title=title.strip(),
                author_id=bot.id,
                date_create=now,
            )
            await store.create_chat(chat)
            await store.add_member(chat.id, bot.id, now, manager=True)
            for user_id in users:
                user = await store.get_user(user_id)
                if user is not None and user.active and user.kind != "customer":
                    await store.add_member(chat.id, user_id, now)
            text = _text(call.params)
            if text:
                await post(services, chat, bot.id, text, system=True, author=await _bot_user(services, bot))
        return chat.id

    @registry.method(
        "imbot.chat.user.add",
        SCOPE,
        Param("CHAT_ID", "integer", True),
        Param("USERS", "array", True),
        Param("HIDE_HISTORY", "string"),
        Param("BOT_ID", "integer"),
        Param("CLIENT_ID", "string"),
        description="The bot adds users to a group chat it is in.",
        session_auth=False,
    )
    async def imbot_chat_user_add(call: Call) -> bool:
        bot = await resolve_bot(call, call.int("BOT_ID"))
        chat_id = await _group_of_bot(call, bot)
        users = _user_ids(call.get("USERS"))
        if users is None:
            raise _error("WRONG_REQUEST", "User IDs must be passed in array format")
        services = call.services
        store = services.store
        async with store.atomic():
            chat = await store.get_chat(chat_id)
            if chat is None or chat.type not in ("C", "O"):  # Open Lines members change by hand-over
                raise _error("WRONG_REQUEST", "You don't have access or user already member in chat")
            added = False
            for user_id in users:
                user = await store.get_user(user_id)
                if user is not None and user.active and user.kind != "customer":
                    added = await store.add_member(chat_id, user_id, services.clock.now()) or added
            if not added:
                raise _error("WRONG_REQUEST", "You don't have access or user already member in chat")
        return True

    @registry.method(
        "imbot.chat.user.delete",
        SCOPE,
        Param("CHAT_ID", "integer", True),
        Param("USER_ID", "integer", True),
        Param("BOT_ID", "integer"),
        Param("CLIENT_ID", "string"),
        description="The bot removes a user from a group chat it is in.",
        session_auth=False,
    )
    async def imbot_chat_user_delete(call: Call) -> bool:
        bot = await resolve_bot(call, call.int("BOT_ID"))
        chat_id = await _group_of_bot(call, bot)
        user_id = call.int("USER_ID")
        if user_id <= 0:
            raise _error("USER_ID_EMPTY", "User ID can't be empty")
        store = call.services.store
        async with store.atomic():
            chat = await store.get_chat(chat_id)
            if chat is None or chat.type not in ("C", "O"):
                raise _error("ACCESS_ERROR", "It is forbidden to delete users of this chat", 403)
            if not await store.remove_member(chat_id, user_id):
                raise _error("WRONG_REQUEST", "You don't have access or user already member in chat")
        return True
