"""SQLite repositories for Open Lines: lines, bots, chats, members, messages, sessions, transfers,
outbox and widget visitors. Columns map one to one onto the domain records' fields."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

from openlines.domain.delivery import Attempt, Binding, Delivery, split_payload
from openlines.domain.openlines import Bot, Chat, Line, Message, OutboxEvent, Session, Transfer
from openlines.store.sqlite_base import SqliteBase

T = TypeVar("T")

_JSON_FIELDS = {"settings", "handlers", "params", "queue_history"}
_BOOL_FIELDS = {"active", "openline", "system", "deleted", "closed", "spam", "pinned", "wait_answer"}


def _columns(record: type[Any], skip: tuple[str, ...] = ()) -> list[str]:
    return [f.name for f in fields(record) if f.name not in skip]


class _Mapper:
    """Row <-> record conversion for one column list, worked out once (this runs on every query)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.json_at = tuple(i for i, n in enumerate(names) if n in _JSON_FIELDS)
        self.list_at = frozenset(i for i in self.json_at if names[i] == "queue_history")
        self.bool_at = tuple(i for i, n in enumerate(names) if n in _BOOL_FIELDS)

    def load(self, record: type[T], row: tuple[Any, ...]) -> T:
        values = list(row)
        for i in self.json_at:
            raw = values[i]
            values[i] = json.loads(raw) if raw else ([] if i in self.list_at else {})
        for i in self.bool_at:
            values[i] = bool(values[i])
        return record(**dict(zip(self.names, values, strict=True)))

    def dump(self, record: Any) -> list[Any]:
        values = [getattr(record, n) for n in self.names]
        for i in self.json_at:
            values[i] = json.dumps(values[i], separators=(",", ":"))
        for i in self.bool_at:
            values[i] = int(bool(values[i]))
        return values


@functools.lru_cache(maxsize=256)
def _mapper(names: tuple[str, ...]) -> _Mapper:
    return _Mapper(names)


@functools.lru_cache(maxsize=512)
def _sql(kind: str, table: str, names: tuple[str, ...], tail: str = "") -> str:
    """Statement texts, built once per shape (the column lists are long)."""
    if kind == "insert":
        return f"INSERT INTO {table}({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    if kind == "update":
        return f"UPDATE {table} SET {', '.join(c + ' = ?' for c in names)} WHERE id = ?"
    return f"SELECT {', '.join(names)} FROM {table} {tail}"


_LINE_COLS = _columns(Line, ("queue",))
_BOT_COLS = _columns(Bot)
_CHAT_COLS = _columns(Chat)
_MESSAGE_COLS = _columns(Message)
_SESSION_COLS = _columns(Session)
_TRANSFER_COLS = _columns(Transfer)
_DELIVERY_COLS = _columns(Delivery)

# The online and offline handlers a broadcast row is copied to: every app bound to the event, or only
# the row's own app when it names one (parameters: event, app_id, app_id).
BINDINGS_OF_EVENT = (
    "SELECT b.id, b.app_id, b.handler, b.offline, COALESCE(a.application_token, '') "
    "FROM event_bindings b LEFT JOIN apps a ON a.client_id = b.app_id "
    "WHERE b.event = ? AND b.kind = 'app' AND COALESCE(a.active, 1) = 1 AND (? = '' OR b.app_id = ?) "
    "ORDER BY b.id"
)
# Who has bound what: the producers' view of whether a broadcast would reach anybody.
BOUND_EVENTS = "SELECT DISTINCT event, app_id FROM event_bindings WHERE kind = 'app'"
# One delivery attempt: its log row, then the outbox row's new state (PostgreSQL runs both as one
# statement). The owner columns change only when the attempt learnt them (NULL keeps them).
ADD_ATTEMPT = (
    "INSERT INTO delivery_attempts(outbox_id, attempt, at, duration, status_code, error) VALUES (?,?,?,?,?,?)"
)
RECORD_OUTCOME = (
    "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, claimed_until = 0, "
    "delivered = CASE WHEN ? = 'delivered' THEN ? ELSE delivered END, "
    "due = CASE WHEN ? = 'pending' THEN ? ELSE due END, "
    "app_id = COALESCE(?, app_id), app_token = COALESCE(?, app_token), handler_id = COALESCE(?, handler_id) "
    "WHERE id = ?"
)


