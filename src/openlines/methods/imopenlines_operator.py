"""``imopenlines.operator.*``: a human operator answers, rejects, marks as spam, finishes or transfers
a dialogue, with the caller's own webhook or OAuth token.

Key case follows the real handlers: answer, skip, spam and finish upper-case the keys;
``another.finish`` and ``transfer`` read them as sent.
"""

from __future__ import annotations

from openlines.domain import transfer_rules
from openlines.engine import access, operator
from openlines.methods.imopenlines_params import int_param
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol.errors import RestError

SCOPE = "imopenlines"
CHAT_PARAM = Param("CHAT_ID", "integer", True, "The Open Lines chat id")


def chat_id_empty() -> RestError:
    return RestError("CHAT_ID_EMPTY", "Chat ID can't be empty", 400)


def register(registry: Registry) -> None:
    @registry.method(
        "imopenlines.operator.answer",
        SCOPE,
        CHAT_PARAM,
        description="Take the dialogue: the caller becomes its operator.",
    )
    async def answer(call: Call) -> bool:
        caller = call.caller
        await operator.answer(call.services, int_param(call, "CHAT_ID"), caller.user_id, caller.admin)
        return True

    @registry.method(
        "imopenlines.operator.skip",
        SCOPE,
        CHAT_PARAM,
        description="Reject the dialogue the caller holds: it goes back to its line's queue.",
    )
    async def skip(call: Call) -> bool:
        caller = call.caller
        await operator.skip(call.services, int_param(call, "CHAT_ID"), caller.user_id, caller.admin)
        return True

    @registry.method(
        "imopenlines.operator.spam",
        SCOPE,
        CHAT_PARAM,
        description="Mark the dialogue as spam and close it (status 65).",
    )
    async def spam(call: Call) -> bool:
        caller = call.caller
        await operator.finish(
            call.services, int_param(call, "CHAT_ID"), caller.user_id, caller.admin, spam=True
        )
        return True

    @registry.method(
        "imopenlines.operator.finish",
        SCOPE,
        CHAT_PARAM,
        description="Close the dialogue the caller holds (status 60).",
    )
    async def finish(call: Call) -> bool:
        caller = call.caller
        await operator.finish(call.services, int_param(call, "CHAT_ID"), caller.user_id, caller.admin)
        return True

    @registry.method(
        "imopenlines.operator.another.finish",
        SCOPE,
        CHAT_PARAM,
        description="Close a dialogue whoever holds it (status 60).",
        upper_keys=False,
    )
    async def another_finish(call: Call) -> bool:
        caller = call.caller
        await operator.finish(
            call.services, int_param(call, "CHAT_ID"), caller.user_id, caller.admin, other=True
        )
        return True

    @registry.method(
        "imopenlines.operator.transfer",
        SCOPE,
        CHAT_PARAM,
        Param("TRANSFER_ID", "any", False, "A user id, or queue<LINE_ID>; overrides USER_ID / QUEUE_ID"),
        Param("USER_ID", "integer", False, "The employee to hand the dialogue to"),
        Param("QUEUE_ID", "integer", False, "The line whose queue gets the dialogue"),
        description="Hand the dialogue to another employee or to a line's queue (upper-case keys only).",
        upper_keys=False,
    )
    async def transfer(call: Call) -> bool:
        chat_id = int_param(call, "CHAT_ID")
        if chat_id <= 0:
            raise chat_id_empty()
        target = transfer_rules.parse_destination(call.params, operator_side=True)
        caller = call.caller
        if not await operator.transfer(
            call.services, chat_id, caller.user_id, caller.admin, target.type, target.id
        ):
            raise access.operator_wrong()
        return True
