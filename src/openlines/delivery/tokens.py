"""OAuth tokens in events of an app's bots, as Bitrix24 puts them there.

For a bot registered by an OAuth application, Bitrix24 fills ``data[BOT][<id>]`` (and
``data[COMMAND][<id>]``) with the bot's own token bundle, so the handler can act as the bot, and the
top-level ``auth`` with the tokens of the employee whose action caused the event. openlines does the
same at send time (and ONAPPINSTALL carries the tokens of the user who installed the app, which
an app without a user interface stores as its own): tokens are minted for the attempt (and reused while they have more than ten
minutes left), never stored in the outbox row. Webhook bots (``custom…`` owners) and events without
an employee behind them get none, as on Bitrix24.
"""

from __future__ import annotations

import copy

from openlines.auth import oauth
from openlines.domain.credentials import App
from openlines.domain.delivery import Delivery, split_payload
from openlines.services import Services

REUSE_MARGIN = 600.0  # seconds a cached token must still live to be handed out again
CACHE_LIMIT = 1024
INSTALL_EVENT = "ONAPPINSTALL"
TOKEN_KEYS = ("access_token", "expires", "expires_in", "scope", "status", "refresh_token", "user_id")


class TokenMinter:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._cache: dict[tuple[str, int], dict[str, str]] = {}

    async def bundle(self, app: App, user_id: int) -> dict[str, str]:
        """Access and refresh token of ``app`` acting as ``user_id``, in the event's string form."""
        now = self.services.clock.now()
        key = (app.client_id, user_id)
        found = self._cache.get(key)
        if found is not None and float(found["expires"]) - now > REUSE_MARGIN:
            return found
        async with self.services.store.atomic():
            issued = await oauth.issue(self.services, app, user_id, app.scopes)
        made = {name: str(issued[name]) for name in TOKEN_KEYS}
        made["client_id"] = app.client_id
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = made
        return made

    async def with_tokens(self, delivery: Delivery) -> Delivery:
        """The delivery with tokens added to its data and auth, or itself when none apply."""
        if not delivery.app_id or delivery.app_id.startswith("custom"):
            return delivery
        store = self.services.store
        app = await store.get_app(delivery.app_id)
        if app is None or not app.active:
            return delivery
        payload = copy.deepcopy(delivery.payload)
        data, _ = split_payload(payload)
        if not isinstance(data, dict):
            return delivery
        changed = False
        for block in ("BOT", "COMMAND"):
            entries = data.get(block)
            if not isinstance(entries, dict):
                continue
            for entry in entries.values():
                bot_id = str(entry.get("BOT_ID", "")) if isinstance(entry, dict) else ""
                if not bot_id.isdigit():
                    continue
                tokens = await self.bundle(app, int(bot_id))
                entry.update(tokens)
                if isinstance(entry.get("AUTH"), dict):
                    entry["AUTH"].update(tokens)
                changed = True
        user = data.get("USER")
        user_id = str(user.get("ID", "")) if isinstance(user, dict) else ""
        if delivery.event.upper() == INSTALL_EVENT:  # the app's first tokens: its installer's
            user_id = str(app.install_user)
        if user_id.isdigit():
            author = await store.get_user(int(user_id))
            if author is not None and author.kind == "employee" and author.active:
                tokens = await self.bundle(app, author.id)
                if "data" in payload and isinstance(payload.get("auth"), dict):
                    payload["auth"].update(tokens)
                elif "data" in payload:
                    payload["auth"] = tokens
                changed = True
        if not changed:
            return delivery
        copy_of = copy.copy(delivery)
        copy_of.payload = payload
        return copy_of
