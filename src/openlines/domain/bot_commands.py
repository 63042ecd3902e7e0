"""A chat-bot's slash command (``imbot.command.register``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class BotCommand:
    id: int
    bot_id: int
    app_id: str
    command: str
    common: bool = False
    hidden: bool = False
    extranet_support: bool = False
    handler: str = ""  # EVENT_COMMAND_ADD URL
    lang: list[dict[str, Any]] = field(default_factory=list)  # [{LANGUAGE_ID, TITLE, PARAMS}]
