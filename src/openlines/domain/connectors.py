"""Custom channel connectors (``imconnector.*``): what an application registers, and the state of a
connector on one Open Lines line. Plain data and rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LIVECHAT = "livechat"  # the built-in channel; never a custom connector
LIVECHAT_NAME = "Live chat"

# register's boolean flags and their defaults (spec 8.2)
FLAG_DEFAULTS: dict[str, bool] = {
    "DEL_EXTERNAL_MESSAGES": True,
    "EDIT_INTERNAL_MESSAGES": True,
    "DEL_INTERNAL_MESSAGES": True,
    "NEWSLETTER": True,
    "NEED_SYSTEM_MESSAGES": True,
    "NEED_SIGNATURE": True,
    "CHAT_GROUP": False,
}


@dataclass(slots=True)
class Connector:
    id: str
    app_id: str
    name: str
    icon: dict[str, Any] = field(default_factory=dict)
    icon_disabled: dict[str, Any] = field(default_factory=dict)
    placement_handler: str = ""
    options: dict[str, bool] = field(default_factory=dict)
    created: float = 0.0

    def flag(self, name: str) -> bool:
        return bool(self.options.get(name, FLAG_DEFAULTS.get(name, False)))


@dataclass(slots=True)
class ConnectorLine:
    """A connector on one line: switched on or off (activate) and its channel data (data.set)."""

    connector: str
    line_id: int
    active: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    changed: float = 0.0


def normalise_id(raw: str) -> str:
    """The connector id as the real server keeps it: lower case; '' when it holds a '.'."""
    value = raw.strip().lower()
    return "" if "." in value else value


def reply_text(author_name: str, text: str, signature: bool) -> str:
    """An operator's message as a connector receives it: the name in bold, then the text."""
    if not signature or not author_name:
        return text
    return f"[b]{author_name}:[/b][br]{text}"
