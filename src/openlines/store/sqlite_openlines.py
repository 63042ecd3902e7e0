"""SQLite repositories for Open Lines: lines, bots, chats, members, messages, sessions, transfers,
outbox and widget visitors. Columns map one to one onto the domain records' fields."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from typing import Any, TypeVar

from openlines.domain.openlines import Bot, Chat, Line, Message, OutboxEvent, Session, Transfer
from openlines.store.sqlite_base import SqliteBase

T = TypeVar("T")

_JSON_FIELDS = {"settings", "handlers", "params", "queue_history"}
_BOOL_FIELDS = {"active", "openline", "system", "deleted", "closed", "spam", "pinned", "wait_answer"}


def _columns(record: type[Any], skip: tuple[str, ...] = ()) -> list[str]:
    return [f.name for f in fields(record) if f.name not in skip]


def _to_db(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return json.dumps(value, separators=(",", ":"))
    if name in _BOOL_FIELDS:
        return int(bool(value))
    return value


def _from_row(record: type[T], names: list[str], row: tuple[Any, ...]) -> T:
    values: dict[str, Any] = {}
    for name, value in zip(names, row, strict=True):
        if name in _JSON_FIELDS:
            value = json.loads(value) if value else ({} if name != "queue_history" else [])
        elif name in _BOOL_FIELDS:
            value = bool(value)
        values[name] = value
    return record(**values)


_LINE_COLS = _columns(Line, ("queue",))
_BOT_COLS = _columns(Bot)
_CHAT_COLS = _columns(Chat)
_MESSAGE_COLS = _columns(Message)
_SESSION_COLS = _columns(Session)
_TRANSFER_COLS = _columns(Transfer)


class SqliteOpenLines(SqliteBase):
    # --- generic helpers ------------------------------------------------------------------------

    def _insert(self, table: str, names: list[str], record: Any, with_id: bool = False) -> int:
        cols = names if with_id else [n for n in names if n != "id"]
        values = [_to_db(n, getattr(record, n)) for n in cols]
        cursor = self.db.execute(
            f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values
        )
        return int(cursor.lastrowid or 0) if not with_id else int(record.id)

    def _update(self, table: str, names: list[str], record: Any) -> None:
        cols = [n for n in names if n != "id"]
        values = [_to_db(n, getattr(record, n)) for n in cols]
        self.db.execute(
            f"UPDATE {table} SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?", [*values, record.id]
        )

    def _one(
        self, record: type[T], table: str, names: list[str], where: str, args: tuple[Any, ...]
    ) -> T | None:
        row = self.db.execute(
            f"SELECT {', '.join(names)} FROM {table} WHERE {where} LIMIT 1", args
        ).fetchone()
        return None if row is None else _from_row(record, names, row)

    def _many(
        self, record: type[T], table: str, names: list[str], tail: str, args: tuple[Any, ...]
    ) -> list[T]:
        rows = self.db.execute(f"SELECT {', '.join(names)} FROM {table} {tail}", args).fetchall()
        return [_from_row(record, names, r) for r in rows]

    # --- lines and queues -------------------------------------------------------------------------

    async def save_line(self, line: Line) -> int:
        """Insert (id 0 → a new id) or replace a line and its queue."""
        async with self.atomic():
            if line.id and self.db.execute("SELECT 1 FROM lines WHERE id = ?", (line.id,)).fetchone():
                self._update("lines", _LINE_COLS, line)
            else:
                line.id = self._insert("lines", _LINE_COLS, line, with_id=bool(line.id))
            await self.set_queue(line.id, line.queue)
        return line.id

    async def set_queue(self, line_id: int, user_ids: list[int]) -> None:
        """Replace a line's queue, keeping each remaining operator's activity stamp."""
        kept = dict(
            self.db.execute("SELECT user_id, last_activity FROM line_queue WHERE line_id = ?", (line_id,))
        )
        self.db.execute("DELETE FROM line_queue WHERE line_id = ?", (line_id,))
        self.db.executemany(
            "INSERT INTO line_queue(line_id, user_id, sort, last_activity) VALUES (?,?,?,?)",
            [(line_id, uid, i * 10, kept.get(uid, 0.0)) for i, uid in enumerate(dict.fromkeys(user_ids))],
        )

    async def get_line(self, line_id: int) -> Line | None:
        line = self._one(Line, "lines", _LINE_COLS, "id = ?", (line_id,))
        if line is not None:
            line.queue = await self.queue_of(line_id)
        return line

    async def list_lines(self) -> list[Line]:
        lines = self._many(Line, "lines", _LINE_COLS, "ORDER BY id", ())
        for line in lines:
            line.queue = await self.queue_of(line.id)
        return lines

    async def delete_line(self, line_id: int) -> bool:
        return self.db.execute("DELETE FROM lines WHERE id = ?", (line_id,)).rowcount > 0

    async def queue_of(self, line_id: int) -> list[int]:
        rows = self.db.execute(
            "SELECT user_id FROM line_queue WHERE line_id = ? ORDER BY sort, user_id", (line_id,)
        )
        return [r[0] for r in rows]

    async def queue_activity(self, line_id: int) -> list[tuple[int, int, float]]:
        """(user_id, sort, last_activity) for every operator of a line's queue."""
        rows = self.db.execute(
            "SELECT user_id, sort, last_activity FROM line_queue WHERE line_id = ? ORDER BY sort, user_id",
            (line_id,),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def touch_operator(self, line_id: int, user_id: int, when: float) -> None:
        self.db.execute(
            "UPDATE line_queue SET last_activity = ? WHERE line_id = ? AND user_id = ?",
            (when, line_id, user_id),
        )

    # --- bots ---------------------------------------------------------------------------------------

    async def save_bot(self, bot: Bot) -> None:
        if self.db.execute("SELECT 1 FROM bots WHERE id = ?", (bot.id,)).fetchone():
            self._update("bots", _BOT_COLS, bot)
        else:
            self._insert("bots", _BOT_COLS, bot, with_id=True)

    async def get_bot(self, bot_id: int) -> Bot | None:
        return self._one(Bot, "bots", _BOT_COLS, "id = ?", (bot_id,))

    async def first_bot_of_app(self, app_id: str) -> Bot | None:
        return self._one(Bot, "bots", _BOT_COLS, "app_id = ? ORDER BY id", (app_id,))

    async def find_bot_by_code(self, code: str, app_id: str) -> Bot | None:
        return self._one(Bot, "bots", _BOT_COLS, "code = ? AND app_id = ?", (code, app_id))

    async def list_bots(self, app_id: str | None = None) -> list[Bot]:
        if app_id is None:
            return self._many(Bot, "bots", _BOT_COLS, "ORDER BY id", ())
        return self._many(Bot, "bots", _BOT_COLS, "WHERE app_id = ? ORDER BY id", (app_id,))

    async def delete_bot(self, bot_id: int) -> None:
        self.db.execute("DELETE FROM bots WHERE id = ?", (bot_id,))

    # --- chats and members ----------------------------------------------------------------------

    async def create_chat(self, chat: Chat) -> int:
        chat.id = self._insert("chats", _CHAT_COLS, chat)
        return chat.id

    async def save_chat(self, chat: Chat) -> None:
        self._update("chats", _CHAT_COLS, chat)

    async def get_chat(self, chat_id: int) -> Chat | None:
        return self._one(Chat, "chats", _CHAT_COLS, "id = ?", (chat_id,))

    async def lock_chat(self, chat_id: int) -> Chat | None:
        """The chat, locked for this transaction. SQLite's single writer already serialises it."""
        return await self.get_chat(chat_id)

    async def find_chat_by_entity(self, entity_type: str, entity_id: str) -> Chat | None:
        return self._one(
            Chat,
            "chats",
            _CHAT_COLS,
            "entity_type = ? AND entity_id = ? ORDER BY id",
            (entity_type, entity_id),
        )

    async def chats_by_crm(self, entity_type: str, entity_id: int) -> list[Chat]:
        return self._many(
            Chat,
            "chats",
            _CHAT_COLS,
            "WHERE crm_entity_type = ? AND crm_entity_id = ? ORDER BY id",
            (entity_type, entity_id),
        )

    async def add_member(self, chat_id: int, user_id: int, when: float, manager: bool = False) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO chat_members(chat_id, user_id, manager, date_join) VALUES (?,?,?,?)",
            (chat_id, user_id, int(manager), when),
        )
        return cursor.rowcount > 0

    async def remove_member(self, chat_id: int, user_id: int) -> bool:
        cursor = self.db.execute(
            "DELETE FROM chat_members WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)
        )
        return cursor.rowcount > 0

    async def members(self, chat_id: int) -> list[int]:
        rows = self.db.execute(
            "SELECT user_id FROM chat_members WHERE chat_id = ? ORDER BY date_join, user_id", (chat_id,)
        )
        return [r[0] for r in rows]

    async def is_member(self, chat_id: int, user_id: int) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM chat_members WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)
        )
        return row.fetchone() is not None

    async def chats_of_member(self, user_id: int) -> list[int]:
        return [
            r[0] for r in self.db.execute("SELECT chat_id FROM chat_members WHERE user_id = ?", (user_id,))
        ]

    # --- messages -----------------------------------------------------------------------------------

    async def add_message(self, message: Message) -> int:
        message.id = self._insert("messages", _MESSAGE_COLS, message)
        self.db.execute("UPDATE chats SET last_message_id = ? WHERE id = ?", (message.id, message.chat_id))
        return message.id

    async def save_message(self, message: Message) -> None:
        self._update("messages", _MESSAGE_COLS, message)

    async def get_message(self, message_id: int) -> Message | None:
        return self._one(Message, "messages", _MESSAGE_COLS, "id = ?", (message_id,))

    async def delete_message(self, message_id: int) -> None:
        self.db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    async def messages_of(
        self, chat_id: int, after_id: int = 0, before_id: int = 0, limit: int = 50, newest_first: bool = False
    ) -> list[Message]:
        where = "WHERE chat_id = ? AND id > ?"
        args: list[Any] = [chat_id, after_id]
        if before_id:
            where += " AND id < ?"
            args.append(before_id)
        order = "DESC" if newest_first else "ASC"
        return self._many(
            Message, "messages", _MESSAGE_COLS, f"{where} ORDER BY id {order} LIMIT ?", (*args, limit)
        )

    # --- sessions -----------------------------------------------------------------------------------

    async def create_session(self, session: Session) -> int:
        session.id = self._insert("sessions", _SESSION_COLS, session)
        return session.id

    async def save_session(self, session: Session) -> None:
        self._update("sessions", _SESSION_COLS, session)

    async def get_session(self, session_id: int) -> Session | None:
        return self._one(Session, "sessions", _SESSION_COLS, "id = ?", (session_id,))

    async def open_session_of_chat(self, chat_id: int) -> Session | None:
        return self._one(
            Session, "sessions", _SESSION_COLS, "chat_id = ? AND closed = 0 ORDER BY id DESC", (chat_id,)
        )

    async def last_session_of_chat(self, chat_id: int) -> Session | None:
        return self._one(Session, "sessions", _SESSION_COLS, "chat_id = ? ORDER BY id DESC", (chat_id,))

    async def open_sessions(
        self, line_id: int | None = None, operator_id: int | None = None
    ) -> list[Session]:
        where, args = "WHERE closed = 0", []
        if line_id is not None:
            where += " AND line_id = ?"
            args.append(line_id)
        if operator_id is not None:
            where += " AND operator_id = ?"
            args.append(operator_id)
        return self._many(Session, "sessions", _SESSION_COLS, f"{where} ORDER BY id", tuple(args))

    async def count_operator_load(self, operator_id: int, line_id: int, below_status: int) -> int:
        """Open sessions of an operator in a line whose status is under ``below_status`` (MAX_CHAT)."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM sessions WHERE closed = 0 AND operator_id = ? AND line_id = ? "
            "AND owner_type = 'user' AND status < ?",
            (operator_id, line_id, below_status),
        ).fetchone()
        return int(row[0])

    # --- transfer history --------------------------------------------------------------------------

    async def add_transfer(self, transfer: Transfer) -> int:
        transfer.id = self._insert("transfers", _TRANSFER_COLS, transfer)
        return transfer.id

    async def list_transfers(
        self, filters: dict[str, Any], offset: int, limit: int, count: bool
    ) -> tuple[list[Transfer], int]:
        """Filters: chat_id, session_id, user_id (as source or target), date_from, date_to."""
        where, args = ["1 = 1"], []
        for key in ("chat_id", "session_id"):
            if filters.get(key):
                where.append(f"{key} = ?")
                args.append(filters[key])
        if filters.get("user_id"):
            where.append(
                "((from_type IN ('user', 'bot') AND from_id = ?) OR (to_type = 'user' AND to_id = ?))"
            )
            args += [filters["user_id"], filters["user_id"]]
        if filters.get("date_from") is not None:
            where.append("date_create >= ?")
            args.append(filters["date_from"])
        if filters.get("date_to") is not None:
            where.append("date_create <= ?")
            args.append(filters["date_to"])
        clause = " AND ".join(where)
        rows = self._many(
            Transfer,
            "transfers",
            _TRANSFER_COLS,
            f"WHERE {clause} ORDER BY id LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        total = 0
        if count:
            total = int(self.db.execute(f"SELECT COUNT(*) FROM transfers WHERE {clause}", args).fetchone()[0])
        return rows, total

    # --- outbox -------------------------------------------------------------------------------------

    async def add_event(self, event: OutboxEvent, now: float) -> int:
        cursor = self.db.execute(
            "INSERT INTO outbox(event, target, chat_id, payload, created, due) VALUES (?,?,?,?,?,?)",
            (
                event.event,
                event.target,
                event.chat_id,
                json.dumps(event.payload, separators=(",", ":")),
                now,
                now,
            ),
        )
        return int(cursor.lastrowid or 0)

    async def pending_events(self, limit: int = 100) -> list[tuple[int, str, str, int, dict[str, Any]]]:
        rows = self.db.execute(
            "SELECT id, event, target, chat_id, payload FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    # --- widget visitors ------------------------------------------------------------------------------

    async def save_visitor(
        self, token_hash: str, line_id: int, visitor: str, customer_id: int, chat_id: int, now: float
    ) -> None:
        self.db.execute(
            "INSERT INTO visitors(token_hash, line_id, visitor, customer_id, chat_id, created) VALUES (?,?,?,?,?,?)",
            (token_hash, line_id, visitor, customer_id, chat_id, now),
        )

    async def find_visitor(self, line_id: int, visitor: str) -> tuple[str, int, int] | None:
        """(token_hash, customer_id, chat_id) of a line's visitor."""
        row = self.db.execute(
            "SELECT token_hash, customer_id, chat_id FROM visitors WHERE line_id = ? AND visitor = ?",
            (line_id, visitor),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    async def visitor_by_token(self, token_hash: str) -> tuple[int, str, int, int] | None:
        """(line_id, visitor, customer_id, chat_id) for a visitor token."""
        row = self.db.execute(
            "SELECT line_id, visitor, customer_id, chat_id FROM visitors WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3])


def is_integrity_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.IntegrityError)
