"""How a message moves its session's status (behaviour notes 4.4, ``session/update.php``).

Pure rules: the caller passes the session's current state and who wrote; nothing here reads the
store or the clock.
"""

from __future__ import annotations

from typing import Literal

from openlines.domain.openlines import CLOSED_STATUSES, Status

AuthorRole = Literal["customer", "operator", "bot", "system"]


def status_after_message(status: int, wait_answer: bool, role: AuthorRole) -> int:
    """The session status after a message by ``role``.

    * customer: while the session still waits for an operator (new, with the bot, in the queue) the
      status stays; otherwise 25 ("client wrote again after the operator") from 40 and above (and
      25 stays 25), else 20;
    * operator: 40 ("operator replied"), except while closing (50 stays) or while the session still
      waits for an answer (it is not the operator's yet: taking it is the answer step's business);
    * bot and system messages leave the status alone (a bot's replies are not an operator's answer;
      the real server's behaviour for them is unconfirmed).
    Closed sessions never change here.
    """
    if status in CLOSED_STATUSES:
        return status
    if role == "customer":
        if wait_answer:
            return status
        if status >= Status.OPERATOR or status == Status.CLIENT_AFTER_OPERATOR:
            return Status.CLIENT_AFTER_OPERATOR  # a second message does not fall back to 20
        return Status.CLIENT
    if role == "operator":
        if wait_answer or status == Status.WAIT_CLIENT:
            return status
        return Status.OPERATOR
    return status
