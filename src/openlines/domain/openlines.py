"""Records of the Open Lines world: lines and their queues, bots, chats, messages, sessions and the
transfer history. Plain data; the rules that change them live in the sibling modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

OwnerType = Literal["bot", "queue", "user"]
FromType = Literal["bot", "user", "queue", "none"]
TransferMode = Literal["bot", "operator", "routing", "intercept"]


class Status(IntEnum):
    """Session statuses with the real server's numbers (behaviour notes 4.4)."""

    NEW = 0
    SKIP = 5
    ANSWER = 10
    CLIENT = 20
    CLIENT_AFTER_OPERATOR = 25
    OPERATOR = 40
    WAIT_CLIENT = 50
    CLOSE = 60
    SPAM = 65
    DUPLICATE = 69
    SILENTLY_CLOSE = 75


CLOSED_STATUSES = frozenset({Status.CLOSE, Status.SPAM, Status.DUPLICATE, Status.SILENTLY_CLOSE})

# Line settings with the real server's defaults (behaviour notes 4.1); stored upper-case.
LINE_DEFAULTS: dict[str, Any] = {
    "QUEUE_TIME": 60,
    "NO_ANSWER_TIME": 60,
    "NO_ANSWER_RULE": "none",
    "NO_ANSWER_TEXT": "",
    "CHECK_AVAILABLE": "N",
    "MAX_CHAT": 0,
    "TYPE_MAX_CHAT": "answered",
    "WELCOME_BOT_ENABLE": "N",
    "WELCOME_BOT_ID": 0,
    "WELCOME_BOT_JOIN": "always",
    "WELCOME_BOT_TIME": 600,
    "WELCOME_BOT_LEFT": "queue",
    "WELCOME_MESSAGE": "Y",
    "WELCOME_MESSAGE_TEXT": "",
    "AUTO_CLOSE_TIME": 14400,
    "AUTO_CLOSE_RULE": "none",
    "CLOSE_RULE": "none",
    "CLOSE_TEXT": "",
    "FULL_CLOSE_TIME": 10,
    "CRM": "N",
    "CRM_FORWARD": "Y",
    "VOTE_MESSAGE": "N",
    "LANGUAGE_ID": "en",
}


@dataclass(slots=True)
class Line:
    id: int
    name: str = ""
    active: bool = True
    queue_type: str = "evenly"
    settings: dict[str, Any] = field(default_factory=dict)
    queue: list[int] = field(default_factory=list)  # operator user ids in queue order
    date_create: float = 0.0
    date_modify: float = 0.0
    modify_user_id: int = 0

    def setting(self, key: str) -> Any:
        return self.settings.get(key, LINE_DEFAULTS.get(key))


@dataclass(slots=True)
class Bot:
    id: int  # the bot's user id
    code: str
    app_id: str  # OAuth client_id, or "custom" + CLIENT_ID for webhook-registered bots
    type: str = "B"
    openline: bool = False
    handlers: dict[str, str] = field(default_factory=dict)  # MESSAGE_ADD, WELCOME_MESSAGE, BOT_DELETE, ...
    application_token: str = ""
    date_create: float = 0.0


@dataclass(slots=True)
class Chat:
    id: int
    type: str = "L"  # L open line, C group chat, P private
    entity_type: str = ""
    entity_id: str = ""
    title: str = ""
    author_id: int = 0
    line_id: int = 0
    session_id: int = 0
    customer_id: int = 0
    connector: str = ""
    external_chat_id: str = ""
    crm_entity_type: str = ""
    crm_entity_id: int = 0
    last_message_id: int = 0
    date_create: float = 0.0

    @property
    def is_lines(self) -> bool:
        return self.entity_type == "LINES"

    @property
    def dialog_id(self) -> str:
        return f"chat{self.id}"


@dataclass(slots=True)
class Message:
    id: int
    chat_id: int
    author_id: int  # 0 for system messages
    text: str
    system: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    date: float = 0.0
    date_modify: float = 0.0
    deleted: bool = False


@dataclass(slots=True)
class Session:
    id: int
    chat_id: int
    line_id: int
    customer_id: int
    user_code: str = ""
    source: str = ""
    mode: str = "input"
    status: int = Status.NEW
    owner_type: OwnerType = "queue"
    operator_id: int = 0
    closed: bool = False
    spam: bool = False
    pinned: bool = False
    wait_answer: bool = True
    queue_history: list[int] = field(default_factory=list)
    message_count: int = 0
    start_id: int = 0
    end_id: int = 0
    parent_id: int = 0
    vote_head: int = 0
    comment_head: str = ""
    date_create: float = 0.0
    date_modify: float = 0.0
    date_operator: float = 0.0
    date_operator_answer: float = 0.0
    date_close: float = 0.0
    version: int = 0

    def entity_data_1(self, crm: bool = False, crm_type: str = "", crm_id: int = 0) -> str:
        """The chat's session string; field 6 is the session id (reference 4.1)."""
        fields = [
            "Y" if crm else "N",
            crm_type,
            str(crm_id),
            "Y" if self.pinned else "N",
            "N",
            str(self.id),
            str(int(self.date_create)),
            str(self.line_id),
            "0",
            "0",
        ]
        return "|".join(fields)


@dataclass(slots=True)
class Transfer:
    """One change of a session's owner: the audit row the real server keeps but does not expose."""

    id: int
    session_id: int
    chat_id: int
    line_id: int
    from_type: FromType
    from_id: int
    to_type: Literal["user", "queue"]
    to_id: int
    mode: TransferMode
    reason: str = ""
    actor_id: int = 0
    date_create: float = 0.0


@dataclass(slots=True)
class OutboxEvent:
    """Something to deliver outside the process, written in the same transaction as its cause."""

    event: str
    payload: dict[str, Any]
    target: str = ""  # the handler URL, or '' for the apps bound to the event
    chat_id: int = 0
    app_id: str = ""  # with target '': only this app's bindings (its connector's chats, its install)


def user_code(connector: str, line_id: int, external_chat_id: str, customer_id: int) -> str:
    """``connector|line|external chat|customer``: the chat's ENTITY_ID and the session's USER_CODE."""
    return f"{connector}|{line_id}|{external_chat_id}|{customer_id}"
