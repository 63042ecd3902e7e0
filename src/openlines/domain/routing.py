"""Queue distribution as pure rules (behaviour notes 2.6): who gets a waiting session, and why each
other operator of the queue did not.

The engine feeds :class:`Distribution` the queue's operators one at a time, in the order
:func:`order` gives, and stops as soon as :meth:`Distribution.consider` says the choice is made; so
the usual assignment reads one or two operators, whatever the size of the queue. :func:`decide` runs
the same steps over a complete list, for tests and for anyone who has every fact at hand.

Nothing here reads the store or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from openlines.domain import texts
from openlines.domain.openlines import FromType, Line, Session, Status, Transfer
from openlines.domain.transfer_rules import Change, MemberKinds
from openlines.protocol import php

QueueType = Literal["evenly", "strictly", "all"]
Presence = Literal["online", "away", "offline"]
SkipReason = Literal["dismissed", "offline", "away", "idle", "paused", "at_capacity", "already_tried"]
Result = Literal["assigned", "kept", "offered", "waiting"]

UNLIMITED = 1000  # MAX_CHAT 0 means the real server's global cap of 1000 items per operator
STOP_STATUS = {"answered_new": Status.CLIENT_AFTER_OPERATOR, "answered": Status.OPERATOR, "closed": 50}
ALL_RECHECK = 3600.0  # an "all" queue re-offers every hour, whatever QUEUE_TIME says
DEFAULT_QUEUE_TIME = 3600.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """One operator of the queue with the facts the rules need."""

    user_id: int
    sort: int = 0
    last_activity: float = 0.0
    active: bool = True  # an existing, active, non-extranet employee
    presence: Presence = "online"
    paused: bool = False
    idle: bool = False  # online, but silent for longer than the idle timeout
    load: int = 0  # open sessions of this line that count against MAX_CHAT


@dataclass(frozen=True, slots=True)
class Verdict:
    user_id: int
    verdict: Literal["chosen", "offered", "skipped"]
    reason: str = ""  # a SkipReason for skipped, "history reset" when strictly started over


@dataclass(slots=True)
class Decision:
    queue_type: QueueType
    result: Result
    operator_id: int = 0  # assigned or kept
    offered: list[int] = field(default_factory=list)  # "all": everyone who may take it
    queue_history: list[int] = field(default_factory=list)  # the session's tried operators afterwards
    verdicts: list[Verdict] = field(default_factory=list)


# --- line settings ------------------------------------------------------------------------------


def queue_type_of(line: Line) -> QueueType:
    kind = line.queue_type
    return kind if kind in ("evenly", "strictly", "all") else "all"  # type: ignore[return-value]


def max_chat(line: Line) -> int:
    limit = php.php_int(line.setting("MAX_CHAT"))
    return UNLIMITED if limit <= 0 else min(limit, UNLIMITED)


def stop_status(line: Line) -> int:
    """Sessions under this status count against MAX_CHAT (TYPE_MAX_CHAT)."""
    return int(STOP_STATUS.get(php.php_str(line.setting("TYPE_MAX_CHAT")), Status.OPERATOR))


def checks_availability(line: Line) -> bool:
    return bool(line.setting("CHECK_AVAILABLE") == "Y")


def queue_time(line: Line) -> float:
    """Seconds an assigned operator has to answer before the next one is tried."""
    if queue_type_of(line) == "all":
        return ALL_RECHECK
    seconds = php.php_int(line.setting("QUEUE_TIME"))
    return float(seconds) if seconds > 0 else DEFAULT_QUEUE_TIME


def seconds_setting(line: Line, key: str) -> float:
    """A non-negative number of seconds from the line's settings (0 = never)."""
    return float(max(0, php.php_int(line.setting(key))))


# --- the rules ----------------------------------------------------------------------------------


def order(queue_type: QueueType, candidates: Iterable[Candidate]) -> list[Candidate]:
    """evenly: idle longest first (then queue order); strictly and all: queue order."""
    if queue_type == "evenly":
        return sorted(candidates, key=lambda c: (c.last_activity, c.sort, c.user_id))
    return sorted(candidates, key=lambda c: (c.sort, c.user_id))


def skip_reason(
    candidate: Candidate, *, check_available: bool, limit: int, current_operator: int
) -> SkipReason | None:
    """Why ``candidate`` cannot take the session now, or None. The session's current operator needs
    no free slot (it already holds this one) but must still be available."""
    if not candidate.active:
        return "dismissed"
    if check_available:
        if candidate.paused:
            return "paused"
        if candidate.presence == "offline":
            return "offline"
        if candidate.presence == "away":
            return "away"
        if candidate.idle:
            return "idle"
    if candidate.user_id != current_operator and candidate.load >= limit:
        return "at_capacity"
    return None


