"""Parameters shared by the methods that write messages (``imbot.message.*``, ``imbot.command.answer``,
``im.message.add``): DIALOG_ID, ATTACH, KEYBOARD and MENU, each in JSON or PHP-bracket form, with the
real server's 30 KB limit and error codes (spec 6.4)."""

from __future__ import annotations

import json
from typing import Any

from openlines.domain.openlines import Chat
from openlines.engine import events
from openlines.protocol import php
from openlines.protocol.errors import RestError
from openlines.services import Services

BLOCK_LIMIT = 30 * 1024  # ATTACH / KEYBOARD / MENU, bytes of JSON
EDIT_WINDOW = 3 * 24 * 3600  # a bot may change its message for three days
PRIVATE = "PRIVATE"  # internal entity type of one-to-one chats


def dialog_id_empty() -> RestError:
    return RestError("DIALOG_ID_EMPTY", "Dialog ID can't be empty", 400)


def message_empty() -> RestError:
    return RestError("MESSAGE_EMPTY", "Message can't be empty", 400)


def message_id_error() -> RestError:
    return RestError("MESSAGE_ID_ERROR", "Message ID can't be empty", 400)


def message_not_added() -> RestError:
    return RestError("WRONG_REQUEST", "Message isn't added", 400)


def cant_edit() -> RestError:
    return RestError("CANT_EDIT_MESSAGE", "Time has expired for modification or you don't have access", 403)


_BLOCK_ERRORS = {
    "ATTACH": (
        ("ATTACH_ERROR", "Incorrect attach params"),
        ("ATTACH_OVERSIZE", "You have exceeded the maximum allowable size of attach"),
    ),
    "KEYBOARD": (
        ("KEYBOARD_ERROR", "Incorrect keyboard params"),
        ("KEYBOARD_OVERSIZE", "You have exceeded the maximum allowable size of keyboard"),
    ),
    "MENU": (
        ("MENU_ERROR", "Incorrect menu params"),
        ("MENU_OVERSIZE", "You have exceeded the maximum allowable size of menu"),
    ),
}


def is_cleared(value: Any) -> bool:
    """An empty value (or ``N``) means "none" / "remove" for ATTACH, KEYBOARD and MENU."""
    return value is None or value is False or value in ("", "N", "0") or value == [] or value == {}


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _upper(item: Any) -> Any:
    if isinstance(item, dict):
        return {str(k).upper(): _upper(v) for k, v in item.items()}
    if isinstance(item, list):
        return [_upper(v) for v in item]
    return item


def _check_size(name: str, value: Any) -> None:
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > BLOCK_LIMIT:
        code, text = _BLOCK_ERRORS[name][1]
        raise RestError(code, text, 400)


def _error(name: str) -> RestError:
    code, text = _BLOCK_ERRORS[name][0]
    return RestError(code, text, 400)


def parse_attach(value: Any) -> Any:
    """ATTACH: a list of blocks or an object (``{"ID", "COLOR", "BLOCKS"}``), as JSON or bracket
    form. Returns None for "no attachment"."""
    if is_cleared(value):
        return None
    decoded = _decoded(value)
    if isinstance(decoded, dict):
        decoded = php.normalize_arrays(decoded)
    if not isinstance(decoded, (list, dict)) or not decoded:
        raise _error("ATTACH")
    blocks = decoded.get("BLOCKS", decoded.get("blocks")) if isinstance(decoded, dict) else decoded
    if blocks is not None and not isinstance(blocks, (list, dict)):
        raise _error("ATTACH")
    _check_size("ATTACH", decoded)
    return decoded


