"""The request-rate buckets of ``[limits]`` shared by every worker: in PostgreSQL, or in Redis when the
server is given ``--redis redis://…``. Same rule as :class:`~openlines.limits.rate.LeakyBuckets`
(drain per second, refuse without adding when the next request would pass the burst), one round trip
per counted request. A SQLite server is one process and keeps its buckets in memory.
"""

from __future__ import annotations

import time
from typing import Any

from openlines.store.base import StoreUnavailable

PURGE_EVERY = 60.0  # seconds between two sweeps of drained buckets (PostgreSQL)

# KEYS[1] the bucket; ARGV now, drain, burst. Answers 1 when the request is admitted.
TAKE_SCRIPT = """
local stored = redis.call('HMGET', KEYS[1], 'level', 'at')
local now, drain, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local level = tonumber(stored[1]) or 0
local at = tonumber(stored[2]) or now
level = math.max(0, level - math.max(0, now - at) * drain)
local admitted = 0
if level + 1 <= burst then
  level = level + 1
  admitted = 1
end
-- %.17g: tostring() keeps 14 digits, which rounds a unix time to 1e-4 s and breaks the drain
redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'at', string.format('%.17g', math.max(at, now)))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / drain) + 60)
return admitted
"""


class PostgresBuckets:
    def __init__(self, store: Any, drain: float, burst: float) -> None:
        self.store, self.drain, self.burst = store, drain, burst
        self._next_purge = 0.0

    async def admit(self, key: str, now: float) -> bool:
        admitted = bool(await self.store.take_rate(key, now, self.drain, self.burst))
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_EVERY
            await self.store.purge_rate(now, self.drain)
        return admitted


class RedisBuckets:
    """Buckets in Redis hashes named ``<prefix><key>``; they expire once long drained."""

    def __init__(self, url: str, drain: float, burst: float, prefix: str = "openlines:rate:") -> None:
        import redis.asyncio as aioredis  # an optional dependency (the "redis" extra)

        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        self.script = self.client.register_script(TAKE_SCRIPT)
        self.drain, self.burst, self.prefix = drain, burst, prefix

    async def admit(self, key: str, now: float) -> bool:
        import redis.exceptions

        try:
            answer = await self.script(keys=[self.prefix + key], args=[now, self.drain, self.burst])
        except redis.exceptions.RedisError as exc:  # down, or refusing (auth, read-only, out of memory)
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return int(answer) == 1

    async def close(self) -> None:
        await self.client.aclose()
