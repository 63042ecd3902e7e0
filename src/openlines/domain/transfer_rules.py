"""Who owns a session, and how a transfer, an answer, a bot hand-over or a finish changes that.

Pure functions: they take records (session, line, the chat's members by kind) and the time, and
return a :class:`Change` the engine writes in one transaction. The wire parsing of a transfer's
destination (behaviour notes 1.3, spec 2.1) lives here too, because the bot method and the
operator method share it.

The ownership invariant: an open session has exactly one owner — the bot, the queue (operator id
0), or one user — and that bot or user is a member of the chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from openlines.domain import texts
from openlines.domain.openlines import (
    FromType,
    Line,
    OwnerType,
    Session,
    Status,
    Transfer,
    TransferMode,
)
from openlines.domain.users import User
from openlines.protocol import php
from openlines.protocol.errors import RestError

TargetType = Literal["user", "queue"]
MemberKinds = Mapping[int, str]  # chat member id -> user kind (employee | bot | customer)


# --- destination parsing (wire rules) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Destination:
    type: TargetType
    id: int


def user_id_empty() -> RestError:
    return RestError("USER_ID_EMPTY", "User ID can't be empty", 400)


def queue_id_empty() -> RestError:
    return RestError("QUEUE_ID_EMPTY", "QUEUE ID can't be empty", 400)


def transfer_id_empty() -> RestError:
    return RestError("TRANSFER_ID_EMPTY", "Queue ID or User ID can't be empty", 400)


def not_scalar(argument: str) -> RestError:
    # PHP would crash (TypeError, a 500) or silently cast an array to 1; we answer clearly instead.
    return RestError(
        "ERROR_ARGUMENT",
        f"{argument} must be a string or a number, not a list or an object",
        400,
        argument=argument,
    )


def _php_string(value: Any) -> str:
    """How PHP's ``substr`` sees a scalar."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return php.php_str(value)


def parse_destination(params: Mapping[str, Any], *, operator_side: bool = False) -> Destination:
    """USER_ID / QUEUE_ID / TRANSFER_ID exactly as the real handlers read them (exact-case keys).

    ``TRANSFER_ID`` starting with exactly ``queue`` sets QUEUE_ID to the rest, otherwise USER_ID to
    the whole value — overriding explicit ones; then USER_ID wins over QUEUE_ID. The bot method
    parses any TRANSFER_ID (a list or object is an ERROR_ARGUMENT here); the operator method only
    strings and integers and ignores anything else (``operator_side``).
    """
    user_id = params.get("USER_ID")
    queue_id = params.get("QUEUE_ID")
    transfer_id = params.get("TRANSFER_ID")
    if transfer_id is not None:
        usable = (
            isinstance(transfer_id, (str, int)) and not isinstance(transfer_id, bool)
            if operator_side
            else True
        )
        if usable:
            if not php.is_scalar(transfer_id):
                raise not_scalar("TRANSFER_ID")
            text = _php_string(transfer_id)
            if text[:5] == "queue":
                queue_id = text[5:]
            else:
                user_id = transfer_id
    if user_id is not None:
        if not php.is_scalar(user_id):
            raise not_scalar("USER_ID")
        target = php.php_int(user_id)
        if target <= 0:
            raise user_id_empty()
        return Destination("user", target)
    if queue_id is not None:
        if not php.is_scalar(queue_id):
            raise not_scalar("QUEUE_ID")
        target = php.php_int(queue_id)
        if target <= 0:
            raise queue_id_empty()
        return Destination("queue", target)
    raise transfer_id_empty()


def leave_flag(params: Mapping[str, Any]) -> bool:
    """LEAVE is PHP's loose ``== 'Y'``: only the string "Y" or a JSON true; absent means stay."""
    return php.php_equals_y(params.get("LEAVE"))


def can_receive(user: User | None) -> bool:
    """A dialogue may be handed to an existing, active, non-extranet employee only."""
    return user is not None and user.can_operate


# --- changes ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Change:
    """What one ownership operation does, for the engine to write in one transaction."""

    session: Session  # the session as it must be saved
    chat_author_id: int | None  # the chat's responsible operator; None leaves it as it is
    chat_line_id: int | None
    remove: list[int] = field(default_factory=list)  # chat members to remove
    add: list[int] = field(default_factory=list)  # users to add to the chat
    history: Transfer | None = None  # the owner-change row (id 0 until stored)
    notices: list[str] = field(default_factory=list)  # system messages, in order


def owner_of(session: Session) -> tuple[OwnerType, int]:
    return session.owner_type, session.operator_id


def _is_welcome_bot_leaving_on_queue(line: Line | None, user_id: int) -> bool:
    """The line's enabled welcome bot whose WELCOME_BOT_LEFT is "queue" (leaves on hand-over)."""
    if line is None or line.setting("WELCOME_BOT_ENABLE") != "Y":
        return False
    return (
        php.php_int(line.setting("WELCOME_BOT_ID")) == user_id and line.setting("WELCOME_BOT_LEFT") != "close"
    )


