"""Which bot a REST call acts for (behaviour notes 1.4, spec 6.1).

An OAuth app is identified by its ``client_id``; an incoming webhook has none, so bot calls over a
webhook carry ``CLIENT_ID`` and the owner key becomes ``"custom" + CLIENT_ID``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openlines.domain.openlines import Bot
from openlines.protocol import errors, php
from openlines.protocol.errors import RestError

if TYPE_CHECKING:
    from openlines.methods.registry import Call

WEBHOOK_APP_PREFIX = "custom"


def bot_not_found() -> RestError:
    return RestError("BOT_ID_ERROR", "Bot not found", 400)


def bot_of_other_app() -> RestError:
    return RestError("APP_ID_ERROR", "Bot was installed by another rest application", 400)


def client_id_param(call: Call) -> str:
    """``CLIENT_ID`` whatever the case of its key (the real server upper-cases a copy to find it, so
    of ``client_id`` and ``CLIENT_ID`` the later one wins). A list or object counts as absent."""
    found = ""
    for key, value in call.params.items():
        if isinstance(key, str) and key.upper() == "CLIENT_ID":
            found = php.php_str(value) if php.is_scalar(value) else ""
    return found


def app_id_for(call: Call) -> str:
    """The owner key of the calling application; 403 when a webhook call names no CLIENT_ID."""
    if call.caller.client_id:
        return call.caller.client_id
    client_id = client_id_param(call)
    if not php.php_truthy(client_id):  # PHP empty(): "" and "0" are both missing
        raise errors.access_denied("Client ID not specified.")
    return WEBHOOK_APP_PREFIX + client_id


def is_webhook_bot(bot: Bot) -> bool:
    """Webhook-registered bots keep their raw CLIENT_ID as the application token."""
    return bool(bot.application_token) and bot.app_id == WEBHOOK_APP_PREFIX + bot.application_token


async def resolve_bot(call: Call, bot_id: int = 0) -> Bot:
    """The bot the call acts for: ``bot_id`` if given (it must belong to the caller's app), else the
    app's first bot."""
    app_id = app_id_for(call)
    store = call.services.store
    if bot_id > 0:
        bot = await store.get_bot(bot_id)
        if bot is None:
            raise bot_not_found()
        if bot.app_id != app_id:
            raise bot_of_other_app()
        return bot
    bot = await store.first_bot_of_app(app_id)
    if bot is None:
        raise bot_not_found()
    return bot
