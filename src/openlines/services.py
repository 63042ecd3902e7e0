"""What a request handler can reach: configuration, clock, store, registry and the portal identity."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openlines.clock import Clock
from openlines.config import Config
from openlines.store.base import Store

if TYPE_CHECKING:
    from openlines.methods.registry import Registry


@dataclass
class Portal:
    """The identity of this server as Bitrix24 clients see a portal."""

    domain: str
    member_id: str
    public_url: str  # scheme://host[:port], no trailing slash

    @property
    def client_endpoint(self) -> str:
        return f"{self.public_url}/rest/"

    @property
    def server_endpoint(self) -> str:
        return f"{self.public_url}/rest/"


@dataclass
class Services:
    config: Config
    clock: Clock
    store: Store
    registry: Registry
    secret: bytes
    portal: Portal
    extras: dict[str, Any] = field(default_factory=dict)  # feature services added by later modules
    startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # background workers
    shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def add_hooks(services: Services, hooks: dict[str, Any]) -> None:
    """Register engine hooks (``services.extras[name]`` lists, run by the code that names them);
    registering the same function twice keeps one."""
    for name, hook in hooks.items():
        found: list[Any] = services.extras.setdefault(name, [])
        if hook not in found:
            found.append(hook)


async def run_hooks(services: Services, name: str, *args: Any) -> None:
    """Run the hooks registered under ``name`` in order, each given ``services`` then ``args``."""
    for hook in services.extras.get(name, []):
        await hook(services, *args)


def member_id_for(secret: bytes) -> str:
    return hashlib.sha256(b"member:" + secret).hexdigest()[:32]
