"""What workers on one PostgreSQL database share while a bot is tested: fault rules and request-rate
buckets. (A SQLite server is one process and keeps both in memory.)"""

from __future__ import annotations

from openlines.store.postgres.base import PgBase

# One leaky bucket step in one statement: drain the stored level by the time since it was measured,
# then add the request if it fits under the burst (a refused request is not added). Parameters: key,
# now, drain per second, burst.
TAKE = """
INSERT INTO rate_buckets AS b (key, level, at, accepted) VALUES ($1, 1, $2, 1 <= $4)
ON CONFLICT (key) DO UPDATE SET
    level = GREATEST(0, b.level - GREATEST(0, $2 - b.at) * $3)
        + CASE WHEN GREATEST(0, b.level - GREATEST(0, $2 - b.at) * $3) + 1 <= $4 THEN 1 ELSE 0 END,
    at = GREATEST(b.at, $2),
    accepted = GREATEST(0, b.level - GREATEST(0, $2 - b.at) * $3) + 1 <= $4
RETURNING accepted
"""  # $-numbered: each parameter is used several times


FAULTS_VERSION = "faults_version"  # meta: bumped by every change of the rules but a spent COUNT
BUMP = (
    "INSERT INTO meta(key, value) VALUES (?, '1') "
    "ON CONFLICT(key) DO UPDATE SET value = (meta.value::bigint + 1)::text"
)


class PgShared(PgBase):
    # --- fault rules --------------------------------------------------------------------------------

    async def add_fault(self, spec: str, remaining: int | None) -> int:
        async with self.atomic():
            made = await self.fetchval(
                "INSERT INTO faults(spec, remaining) VALUES (?, ?) RETURNING id", spec, remaining
            )
            await self.execute(BUMP, FAULTS_VERSION)
        return int(made)

    async def faults_version(self) -> int:
        """How many times the rules were changed (added or deleted)."""
        value = await self.fetchval("SELECT value FROM meta WHERE key = ?", FAULTS_VERSION)
        return int(value or 0)

    async def test_state(self, clock_key: str) -> tuple[str | None, int]:
        """The stored fake time and the rules' version, in one round trip (read before each request)."""
        rows = await self.fetch("SELECT key, value FROM meta WHERE key IN (?, ?)", clock_key, FAULTS_VERSION)
        found = {str(r[0]): str(r[1]) for r in rows}
        return found.get(clock_key), int(found.get(FAULTS_VERSION) or 0)

    async def list_faults(self) -> list[tuple[int, str, int | None, int]]:
        """Every armed rule: ``(id, spec, remaining, hits)`` in the order they were added."""
        rows = await self.fetch("SELECT id, spec, remaining, hits FROM faults ORDER BY id")
        return [(int(r[0]), str(r[1]), None if r[2] is None else int(r[2]), int(r[3])) for r in rows]

    async def hit_fault(self, fault_id: int) -> tuple[int | None, int] | None:
        """Count one hit of a rule, atomically across workers: ``(remaining, hits)`` after it, or
        None when the rule is gone or spent (another worker took its last hit). A spent rule goes."""
        async with self.atomic():
            row = await self.fetchrow(
                "UPDATE faults SET hits = hits + 1, remaining = remaining - 1 "
                "WHERE id = ? AND (remaining IS NULL OR remaining > 0) RETURNING remaining, hits",
                fault_id,
            )
            if row is None:
                return None
            remaining = None if row[0] is None else int(row[0])
            if remaining == 0:
                await self.execute("DELETE FROM faults WHERE id = ?", fault_id)
            return remaining, int(row[1])

    async def delete_faults(self, fault_id: int | None = None, target: str | None = None) -> int:
        """Remove rules: one by id, those of a target, or all; how many went."""
        where, args = "TRUE", list[object]()
        if fault_id is not None:
            where, args = "id = ?", [fault_id]
        elif target is not None:
            where, args = "spec::jsonb ->> 'target' = ?", [target]
        async with self.atomic():
            await self.execute(BUMP, FAULTS_VERSION)
            return await self.execute(f"DELETE FROM faults WHERE {where}", *args)

    # --- request rate --------------------------------------------------------------------------------

    async def take_rate(self, key: str, now: float, drain: float, burst: float) -> bool:
        """Count one request in ``key``'s bucket; False when the bucket is full (refused, not added)."""
        return bool(await self.fetchval(TAKE, key, now, drain, burst))

    async def purge_rate(self, now: float, drain: float) -> int:
        """Forget buckets that have drained empty by ``now``."""
        return await self.execute(
            "DELETE FROM rate_buckets WHERE level - GREATEST(0, ? - at) * ? <= 0", now, drain
        )
