"""Records of event delivery: one outbox row as the delivery worker and the operator tools see it,
and an app's event binding (``event.bind``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
EXPANDED = "expanded"  # a broadcast row (target '') copied to every handler bound to its event
STATUSES = (PENDING, DELIVERED, DEAD, EXPANDED)


def is_http_url(url: str) -> bool:
    """Whether events can be POSTed to ``url``: an absolute http(s) URL."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def split_payload(payload: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``(data, auth)`` of an outbox payload.

    Producers store either the envelope without ``ts``/``event_handler_id``
    (``{"event", "data", "auth"}``, what the engine writes) or only the ``data`` part.
    """
    if "data" in payload and set(payload) <= {"event", "data", "auth"}:
        auth = payload.get("auth")
        return payload["data"], dict(auth) if isinstance(auth, dict) else {}
    return payload, {}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try to deliver an outbox row, and what becomes of the row: saved in one write."""

    delivery_id: int
    number: int  # 1 for the first try
    at: float  # when it was sent (server clock)
    duration: float  # seconds the POST took
    status_code: int  # the handler's HTTP status; 0 without an answer
    error: str = ""  # "" when delivered
    outcome: str = DELIVERED  # DELIVERED, PENDING (tried again at ``due``) or DEAD
    due: float = 0.0  # PENDING: the next try
    finished: float = 0.0  # DELIVERED: when
    owner: tuple[str, str, int] | None = None  # (app_id, app_token, handler_id) learnt on this try


@dataclass(slots=True)
class Delivery:
    """One outbox row: an event on its way to one handler URL (or, with target '', to every binding)."""

    id: int
    event: str
    target: str
    chat_id: int
    payload: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    due: float = 0.0
    attempts: int = 0
    status: str = PENDING
    last_error: str = ""
    claimed_until: float = 0.0
    app_token: str = ""
    handler_id: int = 0
    origin_id: int = 0
    app_id: str = ""
    delivered: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The row as the operator tools show it (upper-case keys, like the REST answers)."""
        return {
            "ID": self.id,
            "EVENT": self.event,
            "TARGET": self.target,
            "CHAT_ID": self.chat_id,
            "STATUS": self.status,
            "ATTEMPTS": self.attempts,
            "LAST_ERROR": self.last_error,
            "CREATED": self.created,
            "DUE": self.due,
            "DELIVERED": self.delivered,
            "HANDLER_ID": self.handler_id,
            "ORIGIN_ID": self.origin_id,
            "APP_ID": self.app_id,
        }


@dataclass(slots=True)
class Binding:
    """An event handler: bound by an app with ``event.bind`` (kind 'app') or a bot's handler URL."""

    id: int
    app_id: str
    event: str
    handler: str = ""
    auth_type: int = 0
    offline: bool = False
    kind: str = "app"
    created: float = 0.0
