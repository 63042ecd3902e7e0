"""``imopenlines.bot.session.*``: what a chat bot does with the Open Lines dialogue it holds.

The checks run in the real server's order (behaviour notes 1.3 and 1.5). Every method refuses
browser-session callers first (``session_auth=False``). ``transfer`` reads its parameter names
exactly as sent (``chat_id`` is not ``CHAT_ID``); the others upper-case them first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openlines.domain import transfer_rules
from openlines.engine import auto_messages, bots
from openlines.engine import transfer as transfer_engine
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol import php
from openlines.protocol.errors import RestError

SCOPE = "imopenlines"


def chat_id_empty() -> RestError:
    return RestError("CHAT_ID_EMPTY", "Chat ID can't be empty", 400)


def operator_wrong() -> RestError:
    return RestError("OPERATOR_WRONG", "You can not redirect to this operator", 400)


def operator_not_bot() -> RestError:
    return RestError("WRONG_CHAT", "Operator is not a bot", 400)


def chat_id_of(params: Mapping[str, Any]) -> int:
    """CHAT_ID as PHP's ``(int)``; <= 0 is CHAT_ID_EMPTY. A list or object is an ERROR_ARGUMENT
    (PHP would cast a non-empty array to chat 1)."""
    value = params.get("CHAT_ID")
    if value is not None and not php.is_scalar(value):
        raise transfer_rules.not_scalar("CHAT_ID")
    chat_id = php.php_int(value)
    if chat_id <= 0:
        raise chat_id_empty()
    return chat_id


_CHAT_ID = Param("CHAT_ID", "integer", True, "The Open Lines chat")
_CLIENT_ID = Param("CLIENT_ID", "string", False, "Webhooks: the CLIENT_ID the bot was registered with")


def register(registry: Registry) -> None:
    @registry.method(
        "imopenlines.bot.session.transfer",
        SCOPE,
        _CHAT_ID,
        Param("TRANSFER_ID", "any", False, 'A user id, or "queue<LINE_ID>"; overrides USER_ID and QUEUE_ID'),
        Param("USER_ID", "integer", False, "Target employee (wins over QUEUE_ID)"),
        Param("QUEUE_ID", "integer", False, "Target line; its queue takes the dialogue"),
        Param("LEAVE", "string", False, 'Exactly "Y" (or JSON true): the bot leaves the chat'),
        _CLIENT_ID,
        description="The bot hands its dialogue to an employee or to a line's queue.",
        upper_keys=False,
        session_auth=False,
    )
    async def session_transfer(call: Call) -> bool:
        params = call.params
        leave = transfer_rules.leave_flag(params)
        chat_id = chat_id_of(params)
        target = transfer_rules.parse_destination(params)
        bot = await bots.resolve_bot(call)
        done = await transfer_engine.transfer(
            call.services,
            chat_id,
            target.type,
            target.id,
            mode="bot",
            from_type="bot",
            from_id=bot.id,
            actor_id=call.caller.user_id,
            leave=leave,
        )
        if not done:
            raise operator_wrong()
        return True

    @registry.method(
        "imopenlines.bot.session.operator",
        SCOPE,
        _CHAT_ID,
        description="The bot hands its dialogue to the line's queue (the customer typing 0 does the same).",
        session_auth=False,
    )
    async def session_operator(call: Call) -> bool:
        chat_id = chat_id_of(call.params)
        if not await transfer_engine.end_bot_session(call.services, chat_id, call.caller.user_id):
            raise operator_not_bot()
        return True

    @registry.method(
        "imopenlines.bot.session.finish",
        SCOPE,
        _CHAT_ID,
        _CLIENT_ID,
        description="The bot takes the dialogue and closes it; true once the bot is found.",
        session_auth=False,
    )
    async def session_finish(call: Call) -> bool:
        chat_id = chat_id_of(call.params)
        bot = await bots.resolve_bot(call)
        # The real server ignores both outcomes: true even for a chat that does not exist.
        await transfer_engine.answer(call.services, chat_id, bot.id, mode="bot")
        await transfer_engine.finish(call.services, chat_id, bot.id)
        return True

    async def message_send(call: Call) -> bool:
        chat_id = chat_id_of(call.params)
        name = call.params.get("NAME")
        text = call.params.get("MESSAGE")
        await auto_messages.send_auto_message(
            call.services,
            chat_id,
            name if isinstance(name, str) else "",
            php.php_str(text) if php.is_scalar(text) else "",
        )
        return True

    message_params = (
        _CHAT_ID,
        Param("NAME", "string", False, "WELCOME: the line's welcome text; DEFAULT: MESSAGE"),
        Param("MESSAGE", "string", False, "The text for NAME=DEFAULT"),
    )
    registry.method(
        "imopenlines.bot.session.message.send",
        SCOPE,
        *message_params,
        description="An automatic message to the customer; always true.",
        session_auth=False,
    )(message_send)
    registry.method(
        "imopenlines.bot.session.send.message",
        SCOPE,
        *message_params,
        description="Legacy alias of imopenlines.bot.session.message.send.",
        session_auth=False,
        hidden=True,
    )(message_send)
