"""SQLite queries the transfer lane needs beyond the core Open Lines repositories."""

from __future__ import annotations

from openlines.store.sqlite_base import SqliteBase
from openlines.store.sqlite_openlines import EVENT_IS_BOUND


class SqliteTransfers(SqliteBase):
    async def member_kinds(self, chat_id: int) -> dict[int, str]:
        """Each member of a chat with its user kind (employee | bot | customer), in one query."""
        rows = self.db.execute(
            "SELECT m.user_id, COALESCE(u.kind, 'employee') FROM chat_members m "
            "LEFT JOIN users u ON u.id = m.user_id WHERE m.chat_id = ? ORDER BY m.user_id",
            (chat_id,),
        )
        return {int(r[0]): str(r[1]) for r in rows}

    async def event_is_bound(self, event: str, app_id: str = "") -> bool:
        """Whether any app (or ``app_id``) has bound ``event`` (event.bind): a broadcast nobody
        receives is not written."""
        row = self.db.execute(EVENT_IS_BOUND, (event.upper(), app_id, app_id)).fetchone()
        return row is not None
