"""Fault rules shared by every worker on one PostgreSQL database.

The rules live in the ``faults`` table. Each worker keeps a copy to match calls against (a call with no
rule armed costs no query of its own) and reads it again whenever any worker changes the rules
(``NOTIFY openlines 'faults:'``, see :mod:`openlines.store.postgres.listener`). A notice can arrive a
moment after a request that follows the change, so with the fake clock, whose time every request
reads first, the same query reads the rules' version (:meth:`SharedFaults.seen`): a copy older than
that is read again before the request is matched, and a rule added through one worker applies to
the next request on any worker. When a rule matches, its hit is
counted in the database first: a ``COUNT=3`` rule fires three times in all, whichever workers the calls
reach, and a worker whose copy is a moment behind finds the rule spent and lets the call through.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable
from typing import Any

from openlines.faults.book import Fault, FaultBook
from openlines.store.postgres.listener import notify

KIND = "faults"  # the notification kind
_STORED = [f.name for f in dataclasses.fields(Fault) if f.name not in ("id", "hits", "count")]


def spec(fault: Fault) -> str:
    return json.dumps({name: getattr(fault, name) for name in _STORED})


def _fault(fault_id: int, spec: str, remaining: int | None, hits: int) -> Fault:
    fields: dict[str, Any] = json.loads(spec)
    return Fault(id=fault_id, count=remaining, hits=hits, **fields)


class SharedFaults(FaultBook):
    """A :class:`FaultBook` whose rules are kept in PostgreSQL (``store`` is the PostgreSQL store)."""

    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store
        self._reading: asyncio.Future[None] | None = None
        self.loaded = -1  # the rules' version this copy holds (at least)
        self.wanted = 0  # the newest version a request has seen

    def seen(self, version: int) -> None:
        """A request read the rules' version before being served."""
        self.wanted = max(self.wanted, version)

    async def reload(self) -> None:
        """Read the rules again (the version first: the rules read after it are at least as new)."""
        version = await self.store.faults_version()
        rules = [_fault(*row) for row in await self.store.list_faults()]
        if version >= self.loaded:  # a slower, older read never replaces a newer one
            self.faults, self.loaded = rules, version

    def changed(self, _value: str | None) -> Awaitable[None]:
        """The listener callback: a worker changed the rules. Calls that arrive while they are read
        wait for them (a call sent just after ``fault.add`` answered must see the new rule)."""
        self._reading = asyncio.ensure_future(self.reload())
        return self._reading

    async def arm(self, fault: Fault) -> Fault:
        async with self.store.atomic():
            fault.id = await self.store.add_fault(spec(fault), fault.count)
            await notify(self.store, KIND)
        await self.reload()
        return fault

    async def take(self, target: str, name: str, url: str = "") -> Fault | None:
        if self._reading is not None and not self._reading.done():
            await self._reading
        if self.wanted > self.loaded:
            await self.reload()
        for fault in list(self.faults):
            if not fault.matches(target, name, url):
                continue
            if fault.probability is not None and self.rng.random() >= fault.probability:
                continue
            async with self.store.atomic():
                counted = await self.store.hit_fault(fault.id)
                if counted is not None and counted[0] == 0:
                    await notify(self.store, KIND)  # spent: every worker drops it
            if counted is None:  # spent or cleared by another worker a moment ago
                self.faults = [f for f in self.faults if f.id != fault.id]
                continue
            fault.count, fault.hits = counted
            if fault.count == 0:
                self.faults = [f for f in self.faults if f.id != fault.id]
            return fault
        return None

    async def disarm(self, fault_id: int | None = None, target: str | None = None) -> int:
        async with self.store.atomic():
            removed = int(await self.store.delete_faults(fault_id, target))
            await notify(self.store, KIND)
        await self.reload()
        return removed

    async def armed(self) -> list[Fault]:
        await self.reload()  # the hits of every worker, not only this one's
        return list(self.faults)
