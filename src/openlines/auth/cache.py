"""A short-lived memory of resolved credentials, so a busy caller costs no database reads.

Entries live ``TTL`` seconds of monotonic time (not the server clock: a fake clock must not keep a
revoked webhook alive). A change made in another process (``openlines webhook create``, a restart
with another config) is seen within that time. Expiry of OAuth tokens is still checked against the
server clock on every call.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

T = TypeVar("T")

TTL = 2.0
MAX_ENTRIES = 4096


class TtlCache(Generic[T]):
    def __init__(self, ttl: float = TTL, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, value: T) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare; cheaper and simpler than an LRU for a 2-second cache
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()
