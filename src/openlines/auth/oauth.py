"""The built-in OAuth 2.0 authorization server: codes, access and refresh tokens for configured apps.

Lifetimes follow Bitrix24: an authorization code lives 30 s, an access token 1 hour, a refresh token
180 days, and a refresh token works once (the answer carries the next one). Tokens are stored only as
HMAC digests. All times come from the server clock, so moving a fake clock expires tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openlines.auth import secrets
from openlines.domain.credentials import AccessToken, App, AuthCode, RefreshGrant
from openlines.services import Services

CODE_LIFETIME = 30
ACCESS_LIFETIME = 3600
REFRESH_LIFETIME = 180 * 86400


class OAuthError(Exception):
    def __init__(self, code: str, description: str, status: int) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


def invalid_client() -> OAuthError:
    return OAuthError("invalid_client", "Invalid client", 401)


def invalid_grant(detail: str = "Invalid grant") -> OAuthError:
    return OAuthError("invalid_grant", detail, 400)


def invalid_request(detail: str) -> OAuthError:
    return OAuthError("invalid_request", detail, 400)


@dataclass(slots=True)
class Grant:
    code: str
    redirect: dict[str, str]  # what the browser is sent back with


async def find_app(services: Services, client_id: str) -> App:
    app = await services.store.get_app(client_id) if client_id else None
    if app is None or not app.active:
        raise invalid_client()
    return app


async def authorize(services: Services, app: App, user_id: int, state: str) -> Grant:
    """The user consented: make a 30-second code for the app's redirect."""
    code = secrets.new_token(32)
    now = services.clock.now()
    await services.store.save_auth_code(
        secrets.digest(services.secret, code), AuthCode(app.id, user_id, app.scopes, now + CODE_LIFETIME)
    )
    portal = services.portal
    return Grant(
        code,
        {
            "code": code,
            "state": state,
            "domain": portal.domain,
            "member_id": portal.member_id,
            "scope": ",".join(sorted(app.scopes)),
            "server_domain": portal.domain,
        },
    )


async def issue(services: Services, app: App, user_id: int, scopes: frozenset[str]) -> dict[str, Any]:
    """A fresh access + refresh token pair, answered in the Bitrix24 token format."""
    access, refresh = secrets.new_token(32), secrets.new_token(32)
    now = services.clock.now()
    expires = int(now) + ACCESS_LIFETIME
    await services.store.save_tokens(
        secrets.digest(services.secret, access),
        AccessToken(app.id, app.client_id, user_id, scopes, float(expires)),
        secrets.digest(services.secret, refresh),
        RefreshGrant(app.id, user_id, scopes, now + REFRESH_LIFETIME),
    )
    portal = services.portal
    return {
        "access_token": access,
        "expires": expires,
        "expires_in": ACCESS_LIFETIME,
        "scope": ",".join(sorted(scopes)),
        "domain": portal.domain,
        "server_endpoint": portal.server_endpoint,
        "status": "L",
        "client_endpoint": portal.client_endpoint,
        "member_id": portal.member_id,
        "user_id": user_id,
        "refresh_token": refresh,
        "application_token": app.application_token,
    }


async def token(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    """``/oauth/token/``: the ``authorization_code`` and ``refresh_token`` grants."""
    grant_type = _text(params, "grant_type")
    client_id = _text(params, "client_id")
    client_secret = _text(params, "client_secret")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise invalid_request("grant_type must be authorization_code or refresh_token")
    app = await find_app(services, client_id)
    if not secrets.same(app.secret_hash, secrets.digest(services.secret, client_secret)):
        raise invalid_client()
    async with services.store.atomic():  # a consumed code or refresh token always yields new tokens
        return await _exchange(services, app, grant_type, params)


async def _exchange(services: Services, app: App, grant_type: str, params: dict[str, Any]) -> dict[str, Any]:
    now = services.clock.now()
    store = services.store
    if grant_type == "authorization_code":
        code = _text(params, "code")
        record = await store.take_auth_code(secrets.digest(services.secret, code)) if code else None
        if record is None or record.app_id != app.id or record.expires <= now:
            raise invalid_grant("Invalid authorization code")
        return await issue(services, app, record.user_id, record.scopes)
    refresh = _text(params, "refresh_token")
    grant = await store.take_refresh_token(secrets.digest(services.secret, refresh)) if refresh else None
    if grant is None or grant.app_id != app.id or grant.expires <= now:
        raise invalid_grant("Invalid refresh token")
    return await issue(services, app, grant.user_id, grant.scopes)


def _text(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    return value if isinstance(value, str) else ""