def attempt_row(attempt: Attempt) -> tuple[Any, ...]:
    return (
        attempt.delivery_id,
        attempt.number,
        attempt.at,
        attempt.duration,
        attempt.status_code,
        attempt.error[:1000],
    )


def outcome_row(attempt: Attempt) -> tuple[Any, ...]:
    app_id, app_token, handler_id = attempt.owner or (None, None, None)
    return (
        attempt.outcome,
        attempt.number,
        attempt.error[:1000],
        attempt.outcome,
        attempt.finished,
        attempt.outcome,
        attempt.due,
        app_id,
        app_token,
        handler_id,
        attempt.delivery_id,
    )


# The next retry still to come, and the broadcast rows waiting to be copied to the bound apps: each
# from an index of its own. ``{hint}``: SQLite's index hint (PostgreSQL: none).
NEXT_DUE = "SELECT MIN(due) FROM outbox{hint} WHERE status = 'pending' AND due > ?"
PENDING_BROADCASTS = (
    "SELECT id, event, chat_id, payload, created, app_id FROM outbox{hint} "
    "WHERE status = 'pending' AND target = '' ORDER BY id LIMIT ?"
)
# Every handler with pending rows, one index seek each (a loose index scan over outbox_pending_target):
# a few handlers, however long their backlogs. ``{hint}``: SQLite's index hint (PostgreSQL: none).
PENDING_TARGETS_CTE = (
    "WITH RECURSIVE t(target) AS ("
    "SELECT (SELECT MIN(target) FROM outbox{hint} WHERE status = 'pending' AND target <> '') UNION ALL "
    "SELECT (SELECT MIN(target) FROM outbox{hint} WHERE status = 'pending' AND target <> '' AND target > t.target) "
    "FROM t WHERE t.target IS NOT NULL)"
)
PENDING_TARGETS = (
    PENDING_TARGETS_CTE.format(hint=" INDEXED BY outbox_pending_target")
    + " SELECT target FROM t WHERE target IS NOT NULL"
)
# A handler's rows that can go now, oldest first: due, not claimed, and at the head of their chat's
# line (the oldest pending row of the same handler and chat), so each chat's events keep their order.
# ``{same_target}``: how ``o`` is held to one handler (a parameter here; PostgreSQL's one-statement
# claim compares with a column); ``{probe}``: the head test's table (SQLite: with its index named).
# One handler: ORDER BY target, id is id order, the index's order.
# The head test is a MIN() subquery, one index seek per row, rather than NOT EXISTS: with statistics
# taken while the queue was empty (a queue table often is), PostgreSQL ran the NOT EXISTS as a full
# scan of outbox_pending_order per row, dead entries and all.
HEAD_CONDITION = (
    "o.status = 'pending' AND o.target <> '' AND {same_target} AND o.due <= ? AND o.claimed_until <= ? "
    "AND o.id = (SELECT MIN(p.id) FROM {probe} WHERE p.status = 'pending' AND p.target = o.target "
    "AND p.chat_id = o.chat_id) ORDER BY o.target, o.id LIMIT ?"
)
# SQLite names every index: statistics from an ANALYZE run while the queue was empty otherwise make
# it walk the status index for the head test.
HEADS_OF_TARGET = "SELECT o.id FROM outbox o INDEXED BY outbox_pending_target WHERE " + HEAD_CONDITION.format(
    same_target="o.target = ?", probe="outbox p INDEXED BY outbox_pending_order"
)


