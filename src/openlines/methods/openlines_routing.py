"""Routing methods: ``openlines.routing.explain`` (why a session is where it is), operator status
(``openlines.operator.status.set|get``, openlines' own) and the open-lines pause
(``imopenlines.operator.pause.start|stop|get``, registered but undocumented on the real server)."""

from __future__ import annotations

from typing import Any

from openlines.domain.openlines import Session, Status
from openlines.domain.routing import PresenceState, is_waiting_for_answer
from openlines.engine import availability
from openlines.methods.openlines_audit import positive_id, session_from_call, session_history, transfer_row
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol import errors
from openlines.protocol.errors import RestError

SCOPE = "imopenlines"


def access_denied() -> RestError:
    return RestError("ACCESS_DENIED", "Only an administrator may change another operator's status", 403)


def unknown_user() -> RestError:
    return RestError("USER_ID", "The specified user identifier is incorrect", 400)


async def _target_user(call: Call) -> int:
    """USER_ID (administrators only, unless it is the caller) or the caller."""
    user_id = positive_id(call, "USER_ID") or call.caller.user_id
    if user_id != call.caller.user_id and not call.caller.admin:
        raise access_denied()
    user = await call.services.store.get_user(user_id)
    if user is None or user.kind != "employee":
        raise unknown_user()
    return user_id


def presence_view(state: PresenceState, call: Call) -> dict[str, Any]:
    clock = call.services.clock
    return {
        "USER_ID": state.user_id,
        "STATUS": state.status,
        "PAUSE": "Y" if state.paused else "N",
        "AVAILABLE": availability.is_available(state),
        "LAST_SEEN": clock.iso(state.last_seen) if state.last_seen else "",
    }


async def explain(call: Call) -> dict[str, Any]:
    services = call.services
    store = services.store
    clock = services.clock
    session = await session_from_call(call)
    transfers = await session_history(call, session.id)
    steps = [
        {
            "ID": d["id"],
            "DATE": clock.iso(d["date_create"]),
            "CAUSE": d["cause"],
            "LINE_ID": d["line_id"],
            "QUEUE_TYPE": d["queue_type"],
            "RESULT": d["result"],
            "OPERATOR_ID": d["operator_id"],
            "TRANSFER_ID": d["transfer_id"],
            "CANDIDATES": [
                {"USER_ID": c["user_id"], "VERDICT": c["verdict"], "REASON": c["reason"]}
                for c in d["candidates"]
            ],
        }
        for d in await store.decisions_of(session.id)
    ]
    return {
        "SESSION_ID": session.id,
        "CHAT_ID": session.chat_id,
        "LINE_ID": session.line_id,
        "STATUS": int(session.status),
        "CLOSED": session.closed,
        "OWNER": {"TYPE": session.owner_type, "ID": session.operator_id},
        "QUEUE_HISTORY": list(session.queue_history),
        "OFFERS": await store.offers_of(session.id),
        "TIMERS": [
            {"KIND": t.kind, "DUE": clock.iso(t.due), "DUE_TS": t.due}
            for t in await store.timers_of(session.id)
            if _still_applies(t.kind, session)
        ],
        "STEPS": steps,
        "TRANSFERS": [transfer_row(row, clock) for row in transfers],
    }


def _still_applies(kind: str, session: Session) -> bool:
    """Whether a pending timer would still act (an answer leaves the queue timer to expire as a no-op)."""
    if session.closed:
        return False
    if kind in ("queue", "no_answer"):
        return is_waiting_for_answer(session)
    if kind == "welcome_bot":
        return session.owner_type == "bot"
    return kind != "auto_close" or session.status == Status.OPERATOR


def register(registry: Registry) -> None:
    registry.method(
        "openlines.routing.explain",
        SCOPE,
        Param("SESSION_ID", "integer", False, "The session"),
        Param("CHAT_ID", "integer", False, "Or a chat: its open session, else its last one"),
        description="Why a session is where it is: each distribution with every candidate's verdict, "
        "the pending timers, the offers and the transfer history.",
    )(explain)

    @registry.method(
        "openlines.operator.status.set",
        SCOPE,
        Param("STATUS", "string", True, "online | away | offline"),
        Param("USER_ID", "integer", False, "Another operator (administrators only); default: the caller"),
        description="Report an operator's status; also a sign of life for the idle timeout.",
    )
    async def status_set(call: Call) -> dict[str, Any]:
        status = call.str("STATUS").strip().lower()
        if status not in availability.STATUSES:
            raise errors.argument_error("STATUS", "STATUS must be one of online, away, offline")
        user_id = await _target_user(call)
        return presence_view(await availability.change(call.services, user_id, status=status), call)

    @registry.method(
        "openlines.operator.status.get",
        SCOPE,
        Param("USER_ID", "integer", False, "Another operator; default: the caller"),
        description="An operator's status, pause and whether routing may give them work.",
    )
    async def status_get(call: Call) -> dict[str, Any]:
        user_id = positive_id(call, "USER_ID") or call.caller.user_id
        user = await call.services.store.get_user(user_id)
        if user is None or user.kind != "employee":
            raise unknown_user()
        return presence_view(await call.services.store.get_presence(user_id), call)

    for name, paused in (
        ("imopenlines.operator.pause.start", True),
        ("imopenlines.operator.pause.stop", False),
    ):
        registry.method(
            name,
            SCOPE,
            Param("USER_ID", "integer", False, "Another operator (administrators only); default: the caller"),
            description="Start or end the caller's open-lines pause (no new dialogues while paused).",
        )(_pause_handler(paused))

    @registry.method(
        "imopenlines.operator.pause.get",
        SCOPE,
        Param("USER_ID", "integer", False, "Another operator; default: the caller"),
        description="Whether the operator is on pause.",
    )
    async def pause_get(call: Call) -> dict[str, Any]:
        user_id = positive_id(call, "USER_ID") or call.caller.user_id
        state = await call.services.store.get_presence(user_id)
        return {"USER_ID": user_id, "PAUSE": "Y" if state.paused else "N"}


def _pause_handler(paused: bool) -> Any:
    async def handler(call: Call) -> bool:
        user_id = await _target_user(call)
        await availability.change(call.services, user_id, paused=paused)
        return True

    return handler
