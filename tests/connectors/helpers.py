"""Small builders shared by the connector tests."""

from __future__ import annotations

import itertools
from typing import Any

from tests.connectors.conftest import Caller
from tests.delivery.handler import Handler

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


def line_with_welcome_bot(app: Caller, admin: Caller, handler: Handler, connector: str) -> tuple[int, int]:
    bot_id = int(
        app(
            "imbot.register",
            {
                "CODE": f"bot_{connector}",
                "TYPE": "O",
                "OPENLINE": "Y",
                "EVENT_HANDLER": handler.url(f"/bot/{connector}.php"),
                "PROPERTIES": {"NAME": "Helper", "LAST_NAME": ""},
            },
        )
    )
    line_id = int(admin("imopenlines.config.add", {"PARAMS": {"LINE_NAME": f"Line {connector}"}}))
    settings = {
        "WELCOME_BOT_ENABLE": "Y",
        "WELCOME_BOT_ID": bot_id,
        "WELCOME_BOT_JOIN": "always",
        "CLOSE_RULE": "text",
        "CLOSE_TEXT": "Thank you, goodbye",
    }
    admin("imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": settings})
    return bot_id, line_id


def connected_line(app: Caller, admin: Caller, handler: Handler, stem: str) -> tuple[str, int, int]:
    """A new connector of ``app``, switched on for a new line whose welcome bot is the app's own:
    ``(connector, bot_id, line_id)``."""
    connector = fresh_id(stem)
    assert app("imconnector.register", registration(connector)) == {"result": True}
    bot_id, line_id = line_with_welcome_bot(app, admin, handler, connector)
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": line_id, "ACTIVE": 1}) is True
    return connector, bot_id, line_id
