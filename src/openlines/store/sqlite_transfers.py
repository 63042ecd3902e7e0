"""SQLite queries the transfer lane needs beyond the core Open Lines repositories."""

from __future__ import annotations

from typing import Any

from openlines.domain.openlines import Session, Transfer
from openlines.store.base import Dialog
from openlines.store.sqlite_base import SqliteBase
from openlines.store.sqlite_openlines import BOUND_EVENTS


class SqliteTransfers(SqliteBase):
    async def open_dialog(self, chat_id: int, user_id: int = 0) -> Dialog | None:
        """See ``TransferStore.open_dialog``: in-process reads, so simply the single-purpose ones."""
        me: Any = self  # the sibling mixins of SqliteStore
        chat = await me.lock_chat(chat_id)
        if chat is None:
            return None
        session = await me.open_session_of_chat(chat.id)
        line = await me.get_line(session.line_id) if session is not None else None
        return Dialog(
            chat,
            session,
            await self.member_kinds(chat.id),
            line,
            await me.get_user(user_id) if user_id > 0 else None,
        )

    async def save_change(
        self,
        chat_id: int,
        session: Session,
        remove: list[int],
        add: list[int],
        history: Transfer | None,
        when: float,
    ) -> None:
        """See ``TransferStore.save_change``: the single-purpose writes, in order."""
        me: Any = self
        for user_id in remove:
            await me.remove_member(chat_id, user_id)
        for user_id in add:
            await me.add_member(chat_id, user_id, when)
        await me.save_session(session)
        if history is not None:
            await me.add_transfer(history)

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
