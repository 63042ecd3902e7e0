"""Who may work with an Open Lines chat, and the errors the real ``Operator`` class reports.

Access follows the real ``Operator::checkAccess``: a member of the chat passes if the chat is an Open
Lines chat; anyone else must be allowed to join the chat's line — here a portal administrator or an
operator in that line's queue (the real server asks its Open Lines role model).
"""

from __future__ import annotations

from openlines.domain.openlines import Chat
from openlines.protocol.errors import RestError
from openlines.services import Services

# --- the errors of the real Operator class (all 400; texts per the docs' wording) -----------------------


def chat_id_error() -> RestError:
    return RestError("CHAT_ID", "The specified chat identifier is incorrect", 400)


def chat_type_error() -> RestError:
    return RestError("CHAT_TYPE", "The specified chat is not an open line", 400)


def access_error() -> RestError:
    return RestError(
        "ACCESS_DENIED", "You cannot open this conversation as you do not have sufficient permissions", 400
    )


def user_id_error() -> RestError:
    return RestError("USER_ID", "The specified user identifier is incorrect", 400)


def operator_wrong() -> RestError:
    return RestError("OPERATOR_WRONG", "You can not redirect to this operator", 400)


def no_open_session() -> RestError:
    # openlines' own code: the real server answers these cases with an empty or generic error.
    return RestError("NO_OPEN_SESSION", "The chat has no open session", 400)


def kick_denied() -> RestError:
    return RestError(
        "ACCESS_DENIED_KICK", "Insufficient permissions to remove participants from the chat", 400
    )


def already_answered() -> RestError:
    # openlines' own code: the real server lets the later answer win silently.
    return RestError("ALREADY_ANSWERED", "Another operator has already taken this conversation", 400)


def not_your_session() -> RestError:
    # openlines' own code: closing another operator's dialogue is imopenlines.operator.another.finish.
    return RestError(
        "NOT_SESSION_OPERATOR",
        "The conversation is held by another operator; use imopenlines.operator.another.finish",
        400,
    )


# --- access ---------------------------------------------------------------------------------------------


async def can_join(services: Services, chat: Chat, user_id: int, admin: bool) -> bool:
    """Whether a non-member may work with this chat: administrators and its line's queue operators."""
    if admin:
        return True
    if chat.line_id <= 0:
        return False
    return user_id in await services.store.queue_of(chat.line_id)


async def can_see(services: Services, chat: Chat, user_id: int, admin: bool) -> bool:
    """Member of the chat, queue operator of its line, or administrator (dialog.get, history)."""
    if await services.store.is_member(chat.id, user_id):
        return True
    return await can_join(services, chat, user_id, admin)
