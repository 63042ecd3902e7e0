"""The system-message texts the real server posts into Open Lines chats (English language files).

Each function fills one message key's placeholders: users become ``[USER=<id>][/USER]`` BB-codes and
line names are wrapped in ``[b]...[/b]``. The wording is kept exactly, typos included ("transfered",
the double space in the female intercept text), because people and tests compare these strings.
The ``_M``/``_F`` variants (by the acting user's gender) are identical except where noted.
"""

from __future__ import annotations


def user_tag(user_id: int) -> str:
    return f"[USER={user_id}][/USER]"


def line_tag(name: str) -> str:
    return f"[b]{name}[/b]"


# --- transfers (IMOL_CHAT_*) ---------------------------------------------------------------------


def transfer(from_id: int, to_id: int) -> str:
    """IMOL_CHAT_TRANSFER_M/F: a dialogue handed to a user."""
    return f"{user_tag(from_id)} transfered conversation to {user_tag(to_id)}"


def transfer_line(from_id: int, line_from: str, line_to: str) -> str:
    """IMOL_CHAT_TRANSFER_LINE_M/F: a dialogue redirected to another line's queue."""
    return (
        f"{user_tag(from_id)} redirected conversation from queue "
        f'"{line_tag(line_from)}" to queue "{line_tag(line_to)}"'
    )


def skip(user_id: int) -> str:
    """IMOL_CHAT_SKIP_M/F: sent back to the same line's queue (or rejected by an operator)."""
    return f"{user_tag(user_id)} rejected conversation"


def returned_to_queue() -> str:
    """IMOL_CHAT_RETURNED_TO_QUEUE_NEW: back to the queue with nobody named as the cause."""
    return "Enquiry has been resubmitted to the queue."


def answer(user_id: int) -> str:
    """IMOL_CHAT_ANSWER_M/F: a user took the dialogue."""
    return f"{user_tag(user_id)} picked conversation"


def intercept(user_id: int, previous_id: int, female: bool = False) -> str:
    """IMOL_CHAT_INTERCEPT_M/F (the female text has two spaces before the second user)."""
    gap = "  " if female else " "
    return f"{user_tag(user_id)} took conversation from{gap}{user_tag(previous_id)}"


def end_bot_session() -> str:
    """IMOL_CHAT_END_BOT_SESSION: the bot handed the dialogue to the line's operators."""
    return "Bot has forwarded conversation to an agent"


def mark_spam(user_id: int) -> str:
    """IMOL_CHAT_MARK_SPAM_M/F."""
    return f"{user_tag(user_id)} marked the current conversation as spam"


def close_for_open(user_id: int) -> str:
    """IMOL_CHAT_CLOSE_FOR_OPEN_M/F."""
    return f"{user_tag(user_id)} closed the current conversation and started a new one"


# --- routing (IMOL_CHAT_* and IMOL_QUEUE_*) --------------------------------------------------------


def next_in_queue(to_id: int) -> str:
    """IMOL_CHAT_NEXT_IN_QUEUE_NEW: routing moved the dialogue to the next operator."""
    return f"Enquiry transferred to {user_tag(to_id)} according to queuing rules"


def no_operator_available() -> str:
    """IMOL_CHAT_NO_OPERATOR_AVAILABLE_IN_QUEUE_NEW."""
    return "Enquiry has been resubmitted to the queue because there are no agents available"


def to_queue() -> str:
    """IMOL_CHAT_TO_QUEUE_NEW."""
    return "Enquiry redirected according to queue rules"


def assign_operator(user_id: int) -> str:
    """IMOL_CHAT_ASSIGN_OPERATOR_NEW."""
    return f"Enquiry assigned to {user_tag(user_id)}"


def assign_operator_list() -> str:
    """IMOL_CHAT_ASSIGN_OPERATOR_LIST_NEW (queue type "all")."""
    return "Enquiry assigned to all agents in the queue"


def assign_operator_crm(user_id: int) -> str:
    """IMOL_CHAT_ASSIGN_OPERATOR_CRM_NEW."""
    return f"Enquiry redirected to {user_tag(user_id)} (CRM's responsible person)"


def skip_alone() -> str:
    """IMOL_QUEUE_SESSION_SKIP_ALONE: an operator may not reject when nobody else is available."""
    return "You cannot reject the conversation because you are the only person available in the queue."


def operator_offline() -> str:
    """IMOL_QUEUE_SESSION_TRANSFER_OPERATOR_OFFLINE."""
    return "Session resubmitted to the queue because the agent was offline"


# Why a dialogue was taken away from an operator (IMOL_QUEUE_OPERATOR_<REASON>).
_RETURN_REASONS = {
    "DISMISSAL": "Conversation was removed from the agent because the agent had been dismissed",
    "NONWORKING": "Conversation was removed from the agent because the agent has clocked out or not clocked in yet.",
    "NOT_AVAILABLE": "Conversation was removed from the agent because the agent is not available.",
    "REMOVING": "Conversation was removed from the agent because the agent had been removed from the Open Channel",
    "VACATION": "Conversation was removed from the agent because the agent is on leave",
}


def operator_removed(reason: str) -> str:
    """IMOL_QUEUE_OPERATOR_*; an unknown reason gives the plain "returned to queue" text."""
    return _RETURN_REASONS.get(reason.upper(), returned_to_queue())


# --- closing (IMOL_SESSION_*) ---------------------------------------------------------------------


def session_closed(user_id: int) -> str:
    """IMOL_SESSION_CLOSE_M/F: a user finished the dialogue."""
    return f"{user_tag(user_id)} has closed session"


def session_closed_auto() -> str:
    """IMOL_SESSION_CLOSE_AUTO."""
    return "Session closed automatically"


def session_closed_final() -> str:
    """IMOL_SESSION_CLOSE_FINAL."""
    return "Conversation closed."


def line_inactive() -> str:
    """IMOL_SESSION_LINE_IS_CLOSED."""
    return "Open Channel is inactive, no messages will be sent to the client."