def _history(
    session: Session,
    *,
    from_type: FromType,
    from_id: int,
    to_type: TargetType,
    to_id: int,
    mode: TransferMode,
    actor_id: int,
    reason: str,
    now: float,
) -> Transfer:
    return Transfer(
        id=0,
        session_id=session.id,
        chat_id=session.chat_id,
        line_id=session.line_id,
        from_type=from_type,
        from_id=from_id,
        to_type=to_type,
        to_id=to_id,
        mode=mode,
        reason=reason,
        actor_id=actor_id,
        date_create=now,
    )


def plan_user_transfer(
    session: Session,
    line: Line | None,
    members: MemberKinds,
    target_id: int,
    *,
    from_type: FromType,
    from_id: int,
    mode: TransferMode,
    actor_id: int,
    leave: bool,
    now: float,
    reason: str = "",
) -> Change:
    """Hand an open session to a user who may receive it (behaviour notes 2.3).

    The target becomes the operator at once; status rises to ANSWER (10) if it was lower. Other
    employees leave the chat (we keep no "fake relations": an operator who only saw the dialogue is
    a member here). The source leaves when ``leave`` — except a bot other than the line's welcome
    bot (with WELCOME_BOT_LEFT=queue) while the session is not yet answered: the real server's quirk.
    Other bots and the customer stay.
    """
    not_answered = session.status < Status.ANSWER
    remove = [uid for uid, kind in members.items() if kind == "employee" and uid not in (from_id, target_id)]
    if leave and from_id > 0 and from_id in members and from_id != target_id:
        quirk_stays = (
            members[from_id] == "bot" and not_answered and not _is_welcome_bot_leaving_on_queue(line, from_id)
        )
        if not quirk_stays:
            remove.append(from_id)
    from_bot = from_type == "bot"
    updated = replace(
        session,
        owner_type="user",
        operator_id=target_id,
        status=Status.ANSWER if not_answered else session.status,
        wait_answer=False,
        date_modify=now,
        date_operator=now if (from_bot and not session.date_operator) else session.date_operator,
        date_operator_answer=session.date_operator_answer or now,
        version=session.version + 1,
    )
    return Change(
        session=updated,
        chat_author_id=target_id,
        chat_line_id=session.line_id,
        remove=remove,
        add=[] if target_id in members else [target_id],
        history=_history(
            session,
            from_type=from_type,
            from_id=from_id,
            to_type="user",
            to_id=target_id,
            mode=mode,
            actor_id=actor_id,
            reason=reason,
            now=now,
        ),
        notices=[_user_transfer_notice(session, mode, from_id, target_id)],
    )


def _user_transfer_notice(session: Session, mode: TransferMode, from_id: int, target_id: int) -> str:
    """An intercept says who took the dialogue from whom; every other hand-over to a user says
    who transferred it. (The female intercept text differs only in spacing; we use the male one.)"""
    if mode == "intercept" and session.owner_type == "user" and session.operator_id:
        return texts.intercept(target_id, session.operator_id)
    return texts.transfer(from_id, target_id)


def queue_notice(from_id: int, from_line: Line | None, to_line: Line) -> str:
    """The notice after a queue transfer: "rejected" within a line, "redirected" across lines."""
    if from_id <= 0:
        return texts.returned_to_queue()
    if from_line is not None and from_line.id != to_line.id:
        return texts.transfer_line(from_id, from_line.name, to_line.name)
    return texts.skip(from_id)


def plan_queue_transfer(
    session: Session,
    from_line: Line | None,
    to_line: Line,
    members: MemberKinds,
    *,
    from_type: FromType,
    from_id: int,
    mode: TransferMode,
    actor_id: int,
    now: float,
    reason: str = "",
) -> Change:
    """Hand an open session to a line's queue, possibly another line's (behaviour notes 2.4).

    The operator is reset, status becomes SKIP (5) whatever it was, and everyone leaves the chat
    except the customer and the source bot (LEAVE plays no part here). Routing runs afterwards.
    """
    keep_from = from_type == "bot" or members.get(from_id) == "bot"
    remove = [
        uid for uid, kind in members.items() if kind != "customer" and not (keep_from and uid == from_id)
    ]
    history = _history(
        session,
        from_type=from_type,
        from_id=from_id,
        to_type="queue",
        to_id=to_line.id,
        mode=mode,
        actor_id=actor_id,
        reason=reason,
        now=now,
    )
    updated = replace(
        session,
        owner_type="queue",
        operator_id=0,
        line_id=to_line.id,
        status=Status.SKIP,
        wait_answer=True,
        queue_history=[],
        date_modify=now,
        date_operator=now if (keep_from and not session.date_operator) else session.date_operator,
        version=session.version + 1,
    )
    return Change(
        session=updated,
        chat_author_id=0,
        chat_line_id=to_line.id,
        remove=remove,
        history=history,
        notices=[queue_notice(from_id, from_line, to_line)],
    )


