"""The method registry: each REST method declares its name, scope, parameters and handler once.

The registry drives routing, the scope check, the ``methods`` and ``scope`` REST methods, the
generated OpenAPI document and the docs. Handlers receive a :class:`Call` and return a JSON-able
result (or a :class:`~openlines.protocol.envelope.ListPage`).
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from openlines.protocol import errors, php

if TYPE_CHECKING:
    from openlines.auth.caller import Caller
    from openlines.services import Services

GLOBAL_SCOPE = "basic"
ParamType = Literal["integer", "string", "boolean", "object", "array", "any"]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: ParamType = "string"
    required: bool = False
    description: str = ""


@dataclass(slots=True)
class Call:
    """One method call: its parameters (already case-folded if the method asks), the caller, services."""

    method: Method
    params: dict[str, Any]
    caller: Caller
    services: Services
    start: int = 0
    in_batch: bool = False

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def int(self, name: str) -> int:
        return php.php_int(self.params.get(name))

    def str(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self.params.get(name)
        return default if value is None else php.php_str(value)

    def has(self, name: builtins.str) -> bool:
        return self.params.get(name) is not None


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    scope: str
    handler: Handler
    params: tuple[Param, ...] = ()
    description: str = ""
    upper_keys: bool = True
    session_auth: bool = True  # False: browser-session callers get 403 WRONG_AUTH_TYPE
    admin_only: bool = False
    app_context_only: bool = False  # True: webhook callers get 403 WRONG_AUTH_TYPE (imconnector.*)
    batchable: bool = True
    list_method: bool = False
    hidden: bool = False  # not listed by ``methods`` (legacy aliases)


@dataclass
class Registry:
    methods: dict[str, Method] = field(default_factory=dict)

    def add(self, method: Method) -> Method:
        key = method.name.lower()
        if key in self.methods:
            raise ValueError(f"method {method.name} registered twice")
        self.methods[key] = method
        return method

    def find(self, name: str) -> Method | None:
        return self.methods.get(name.lower())

    def scopes(self) -> list[str]:
        return sorted({m.scope for m in self.methods.values()})

    def method(
        self,
        name: str,
        scope: str,
        *params: Param,
        description: str = "",
        **options: Any,
    ) -> Callable[[Handler], Handler]:
        """Decorator form: ``@registry.method("server.time", "basic")``."""

        def register(handler: Handler) -> Handler:
            self.add(
                Method(name, scope, handler, tuple(params), description or (handler.__doc__ or ""), **options)
            )
            return handler

        return register


def page_bounds(call: Call, page_size: int = 50) -> tuple[int, bool]:
    """``start`` as an offset, and whether to count (``start=-1`` skips the count)."""
    if call.start == -1:
        return 0, False
    return max(call.start, 0), True


def require(condition: bool, error: Callable[[], errors.RestError]) -> None:
    if not condition:
        raise error()
