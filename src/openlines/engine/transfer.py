"""Changing who owns a session: transfer, the bot's hand-over to the queue, answer and finish.

Each function is one store transaction: it loads the chat (locked), its open session and whatever
the rule needs once, asks :mod:`openlines.domain.transfer_rules` for the change, and writes the
members, session, chat, history row, system messages and outbox event together. A refusal is a
``False`` result (the REST layer turns it into the real error), never an exception.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Literal, ParamSpec

from openlines.domain import transfer_rules as rules
from openlines.domain.openlines import Chat, FromType, Session, TransferMode
from openlines.engine.events import emit_to_apps
from openlines.services import Services, run_hooks
from openlines.store.base import Dialog, LockConflict

TRANSFER_EVENT = "ONOPENLINESSESSIONTRANSFER"  # bind name OnOpenLinesSessionTransfer (openlines only)
ON_QUEUED = "on_queued"  # services.extras hooks: async (services, chat, session) after a queue hand-over
ON_OWNER_CHANGED = (
    "on_owner_changed"  # hooks: async (services, chat, session, transfer row) after any owner change
)
ON_FINISHED = "on_finished"  # hooks: async (services, chat, session) after a session closed

P = ParamSpec("P")


def refused_on_conflict(operation: Callable[P, Awaitable[bool]]) -> Callable[P, Awaitable[bool]]:
    """A chat locked by a concurrent change (``LockConflict``) refuses the operation: the
    transaction rolls back and the result is False, as the real per-chat transfer lock does."""

    @functools.wraps(operation)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> bool:
        try:
            return await operation(*args, **kwargs)
        except LockConflict:
            return False

    return guarded


async def _open_dialog(services: Services, chat_id: int, user_id: int = 0) -> Dialog | None:
    """The locked LINES chat with its open session and what a change reads (one round trip on
    PostgreSQL), or None (missing, not Open Lines, closed). A locked chat raises ``LockConflict``."""
    dialog = await services.store.open_dialog(chat_id, user_id)
    if dialog is None or not dialog.chat.is_lines or dialog.session is None:
        return None
    return dialog


def _session(dialog: Dialog) -> Session:
    assert dialog.session is not None  # _open_dialog answers None without one
    return dialog.session


async def _write(services: Services, chat: Chat, change: rules.Change, now: float) -> None:
    """Members, session and history row of a change; the chat record is updated in memory only
    (saved once, before or by :func:`_notify`)."""
    await services.store.save_change(chat.id, change.session, change.remove, change.add, change.history, now)
    if change.history is not None:
        # given the row, so none reads it back
        await run_hooks(services, ON_OWNER_CHANGED, chat, change.session, change.history)
    if change.chat_author_id is not None:
        chat.author_id = change.chat_author_id
    if change.chat_line_id is not None:
        chat.line_id = change.chat_line_id
    chat.session_id = change.session.id


async def _notify(
    services: Services, chat: Chat, notices: list[str], saved: bool = False, **params: Any
) -> None:
    """Post the notices, then save the chat record unless the caller already did (``saved``: the
    store keeps the chat's last message id itself)."""
    from openlines.engine import messages  # late: messages calls back into this module

    for text in notices:
        await messages.post_system(services, chat, text, **params)
    if not saved:
        await services.store.save_chat(chat)


def _transfer_data(chat: Chat, change: rules.Change) -> dict[str, Any]:
    """``data`` of OnOpenLinesSessionTransfer for a change that wrote a history row."""
    row = change.history
    assert row is not None
    session = change.session
    return {
        "TRANSFER_ID": row.id,
        "FROM": {"TYPE": row.from_type, "ID": row.from_id},
        "TO": {"TYPE": row.to_type, "ID": row.to_id},
        "MODE": row.mode,
        "REASON": row.reason,
        "SESSION": {
            "ID": session.id,
            "LINE_ID": session.line_id,
            "STATUS": int(session.status),
            "OWNER_TYPE": session.owner_type,
            "OPERATOR_ID": session.operator_id,
        },
        "CHAT": {"ID": chat.id, "ENTITY_ID": chat.entity_id},
    }


async def _record(services: Services, chat: Chat, change: rules.Change) -> None:
    """The transfer event, when some app listens (an unbound broadcast would be expanded to nothing:
    skipping it saves a write on the hot path)."""
    if change.history is not None:
        await emit_to_apps(services, TRANSFER_EVENT, chat.id, _transfer_data(chat, change))


async def _run_queued_hooks(services: Services, chat: Chat, session: Session, name: str = ON_QUEUED) -> None:
    await run_hooks(services, name, chat, session)


@refused_on_conflict
async def transfer(
    services: Services,
    chat_id: int,
    to_type: Literal["user", "queue"],
    to_id: int,
    *,
    mode: TransferMode,
    from_type: FromType,
    from_id: int,
    actor_id: int,
    leave: bool,
    reason: str = "",
) -> bool:
    """Hand the chat's open session to a user or a line's queue (behaviour notes 2.2-2.4).

    False for every refusal the real server reports as OPERATOR_WRONG: no such chat or not an Open
    Lines chat, no open session, a target who may not operate (missing, inactive, bot, extranet,
    customer), a missing line, or a concurrent change holding the chat.
    """
    store = services.store
    now = services.clock.now()
    async with store.atomic():
        dialog = await _open_dialog(services, chat_id, to_id if to_type == "user" else 0)
        if dialog is None:
            return False
        chat, session, members = dialog.chat, _session(dialog), dialog.members
        if to_type == "user":
            if not rules.can_receive(dialog.user):
                return False
            change = rules.plan_user_transfer(
                session,
                dialog.line,
                members,
                to_id,
                from_type=from_type,
                from_id=from_id,
                mode=mode,
                actor_id=actor_id,
                leave=leave,
                now=now,
                reason=reason,
            )
            await _write(services, chat, change, now)
            await _record(services, chat, change)
            await store.save_chat(chat)
            await _notify(services, chat, change.notices, saved=True)  # the hot path: one chat write
            return True
        to_line = await store.get_line(to_id)
        if to_line is None:
            return False
        from_line = to_line if session.line_id == to_id else dialog.line
        change = rules.plan_queue_transfer(
            session,
            from_line,
            to_line,
            members,
            from_type=from_type,
            from_id=from_id,
            mode=mode,
            actor_id=actor_id,
            now=now,
            reason=reason,
        )
        await _write(services, chat, change, now)
        await _record(services, chat, change)
        await store.save_chat(chat)  # routing hooks may read it back
        # Routing runs before the notice, so "assigned to X" can precede "redirected" as on the real server.
        await _run_queued_hooks(services, chat, change.session)
        await _notify(services, chat, change.notices)
        return True


@refused_on_conflict
async def end_bot_session(services: Services, chat_id: int, actor_id: int) -> bool:
    """The bot hands the dialogue to the line's queue (``imopenlines.bot.session.operator``, or the
    customer typing "0"). False when the session's owner is not a bot (→ WRONG_CHAT)."""
    store = services.store
    now = services.clock.now()
    async with store.atomic():
        dialog = await _open_dialog(services, chat_id)
        if dialog is None:
            return False
        chat, session = dialog.chat, _session(dialog)
        if session.owner_type != "bot":
            return False
        change = rules.plan_end_bot_session(session, dialog.line, dialog.members, actor_id=actor_id, now=now)
        if change is None:
            return False
        await _write(services, chat, change, now)
        await _record(services, chat, change)
        await _notify(services, chat, change.notices)
        await _run_queued_hooks(services, chat, change.session)
        return True


@refused_on_conflict
async def answer(services: Services, chat_id: int, user_id: int, mode: TransferMode = "operator") -> bool:
    """``user_id`` (an employee or a bot) takes the chat's open session and becomes its owner.

    A history row is written when the owner changes; answering one's own answered session changes
    nothing and succeeds. False without an open session, or for a user who cannot hold a session.
    """
    store = services.store
    now = services.clock.now()
    async with store.atomic():
        dialog = await _open_dialog(services, chat_id, user_id)
        if dialog is None:
            return False
        chat, session, user = dialog.chat, _session(dialog), dialog.user
        if user is None or not user.active or user.kind == "customer" or user.extranet:
            return False
        change = rules.plan_answer(
            session, dialog.line, dialog.members, user_id, user.kind, mode=mode, actor_id=user_id, now=now
        )
        if change is None:
            return True
        await _write(services, chat, change, now)
        await _record(services, chat, change)
        await _notify(services, chat, change.notices)
        return True


@refused_on_conflict
async def finish(
    services: Services, chat_id: int, actor_id: int, *, spam: bool = False, restart: bool = False
) -> bool:
    """Close the chat's open session: CLOSE (60), or SPAM (65) with ``spam``; post the closing
    notice and the line's closing text for the customer (CLOSE_RULE=text); the ``on_finished`` hooks
    add what others make of it (OnSessionFinish, connector and routing effects)."""
    store = services.store
    now = services.clock.now()
    async with store.atomic():
        dialog = await _open_dialog(services, chat_id)
        if dialog is None:
            return False
        chat, session, line = dialog.chat, _session(dialog), dialog.line
        change = rules.plan_finish(session, line, actor_id=actor_id, spam=spam, now=now, restart=restart)
        await _write(services, chat, change, now)
        await _run_queued_hooks(services, chat, change.session, ON_FINISHED)
        await _notify(services, chat, change.notices)
        closing = rules.close_text(line, spam)
        if closing:
            await _notify(services, chat, [closing], IMPORTANT_CONNECTOR="Y")
        return True
