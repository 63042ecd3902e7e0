"""PostgreSQL twin of ``sqlite_routing``: presence, due timers (claimed with ``SKIP LOCKED``),
distribution records, offers and the waiting sessions of a line."""

from __future__ import annotations

import json
from typing import Any

from openlines.domain.openlines import Line
from openlines.domain.routing import PresenceState, Timer
from openlines.store.postgres.base import PgBase
from openlines.store.sqlite_routing import _TIMER_COLS, _timer

_T_COLS = ", ".join("t." + c for c in _TIMER_COLS.split(", "))
_TAKE_DUE_TIMER = (
    "WITH due_one AS (SELECT id, kind FROM timers WHERE fired = 0 AND due <= ? ORDER BY due, id LIMIT 1 "
    "FOR UPDATE SKIP LOCKED), "
    "gone AS (DELETE FROM timers t USING due_one AS c WHERE t.id = c.id AND c.kind != 'no_answer' "
    f"RETURNING {_T_COLS}), "
    "fired AS (UPDATE timers t SET fired = 1 FROM due_one AS c WHERE t.id = c.id AND c.kind = 'no_answer' "
    f"RETURNING {_T_COLS}) "
    "SELECT * FROM gone UNION ALL SELECT * FROM fired"
)


class PgRouting(PgBase):
    # --- presence ---------------------------------------------------------------------------------

    async def get_presence(self, user_id: int) -> PresenceState:
        row = await self.fetchrow(
            "SELECT status, paused, last_seen, date_modify FROM operator_presence WHERE user_id = ?", user_id
        )
        if row is None:
            return PresenceState(user_id)
        return PresenceState(user_id, row[0], bool(row[1]), float(row[2]), float(row[3]), True)

    async def set_presence(
        self, user_id: int, now: float, status: str | None = None, paused: bool | None = None
    ) -> PresenceState:
        """Change an operator's status and/or pause; a status report also counts as a sign of life."""
        current = await self.get_presence(user_id)
        new_status = status or current.status
        new_paused = current.paused if paused is None else paused
        last_seen = now if status is not None else current.last_seen
        await self.execute(
            "INSERT INTO operator_presence(user_id, status, paused, last_seen, date_modify) VALUES (?,?,?,?,?) "
            "ON CONFLICT(user_id) DO UPDATE SET status = excluded.status, paused = excluded.paused, "
            "last_seen = excluded.last_seen, date_modify = excluded.date_modify",
            user_id,
            new_status,
            int(new_paused),
            float(last_seen),
            now,
        )
        return PresenceState(user_id, new_status, new_paused, last_seen, now, True)  # type: ignore[arg-type]

    # --- timers -----------------------------------------------------------------------------------

    async def arm_timer(
        self, session_id: int, chat_id: int, kind: str, due: float, version: int, now: float
    ) -> None:
        """Set (or move) a session's timer of this kind. A fired one-shot timer stays fired."""
        await self.execute(
            "INSERT INTO timers(session_id, chat_id, kind, due, version, created) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(session_id, kind) DO UPDATE SET due = excluded.due, version = excluded.version, "
            "created = excluded.created WHERE timers.fired = 0",
            session_id,
            chat_id,
            kind,
            due,
            version,
            now,
        )

    async def cancel_timers(self, session_id: int, kinds: tuple[str, ...]) -> int:
        return await self.execute(
            "DELETE FROM timers WHERE session_id = ? AND fired = 0 AND kind = ANY(?::text[])",
            session_id,
            list(kinds),
        )

    async def drop_session_timers(self, session_id: int) -> int:
        return await self.execute("DELETE FROM timers WHERE session_id = ?", session_id)

    async def next_timer_due(self) -> float | None:
        value = await self.fetchval("SELECT MIN(due) FROM timers WHERE fired = 0")
        return None if value is None else float(value)

    async def take_due_timer(self, now: float) -> Timer | None:
        """Claim the earliest timer due by ``now`` (inside the caller's transaction): a one-shot
        no-answer timer is marked fired, any other is deleted. A timer another worker is taking
        is passed over (``SKIP LOCKED``), so no timer fires twice. One round trip (timers catching
        up after a long clock move fire thousands of times). None when nothing is due."""
        row = await self.fetchrow(_TAKE_DUE_TIMER, now)
        return None if row is None else _timer(tuple(row))

    async def timers_of(self, session_id: int) -> list[Timer]:
        rows = await self.fetch(
            f"SELECT {_TIMER_COLS} FROM timers WHERE session_id = ? AND fired = 0 ORDER BY due, id",
            session_id,
        )
        return [_timer(tuple(r)) for r in rows]

    # --- distribution records and offers ------------------------------------------------------------

    async def add_decision(self, record: dict[str, Any]) -> int:
        return int(
            await self.fetchval(
                "INSERT INTO routing_decisions(session_id, chat_id, line_id, cause, queue_type, result, "
                "operator_id, transfer_id, candidates, date_create) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
                record["session_id"],
                record["chat_id"],
                record["line_id"],
                record["cause"],
                record["queue_type"],
                record["result"],
                record["operator_id"],
                record["transfer_id"],
                json.dumps(record["candidates"], separators=(",", ":")),
                record["date_create"],
            )
        )

    async def decisions_of(self, session_id: int, limit: int = 200) -> list[dict[str, Any]]:
        rows = await self.fetch(
            "SELECT id, session_id, chat_id, line_id, cause, queue_type, result, operator_id, transfer_id, "
            "candidates, date_create FROM routing_decisions WHERE session_id = ? ORDER BY id LIMIT ?",
            session_id,
            limit,
        )
        found = [dict(r) for r in rows]
        for item in found:
            item["candidates"] = json.loads(item["candidates"])
        return found

    async def add_offers(self, session_id: int, line_id: int, user_ids: list[int], now: float) -> list[int]:
        """Offer a waiting session to operators; answers those who did not have the offer yet."""
        rows = await self.fetch(
            "INSERT INTO routing_offers(session_id, user_id, line_id, date_create) "
            "SELECT ?, u, ?, ? FROM unnest(?::bigint[]) WITH ORDINALITY AS t(u, n) ORDER BY n "
            "ON CONFLICT DO NOTHING RETURNING user_id",
            session_id,
            line_id,
            now,
            list(dict.fromkeys(user_ids)),
        )
        made = {int(r[0]) for r in rows}
        return [uid for uid in dict.fromkeys(user_ids) if uid in made]

    async def offers_of(self, session_id: int) -> list[int]:
        rows = await self.fetch(
            "SELECT user_id FROM routing_offers WHERE session_id = ? ORDER BY user_id", session_id
        )
        return [int(r[0]) for r in rows]

    async def clear_offers(self, session_id: int) -> int:
        return await self.execute("DELETE FROM routing_offers WHERE session_id = ?", session_id)

    # --- who is waiting, where an operator works ----------------------------------------------------

    async def waiting_session_ids(self, line_id: int, limit: int) -> list[int]:
        """A line's open queue-owned sessions, oldest first (index sessions_waiting)."""
        rows = await self.fetch(
            "SELECT id FROM sessions WHERE line_id = ? AND closed = 0 AND owner_type = 'queue' ORDER BY id LIMIT ?",
            line_id,
            limit,
        )
        return [int(r[0]) for r in rows]

    async def lines_of_operator(self, user_id: int) -> list[int]:
        rows = await self.fetch("SELECT line_id FROM line_queue WHERE user_id = ? ORDER BY line_id", user_id)
        return [int(r[0]) for r in rows]

    async def queue_member(self, line_id: int, user_id: int) -> tuple[int, float] | None:
        """(sort, last_activity) of an operator in a line's queue, or None."""
        row = await self.fetchrow(
            "SELECT sort, last_activity FROM line_queue WHERE line_id = ? AND user_id = ?", line_id, user_id
        )
        return None if row is None else (int(row[0]), float(row[1]))

    async def last_transfer_source(self, session_id: int) -> tuple[str, int, str, int] | None:
        """(from_type, from_id, to_type, to_id) of a session's latest transfer (index transfers_session)."""
        row = await self.fetchrow(
            "SELECT from_type, from_id, to_type, to_id FROM transfers WHERE session_id = ? ORDER BY id DESC LIMIT 1",
            session_id,
        )
        return None if row is None else (str(row[0]), int(row[1]), str(row[2]), int(row[3]))

    async def line_settings(self, line_id: int) -> Line | None:
        """A line without its queue (the queue is read page by page with :meth:`queue_page`)."""
        row = await self.fetchrow(
            "SELECT id, name, active, queue_type, settings, date_create, date_modify, modify_user_id "
            "FROM lines WHERE id = ?",
            line_id,
        )
        if row is None:
            return None
        return Line(
            id=int(row[0]),
            name=str(row[1]),
            active=bool(row[2]),
            queue_type=str(row[3]),
            settings=json.loads(row[4] or "{}"),
            date_create=float(row[5]),
            date_modify=float(row[6]),
            modify_user_id=int(row[7]),
        )

    async def queue_page(
        self, line_id: int, idle_first: bool, after: tuple[float, int, int] | None, limit: int
    ) -> list[tuple[int, int, float]]:
        """(user_id, sort, last_activity) of a line's queue in distribution order, ``limit`` at a time
        after the key ``after`` (last_activity, sort, user_id): idle longest first, or queue order."""
        if idle_first:
            order, key = "last_activity, sort, user_id", "(last_activity, sort, user_id) > (?, ?, ?)"
            args: tuple[object, ...] = (float(after[0]), after[1], after[2]) if after else ()
        else:
            order, key = "sort, user_id", "(sort, user_id) > (?, ?)"
            args = after[1:] if after else ()
        where = f"line_id = ? AND {key}" if after else "line_id = ?"
        rows = await self.fetch(
            f"SELECT user_id, sort, last_activity FROM line_queue WHERE {where} ORDER BY {order} LIMIT ?",
            line_id,
            *args,
            limit,
        )
        return [(int(r[0]), int(r[1]), float(r[2])) for r in rows]
