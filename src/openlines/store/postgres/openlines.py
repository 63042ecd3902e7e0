"""PostgreSQL repositories for Open Lines (see ``sqlite_openlines``: the same tables and SQL).

Where the backends differ it is for several processes: ``lock_chat`` takes the chat row with
``FOR UPDATE`` (a row another transaction holds is a :class:`LockConflict`), outbox claims use
``FOR UPDATE SKIP LOCKED`` with a lease that expires, and an operator's capacity check holds a
transaction-scoped advisory lock so two workers cannot both fill the last slot.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from openlines.domain.delivery import Attempt, Binding, Delivery, split_payload
from openlines.domain.openlines import Bot, Chat, Line, Message, OutboxEvent, Session, Transfer
from openlines.store.base import LockConflict
from openlines.store.postgres.base import EXPAND_LOCK, OPERATOR_LOCK, PgBase
from openlines.store.sqlite_openlines import (
    _BOT_COLS,
    _CHAT_COLS,
    _DELIVERY_COLS,
    _LINE_COLS,
    _MESSAGE_COLS,
    _SESSION_COLS,
    _TRANSFER_COLS,
    ADD_ATTEMPT,
    BINDINGS_OF_EVENT,
    HEAD_CONDITION,
    NEXT_DUE,
    PENDING_BROADCASTS,
    PENDING_TARGETS_CTE,
    RECORD_OUTCOME,
    _mapper,
    _sql,
    attempt_row,
    outcome_row,
)

T = TypeVar("T")

#: The SQLite claim in one statement: the handlers with pending rows (the same loose index scan),
#: those at their cap left out (``<> ALL``), and each other handler's heads locked with ``SKIP
#: LOCKED`` in a LATERAL subquery, so a row another worker is claiming is passed over and a full
#: handler's backlog is never read.
CLAIM_HEADS = (
    PENDING_TARGETS_CTE.format(hint="")
    + " SELECT h.* FROM t CROSS JOIN LATERAL (SELECT "
    + ", ".join("o." + c for c in _DELIVERY_COLS)
    + " FROM outbox o WHERE "
    # A range, not ``=``: with ``o.target = t.target`` the planner drops target from the ORDER BY and
    # walks the primary key in id order, through every other handler's backlog; the range keeps
    # (target, id) as the order, which only outbox_pending_target gives.
    + HEAD_CONDITION.format(same_target="o.target >= t.target AND o.target <= t.target", probe="outbox p")
    + " FOR UPDATE OF o SKIP LOCKED) h WHERE t.target IS NOT NULL AND t.target <> ALL(?::text[]) ORDER BY h.id"
)

#: A delivery attempt's log row and its outcome, in one statement.
RECORD_ATTEMPT = f"WITH logged AS ({ADD_ATTEMPT}) {RECORD_OUTCOME}"

#: Whether any broadcast row waits (outbox_pending_broadcast), before a pass opens a transaction.
ANY_BROADCAST = "SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'pending' AND target = '')"

#: Tables whose rows may be inserted with an explicit id (from configuration): their sequence is
#: moved past the largest id afterwards so generated ids continue above it.
_SEQUENCED = {"lines"}


class PgOpenLines(PgBase):
    on_event_added: Callable[[], None] | None = None  # delivery (issue 7): wakes the delivery worker

    # --- generic helpers ------------------------------------------------------------------------

    async def _insert(self, table: str, names: list[str], record: Any, with_id: bool = False) -> int:
        cols = tuple(names if with_id else [n for n in names if n != "id"])
        values = _mapper(cols).dump(record)
        conflict = " ON CONFLICT (id) DO NOTHING" if with_id else ""
        new_id = await self.fetchval(
            f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}){conflict} RETURNING id",
            *values,
        )
        if new_id is None:  # another worker inserted the same explicit id first: ours is an update
            await self._update(table, names, record)
            return int(record.id)
        if with_id and table in _SEQUENCED:
            await self.fetchval(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"GREATEST((SELECT MAX(id) FROM {table}), 1))"
            )
        return int(new_id)

    async def _update(self, table: str, names: list[str], record: Any) -> None:
        cols = tuple(n for n in names if n != "id")
        await self.execute(_sql("update", table, cols), *_mapper(cols).dump(record), record.id)

    async def _one(self, record: type[T], table: str, names: list[str], where: str, *args: Any) -> T | None:
        cols = tuple(names)
        row = await self.fetchrow(_sql("select", table, cols, f"WHERE {where} LIMIT 1"), *args)
        return None if row is None else _mapper(cols).load(record, tuple(row))

    async def _many(self, record: type[T], table: str, names: list[str], tail: str, *args: Any) -> list[T]:
        cols = tuple(names)
        mapper = _mapper(cols)
        rows = await self.fetch(_sql("select", table, cols, tail), *args)
        return [mapper.load(record, tuple(r)) for r in rows]

    # --- lines and queues -------------------------------------------------------------------------

    async def save_line(self, line: Line) -> int:
        """Insert (id 0 → a new id) or replace a line and its queue."""
        async with self.atomic():
            if line.id and await self.fetchval("SELECT 1 FROM lines WHERE id = ?", line.id):
                await self._update("lines", _LINE_COLS, line)
            else:
                line.id = await self._insert("lines", _LINE_COLS, line, with_id=bool(line.id))
            await self.set_queue(line.id, line.queue)
        return line.id

    async def set_queue(self, line_id: int, user_ids: list[int]) -> None:
        """Replace a line's queue, keeping each remaining operator's activity stamp."""
        async with self.atomic():
            kept = {
                r[0]: r[1]
                for r in await self.fetch(
                    "SELECT user_id, last_activity FROM line_queue WHERE line_id = ?", line_id
                )
            }
            await self.execute("DELETE FROM line_queue WHERE line_id = ?", line_id)
            await self.executemany(
                "INSERT INTO line_queue(line_id, user_id, sort, last_activity) VALUES (?,?,?,?) "
                "ON CONFLICT (line_id, user_id) DO UPDATE SET sort = excluded.sort",  # a concurrent writer
                [
                    (line_id, uid, i * 10, float(kept.get(uid, 0.0)))
                    for i, uid in enumerate(dict.fromkeys(user_ids))
                ],
            )

    async def get_line(self, line_id: int) -> Line | None:
        """The line with its queue, in one round trip (the SQLite store reads the queue apart)."""
        row = await self.fetchrow(
            f"SELECT {', '.join(_LINE_COLS)}, ARRAY(SELECT q.user_id FROM line_queue q "
            "WHERE q.line_id = lines.id ORDER BY q.sort, q.user_id) FROM lines WHERE id = ?",
            line_id,
        )
        if row is None:
            return None
        values = tuple(row)
        line = _mapper(tuple(_LINE_COLS)).load(Line, values[:-1])
        line.queue = list(values[-1])
        return line

    async def list_lines(self) -> list[Line]:
        lines = await self._many(Line, "lines", _LINE_COLS, "ORDER BY id")
        for line in lines:
            line.queue = await self.queue_of(line.id)
        return lines

    async def delete_line(self, line_id: int) -> bool:
        return await self.execute("DELETE FROM lines WHERE id = ?", line_id) > 0

    async def queue_of(self, line_id: int) -> list[int]:
        rows = await self.fetch(
            "SELECT user_id FROM line_queue WHERE line_id = ? ORDER BY sort, user_id", line_id
        )
        return [r[0] for r in rows]

    async def queue_activity(self, line_id: int) -> list[tuple[int, int, float]]:
        """(user_id, sort, last_activity) for every operator of a line's queue."""
        rows = await self.fetch(
            "SELECT user_id, sort, last_activity FROM line_queue WHERE line_id = ? ORDER BY sort, user_id",
            line_id,
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def touch_operator(self, line_id: int, user_id: int, when: float) -> None:
        await self.execute(
            "UPDATE line_queue SET last_activity = ? WHERE line_id = ? AND user_id = ?",
            when,
            line_id,
            user_id,
        )

    # --- bots ---------------------------------------------------------------------------------------

    async def save_bot(self, bot: Bot) -> None:
        if await self.fetchval("SELECT 1 FROM bots WHERE id = ?", bot.id):
            await self._update("bots", _BOT_COLS, bot)
        else:
            await self._insert("bots", _BOT_COLS, bot, with_id=True)

    async def get_bot(self, bot_id: int) -> Bot | None:
        return await self._one(Bot, "bots", _BOT_COLS, "id = ?", bot_id)

    async def first_bot_of_app(self, app_id: str) -> Bot | None:
        return await self._one(Bot, "bots", _BOT_COLS, "app_id = ? ORDER BY id", app_id)

    async def find_bot_by_code(self, code: str, app_id: str) -> Bot | None:
        return await self._one(Bot, "bots", _BOT_COLS, "code = ? AND app_id = ?", code, app_id)

    async def list_bots(self, app_id: str | None = None) -> list[Bot]:
        if app_id is None:
            return await self._many(Bot, "bots", _BOT_COLS, "ORDER BY id")
        return await self._many(Bot, "bots", _BOT_COLS, "WHERE app_id = ? ORDER BY id", app_id)

    async def delete_bot(self, bot_id: int) -> None:
        await self.execute("DELETE FROM bots WHERE id = ?", bot_id)

    # --- chats and members ----------------------------------------------------------------------

    async def create_chat(self, chat: Chat) -> int:
        chat.id = await self._insert("chats", _CHAT_COLS, chat)
        return chat.id

    async def save_chat(self, chat: Chat) -> None:
        await self._update("chats", _CHAT_COLS, chat)

    async def get_chat(self, chat_id: int) -> Chat | None:
        return await self._one(Chat, "chats", _CHAT_COLS, "id = ?", chat_id)

    async def lock_chat(self, chat_id: int) -> Chat | None:
        """The chat, its row locked until the transaction ends. ``SKIP LOCKED`` answers no row
        instead of waiting (and instead of an error that would abort the transaction): then a
        second look tells a chat another transaction holds (:class:`LockConflict`) from a missing one."""
        row = await self.fetchrow(
            f"SELECT {', '.join(_CHAT_COLS)} FROM chats WHERE id = ? FOR UPDATE SKIP LOCKED", chat_id
        )
        if row is not None:
            return _mapper(tuple(_CHAT_COLS)).load(Chat, tuple(row))
        if await self.fetchval("SELECT 1 FROM chats WHERE id = ?", chat_id):
            raise LockConflict(f"chat {chat_id} is being changed by another request")
        return None

    async def find_chat_by_entity(self, entity_type: str, entity_id: str) -> Chat | None:
        return await self._one(
            Chat, "chats", _CHAT_COLS, "entity_type = ? AND entity_id = ? ORDER BY id", entity_type, entity_id
        )

    async def chats_by_crm(self, entity_type: str, entity_id: int) -> list[Chat]:
        return await self._many(
            Chat,
            "chats",
            _CHAT_COLS,
            "WHERE crm_entity_type = ? AND crm_entity_id = ? ORDER BY id",
            entity_type,
            entity_id,
        )

    async def add_member(self, chat_id: int, user_id: int, when: float, manager: bool = False) -> bool:
        return (
            await self.execute(
                "INSERT INTO chat_members(chat_id, user_id, manager, date_join) VALUES (?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                chat_id,
                user_id,
                int(manager),
                when,
            )
            > 0
        )

    async def remove_member(self, chat_id: int, user_id: int) -> bool:
        return (
            await self.execute("DELETE FROM chat_members WHERE chat_id = ? AND user_id = ?", chat_id, user_id)
            > 0
        )

    async def members(self, chat_id: int) -> list[int]:
        rows = await self.fetch(
            "SELECT user_id FROM chat_members WHERE chat_id = ? ORDER BY date_join, user_id", chat_id
        )
        return [r[0] for r in rows]

    async def is_member(self, chat_id: int, user_id: int) -> bool:
        found = await self.fetchval(
            "SELECT 1 FROM chat_members WHERE chat_id = ? AND user_id = ?", chat_id, user_id
        )
        return found is not None

    async def chats_of_member(self, user_id: int) -> list[int]:
        return [r[0] for r in await self.fetch("SELECT chat_id FROM chat_members WHERE user_id = ?", user_id)]

    # --- messages -----------------------------------------------------------------------------------

    async def add_message(self, message: Message) -> int:
        cols = tuple(n for n in _MESSAGE_COLS if n != "id")
        values = _mapper(cols).dump(message)
        # one round trip: the message and the chat's last message id
        message.id = int(
            await self.fetchval(
                f"WITH m AS (INSERT INTO messages({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                "RETURNING id, chat_id), c AS (UPDATE chats SET last_message_id = m.id FROM m "
                "WHERE chats.id = m.chat_id) SELECT id FROM m",
                *values,
            )
        )
        return message.id

    async def save_message(self, message: Message) -> None:
        await self._update("messages", _MESSAGE_COLS, message)

    async def get_message(self, message_id: int) -> Message | None:
        return await self._one(Message, "messages", _MESSAGE_COLS, "id = ?", message_id)

    async def delete_message(self, message_id: int) -> None:
        await self.execute("DELETE FROM messages WHERE id = ?", message_id)

    async def messages_of(
        self, chat_id: int, after_id: int = 0, before_id: int = 0, limit: int = 50, newest_first: bool = False
    ) -> list[Message]:
        where = "WHERE chat_id = ? AND id > ?"
        args: list[Any] = [chat_id, after_id]
        if before_id:
            where += " AND id < ?"
            args.append(before_id)
        order = "DESC" if newest_first else "ASC"
        return await self._many(
            Message, "messages", _MESSAGE_COLS, f"{where} ORDER BY id {order} LIMIT ?", *args, limit
        )

    # --- sessions -----------------------------------------------------------------------------------

    async def create_session(self, session: Session) -> int:
        session.id = await self._insert("sessions", _SESSION_COLS, session)
        return session.id

    async def save_session(self, session: Session) -> None:
        await self._update("sessions", _SESSION_COLS, session)

    async def get_session(self, session_id: int) -> Session | None:
        return await self._one(Session, "sessions", _SESSION_COLS, "id = ?", session_id)

    async def open_session_of_chat(self, chat_id: int) -> Session | None:
        return await self._one(
            Session, "sessions", _SESSION_COLS, "chat_id = ? AND closed = 0 ORDER BY id DESC", chat_id
        )

    async def last_session_of_chat(self, chat_id: int) -> Session | None:
        return await self._one(Session, "sessions", _SESSION_COLS, "chat_id = ? ORDER BY id DESC", chat_id)

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
        return await self._many(Session, "sessions", _SESSION_COLS, f"{where} ORDER BY id", *args)

    async def count_operator_load(self, operator_id: int, line_id: int, below_status: int) -> int:
        """Open sessions of an operator in a line whose status is under ``below_status`` (MAX_CHAT).

        Inside a transaction the operator is first locked (an advisory lock held to the end of the
        transaction; both in one round trip, see ``OPERATOR_LOAD_FUNCTION``), so a concurrent
        assignment on another worker counts after this one commits."""
        if self.in_transaction:
            key = (OPERATOR_LOCK << 48) | (operator_id & 0xFFFFFFFFFFFF)
            return int(
                await self.fetchval(
                    "SELECT openlines_operator_load(?, ?, ?, ?)", key, operator_id, line_id, below_status
                )
            )
        row = await self.fetchval(
            "SELECT COUNT(*) FROM sessions WHERE closed = 0 AND operator_id = ? AND line_id = ? "
            "AND owner_type = 'user' AND status < ?",
            operator_id,
            line_id,
            below_status,
        )
        return int(row)

    # --- transfer history --------------------------------------------------------------------------

    async def add_transfer(self, transfer: Transfer) -> int:
        transfer.id = await self._insert("transfers", _TRANSFER_COLS, transfer)
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
            args.append(float(filters["date_from"]))
        if filters.get("date_to") is not None:
            where.append("date_create <= ?")
            args.append(float(filters["date_to"]))
        clause = " AND ".join(where)
        rows = await self._many(
            Transfer,
            "transfers",
            _TRANSFER_COLS,
            f"WHERE {clause} ORDER BY id LIMIT ? OFFSET ?",
            *args,
            limit,
            offset,
        )
        total = 0
        if count:
            total = int(await self.fetchval(f"SELECT COUNT(*) FROM transfers WHERE {clause}", *args))
        return rows, total

    # --- outbox -------------------------------------------------------------------------------------

    async def add_event(self, event: OutboxEvent, now: float) -> int:
        new_id = await self.fetchval(
            "INSERT INTO outbox(event, target, chat_id, payload, created, due, app_id) "
            "VALUES (?,?,?,?,?,?,?) RETURNING id",
            event.event,
            event.target,
            event.chat_id,
            json.dumps(event.payload, separators=(",", ":")),
            now,
            now,
            event.app_id,
        )
        if self.on_event_added is not None:
            self.on_event_added()
        return int(new_id)

    async def pending_events(self, limit: int = 100) -> list[tuple[int, str, str, int, dict[str, Any]]]:
        rows = await self.fetch(
            "SELECT id, event, target, chat_id, payload FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?",
            limit,
        )
        return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    # --- widget visitors ------------------------------------------------------------------------------

    async def save_visitor(
        self, token_hash: str, line_id: int, visitor: str, customer_id: int, chat_id: int, now: float
    ) -> None:
        await self.execute(
            "INSERT INTO visitors(token_hash, line_id, visitor, customer_id, chat_id, created) VALUES (?,?,?,?,?,?)",
            token_hash,
            line_id,
            visitor,
            customer_id,
            chat_id,
            now,
        )

    async def find_visitor(self, line_id: int, visitor: str) -> tuple[str, int, int] | None:
        """(token_hash, customer_id, chat_id) of a line's visitor."""
        row = await self.fetchrow(
            "SELECT token_hash, customer_id, chat_id FROM visitors WHERE line_id = ? AND visitor = ?",
            line_id,
            visitor,
        )
        return None if row is None else (row[0], row[1], row[2])

    async def visitor_by_token(self, token_hash: str) -> tuple[int, str, int, int] | None:
        """(line_id, visitor, customer_id, chat_id) for a visitor token."""
        row = await self.fetchrow(
            "SELECT line_id, visitor, customer_id, chat_id FROM visitors WHERE token_hash = ?", token_hash
        )
        return None if row is None else (row[0], row[1], row[2], row[3])

    # --- delivery (issue 7) -------------------------------------------------------------------------

    def _delivery(self, row: Any) -> Delivery:
        values = dict(zip(_DELIVERY_COLS, tuple(row), strict=True))
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
        """Due pending rows that head their (target, chat) line, claimed until ``now + lease``.

        Several workers claim at once: candidate rows are locked with ``FOR UPDATE SKIP LOCKED``
        (a row another worker is claiming is passed over) and re-checked for an unexpired claim, so
        no row is handed to two claimers; a worker that dies leaves its claim to expire."""
        full = [target for target, count in (busy or {}).items() if per_target and count >= per_target]
        window = (per_target or limit) + len(skip)
        async with self.atomic():
            rows = await self.fetch(CLAIM_HEADS, now, now, window, full)
            counts = dict(busy or {})
            claimed: list[Delivery] = []
            for row in rows:
                if len(claimed) >= limit:
                    break
                if row[0] in skip:
                    continue
                delivery = self._delivery(row)
                if per_target and counts.get(delivery.target, 0) >= per_target:
                    continue
                counts[delivery.target] = counts.get(delivery.target, 0) + 1
                delivery.claimed_until = now + lease
                claimed.append(delivery)
            if claimed:
                await self.execute(
                    "UPDATE outbox SET claimed_until = ? WHERE id = ANY(?::bigint[])",
                    now + lease,
                    [d.id for d in claimed],
                )
        return claimed

    async def next_due(self, after: float) -> float | None:
        """The earliest due time after ``after`` of a pending row (a retry still to come), or None."""
        value = await self.fetchval(NEXT_DUE.format(hint=""), after)
        return None if value is None else float(value)

    async def release_claims(self) -> int:
        """Nothing: other workers may be sending the rows they claimed; a dead worker's claims
        expire by their lease (SQLite, owned by one process, forgets them at start)."""
        return 0

    async def unclaim(self, claims: dict[int, float]) -> int:
        """Give back claims this worker holds (see the SQLite store)."""
        return await self.execute(
            "UPDATE outbox o SET claimed_until = 0 FROM unnest(?::bigint[], ?::float8[]) AS c(id, until) "
            "WHERE o.id = c.id AND o.status = 'pending' AND o.claimed_until = c.until",
            list(claims),
            list(claims.values()),
        )

    async def record_attempt(self, attempt: Attempt) -> None:
        """The SQLite store's two statements as one (a data-modifying WITH): one round trip, atomic
        without a transaction of its own."""
        await self.execute(RECORD_ATTEMPT, *attempt_row(attempt), *outcome_row(attempt))

    async def mark_delivered(self, delivery_id: int, attempts: int, now: float) -> None:
        await self.execute(
            "UPDATE outbox SET status = 'delivered', attempts = ?, delivered = ?, claimed_until = 0, "
            "last_error = '' WHERE id = ?",
            attempts,
            now,
            delivery_id,
        )

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        row = await self.fetchrow(f"SELECT {', '.join(_DELIVERY_COLS)} FROM outbox WHERE id = ?", delivery_id)
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
        rows = await self.fetch(
            f"SELECT {', '.join(_DELIVERY_COLS)} FROM outbox WHERE {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
            *args,
            limit,
            offset,
        )
        total = 0
        if count:
            total = int(await self.fetchval(f"SELECT COUNT(*) FROM outbox WHERE {clause}", *args))
        return [self._delivery(r) for r in rows], total

    async def replay_delivery(self, delivery_id: int, now: float) -> bool:
        """Queue a delivered or dead row again: pending, due now, attempts from zero."""
        changed = await self.execute(
            "UPDATE outbox SET status = 'pending', due = ?, attempts = 0, claimed_until = 0, last_error = '', "
            "delivered = 0 WHERE id = ? AND status IN ('delivered', 'dead')",
            now,
            delivery_id,
        )
        return changed > 0

    async def expand_broadcasts(self, now: float, limit: int = 100) -> int:
        """Copy each pending broadcast row (target '') to every handler bound to its event (see the
        SQLite store). One worker expands at a time (a transaction-scoped advisory lock; the others
        find nothing to do), so copies keep the order of their sources across workers."""
        if not await self.fetchval(ANY_BROADCAST):  # one round trip on the passes with none (most)
            return 0
        async with self.atomic():
            if not await self.fetchval("SELECT pg_try_advisory_xact_lock(?)", EXPAND_LOCK):
                return 0
            rows = await self.fetch(PENDING_BROADCASTS.format(hint="") + " FOR UPDATE SKIP LOCKED", limit)
            for row_id, event, chat_id, payload, created, only_app in rows:
                bindings = await self.fetch(BINDINGS_OF_EVENT, event.upper(), only_app, only_app)
                for binding_id, app_id, handler, offline, token in bindings:
                    if offline:
                        data = split_payload(json.loads(payload))[0]
                        await self.execute(
                            "INSERT INTO offline_events(app_id, event, data, message_id, created) VALUES (?,?,?,?,?)",
                            app_id,
                            event.upper(),
                            json.dumps(data, separators=(",", ":")),
                            row_id,
                            now,
                        )
                        continue
                    await self.execute(
                        "INSERT INTO outbox(event, target, chat_id, payload, created, due, app_token, "
                        "handler_id, origin_id, app_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        event,
                        handler,
                        chat_id,
                        payload,
                        created,
                        now,
                        token,
                        binding_id,
                        row_id,
                        app_id,
                    )
                await self.execute(
                    "UPDATE outbox SET status = 'expanded', delivered = ? WHERE id = ?", now, row_id
                )
        return len(rows)

    async def bot_owner(self, target: str, payload: dict[str, Any]) -> tuple[str, str] | None:
        """(app_id, application_token) of the bot a bot event is for (see the SQLite store)."""
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
            if bot_id >= 2**63:
                continue
            row = await self.fetchrow("SELECT app_id, application_token FROM bots WHERE id = ?", bot_id)
            if row is not None:
                return str(row[0]), str(row[1])
        for app_id, token, handlers in await self.fetch(
            "SELECT app_id, application_token, handlers FROM bots ORDER BY id"
        ):
            urls = json.loads(handlers or "{}")
            if isinstance(urls, dict) and target in urls.values():
                return str(app_id), str(token)
        return None

    async def handler_binding(self, app_id: str, event: str, handler: str, now: float) -> int:
        """The id of a bot handler's binding row, made on first use (the event_handler_id)."""
        found = await self.fetchval(
            "SELECT id FROM event_bindings WHERE app_id = ? AND event = ? AND handler = ? AND offline = 0 "
            "ORDER BY id LIMIT 1",
            app_id,
            event.upper(),
            handler,
        )
        if found is not None:
            return int(found)
        made = await self.fetchval(
            "INSERT INTO event_bindings(app_id, event, handler, auth_type, offline, kind, created) "
            "VALUES (?,?,?,0,0,'bot',?) ON CONFLICT DO NOTHING RETURNING id",
            app_id,
            event.upper(),
            handler,
            now,
        )
        if made is None:  # another worker made it at the same moment
            made = await self.fetchval(
                "SELECT id FROM event_bindings WHERE app_id = ? AND event = ? AND handler = ? AND offline = 0 "
                "ORDER BY id LIMIT 1",
                app_id,
                event.upper(),
                handler,
            )
        return int(made or 0)

    async def bind_event(self, binding: Binding) -> int | None:
        """Add an app's binding; None when the same one exists already."""
        made = await self.fetchval(
            "INSERT INTO event_bindings(app_id, event, handler, auth_type, offline, kind, created) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING RETURNING id",
            binding.app_id,
            binding.event.upper(),
            binding.handler,
            binding.auth_type,
            int(binding.offline),
            binding.kind,
            binding.created,
        )
        if made is None:
            return None
        binding.id = int(made)
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
        return await self.execute(f"DELETE FROM event_bindings WHERE {where}", *args)

    async def list_bindings(self, app_id: str) -> list[Binding]:
        rows = await self.fetch(
            "SELECT id, app_id, event, handler, auth_type, offline, kind, created FROM event_bindings "
            "WHERE app_id = ? ORDER BY id",
            app_id,
        )
        return [Binding(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7]) for r in rows]

    async def offline_events(
        self,
        app_id: str,
        limit: int,
        with_errors: bool = False,
        process_id: str | None = None,
        everything: bool = False,
    ) -> list[dict[str, Any]]:
        """Queued offline events of an app, oldest first (see the SQLite store)."""
        where = "app_id = ?"
        args: list[Any] = [app_id]
        if process_id is not None:
            where += " AND process_id = ?"
            args.append(process_id)
        elif not everything:
            where += " AND process_id = ''"
        if not with_errors:
            where += " AND error = 0"
        rows = await self.fetch(
            "SELECT id, event, data, additional, message_id, created, process_id, error FROM offline_events "
            f"WHERE {where} ORDER BY id LIMIT ?",
            *args,
            limit,
        )
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
        await self.execute(
            "UPDATE offline_events SET process_id = ? WHERE id = ANY(?::bigint[])", process_id, list(ids)
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
            where += " AND id = ANY(?::bigint[])"
            args.append(list(ids))
        return await self.execute(f"DELETE FROM offline_events WHERE {where}", *args)

    async def delivery_attempts(self, outbox_id: int) -> list[dict[str, Any]]:
        """Every attempt of one delivery, oldest first."""
        rows = await self.fetch(
            "SELECT attempt, at, duration, status_code, error FROM delivery_attempts "
            "WHERE outbox_id = ? ORDER BY id",
            outbox_id,
        )
        return [
            {"ATTEMPT": r[0], "AT": r[1], "DURATION": r[2], "STATUS_CODE": r[3], "ERROR": r[4]} for r in rows
        ]

    async def purge_deliveries(self, before: float, limit: int = 1000) -> int:
        """Delete delivered and expanded rows created before ``before`` (dead letters stay)."""
        async with self.atomic():
            ids = [
                r[0]
                for r in await self.fetch(
                    "SELECT id FROM outbox WHERE status IN ('delivered', 'expanded') AND created < ? "
                    "LIMIT ? FOR UPDATE SKIP LOCKED",
                    before,
                    limit,
                )
            ]
            if not ids:
                return 0
            await self.execute("DELETE FROM delivery_attempts WHERE outbox_id = ANY(?::bigint[])", ids)
            await self.execute("DELETE FROM outbox WHERE id = ANY(?::bigint[])", ids)
        return len(ids)
