"""Every REST method of the server, collected into one registry, and the feature modules'
configuration appliers (run at start after users, webhooks and apps are in place)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from openlines.methods import (
    basic,
    batch,
    events,  # delivery lane
    im,  # bots & customers lane
    imbot,  # bots & customers lane
    imconnector,  # connectors lane
    imopenlines_bot,  # transfer lane
    imopenlines_config,  # operators & lookups lane
    imopenlines_dialog,  # operators & lookups lane
    imopenlines_operator,  # operators & lookups lane
    imopenlines_session,  # operators & lookups lane
    openlines_audit,  # transfer lane
    openlines_clock,
    openlines_events,  # delivery lane
    openlines_faults,  # drop-in lane
    openlines_routing,  # routing lane
    user,
)
from openlines.methods.registry import Registry

if TYPE_CHECKING:
    from openlines.services import Services

ConfigApplier = Callable[["Services"], Awaitable[None]]


def build() -> Registry:
    registry = Registry()
    for module in (basic, batch, user):
        module.register(registry)
    openlines_clock.register(registry)
    openlines_faults.register(registry)  # drop-in lane
    events.register(registry)  # delivery lane
    openlines_events.register(registry)  # delivery lane
    imbot.register(registry)  # bots & customers lane
    im.register(registry)  # bots & customers lane
    imopenlines_config.register(registry)  # operators & lookups lane
    imopenlines_dialog.register(registry)  # operators & lookups lane
    imopenlines_operator.register(registry)  # operators & lookups lane
    imopenlines_session.register(registry)  # operators & lookups lane
    imopenlines_bot.register(registry)  # transfer lane
    openlines_audit.register(registry)  # transfer lane
    openlines_routing.register(registry)  # routing lane
    imconnector.register(registry)  # connectors lane
    return registry


def config_appliers() -> list[ConfigApplier]:
    from openlines.engine.app_events import install_hooks as install_app_events  # delivery lane
    from openlines.engine.connectors import install_hooks as install_connectors  # connectors lane
    from openlines.engine.dialogs import install_hooks  # bots & customers lane
    from openlines.engine.lines import apply_config_lines
    from openlines.engine.routing import install as install_routing  # routing lane

    return [apply_config_lines, install_hooks, install_routing, install_connectors, install_app_events]
