"""SQLite queries the transfer lane needs beyond the core Open Lines repositories."""

from __future__ import annotations

from openlines.store.sqlite_base import SqliteBase


class SqliteTransfers(SqliteBase):
    async def member_kinds(self, chat_id: int) -> dict[int, str]:
        """Each member of a chat with its user kind (employee | bot | customer), in one query."""
        rows = self.db.execute(
            "SELECT m.user_id, COALESCE(u.kind, 'employee') FROM chat_members m "
            "LEFT JOIN users u ON u.id = m.user_id WHERE m.chat_id = ? ORDER BY m.user_id",
            (chat_id,),
        )
        return {int(r[0]): str(r[1]) for r in rows}
