"""Fault injection (``openlines.fault.add/list/clear``): make chosen REST calls fail or run slow, and
make event deliveries to a bot fail, so a bot's error handling can be tested.

REST faults apply in ``methods/invoke.py`` after authentication and the access checks, before the
handler, for direct calls and for each batch sub-call alike. Delivery faults apply in the delivery
worker in place of the HTTP POST.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from openlines.clock import FakeClock
from openlines.faults.book import DELIVERY, REST, Fault, FaultBook
from openlines.faults.codes import fault_error
from openlines.limits import injected

if TYPE_CHECKING:
    from openlines.services import Services

FAULTS = "faults"  # services.extras key
MAX_REAL_DELAY = 60.0  # a DELAY on the real clock sleeps at most this long (the cloud cuts at 60 s)


def book(services: Services) -> FaultBook:
    found: FaultBook | None = services.extras.get(FAULTS)
    if found is None:
        found = services.extras[FAULTS] = FaultBook()
    return found


async def _delay(services: Services, seconds: float, sleep: bool = False) -> None:
    """Sleep on the real clock; on a fake clock move it forward instead (and count it as call time),
    unless ``sleep`` asks for real time anyway."""
    clock = services.clock
    if isinstance(clock, FakeClock) and not sleep:
        from openlines.methods.openlines_clock import ON_CLOCK_ADVANCED

        now = clock.advance(seconds)
        injected.add(seconds)
        hook = services.extras.get(ON_CLOCK_ADVANCED)
        if hook is not None:
            await hook(now)
    else:
        await asyncio.sleep(min(seconds, MAX_REAL_DELAY))


async def before_rest_call(services: Services, faults: FaultBook, method: str) -> None:
    """Apply the fault that fires for this REST call, if any: wait, then fail if it says so."""
    fault = await faults.take(REST, method.lower())
    if fault is None:
        return
    if fault.delay:
        await _delay(services, fault.delay, fault.sleep)
    if fault.error or fault.status:
        raise fault_error(fault.error, fault.status, fault.description)


async def delivery_error(services: Services, event: str, url: str) -> str:
    """The failure to record for this delivery attempt instead of sending it ('' = send it)."""
    faults: FaultBook | None = services.extras.get(FAULTS)
    if faults is None:
        return ""
    fault = await faults.take(DELIVERY, event.lower(), url)
    if fault is None:
        return ""
    if fault.delay:
        await _delay(services, fault.delay, fault.sleep)
    if fault.error or fault.status:
        error = fault_error(fault.error, fault.status, fault.description)
        return f"injected fault: HTTP {error.status} {error.code}"
    return ""


__all__ = ["DELIVERY", "FAULTS", "REST", "Fault", "FaultBook", "before_rest_call", "book", "delivery_error"]
