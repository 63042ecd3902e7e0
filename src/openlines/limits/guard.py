"""The limits a REST call passes: request rate (per HTTP request, so a batch counts once) and method
operating time (per method and webhook/app; the batch itself is not counted, each sub-call is).

``protocol/rest.py`` calls :meth:`Limits.before_call` / :meth:`Limits.after_call` around a direct call;
``methods/invoke.py`` calls :meth:`Limits.check_sub_call` / :meth:`Limits.record_sub_call` around each
batch sub-call. The rate buckets are in memory on SQLite, and shared by all workers on PostgreSQL
(or in Redis with ``--redis``, see :mod:`openlines.limits.shared`); the operating-time meter is kept
per process.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from openlines.auth.caller import Caller
from openlines.clock import Clock
from openlines.limits import injected
from openlines.limits.operating import OperatingMeter
from openlines.limits.rate import LeakyBuckets
from openlines.limits.settings import LimitsConfig
from openlines.methods.registry import Method
from openlines.protocol import errors
from openlines.protocol.envelope import Timing
from openlines.protocol.request import header

METERED_AUTH = frozenset({"oauth", "apauth"})  # session calls are not metered (behaviour 3.4)
NOT_METERED = "batch"
# openlines' own methods (clock, faults, audit) are the test's control panel: never limited, so a test
# can always move the clock or clear its faults, even with the bucket full.
OWN_PREFIX = "openlines."


class Buckets(Protocol):
    drain: float
    burst: float

    async def admit(self, key: str, now: float) -> bool: ...


class Limits:
    def __init__(self, config: LimitsConfig, clock: Clock, trust_forwarded: bool = False) -> None:
        self.config = config
        self.clock = clock
        self.trust_forwarded = trust_forwarded  # behind the user's own proxy: count the real client
        drain, burst = config.value("rate_drain"), config.value("rate_burst")
        self.rate: Buckets | None = (
            LeakyBuckets(drain, burst) if config.rate_on and drain is not None and burst else None
        )
        limit = config.value("operating_limit")
        self.meter = (
            OperatingMeter(limit, config.operating_min, config.operating_bucket, config.operating_buckets)
            if limit
            else None
        )

    # --- keys --------------------------------------------------------------------------------------

    def rate_key(self, caller: Caller, scope: dict[str, Any]) -> str:
        if self.config.rate_key == "client" and caller.auth_type in METERED_AUTH:
            return caller.limiter_key
        forwarded = header(scope, b"x-forwarded-for") if self.trust_forwarded else None
        if forwarded:
            return f"ip:{forwarded.split(',')[0].strip()}"
        client = scope.get("client")
        return f"ip:{client[0] if client else '-'}"

    def operating_key(self, method: Method, caller: Caller) -> str | None:
        if self.meter is None or caller.auth_type not in METERED_AUTH or method.name == NOT_METERED:
            return None
        if method.name.startswith(OWN_PREFIX):
            return None
        return f"{caller.auth_type}:{caller.limiter_key}:{method.name}"

    # --- a direct call -----------------------------------------------------------------------------

    async def before_call(self, method: Method, caller: Caller, scope: dict[str, Any]) -> None:
        injected.take()
        if method.name.startswith(OWN_PREFIX):
            return
        if self.rate is not None:
            # Wall time, not monotonic: buckets shared by workers on several machines need one clock.
            drained_at = time.time() if self.config.rate_clock == "real" else self.clock.now()
            if not await self.rate.admit(self.rate_key(caller, scope), drained_at):
                raise errors.query_limit_exceeded()
        self.check_sub_call(method, caller)

    async def after_call(self, method: Method, caller: Caller, elapsed: float, timing: Timing) -> None:
        key = self.operating_key(method, caller)
        extra = injected.take()
        if key is None or self.meter is None:
            return
        now = self.clock.now()
        self.meter.add(key, elapsed + extra, now)
        timing.operating = self.meter.operating(key, now)
        timing.operating_reset_at = self.meter.reset_at(key, now)

    # --- a batch sub-call --------------------------------------------------------------------------

    def check_sub_call(self, method: Method, caller: Caller) -> None:
        key = self.operating_key(method, caller)
        if key is not None and self.meter is not None and self.meter.blocked(key, self.clock.now()):
            raise errors.operation_time_limit()

    def record_sub_call(self, method: Method, caller: Caller, seconds: float) -> None:
        key = self.operating_key(method, caller)
        if key is not None and self.meter is not None:
            self.meter.add(key, seconds, self.clock.now())
