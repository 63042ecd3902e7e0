"""Operator availability: online / away / offline and the open-lines pause.

A change that may let someone take work (online, pause ended) runs the distribution of the waiting
sessions of the operator's lines at once; a change that makes them unavailable moves the sessions
assigned to them but not yet answered to the next operator (lines with CHECK_AVAILABLE=Y).
"""

from __future__ import annotations

from openlines.domain.routing import PresenceState
from openlines.services import Services

STATUSES = ("online", "away", "offline")


def is_available(state: PresenceState) -> bool:
    return state.status == "online" and not state.paused


def routing_on(services: Services) -> bool:
    from openlines.engine.timers import SCHEDULER

    return SCHEDULER in services.extras


async def change(
    services: Services, user_id: int, *, status: str | None = None, paused: bool | None = None
) -> PresenceState:
    """Set an operator's status and/or pause, and let routing react, in one transaction."""
    from openlines.engine import routing

    store = services.store
    async with store.atomic():
        before = await store.get_presence(user_id)
        after = await store.set_presence(user_id, services.clock.now(), status=status, paused=paused)
        if routing_on(services):
            if is_available(after):
                await routing.operator_freed(services, user_id)
            elif is_available(before):
                await routing.operator_unavailable(services, user_id)
    return after