def plan_end_bot_session(
    session: Session, line: Line | None, members: MemberKinds, *, actor_id: int, now: float
) -> Change | None:
    """The bot hands the dialogue to the line's queue (``bot.session.operator``, a customer's "0").

    None when the session is not owned by a bot (the caller answers WRONG_CHAT). The bot leaves the
    chat unless the line keeps it until closing (WELCOME_BOT_LEFT=close).
    """
    if session.owner_type != "bot" or session.operator_id <= 0:
        return None
    bot_id = session.operator_id
    keeps_bot = line is not None and line.setting("WELCOME_BOT_LEFT") == "close"
    updated = replace(
        session,
        owner_type="queue",
        operator_id=0,
        status=Status.SKIP,
        wait_answer=True,
        date_modify=now,
        date_operator=session.date_operator or now,
        version=session.version + 1,
    )
    return Change(
        session=updated,
        chat_author_id=0,
        chat_line_id=session.line_id,
        remove=[] if keeps_bot or bot_id not in members else [bot_id],
        history=_history(
            session,
            from_type="bot",
            from_id=bot_id,
            to_type="queue",
            to_id=session.line_id,
            mode="bot",
            actor_id=actor_id,
            reason="",
            now=now,
        ),
        notices=[texts.end_bot_session()],
    )


def plan_answer(
    session: Session,
    line: Line | None,
    members: MemberKinds,
    user_id: int,
    user_kind: str,
    *,
    mode: TransferMode,
    actor_id: int,
    now: float,
) -> Change | None:
    """``user_id`` takes the dialogue (an operator's answer, or the bot before it finishes).

    The user becomes the owner and a member, status rises to ANSWER if lower, other employees leave,
    and a human answer also removes the line's welcome bot when it leaves on hand-over. None when
    the user already owns an answered session (nothing to do).
    """
    owner_type: OwnerType = "bot" if user_kind == "bot" else "user"
    same_owner = session.owner_type == owner_type and session.operator_id == user_id
    if same_owner and session.status >= Status.ANSWER:
        return None
    remove = [uid for uid, kind in members.items() if kind == "employee" and uid != user_id]
    if owner_type == "user":
        remove += [
            uid
            for uid, kind in members.items()
            if kind == "bot" and _is_welcome_bot_leaving_on_queue(line, uid)
        ]
    history = None
    if not same_owner:
        previous_type, previous_id = owner_of(session)
        history = _history(
            session,
            from_type=previous_type,
            from_id=previous_id,
            to_type="user",
            to_id=user_id,
            mode=mode,
            actor_id=actor_id,
            reason="",
            now=now,
        )
    updated = replace(
        session,
        owner_type=owner_type,
        operator_id=user_id,
        status=max(session.status, Status.ANSWER),
        wait_answer=False,
        date_modify=now,
        date_operator_answer=(session.date_operator_answer or (now if owner_type == "user" else 0.0)),
        version=session.version + (0 if same_owner else 1),
    )
    return Change(
        session=updated,
        chat_author_id=user_id,
        chat_line_id=session.line_id,
        remove=remove,
        add=[] if user_id in members else [user_id],
        history=history,
        notices=[texts.answer(user_id)],
    )


def plan_finish(
    session: Session, line: Line | None, *, actor_id: int, spam: bool, now: float, restart: bool = False
) -> Change:
    """Close the session: CLOSE (60), or SPAM (65). The owner fields keep the last owner."""
    updated = replace(
        session,
        status=Status.SPAM if spam else Status.CLOSE,
        closed=True,
        spam=spam,
        wait_answer=False,
        date_modify=now,
        date_close=now,
    )
    if spam:
        notice = texts.mark_spam(actor_id)
    elif restart and actor_id > 0:
        notice = texts.close_for_open(actor_id)
    elif actor_id > 0:
        notice = texts.session_closed(actor_id)
    else:
        notice = texts.session_closed_auto()
    return Change(session=updated, chat_author_id=None, chat_line_id=None, notices=[notice])


def close_text(line: Line | None, spam: bool) -> str:
    """The line's closing text for the customer (CLOSE_RULE=text), or ""."""
    if spam or line is None or line.setting("CLOSE_RULE") != "text":
        return ""
    return php.php_str(line.setting("CLOSE_TEXT")).strip()


# --- the invariant, as a predicate the tests and assertions share ------------------------------------


def ownership_problems(session: Session, members: MemberKinds) -> list[str]:
    """Why an open session breaks the ownership invariant (empty when it holds)."""
    if session.closed:
        return []
    problems: list[str] = []
    if session.owner_type == "queue":
        if session.operator_id != 0:
            problems.append(f"queue-owned session {session.id} names operator {session.operator_id}")
    elif session.owner_type in ("bot", "user"):
        if session.operator_id <= 0:
            problems.append(f"{session.owner_type}-owned session {session.id} has no operator")
        elif session.operator_id not in members:
            problems.append(f"owner {session.operator_id} of session {session.id} is not a chat member")
        else:
            expected = "bot" if session.owner_type == "bot" else "employee"
            if members[session.operator_id] != expected:
                problems.append(f"owner {session.operator_id} of session {session.id} is not a {expected}")
    else:
        problems.append(f"session {session.id} has unknown owner type {session.owner_type!r}")
    return problems
