"""The cloud's method operating-time limit (behaviour 3.4, ``LoadLimiter``).

Per key (auth type + webhook or app + method): a window of ``buckets`` buckets of ``width`` seconds.
A finished call that took at least ``minimum`` seconds adds its duration to the bucket of the moment it
finished; a bucket expires ``buckets * width`` seconds after its first call. ``operating`` is the sum
of the live buckets; ``reset_at`` is when the oldest live bucket expires.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class Bucket:
    first: float  # the first call counted in it
    total: float


class OperatingMeter:
    def __init__(self, limit: float, minimum: float = 0.1, width: float = 60.0, buckets: int = 10) -> None:
        self.limit = limit
        self.minimum = minimum
        self.width = width
        self.span = width * buckets
        self._keys: dict[str, dict[int, Bucket]] = {}

    def _live(self, key: str, now: float) -> dict[int, Bucket]:
        buckets = self._keys.get(key)
        if buckets is None:
            return {}
        for slot in [s for s, b in buckets.items() if b.first + self.span <= now]:
            del buckets[slot]
        if not buckets:
            del self._keys[key]
        return buckets

    def operating(self, key: str, now: float) -> float:
        return sum(b.total for b in self._live(key, now).values())

    def reset_at(self, key: str, now: float) -> int | None:
        live = self._live(key, now)
        if not live:
            return None
        return math.ceil(min(b.first for b in live.values()) + self.span)

    def blocked(self, key: str, now: float) -> bool:
        return self.operating(key, now) > self.limit

    def add(self, key: str, seconds: float, now: float) -> None:
        if seconds < self.minimum:
            return
        self._live(key, now)
        buckets = self._keys.setdefault(key, {})
        slot = int(now // self.width)
        bucket = buckets.get(slot)
        if bucket is None:
            buckets[slot] = Bucket(now, seconds)
        else:
            bucket.total += seconds
