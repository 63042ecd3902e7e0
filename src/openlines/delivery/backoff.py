"""When to try a failed delivery again: exponential backoff with jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass

from openlines.config import DeliveryConfig


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 7  # tries after the first: 8 attempts in all
    first_retry: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.2

    @classmethod
    def from_config(cls, config: DeliveryConfig) -> RetryPolicy:
        return cls(config.retries, config.first_retry, config.max_delay, config.jitter)

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def gives_up(self, attempts: int) -> bool:
        """After ``attempts`` failed tries, is the event a dead letter?"""
        return attempts >= self.attempts

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the ``attempts``-th failed try (1, 2, 4 … capped, times jitter)."""
        base: float = min(self.first_retry * (2 ** min(max(attempts - 1, 0), 60)), self.max_delay)
        if self.jitter:
            base *= rng.uniform(1 - self.jitter, 1 + self.jitter)
        return min(base, self.max_delay) if self.max_delay else base
