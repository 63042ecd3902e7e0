"""The one source of time. Everything that reads the time (tokens, ``time`` blocks, timers, limits)
asks a clock object, so tests and ``--fake-clock`` can set and move it."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta, timezone, tzinfo


class Clock:
    """Wall-clock time. Subclasses may stop or move it."""

    fake = False

    def __init__(self, tz: tzinfo = UTC) -> None:
        self.tz = tz
        self._iso_second: int | None = None
        self._iso_text = ""

    def now(self) -> float:
        return time.time()

    def iso(self, ts: float | None = None) -> str:
        """ISO 8601 with the server's offset, like PHP ``date('c')``: ``2024-10-11T10:00:00+02:00``."""
        second = math.floor(self.now() if ts is None else ts)
        if second != self._iso_second:  # every answer formats the same second several times
            self._iso_text = datetime.fromtimestamp(second, self.tz).isoformat()
            self._iso_second = second
        return self._iso_text


class FakeClock(Clock):
    """A clock that only moves when told to. Starts at the given instant (default: real now)."""

    fake = True

    def __init__(self, start: float | None = None, tz: tzinfo = UTC) -> None:
        super().__init__(tz)
        self._now = time.time() if start is None else start

    def now(self) -> float:
        return self._now

    def set(self, ts: float) -> None:
        self._now = ts

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot move backwards")
        self._now += seconds
        return self._now


def parse_offset(text: str) -> tzinfo:
    """``"+03:00"``, ``"-0530"`` or ``"UTC"`` → a fixed-offset zone."""
    if text.upper() in ("UTC", "Z", "+00:00", ""):
        return UTC
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-").replace(":", "")
    if not digits.isdigit() or len(digits) not in (2, 4):
        raise ValueError(f"not a UTC offset: {text!r} (use +HH:MM)")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError(f"not a UTC offset: {text!r}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
