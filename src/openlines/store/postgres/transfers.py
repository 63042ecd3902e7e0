"""PostgreSQL twin of ``sqlite_transfers``: what ownership changes read in one query."""

from __future__ import annotations

from openlines.store.postgres.base import PgBase
from openlines.store.sqlite_openlines import BOUND_EVENTS


class PgTransfers(PgBase):
    async def member_kinds(self, chat_id: int) -> dict[int, str]:
        """Each member of a chat with its user kind (employee | bot | customer), in one query."""
        rows = await self.fetch(
            "SELECT m.user_id, COALESCE(u.kind, 'employee') FROM chat_members m "
            "LEFT JOIN users u ON u.id = m.user_id WHERE m.chat_id = ? ORDER BY m.user_id",
            chat_id,
        )
        return {int(r[0]): str(r[1]) for r in rows}

    async def bound_events(self) -> set[tuple[str, str]]:
        """Every ``(EVENT, app_id)`` an app has bound (see the SQLite store)."""
        return {(str(r[0]), str(r[1])) for r in await self.fetch(BOUND_EVENTS)}
