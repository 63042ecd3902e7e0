"""Turn a request's credentials into a :class:`Caller`, in the real server's order: OAuth token,
then incoming webhook, then browser session; none of them → ``NO_AUTH_FOUND``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openlines.auth import secrets
from openlines.auth.cache import TtlCache
from openlines.auth.caller import Caller
from openlines.protocol import errors
from openlines.services import Services


@dataclass(slots=True)
class Credentials:
    """What a request presented, gathered by the protocol layer."""

    hook_user: str | None = None  # /rest/<user>/<code>/...
    hook_code: str | None = None
    bearer: str | None = None  # Authorization: Bearer
    params: dict[str, Any] | None = None  # the merged parameters (auth, access_token, sessid)
    csrf_header: str | None = None  # X-Bitrix-Csrf-Token
    https: bool = False

    def token(self) -> str | None:
        if self.bearer:
            return self.bearer
        params = self.params or {}
        for key in ("auth", "access_token"):
            value = params.get(key)
            if isinstance(value, str) and value:
                return value
        return None

    def sessid(self) -> str | None:
        if self.csrf_header:
            return self.csrf_header
        value = (self.params or {}).get("sessid")
        return value if isinstance(value, str) and value else None


async def authenticate(services: Services, creds: Credentials) -> Caller:
    token = creds.token()
    if token is not None and creds.hook_user is None:
        return await _oauth(services, token)
    if creds.hook_user is not None:
        return await _webhook(services, creds)
    sessid = creds.sessid()
    if sessid is not None:
        return Caller(user_id=0, auth_type="sessionauth", scopes=frozenset(), token=sessid)
    raise errors.no_auth_found()


async def _oauth(services: Services, token: str) -> Caller:
    cache: TtlCache[tuple[Caller, float]] = services.extras.setdefault("oauth_cache", TtlCache())
    known = cache.get(token)
    if known is None:
        known = await _load_token(services, token)
        cache.put(token, known)
    caller, expires = known
    if expires <= services.clock.now():  # expiry follows the server clock on every call
        raise errors.expired_token()
    return caller


async def _load_token(services: Services, token: str) -> tuple[Caller, float]:
    store = services.store
    record = await store.find_access_token(secrets.digest(services.secret, token))
    if record is None:
        raise errors.invalid_token()
    if record.expires <= services.clock.now():
        raise errors.expired_token()
    app = await store.get_app_by_id(record.app_id)
    if app is None or not app.active:
        raise errors.application_not_found()
    user = await store.get_user(record.user_id)
    if user is None or not user.active:
        raise errors.authorization_error()
    caller = Caller(
        user_id=user.id,
        auth_type="oauth",
        scopes=record.scopes,
        client_id=app.client_id,
        app_id=app.id,
        admin=user.admin,
        token=token,
    )
    return caller, record.expires


async def _webhook(services: Services, creds: Credentials) -> Caller:
    if services.config.server.require_https and not creds.https:
        raise errors.https_required()
    cache: TtlCache[Caller] = services.extras.setdefault("webhook_cache", TtlCache())
    key = f"{creds.hook_user}/{creds.hook_code}"
    caller = cache.get(key)
    if caller is None:
        caller = await _load_webhook(services, creds)
        cache.put(key, caller)
    return caller


async def _load_webhook(services: Services, creds: Credentials) -> Caller:
    code = creds.hook_code or ""
    hook = await services.store.find_webhook(secrets.digest(services.secret, code)) if code else None
    if hook is None or str(hook.user_id) != (creds.hook_user or "").strip():
        raise errors.invalid_credentials()
    user = await services.store.get_user(hook.user_id)
    if user is None or not user.active:
        raise errors.authorization_error()
    return Caller(
        user_id=user.id, auth_type="apauth", scopes=hook.scopes, webhook_id=hook.id, admin=user.admin
    )
