"""Limits like the Bitrix24 cloud's (``serve --limits off|cloud|enterprise`` and ``[limits]``).

When limits are off nothing is installed, so a call pays one dictionary lookup for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # openlines.config imports this package; keep it free of import cycles
    from openlines.services import Services

LIMITS = "limits"  # services.extras key read by protocol/rest.py and methods/invoke.py


def install(services: Services) -> None:
    """Put a :class:`~openlines.limits.guard.Limits` into ``services.extras`` if any limit is on."""
    from openlines.limits.guard import Limits

    config = services.config.limits
    if config.enabled:
        services.extras[LIMITS] = Limits(config, services.clock, services.config.server.trust_forwarded)
    else:
        services.extras.pop(LIMITS, None)
