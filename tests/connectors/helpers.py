"""Small builders shared by the connector tests."""

from __future__ import annotations

import itertools
from typing import Any

ICON = {"DATA_IMAGE": "data:image/svg+xml;charset=US-ASCII,%3Csvg%3E%3C/svg%3E", "COLOR": "#1900ff"}
_serial = itertools.count(1)


def fresh_id(stem: str) -> str:
    """A connector id no other test of the session uses."""
    return f"{stem}{next(_serial)}"


def registration(connector: str, **extra: Any) -> dict[str, Any]:
    return {
        "ID": connector,
        "NAME": f"Channel {connector}",
        "ICON": ICON,
        "PLACEMENT_HANDLER": "https://app.test/p",
        **extra,
    }


def message(user: str, chat: str, text: str, mid: str = "", **user_fields: Any) -> dict[str, Any]:
    return {
        "user": {"id": user, **user_fields},
        "message": {"id": mid or f"m-{text}", "date": "1700000000", "text": text},
        "chat": {"id": chat, "name": f"External {chat}"},
    }
