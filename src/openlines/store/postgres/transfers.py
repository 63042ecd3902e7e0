"""PostgreSQL twin of ``sqlite_transfers``: what ownership changes read in one query."""

from __future__ import annotations

from typing import Any

from openlines.domain.openlines import Chat, Line, Session, Transfer
from openlines.store.base import Dialog, LockConflict
from openlines.store.postgres.base import PgBase
from openlines.store.sqlite_openlines import (
    _CHAT_COLS,
    _LINE_COLS,
    _SESSION_COLS,
    _TRANSFER_COLS,
    BOUND_EVENTS,
    _mapper,
    _sql,
)
from openlines.store.sqlite_platform import _USER_COLUMNS, _user

_USER_COLS = tuple(_USER_COLUMNS.split(", "))
_SESSION_SET = tuple(c for c in _SESSION_COLS if c != "id")
_TRANSFER_SET = tuple(c for c in _TRANSFER_COLS if c != "id")
#: An ownership change's writes in one statement (``save_change``): every part is a data-modifying
#: CTE, run whether or not the rest reads it, in one snapshot (they touch different rows).
_CHANGE = (
    "WITH gone AS (DELETE FROM chat_members WHERE chat_id = ? AND user_id = ANY(?::bigint[])), "
    "joined AS (INSERT INTO chat_members(chat_id, user_id, manager, date_join) "
    "SELECT ?, u, 0, ? FROM unnest(?::bigint[]) u ON CONFLICT DO NOTHING), "
    f"saved AS ({_sql('update', 'sessions', _SESSION_SET)}) "
)
_CHANGE_WITH_HISTORY = _CHANGE + _sql("insert", "transfers", _TRANSFER_SET) + " RETURNING id"
_CHANGE_ONLY = _CHANGE + "SELECT 0"


class PgTransfers(PgBase):
    async def save_change(
        self,
        chat_id: int,
        session: Session,
        remove: list[int],
        add: list[int],
        history: Transfer | None,
        when: float,
    ) -> None:
        """See ``TransferStore.save_change``: one round trip instead of one per row."""
        if set(remove) & set(add):  # one statement cannot delete and re-insert the same row
            for user_id in remove:
                await self.execute(
                    "DELETE FROM chat_members WHERE chat_id = ? AND user_id = ?", chat_id, user_id
                )
            remove = []
        args = [chat_id, remove, chat_id, when, add, *_mapper(_SESSION_SET).dump(session), session.id]
        if history is None:
            await self.fetchval(_CHANGE_ONLY, *args)
            return
        history.id = int(
            await self.fetchval(_CHANGE_WITH_HISTORY, *args, *_mapper(_TRANSFER_SET).dump(history))
        )

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

    async def open_dialog(self, chat_id: int, user_id: int = 0) -> Dialog | None:
        """See ``TransferStore.open_dialog``: one call of ``openlines_open_dialog`` (``base.py``)."""
        row = await self.fetchrow(
            "SELECT state, c, s, member_ids, member_kinds, l, queue, u FROM openlines_open_dialog(?, ?)",
            chat_id,
            user_id,
        )
        assert row is not None
        if row[0] < 0:
            raise LockConflict(f"chat {chat_id} is being changed by another request")
        if row[0] == 0:
            return None
        chat = _load(Chat, _CHAT_COLS, row[1])
        assert chat is not None
        line = _load(Line, _LINE_COLS, row[5])
        if line is not None:
            line.queue = list(row[6] or ())
        user = row[7]
        return Dialog(
            chat,
            _load(Session, _SESSION_COLS, row[2]),
            dict(zip(row[3] or (), row[4] or (), strict=True)),
            line,
            None if user is None or user["id"] is None else _user(tuple(user[c] for c in _USER_COLS)),
        )


def _load(record: type[Any], names: list[str], composite: Any) -> Any:
    """A record from a composite (whole-row) value, None for an absent row (all columns NULL)."""
    if composite is None or composite["id"] is None:
        return None
    cols = tuple(names)
    return _mapper(cols).load(record, tuple(composite[c] for c in cols))
