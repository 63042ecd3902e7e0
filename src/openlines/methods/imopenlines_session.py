"""``imopenlines.session.*`` for operators: intercept, join, start (also by a message), pin modes and
the supervisor's vote. The real handlers read these keys as sent (no case folding)."""

from __future__ import annotations

from openlines.engine import access, operator
from openlines.methods.imopenlines_operator import CHAT_PARAM, chat_id_empty
from openlines.methods.imopenlines_params import int_param, scalar, str_param
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol import php
from openlines.protocol.errors import RestError

SCOPE = "imopenlines"


def _chat_id_given(call: Call) -> int:
    """PHP ``!$params['CHAT_ID']`` → CHAT_ID_EMPTY; otherwise the int cast (0 for "abc", as PHP)."""
    if not php.php_truthy(scalar(call, "CHAT_ID")):
        raise chat_id_empty()
    return int_param(call, "CHAT_ID")


def register(registry: Registry) -> None:
    @registry.method(
        "imopenlines.session.intercept",
        SCOPE,
        CHAT_PARAM,
        description="Take the dialogue from the operator who holds it.",
        upper_keys=False,
    )
    async def intercept(call: Call) -> bool:
        chat_id = int_param(call, "CHAT_ID")
        if chat_id <= 0:
            raise chat_id_empty()
        caller = call.caller
        if not await operator.intercept(call.services, chat_id, caller.user_id, caller.admin):
            raise access.operator_wrong()
        return True

    @registry.method(
        "imopenlines.session.join",
        SCOPE,
        CHAT_PARAM,
        description="Join the dialogue as an extra participant (the owner does not change).",
        upper_keys=False,
    )
    async def join(call: Call) -> bool:
        caller = call.caller
        await operator.join(call.services, int_param(call, "CHAT_ID"), caller.user_id, caller.admin)
        return True

    @registry.method(
        "imopenlines.session.start",
        SCOPE,
        CHAT_PARAM,
        description="Close the open session of the chat and start a new one held by the caller.",
        upper_keys=False,
    )
    async def start(call: Call) -> bool:
        caller = call.caller
        await operator.start(call.services, int_param(call, "CHAT_ID"), caller.user_id, caller.admin)
        return True

    @registry.method(
        "imopenlines.message.session.start",
        SCOPE,
        CHAT_PARAM,
        Param("MESSAGE_ID", "integer", True, "The message the new session starts from"),
        description="Start a new session held by the caller, beginning at a message of the chat.",
        upper_keys=False,
    )
    async def start_by_message(call: Call) -> bool:
        caller = call.caller
        chat_id = int_param(call, "CHAT_ID")
        message_id = int_param(call, "MESSAGE_ID")
        await operator.start(call.services, chat_id, caller.user_id, caller.admin, message_id)
        return True

    @registry.method(
        "imopenlines.session.mode.pin",
        SCOPE,
        CHAT_PARAM,
        Param("ACTIVATE", "string", False, "N unpins; anything else (default) pins"),
        description="Pin the dialogue to the caller (routing leaves it alone) or unpin it.",
        upper_keys=False,
    )
    async def pin(call: Call) -> bool:
        chat_id = _chat_id_given(call)
        caller = call.caller
        pinned = scalar(call, "ACTIVATE") != "N"
        await operator.set_pin(call.services, chat_id, caller.user_id, caller.admin, pinned)
        return True

    @registry.method(
        "imopenlines.session.mode.unpin",
        SCOPE,
        CHAT_PARAM,
        description="Unpin the dialogue.",
        upper_keys=False,
    )
    async def unpin(call: Call) -> bool:
        chat_id = _chat_id_given(call)
        caller = call.caller
        await operator.set_pin(call.services, chat_id, caller.user_id, caller.admin, False)
        return True

    @registry.method(
        "imopenlines.session.mode.pinAll",
        SCOPE,
        description="Pin every open dialogue the caller holds; answers the session ids.",
        upper_keys=False,
    )
    async def pin_all(call: Call) -> list[int]:
        if call.caller.user_id <= 0:
            raise access.user_id_error()
        return await operator.pin_all(call.services, call.caller.user_id, True)

    @registry.method(
        "imopenlines.session.mode.unpinAll",
        SCOPE,
        description="Unpin every open dialogue the caller holds; answers the session ids.",
        upper_keys=False,
    )
    async def unpin_all(call: Call) -> list[int]:
        if call.caller.user_id <= 0:
            raise access.user_id_error()
        return await operator.pin_all(call.services, call.caller.user_id, False)

    @registry.method(
        "imopenlines.session.head.vote",
        SCOPE,
        Param("SESSION_ID", "integer", True, "The session to rate"),
        Param("RATING", "integer", False, "1-5"),
        Param("COMMENT", "string", False, "The supervisor's comment"),
        description="A supervisor's rating and comment on a session (portal administrators).",
        upper_keys=False,
    )
    async def head_vote(call: Call) -> bool:
        if not php.php_truthy(scalar(call, "SESSION_ID")):
            raise RestError("EMPTY_SESSION_ID", "Session ID can't be empty", 400)
        rating_text = str_param(call, "RATING").strip()
        comment_text = str_param(call, "COMMENT").strip()
        if not php.php_truthy(rating_text) and not php.php_truthy(comment_text):
            raise RestError(
                "EMPTY_VOTE_PARAMS", "At least one of the parameters RATING or COMMENT must be specified", 400
            )
        if not call.caller.admin:
            raise access.access_error()
        rating = min(max(php.php_int(rating_text), 1), 5) if php.php_truthy(rating_text) else None
        comment = comment_text if call.has("COMMENT") else None
        if not await operator.vote_head(call.services, int_param(call, "SESSION_ID"), rating, comment):
            raise access.access_error()
        return True
