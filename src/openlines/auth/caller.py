"""The authenticated caller of a REST method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AuthType = Literal["apauth", "oauth", "sessionauth", "none"]


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: int
    auth_type: AuthType
    scopes: frozenset[str]
    client_id: str | None = None  # set for OAuth apps; webhooks have none (bots pass CLIENT_ID)
    app_id: int | None = None
    webhook_id: int | None = None
    admin: bool = False
    token: str = ""  # the raw access token, re-injected into batch sub-calls

    @property
    def limiter_key(self) -> str:
        """What the operating-time limiter counts against: the app, or the webhook."""
        if self.client_id:
            return f"app:{self.client_id}"
        return f"hook:{self.webhook_id}"