class SqliteOpenLines(SqliteBase):
    on_event_added: Callable[[], None] | None = None  # delivery (issue 7): wakes the delivery worker

    # --- generic helpers ------------------------------------------------------------------------

    def _insert(self, table: str, names: list[str], record: Any, with_id: bool = False) -> int:
        cols = tuple(names if with_id else [n for n in names if n != "id"])
        cursor = self.db.execute(_sql("insert", table, cols), _mapper(cols).dump(record))
        return int(cursor.lastrowid or 0) if not with_id else int(record.id)

    def _update(self, table: str, names: list[str], record: Any) -> None:
        cols = tuple(n for n in names if n != "id")
        self.db.execute(_sql("update", table, cols), [*_mapper(cols).dump(record), record.id])

    def _one(
        self, record: type[T], table: str, names: list[str], where: str, args: tuple[Any, ...]
    ) -> T | None:
        cols = tuple(names)
        row = self.db.execute(_sql("select", table, cols, f"WHERE {where} LIMIT 1"), args).fetchone()
        return None if row is None else _mapper(cols).load(record, row)

    def _many(
        self, record: type[T], table: str, names: list[str], tail: str, args: tuple[Any, ...]
    ) -> list[T]:
        cols = tuple(names)
        mapper = _mapper(cols)
        rows = self.db.execute(_sql("select", table, cols, tail), args).fetchall()
        return [mapper.load(record, r) for r in rows]

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
            "INSERT INTO outbox(event, target, chat_id, payload, created, due, app_id) VALUES (?,?,?,?,?,?,?)",
            (
                event.event,
                event.target,
                event.chat_id,
                json.dumps(event.payload, separators=(",", ":")),
                now,
                now,
                event.app_id,
            ),
        )
        if self.on_event_added is not None:
            self.on_event_added()
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

    # --- delivery (issue 7) -------------------------------------------------------------------------

    def _delivery(self, row: tuple[Any, ...]) -> Delivery:
        values = dict(zip(_DELIVERY_COLS, row, strict=True))
        values["payload"] = json.loads(values["payload"]) if values["payload"] else {}
        return Delivery(**values)

    async def claim_due_events(
        self,
        now: float,
        lease: float,
        limit: int,
        skip: tuple[int, ...] = (),
        busy: dict[str, int] | None = None,
        per_target: int = 0,
    ) -> list[Delivery]:
        """Due pending rows that head their (target, chat) line, marked as claimed until ``now + lease``.

        A row waits while an older pending row of the same handler and chat exists (in flight or
        waiting for a retry), so events reach each handler in order per chat. ``skip`` are ids this
        process is already sending; ``busy`` counts its deliveries in flight per target, and no
        target gets more than ``per_target`` (0: no cap). One process owns a SQLite file, so the
        claim is a plain update; a PostgreSQL store does the same with ``FOR UPDATE SKIP LOCKED``.
        """
        # Each handler's rows are looked at on their own, and a handler at its cap (or failing) not at
        # all: walking every pending row in id order made a dead handler's backlog the cost of every
        # pass. Only ids and targets: payloads are read for the rows chosen.
        full = {target for target, count in (busy or {}).items() if per_target and count >= per_target}
        window = (per_target or limit) + len(skip)
        candidates: list[tuple[int, str]] = []
        for (target,) in self.db.execute(PENDING_TARGETS).fetchall():
            if target not in full:
                heads = self.db.execute(HEADS_OF_TARGET, (target, now, now, window)).fetchall()
                candidates += [(row_id, target) for (row_id,) in heads]
        candidates.sort()
        counts = dict(busy or {})
        chosen: list[int] = []
        for row_id, target in candidates:
            if len(chosen) >= limit:
                break
            if row_id in skip or (per_target and counts.get(target, 0) >= per_target):
                continue
            counts[target] = counts.get(target, 0) + 1
            chosen.append(row_id)
        claimed: list[Delivery] = []
        if chosen:
            cols = ", ".join(_DELIVERY_COLS)
            marks = ", ".join("?" * len(chosen))
            # NOT INDEXED: rowid lookups, never a scan (stale statistics once chose a scan here)
            rows = self.db.execute(
                f"SELECT {cols} FROM outbox NOT INDEXED WHERE id IN ({marks}) ORDER BY id", chosen
            )
            for row in rows.fetchall():
                delivery = self._delivery(row)
                delivery.claimed_until = now + lease
                claimed.append(delivery)
        if claimed:  # no await since the SELECT: nothing else ran in between
            async with self.atomic():
                self.db.executemany(
                    "UPDATE outbox SET claimed_until = ? WHERE id = ?", [(now + lease, d.id) for d in claimed]
                )
        return claimed

    async def next_due(self, after: float) -> float | None:
        """The earliest due time after ``after`` of a pending row (a retry still to come), or None.

        Rows already due are left out: they are claimed at once, or wait behind their chat's line or
        a free slot, and a finished delivery wakes the worker for those.
        """
        row = self.db.execute(NEXT_DUE.format(hint=" INDEXED BY outbox_pending_due"), (after,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    async def release_claims(self) -> int:
        """Forget every claim (at start: the previous process is gone, so nothing is in flight)."""
        async with self.atomic():
            cursor = self.db.execute(
                "UPDATE outbox SET claimed_until = 0 WHERE status = 'pending' AND claimed_until > 0"
            )
        return cursor.rowcount

    async def unclaim(self, claims: dict[int, float]) -> int:
        """Give back claims this process holds (``{id: claimed_until}``): each row still pending under
        that very claim becomes claimable now. A row claimed again since (another claim) is left."""
        cursor = self.db.executemany(
            "UPDATE outbox SET claimed_until = 0 WHERE id = ? AND status = 'pending' AND claimed_until = ?",
            list(claims.items()),
        )
        return cursor.rowcount

    async def record_attempt(self, attempt: Attempt) -> None:
        """The attempt's log row and the outbox row's new state (and owner, when learnt), together."""
        async with self.atomic():
            self.db.execute(ADD_ATTEMPT, attempt_row(attempt))
            self.db.execute(RECORD_OUTCOME, outcome_row(attempt))

    async def mark_delivered(self, delivery_id: int, attempts: int, now: float) -> None:
        self.db.execute(
            "UPDATE outbox SET status = 'delivered', attempts = ?, delivered = ?, claimed_until = 0, "
            "last_error = '' WHERE id = ?",
            (attempts, now, delivery_id),
        )

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        row = self.db.execute(
            f"SELECT {', '.join(_DELIVERY_COLS)} FROM outbox WHERE id = ?", (delivery_id,)
        ).fetchone()
        return None if row is None else self._delivery(row)

    async def list_deliveries(
        self, filters: dict[str, Any], offset: int, limit: int, count: bool
    ) -> tuple[list[Delivery], int]:
        """Filters: status, event (case-insensitive), target, chat_id. Newest first."""
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        if filters.get("status"):
            where.append("status = ?")
            args.append(str(filters["status"]).lower())
        if filters.get("event"):
            where.append("event = ?")
            args.append(str(filters["event"]).upper())
        if filters.get("target"):
            where.append("target = ?")
            args.append(str(filters["target"]))
        if filters.get("chat_id"):
            where.append("chat_id = ?")
            args.append(int(filters["chat_id"]))
        clause = " AND ".join(where)
        rows = self.db.execute(
            f"SELECT {', '.join(_DELIVERY_COLS)} FROM outbox WHERE {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()
        total = 0
        if count:
            total = int(self.db.execute(f"SELECT COUNT(*) FROM outbox WHERE {clause}", args).fetchone()[0])
        return [self._delivery(r) for r in rows], total

    async def replay_delivery(self, delivery_id: int, now: float) -> bool:
        """Queue a delivered or dead row again: pending, due now, attempts from zero."""
        cursor = self.db.execute(
            "UPDATE outbox SET status = 'pending', due = ?, attempts = 0, claimed_until = 0, last_error = '', "
            "delivered = 0 WHERE id = ? AND status IN ('delivered', 'dead')",
            (now, delivery_id),
        )
        return cursor.rowcount > 0

    async def expand_broadcasts(self, now: float, limit: int = 100) -> int:
        """Copy each pending broadcast row (target '') to every handler bound to its event (only the
        handlers of the row's app when it names one).

        Online bindings get an outbox row of their own (with the app's application_token and the
        binding id); offline bindings get an ``offline_events`` row. The broadcast row becomes
        'expanded'. Rows are taken in id order, so the copies keep the order of their sources.
        """
        rows = self.db.execute(
            PENDING_BROADCASTS.format(hint=" INDEXED BY outbox_pending_broadcast"), (limit,)
        ).fetchall()
        if not rows:
            return 0
        async with self.atomic():  # no await since the SELECT: the rows are still pending
            for row_id, event, chat_id, payload, created, only_app in rows:
                bindings = self.db.execute(BINDINGS_OF_EVENT, (event.upper(), only_app, only_app)).fetchall()
                for binding_id, app_id, handler, offline, token in bindings:
                    if offline:
                        data = split_payload(json.loads(payload))[0]
                        self.db.execute(
                            "INSERT INTO offline_events(app_id, event, data, message_id, created) VALUES (?,?,?,?,?)",
                            (app_id, event.upper(), json.dumps(data, separators=(",", ":")), row_id, now),
                        )
                        continue
                    self.db.execute(
                        "INSERT INTO outbox(event, target, chat_id, payload, created, due, app_token, "
                        "handler_id, origin_id, app_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (event, handler, chat_id, payload, created, now, token, binding_id, row_id, app_id),
                    )
                self.db.execute(
                    "UPDATE outbox SET status = 'expanded', delivered = ? WHERE id = ?", (now, row_id)
                )
        return len(rows)

    async def bot_owner(self, target: str, payload: dict[str, Any]) -> tuple[str, str] | None:
        """(app_id, application_token) of the bot a bot event is for: by the bot ids in its data
        (``BOT``, ``COMMAND``, ``BOT_ID``), else by a bot whose handler URL is ``target``."""
        ids: list[int] = []
        for block in ("BOT", "COMMAND"):
            value = payload.get(block)
            if isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(item, dict) and str(item.get("BOT_ID", "")).isdigit():
                        ids.append(int(item["BOT_ID"]))
                    elif str(key).isdigit() and block == "BOT":
                        ids.append(int(key))
        if str(payload.get("BOT_ID", "")).isdigit():
            ids.append(int(payload["BOT_ID"]))
        for bot_id in ids:
            row = self.db.execute(
                "SELECT app_id, application_token FROM bots WHERE id = ?", (bot_id,)
            ).fetchone()
            if row is not None:
                return str(row[0]), str(row[1])
        for app_id, token, handlers in self.db.execute(
            "SELECT app_id, application_token, handlers FROM bots ORDER BY id"
        ):
            urls = json.loads(handlers or "{}")
            if isinstance(urls, dict) and target in urls.values():
                return str(app_id), str(token)
        return None

    async def handler_binding(self, app_id: str, event: str, handler: str, now: float) -> int:
        """The id of a bot handler's binding row, made on first use (the event_handler_id)."""
        row = self.db.execute(
            "SELECT id FROM event_bindings WHERE app_id = ? AND event = ? AND handler = ? AND offline = 0 "
            "ORDER BY id LIMIT 1",
            (app_id, event.upper(), handler),
        ).fetchone()
        if row is not None:
            return int(row[0])
        cursor = self.db.execute(
            "INSERT INTO event_bindings(app_id, event, handler, auth_type, offline, kind, created) "
            "VALUES (?,?,?,0,0,'bot',?)",
            (app_id, event.upper(), handler, now),
        )
        return int(cursor.lastrowid or 0)

    async def bind_event(self, binding: Binding) -> int | None:
        """Add an app's binding; None when the same one exists already."""
        try:
            cursor = self.db.execute(
                "INSERT INTO event_bindings(app_id, event, handler, auth_type, offline, kind, created) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    binding.app_id,
                    binding.event.upper(),
                    binding.handler,
                    binding.auth_type,
                    int(binding.offline),
                    binding.kind,
                    binding.created,
                ),
            )
        except sqlite3.IntegrityError:
            return None
        binding.id = int(cursor.lastrowid or 0)
        return binding.id

    async def unbind_event(
        self, app_id: str, event: str, handler: str | None, auth_type: int | None, offline: bool
    ) -> int:
        """Remove an app's bindings of an event (all handlers when ``handler`` is None); the count."""
        where = "app_id = ? AND event = ? AND offline = ? AND kind = 'app'"
        args: list[Any] = [app_id, event.upper(), int(offline)]
        if handler is not None:
            where += " AND handler = ?"
            args.append(handler)
        if auth_type is not None:
            where += " AND auth_type = ?"
            args.append(auth_type)
        return self.db.execute(f"DELETE FROM event_bindings WHERE {where}", args).rowcount

    async def list_bindings(self, app_id: str) -> list[Binding]:
        rows = self.db.execute(
            "SELECT id, app_id, event, handler, auth_type, offline, kind, created FROM event_bindings "
            "WHERE app_id = ? ORDER BY id",
            (app_id,),
        ).fetchall()
        return [Binding(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7]) for r in rows]

    async def offline_events(
        self,
        app_id: str,
        limit: int,
        with_errors: bool = False,
        process_id: str | None = None,
        everything: bool = False,
    ) -> list[dict[str, Any]]:
        """Queued offline events of an app, oldest first: those reserved under ``process_id``, else
        those no process has reserved (``everything``: all of them, for event.offline.list)."""
        where = "app_id = ?"
        args: list[Any] = [app_id]
        if process_id is not None:
            where += " AND process_id = ?"
            args.append(process_id)
        elif not everything:
            where += " AND process_id = ''"
        if not with_errors:
            where += " AND error = 0"
        rows = self.db.execute(
            "SELECT id, event, data, additional, message_id, created, process_id, error FROM offline_events "
            f"WHERE {where} ORDER BY id LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [
            {
                "ID": r[0],
                "EVENT_NAME": r[1],
                "EVENT_DATA": json.loads(r[2]),
                "EVENT_ADDITIONAL": json.loads(r[3]),
                "MESSAGE_ID": r[4],
                "CREATED": r[5],
                "PROCESS_ID": r[6],
                "ERROR": r[7],
            }
            for r in rows
        ]

    async def reserve_offline_events(self, ids: list[int], process_id: str) -> None:
        self.db.executemany(
            "UPDATE offline_events SET process_id = ? WHERE id = ?", [(process_id, i) for i in ids]
        )

    async def clear_offline_events(self, app_id: str, ids: list[int] | None, process_id: str | None) -> int:
        """Delete an app's offline events: by id, by reserving process, or both."""
        where = "app_id = ?"
        args: list[Any] = [app_id]
        if process_id is not None:
            where += " AND process_id = ?"
            args.append(process_id)
        if ids is not None:
            if not ids:
                return 0
            where += f" AND id IN ({', '.join('?' * len(ids))})"
            args += ids
        return self.db.execute(f"DELETE FROM offline_events WHERE {where}", args).rowcount

    async def delivery_attempts(self, outbox_id: int) -> list[dict[str, Any]]:
        """Every attempt of one delivery, oldest first."""
        rows = self.db.execute(
            "SELECT attempt, at, duration, status_code, error FROM delivery_attempts "
            "WHERE outbox_id = ? ORDER BY id",
            (outbox_id,),
        ).fetchall()
        return [
            {"ATTEMPT": r[0], "AT": r[1], "DURATION": r[2], "STATUS_CODE": r[3], "ERROR": r[4]} for r in rows
        ]

    async def purge_deliveries(self, before: float, limit: int = 1000) -> int:
        """Delete delivered and expanded rows created before ``before`` (dead letters stay)."""
        ids = [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM outbox WHERE status IN ('delivered', 'expanded') AND created < ? LIMIT ?",
                (before, limit),
            )
        ]
        if not ids:
            return 0
        marks = ", ".join("?" * len(ids))
        async with self.atomic():
            self.db.execute(f"DELETE FROM delivery_attempts WHERE outbox_id IN ({marks})", ids)
            self.db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)
        return len(ids)


def is_integrity_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.IntegrityError)
