"""Global methods every client calls first: ``server.time``, ``profile``, ``app.info``, ``scope``,
``methods``."""

from __future__ import annotations

from typing import Any

from openlines.methods.invoke import SCOPE_ALIASES
from openlines.methods.registry import GLOBAL_SCOPE, Call, Param, Registry
from openlines.protocol import errors, php


def register(registry: Registry) -> None:
    @registry.method("server.time", GLOBAL_SCOPE, description="The server's current time (ISO 8601).")
    async def server_time(call: Call) -> str:
        return call.services.clock.iso()

    @registry.method("profile", GLOBAL_SCOPE, description="The calling user's basic profile.")
    async def profile(call: Call) -> Any:
        user = await call.services.store.get_user(call.caller.user_id)
        if user is None:
            raise errors.access_denied("User authorization required")
        if not user.active:
            return []
        return {
            "ID": str(user.id),
            "ADMIN": user.admin,
            "NAME": user.name,
            "LAST_NAME": user.last_name,
            "PERSONAL_GENDER": user.gender,
            "TIME_ZONE": "",
        }

    @registry.method(
        "app.info", GLOBAL_SCOPE, description="The calling application (or webhook) and its installation."
    )
    async def app_info(call: Call) -> dict[str, Any]:
        services = call.services
        caller = call.caller
        portal = services.portal
        install = {
            "installed": True,
            "version": 1,
            "status": "L",
            "scope": ",".join(sorted(caller.scopes)),
            "domain": portal.domain,
            "uri": portal.public_url,
            "client_endpoint": portal.client_endpoint,
            "member_id": portal.member_id,
            "member_type": "PORTAL",
        }
        info: dict[str, Any] = {
            "ID": caller.app_id or 0,
            "CODE": caller.client_id or "",
            "VERSION": 1,
            "STATUS": "L",
            "INSTALLED": True,
            "PAYMENT_EXPIRED": "N",
            "DAYS": None,
            "LANGUAGE_ID": "en",
            "LICENSE": "en_selfhosted",
            "LICENSE_TYPE": "selfhosted",
            "LICENSE_FAMILY": "selfhosted",
            "SCOPE": sorted(caller.scopes),
            "client_id": caller.client_id or "",
            "user_id": caller.user_id,
            "install": install,
        }
        return info

    @registry.method(
        "scope",
        GLOBAL_SCOPE,
        Param("full", "boolean", False, "List every scope the server knows, not only the caller's"),
        description="Scopes granted to the caller (or all scopes with full=true).",
    )
    async def scope(call: Call) -> list[str]:
        if php.php_truthy(call.get("FULL")):
            return call.services.registry.scopes()
        return sorted(call.caller.scopes)

    @registry.method(
        "methods",
        GLOBAL_SCOPE,
        Param("scope", "string", False, "Only methods of this scope"),
        Param("full", "boolean", False, "Every method the server has"),
        description="Methods the caller may call.",
    )
    async def methods(call: Call) -> list[str]:
        registry_ = call.services.registry
        wanted = call.str("SCOPE")
        full = php.php_truthy(call.get("FULL"))
        names = []
        for method in registry_.methods.values():
            if method.hidden:
                continue
            if wanted:
                if method.scope != wanted:
                    continue
            elif not full and method.scope != GLOBAL_SCOPE:
                accepted = SCOPE_ALIASES.get(method.scope, frozenset({method.scope}))
                if not accepted & call.caller.scopes:
                    continue
            names.append(method.name.lower())
        return sorted(names)