def parse_buttons(name: str, value: Any) -> list[dict[str, Any]] | None:
    """KEYBOARD or MENU: a flat list of buttons with ``{"TYPE": "NEWLINE"}`` separators (or an
    object with ``BUTTONS``), as JSON or bracket form. Buttons without TEXT or an action are dropped
    like the real server drops them; nothing usable left is an error."""
    if is_cleared(value):
        return None
    decoded = _decoded(value)
    if isinstance(decoded, dict):
        inner = decoded.get("BUTTONS", decoded.get("buttons"))
        decoded = inner if inner is not None else decoded
    items = php.as_items(decoded)
    buttons: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        button = _upper(item)
        if button.get("TYPE") == "NEWLINE":
            buttons.append({"TYPE": "NEWLINE"})
            continue
        text = button.get("TEXT")
        acts = any(php.php_truthy(button.get(k)) for k in ("COMMAND", "LINK", "ACTION", "APP_ID", "FUNCTION"))
        if isinstance(text, (str, int, float)) and str(text).strip() and acts:
            buttons.append(button)
    if not any(b.get("TYPE") != "NEWLINE" for b in buttons):
        raise _error(name)
    _check_size(name, buttons)
    return buttons


def message_blocks(params: dict[str, Any], *, updating: bool = False) -> dict[str, Any]:
    """ATTACH, KEYBOARD and MENU of a call, parsed. With ``updating``, a present-but-empty block maps
    to None (remove it); absent blocks are left out either way."""
    out: dict[str, Any] = {}
    if "ATTACH" in params:
        attach = parse_attach(params["ATTACH"])
        if attach is not None or updating:
            out["ATTACH"] = attach
    for name in ("KEYBOARD", "MENU"):
        if name in params:
            buttons = parse_buttons(name, params[name])
            if buttons is not None or updating:
                out[name] = buttons
    return out


def message_flags(params: dict[str, Any]) -> dict[str, Any]:
    """URL_PREVIEW=N and SKIP_CONNECTOR=Y (case-insensitive, like the real server) as stored params."""
    out: dict[str, Any] = {}
    if params.get("URL_PREVIEW") == "N":
        out["URL_PREVIEW"] = "N"
    skip = params.get("SKIP_CONNECTOR")
    if isinstance(skip, str) and skip.upper() == "Y":
        out["SKIP_CONNECTOR"] = "Y"
    return out


def parse_dialog(value: Any) -> tuple[str, int]:
    """DIALOG_ID: ``chat<N>`` → ("chat", N); a user id → ("user", id); anything else → ("", 0)."""
    text = php.php_str(value).strip() if php.is_scalar(value) else ""
    if text.startswith("chat"):
        rest = text[4:]
        valid = rest.isdigit() and 0 < int(rest) < php.INT64_MAX
        return ("chat", int(rest)) if valid else ("", 0)
    if text.isdigit() and 0 < int(text) < php.INT64_MAX:
        return "user", int(text)
    return "", 0


async def private_chat(services: Services, a: int, b: int, now: float) -> Chat:
    """The one-to-one chat of two users (created on first use; both are members)."""
    store = services.store
    low, high = sorted((a, b))
    key = f"{low}|{high}"
    chat = await store.find_chat_by_entity(PRIVATE, key)
    if chat is None:
        chat = Chat(id=0, type="P", entity_type=PRIVATE, entity_id=key, date_create=now)
        await store.create_chat(chat)
        await store.add_member(chat.id, low, now)
        await store.add_member(chat.id, high, now)
        for bot_id, other_id in ((low, high), (high, low)):
            bot = await store.get_bot(bot_id)
            if bot is not None:  # the bot meets the user: ONIMBOTJOINCHAT, before the first message
                event = events.join_chat(services, bot, chat, None, await store.get_user(other_id))
                if event is not None:
                    await store.add_event(event, now)
    return chat


async def dialog_chat(services: Services, author_id: int, dialog: tuple[str, int], now: float) -> Chat | None:
    """The chat a DIALOG_ID names for ``author_id``; None when it does not exist or the author may
    not write there (not a member; a user who cannot be written to)."""
    store = services.store
    kind, ident = dialog
    if kind == "chat":
        chat = await store.get_chat(ident)
        if chat is None or not await store.is_member(chat.id, author_id):
            return None
        return chat
    if kind == "user" and ident != author_id:
        other = await store.get_user(ident)
        if other is None or not other.active or other.kind == "customer":
            return None
        return await private_chat(services, author_id, ident, now)
    return None
