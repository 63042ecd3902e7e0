"""Seconds a DELAY fault moved the fake clock during the current request.

A fake clock does not pass while a handler runs, so the operating-time meter would never see a slow
call; the fault records what it "spent" here and the meter adds it to the call's duration.
"""

from __future__ import annotations

from contextvars import ContextVar

INJECTED: ContextVar[float] = ContextVar("openlines_injected_delay", default=0.0)


def add(seconds: float) -> None:
    INJECTED.set(INJECTED.get() + seconds)


def take() -> float:
    """The seconds recorded so far in this request, and start again from zero."""
    seconds = INJECTED.get()
    if seconds:
        INJECTED.set(0.0)
    return seconds
