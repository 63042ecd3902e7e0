"""SQLite queries the transfer lane needs beyond the core Open Lines repositories."""

from __future__ import annotations

from openlines.store.sqlite_base import SqliteBase
from openlines.store.sqlite_openlines import BOUND_EVENTS


class SqliteTransfers(SqliteBase):
    async def member_kinds(self, chat_id: int) -> dict[int, str]:
        """Each member of a chat with its user kind (employee | bot | customer), in one query."""
        rows = self.db.execute(
            "SELECT m.user_id, COALESCE(u.kind, 'employee') FROM chat_members m "
            "LEFT JOIN users u ON u.id = m.user_id WHERE m.chat_id = ? ORDER BY m.user_id",
            (chat_id,),
        )
        return {int(r[0]): str(r[1]) for r in rows}

    async def bound_events(self) -> set[tuple[str, str]]:
        """Every ``(EVENT, app_id)`` an app has bound (event.bind, online or offline)."""
        return {(str(r[0]), str(r[1])) for r in self.db.execute(BOUND_EVENTS)}
