"""The request-rate limit of the cloud: a leaky bucket per key (spec 1.10).

Each accepted request adds 1; the level drains at ``drain`` per second of the server clock; a request
that finds the bucket holding ``burst`` or more is refused and not added (UNCONFIRMED: the cloud's
exact edge and whether a refused request counts are not documented).
"""

from __future__ import annotations


class LeakyBuckets:
    def __init__(self, drain: float, burst: float) -> None:
        self.drain = drain
        self.burst = burst
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (level, when it was measured)

    def level(self, key: str, now: float) -> float:
        level, when = self._levels.get(key, (0.0, now))
        return max(0.0, level - max(0.0, now - when) * self.drain)

    def take(self, key: str, now: float) -> bool:
        """Count one request; False when the bucket is full (the request must be refused)."""
        level = self.level(key, now)
        if level + 1 > self.burst:
            self._levels[key] = (level, now)
            return False
        self._levels[key] = (level + 1, now)
        if len(self._levels) > 10_000:
            self._forget_empty(now)
        return True

    async def admit(self, key: str, now: float) -> bool:
        """:meth:`take` behind the interface the shared buckets offer (:mod:`openlines.limits.shared`)."""
        return self.take(key, now)

    def _forget_empty(self, now: float) -> None:
        for key in [k for k in self._levels if self.level(k, now) == 0.0]:
            del self._levels[key]
