"""Which handlers are failing, and how many delivery slots they may hold.

A handler that is down answers nothing, and one that hangs keeps a slot for the whole read timeout on
every attempt: a few of them could fill every slot and delay the events of healthy handlers. After
``TRIP`` failed attempts in a row a handler counts as failing. A failing handler gets one delivery at
a time (the next attempt is the probe; one success makes it healthy again), and all failing handlers
together hold at most a quarter of the worker's slots, so healthy handlers always keep the rest.
"""

from __future__ import annotations

from collections.abc import Mapping

TRIP = 3  # failed attempts in a row that make a handler failing
REMEMBERED = 10_000  # handlers tracked at most (the oldest failures are forgotten beyond it)


class HandlerHealth:
    def __init__(self, concurrency: int) -> None:
        self.share = max(1, concurrency // 4)  # slots all failing handlers may hold together
        self._failures: dict[str, int] = {}  # target -> failed attempts in a row

    def record(self, target: str, ok: bool) -> None:
        """The outcome of one attempt to ``target``."""
        if ok:
            self._failures.pop(target, None)
            return
        if target not in self._failures and len(self._failures) >= REMEMBERED:
            del self._failures[next(iter(self._failures))]
        self._failures[target] = self._failures.get(target, 0) + 1

    def failing(self, target: str) -> bool:
        return self._failures.get(target, 0) >= TRIP

    def claim_view(self, busy: Mapping[str, int], cap: int) -> dict[str, int]:
        """``busy`` (deliveries in flight per target) as the claim must see it, given the per-target
        ``cap``: a failing handler with a delivery in flight counts as full, and one without has room
        for one more — but only while the failing handlers hold less than their share."""
        view = dict(busy)
        failing = [target for target, count in self._failures.items() if count >= TRIP]
        if not failing:
            return view
        room = self.share - sum(busy.get(target, 0) for target in failing)
        for target in failing:
            if busy.get(target, 0) == 0 and room > 0:
                view[target] = cap - 1  # one probe
                room -= 1
            else:
                view[target] = max(cap, busy.get(target, 0))
        return view