class Distribution:
    """One pass over a queue. Feed candidates in :func:`order`; stop when :meth:`consider` is True."""

    def __init__(
        self,
        queue_type: QueueType,
        *,
        check_available: bool,
        limit: int,
        history: Iterable[int] = (),
        current_operator: int = 0,
    ) -> None:
        self.queue_type = queue_type
        self.check_available = check_available
        self.limit = limit
        self.history = list(dict.fromkeys(history))
        self.current_operator = current_operator
        self.verdicts: list[Verdict] = []
        self.chosen = 0
        self.offered: list[int] = []
        self._first_tried = 0  # strictly: the first available operator already tried

    def consider(self, candidate: Candidate) -> bool:
        reason = skip_reason(
            candidate,
            check_available=self.check_available,
            limit=self.limit,
            current_operator=self.current_operator,
        )
        uid = candidate.user_id
        if reason is not None:
            self.verdicts.append(Verdict(uid, "skipped", reason))
            return False
        if self.queue_type == "all":
            self.offered.append(uid)
            self.verdicts.append(Verdict(uid, "offered"))
            return False
        if uid in self.history:  # evenly too: see docs/compat/routing.md
            self._first_tried = self._first_tried or uid
            self.verdicts.append(Verdict(uid, "skipped", "already_tried"))
            return False
        self.chosen = uid
        self.verdicts.append(Verdict(uid, "chosen"))
        return True

    def result(self) -> Decision:
        kind = self.queue_type
        if kind == "all":
            result: Result = "offered" if self.offered else "waiting"
            return Decision(kind, result, 0, list(self.offered), list(self.history), list(self.verdicts))
        chosen, history = self.chosen, list(self.history)
        if not chosen and self._first_tried:
            # everyone available was tried: start over with the first of them
            chosen, history = self._first_tried, []
            self.verdicts = [
                Verdict(v.user_id, "chosen", "history reset") if v.user_id == chosen else v
                for v in self.verdicts
            ]
        if not chosen:
            return Decision(kind, "waiting", 0, [], history, list(self.verdicts))
        if chosen not in history:
            history.append(chosen)
        result = "kept" if chosen == self.current_operator else "assigned"
        return Decision(kind, result, chosen, [], history, list(self.verdicts))


def decide(
    queue_type: QueueType,
    candidates: Iterable[Candidate],
    *,
    check_available: bool,
    limit: int,
    history: Iterable[int] = (),
    current_operator: int = 0,
) -> Decision:
    """The whole distribution over a complete list of candidates (any order)."""
    pass_ = Distribution(
        queue_type,
        check_available=check_available,
        limit=limit,
        history=history,
        current_operator=current_operator,
    )
    for candidate in order(queue_type, candidates):
        if pass_.consider(candidate):
            break
    return pass_.result()


# --- what an assignment changes -----------------------------------------------------------------


def _history_row(
    session: Session,
    from_type: FromType,
    from_id: int,
    to_type: Literal["user", "queue"],
    to_id: int,
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
        mode="routing",
        reason="",
        actor_id=0,
        date_create=now,
    )


def previous_owner(session: Session) -> tuple[FromType, int]:
    if session.owner_type == "queue" or session.operator_id <= 0:
        return "queue", session.line_id
    return session.owner_type, session.operator_id


def plan_assignment(
    session: Session, members: MemberKinds, operator_id: int, history: list[int], *, now: float
) -> Change:
    """Routing gives the waiting session to ``operator_id``, who must still answer it.

    The operator becomes the owner and a chat member; the session keeps waiting for the answer
    (SKIP, 5) until the operator answers or QUEUE_TIME passes. A previous assignee leaves the chat.
    """
    from_type, from_id = previous_owner(session)
    remove = [uid for uid, kind in members.items() if kind == "employee" and uid != operator_id]
    updated = replace(
        session,
        owner_type="user",
        operator_id=operator_id,
        status=Status.SKIP,
        wait_answer=True,
        queue_history=list(history),
        date_modify=now,
        version=session.version + 1,
    )
    return Change(
        session=updated,
        chat_author_id=operator_id,
        chat_line_id=session.line_id,
        remove=remove,
        add=[] if operator_id in members else [operator_id],
        history=_history_row(session, from_type, from_id, "user", operator_id, now),
        notices=[texts.next_in_queue(operator_id)],
    )


def plan_return_to_queue(session: Session, members: MemberKinds, history: list[int], *, now: float) -> Change:
    """Nobody can take the session and its assignee is no longer available: back to the queue."""
    from_type, from_id = previous_owner(session)
    updated = replace(
        session,
        owner_type="queue",
        operator_id=0,
        status=Status.SKIP,
        wait_answer=True,
        queue_history=list(history),
        date_modify=now,
        version=session.version + 1,
    )
    return Change(
        session=updated,
        chat_author_id=0,
        chat_line_id=session.line_id,
        remove=[uid for uid, kind in members.items() if kind == "employee"],
        history=_history_row(session, from_type, from_id, "queue", session.line_id, now),
        notices=[texts.no_operator_available()],
    )


def is_waiting_for_answer(session: Session) -> bool:
    """Open, and owned by the queue or by an operator who has not answered yet."""
    return (
        not session.closed
        and session.owner_type in ("queue", "user")
        and session.status < Status.ANSWER
        and session.wait_answer
    )


# --- stored records -----------------------------------------------------------------------------

TimerKind = Literal["queue", "welcome_bot", "auto_close", "no_answer"]


@dataclass(frozen=True, slots=True)
class Timer:
    """A due job: what to do to a session at ``due`` if it is still in the state it was armed in."""

    id: int
    session_id: int
    chat_id: int
    kind: str
    due: float
    version: int = 0


@dataclass(frozen=True, slots=True)
class PresenceState:
    user_id: int
    status: Presence = "online"
    paused: bool = False
    last_seen: float = 0.0
    date_modify: float = 0.0
    known: bool = False  # the operator ever reported a status (the idle timeout applies only then)
