"""Calling one registered method for an authenticated caller: the checks every call goes through
(scope, auth type, admin), parameter case folding, paging offset, and the handler itself.
Direct calls and each ``batch`` sub-call both come through here."""

from __future__ import annotations

import time
from typing import Any

from openlines.auth.caller import Caller
from openlines.faults import FAULTS, before_rest_call
from openlines.limits import LIMITS, injected
from openlines.methods.registry import GLOBAL_SCOPE, Call, Method
from openlines.protocol import errors, php
from openlines.services import Services

# The only alternative scopes the real server maps (behaviour notes 3.7).
SCOPE_ALIASES = {
    "user": frozenset({"user", "user_brief", "user_basic"}),
    "imconnector": frozenset({"imconnector", "imopenlines"}),  # connectors lane (the real server: both)
}
# System parameters the real server removes before a method sees them.
SYSTEM_PARAMS = ("auth", "access_token", "auth_connector", "aplogin", "ap", "sessid", "state", "start")


def check_access(method: Method, caller: Caller) -> None:
    """Scope and auth-type rules, raised in the real server's order."""
    if caller.auth_type == "sessionauth":
        # We cannot verify browser sessions (no login cookies exist here). Methods that refuse sessions
        # say so; every other method answers as the real server does for a session it cannot verify.
        if not method.session_auth:
            raise errors.session_auth_forbidden()
        raise errors.session_not_authorized(caller.token)
    if method.scope != GLOBAL_SCOPE:
        accepted = SCOPE_ALIASES.get(method.scope, frozenset({method.scope}))
        if not accepted & caller.scopes:
            raise (
                errors.token_insufficient_scope
                if caller.auth_type == "oauth"
                else errors.webhook_insufficient_scope
            )()
    if method.app_context_only and caller.auth_type != "oauth":
        raise errors.application_context_required()
    if method.admin_only and not caller.admin:
        raise errors.access_denied("Only a portal administrator may call this method.")


def prepare_params(method: Method, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Remove system parameters, fold key case if the method does, and take the paging offset."""
    start = php.php_int(params.get("start", 0))
    clean = {k: v for k, v in params.items() if k not in SYSTEM_PARAMS}
    if method.upper_keys:
        clean = php.upper_keys(clean)
    return clean, start


async def invoke(
    services: Services, method: Method, caller: Caller, params: dict[str, Any], in_batch: bool = False
) -> tuple[Any, float]:
    """Run the method; returns its result and the seconds spent in the handler."""
    check_access(method, caller)
    clean, start = prepare_params(method, params)
    call = Call(method=method, params=clean, caller=caller, services=services, start=start, in_batch=in_batch)
    # drop-in lane: limits meter each batch sub-call (direct calls: protocol/rest.py); faults hit both
    limits = services.extras.get(LIMITS) if in_batch else None
    if limits is not None:
        limits.check_sub_call(method, caller)
        injected.take()  # a failed earlier sub-call's fake delay is not this call's time
    began = time.perf_counter()
    faults = services.extras.get(FAULTS)
    if faults is not None:
        await before_rest_call(services, faults, method.name)
    result = await method.handler(call)
    elapsed = time.perf_counter() - began
    if limits is not None:
        limits.record_sub_call(method, caller, elapsed + injected.take())
    return result, elapsed
