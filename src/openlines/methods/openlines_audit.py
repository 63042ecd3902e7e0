"""``openlines.transfer.list`` and ``openlines.session.get``: the transfer audit Bitrix24 keeps but
never exposes. openlines' own methods (scope ``imopenlines``); parameter names are case-insensitive.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from openlines.clock import Clock
from openlines.domain.openlines import Session, Transfer
from openlines.methods.registry import Call, Param, Registry, page_bounds
from openlines.protocol import errors, php
from openlines.protocol.envelope import ListPage
from openlines.protocol.errors import RestError

SCOPE = "imopenlines"
PAGE = 50


def transfer_row(row: Transfer, clock: Clock) -> dict[str, Any]:
    return {
        "ID": row.id,
        "SESSION_ID": row.session_id,
        "CHAT_ID": row.chat_id,
        "LINE_ID": row.line_id,
        "FROM_TYPE": row.from_type,
        "FROM_ID": row.from_id,
        "TO_TYPE": row.to_type,
        "TO_ID": row.to_id,
        "MODE": row.mode,
        "REASON": row.reason,
        "DATE_CREATE": clock.iso(row.date_create),
    }


def positive_id(call: Call, name: str) -> int | None:
    """An optional id filter: absent → None; anything but a positive integer → ERROR_ARGUMENT."""
    value = call.get(name)
    if value is None or value == "":
        return None
    number = php.php_int(value) if php.is_scalar(value) and not isinstance(value, bool) else 0
    if number <= 0 or (isinstance(value, str) and not value.strip().isdigit()):
        raise errors.argument_error(name, f"{name} must be a positive integer")
    return number


def parse_moment(call: Call, name: str) -> float | None:
    """ISO 8601 (a date alone means its midnight; no offset means the server's) or unix seconds."""
    value = call.get(name)
    if value is None or value == "":
        return None
    problem = errors.argument_error(name, f"{name} must be an ISO 8601 date-time or unix seconds")
    if isinstance(value, bool) or not php.is_scalar(value):
        raise problem
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise problem
        return float(value)
    text = str(value).strip()
    try:
        return (
            float(text)
            if text.lstrip("+-").replace(".", "", 1).isdigit()
            else _iso(text, call.services.clock)
        )
    except (ValueError, OverflowError):
        raise problem from None


def _iso(text: str, clock: Clock) -> float:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.tz)
    return moment.timestamp()


def session_view(session: Session, rows: list[Transfer], clock: Clock) -> dict[str, Any]:
    def when(ts: float) -> str:
        return clock.iso(ts) if ts else ""

    return {
        "ID": session.id,
        "CHAT_ID": session.chat_id,
        "LINE_ID": session.line_id,
        "STATUS": int(session.status),
        "CLOSED": session.closed,
        "SPAM": session.spam,
        "OWNER": {"TYPE": session.owner_type, "ID": session.operator_id},
        "OPERATOR_ID": session.operator_id,
        "CUSTOMER_ID": session.customer_id,
        "USER_CODE": session.user_code,
        "SOURCE": session.source,
        "MODE": session.mode,
        "WAIT_ANSWER": session.wait_answer,
        "VERSION": session.version,
        "DATE_CREATE": when(session.date_create),
        "DATE_MODIFY": when(session.date_modify),
        "DATE_OPERATOR": when(session.date_operator),
        "DATE_OPERATOR_ANSWER": when(session.date_operator_answer),
        "DATE_CLOSE": when(session.date_close),
        "TRANSFERS": [transfer_row(row, clock) for row in rows],
    }


def session_not_found() -> RestError:
    return RestError("SESSION_NOT_FOUND", "Session not found", 404)


async def session_from_call(call: Call) -> Session:
    """The session named by SESSION_ID, or by CHAT_ID (its open session, else its last one)."""
    store = call.services.store
    session_id = positive_id(call, "SESSION_ID")
    chat_id = positive_id(call, "CHAT_ID")
    if session_id is not None:
        session = await store.get_session(session_id)
    elif chat_id is not None:
        session = await store.open_session_of_chat(chat_id) or await store.last_session_of_chat(chat_id)
    else:
        raise errors.argument_error("SESSION_ID", "SESSION_ID or CHAT_ID must be given")
    if session is None:
        raise session_not_found()
    return session


async def session_history(call: Call, session_id: int) -> list[Transfer]:
    """Every transfer row of a session, however long its history."""
    store = call.services.store
    rows: list[Transfer] = []
    offset = 0
    while True:
        page, _ = await store.list_transfers({"session_id": session_id}, offset, 500, False)
        rows += page
        if len(page) < 500:
            return rows
        offset += 500


def register(registry: Registry) -> None:
    @registry.method(
        "openlines.transfer.list",
        SCOPE,
        Param("CHAT_ID", "integer", False, "Only this chat"),
        Param("SESSION_ID", "integer", False, "Only this session"),
        Param("USER_ID", "integer", False, "Only transfers from or to this user (or bot)"),
        Param("DATE_FROM", "string", False, "From this moment on (ISO 8601 or unix seconds)"),
        Param("DATE_TO", "string", False, "Up to this moment (ISO 8601 or unix seconds)"),
        Param("start", "integer", False, "Offset; pages of 50; -1 skips the count"),
        description="The transfer history: every change of a session's owner, oldest first.",
        list_method=True,
    )
    async def transfer_list(call: Call) -> ListPage:
        filters: dict[str, Any] = {
            "chat_id": positive_id(call, "CHAT_ID"),
            "session_id": positive_id(call, "SESSION_ID"),
            "user_id": positive_id(call, "USER_ID"),
            "date_from": parse_moment(call, "DATE_FROM"),
            "date_to": parse_moment(call, "DATE_TO"),
        }
        offset, count = page_bounds(call, PAGE)
        rows, total = await call.services.store.list_transfers(filters, offset, PAGE, count)
        items = [transfer_row(row, call.services.clock) for row in rows]
        if not count:
            return ListPage(items, total=0)
        following = offset + len(items)
        return ListPage(items, total=total, next=following if following < total else None)

    @registry.method(
        "openlines.session.get",
        SCOPE,
        Param("SESSION_ID", "integer", False, "The session"),
        Param("CHAT_ID", "integer", False, "Or a chat: its open session, else its last one"),
        description="One session with its owner, status, line and transfer history.",
    )
    async def session_get(call: Call) -> dict[str, Any]:
        session = await session_from_call(call)
        rows = await session_history(call, session.id)
        return session_view(session, rows, call.services.clock)
