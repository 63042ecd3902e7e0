"""The faults a test asked for, and the choice of which one hits a call or a delivery.

A fault matches a REST method (``TARGET=rest``) or an event name (``TARGET=delivery``), or every one
(``*``). It fires ``COUNT`` times, or on each match with ``PROBABILITY``. On SQLite the book lives in
memory (one server process) and is created by the first ``openlines.fault.add``, so a server without
faults pays a single dictionary lookup per call; workers sharing PostgreSQL share their rules
(:mod:`openlines.faults.shared`). Both offer the async ``arm`` / ``take`` / ``disarm`` / ``armed``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

REST = "rest"
DELIVERY = "delivery"
TARGETS = (REST, DELIVERY)
EXEMPT_PREFIX = "openlines.fault."  # '*' never locks the test out of clearing its faults


@dataclass
class Fault:
    id: int
    target: str
    method: str  # lower-cased method or event name, or '*'
    error: str = ""
    status: int | None = None
    delay: float = 0.0
    sleep: bool = False  # sleep in real time even on a fake clock (to trip a client's HTTP timeout)
    description: str = ""
    count: int | None = None  # remaining hits; None with a probability
    probability: float | None = None
    handler: str = ""  # delivery faults: only deliveries to URLs starting with this
    hits: int = 0
    created: float = 0.0

    def matches(self, target: str, name: str, url: str = "") -> bool:
        if self.target != target:
            return False
        if self.method == "*":
            if name.startswith(EXEMPT_PREFIX):
                return False
        elif self.method != name.lower():
            return False
        return not self.handler or url.startswith(self.handler)

    def summary(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "TARGET": self.target,
            "METHOD": self.method,
            "ERROR": self.error,
            "STATUS": self.status,
            "DELAY": self.delay,
            "SLEEP": self.sleep,
            "DESCRIPTION": self.description,
            "COUNT": self.count,
            "PROBABILITY": self.probability,
            "HANDLER": self.handler,
            "HITS": self.hits,
        }


@dataclass
class FaultBook:
    faults: list[Fault] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    last_id: int = 0

    def add(self, fault: Fault) -> Fault:
        self.last_id += 1
        fault.id = self.last_id
        self.faults.append(fault)
        return fault

    def pick(self, target: str, name: str, url: str = "") -> Fault | None:
        """The first fault that fires for this call or delivery; a spent counted fault is removed."""
        for fault in self.faults:
            if not fault.matches(target, name, url):
                continue
            if fault.probability is not None and self.rng.random() >= fault.probability:
                continue
            fault.hits += 1
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    # The interface the REST methods and the call paths use (the shared book does I/O behind it).

    async def arm(self, fault: Fault) -> Fault:
        return self.add(fault)

    async def take(self, target: str, name: str, url: str = "") -> Fault | None:
        return self.pick(target, name, url)

    async def disarm(self, fault_id: int | None = None, target: str | None = None) -> int:
        return self.clear(fault_id, target)

    async def armed(self) -> list[Fault]:
        return list(self.faults)

    def clear(self, fault_id: int | None = None, target: str | None = None) -> int:
        keep = [
            f
            for f in self.faults
            if (fault_id is not None and f.id != fault_id) or (target is not None and f.target != target)
        ]
        removed = len(self.faults) - len(keep)
        self.faults = keep
        return removed
