"""``openlines.clock.get`` and ``openlines.clock.advance``: read and move the server clock.

These are openlines' own methods (Bitrix24 has none like them). They let a test expire tokens, fire
timers and age sessions without waiting. Moving the clock needs ``serve --fake-clock``; both methods
are for portal administrators only.

A later module (timers) can register ``services.extras["on_clock_advanced"]``: an async callable
taking the new time (unix seconds). ``advance`` awaits it before it answers, so whatever became due
has happened by the time the caller sees the new time.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from openlines.clock import FakeClock
from openlines.methods.registry import GLOBAL_SCOPE, Call, Param, Registry
from openlines.protocol import errors
from openlines.protocol.errors import RestError
from openlines.services import Services

ON_CLOCK_ADVANCED = "on_clock_advanced"
MAX_ADVANCE = 100 * 366 * 86400  # a century per call: far enough for any test, small enough for dates
MAX_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z, the last moment ISO dates can show
ClockHook = Callable[[float], Awaitable[None]]


def fake_clock_disabled() -> RestError:
    return RestError(
        "FAKE_CLOCK_DISABLED",
        "The server clock is the real one and cannot be moved; start the server with --fake-clock",
        400,
    )


def clock_state(services: Services) -> dict[str, Any]:
    clock = services.clock
    now = clock.now()
    return {"NOW": now, "ISO": clock.iso(now), "FAKE": clock.fake}


def _seconds(value: Any) -> float:
    """SECONDS as a non-negative finite number (a JSON number or a numeric string)."""
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise errors.argument_error("SECONDS", "SECONDS must be a number of seconds")
    if number < 0:
        raise errors.argument_error("SECONDS", "SECONDS must not be negative: the clock cannot go back")
    if number > MAX_ADVANCE:
        raise errors.argument_error("SECONDS", f"SECONDS must be at most {MAX_ADVANCE} (a century)")
    return number


def register(registry: Registry) -> None:
    @registry.method(
        "openlines.clock.get",
        GLOBAL_SCOPE,
        description="The server clock: NOW (unix seconds), ISO (ISO 8601) and FAKE (whether it can be moved).",
        admin_only=True,
    )
    async def clock_get(call: Call) -> dict[str, Any]:
        return clock_state(call.services)

    @registry.method(
        "openlines.clock.advance",
        GLOBAL_SCOPE,
        Param("SECONDS", "any", True, "How far to move the fake clock forward, in seconds (>= 0)"),
        description="Move the fake clock forward (serve --fake-clock) and answer the new time.",
        admin_only=True,
    )
    async def clock_advance(call: Call) -> dict[str, Any]:
        services = call.services
        clock = services.clock
        if not isinstance(clock, FakeClock):
            raise fake_clock_disabled()
        seconds = _seconds(call.get("SECONDS"))
        if clock.now() + seconds >= MAX_TIMESTAMP:
            raise errors.argument_error("SECONDS", "SECONDS would move the clock past the year 9999")
        now = clock.advance(seconds)
        hook: ClockHook | None = services.extras.get(ON_CLOCK_ADVANCED)
        if hook is not None:
            await hook(now)
        return clock_state(services)
