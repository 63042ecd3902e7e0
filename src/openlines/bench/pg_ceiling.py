"""The raw asyncpg ceiling of a transfer: the same SQL as one ``imopenlines.bot.session.transfer``
to a user sends to the PostgreSQL store (the bot lookup, then six statements in one transaction, as
the server issues them: 9 round trips with BEGIN and COMMIT), run through a bare asyncpg pool with
no HTTP, no protocol and no domain code. W2 on PostgreSQL is reported against it. When the server's
SQL for a transfer changes, this must change with it, or the ratio compares unlike things.

    python -m openlines.bench.pg_ceiling --db postgresql://postgres@127.0.0.1:5432/test

A database ``openlines_ceiling_<random>`` is made beside the given one (migrated with the real
migrations, seeded with ``--chats`` open dialogues) and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from openlines.store.postgres import open_postgres
from openlines.store.postgres.base import sql
from openlines.store.postgres.transfers import _CHANGE_WITH_HISTORY, _SESSION_SET, _TRANSFER_SET
from openlines.store.sqlite_openlines import (
    _BOT_COLS,
    _CHAT_COLS,
    _MESSAGE_COLS,
    _sql,
)
from openlines.store.sqlite_platform import _USER_COLUMNS

APP_ID, BOT_ID = "customceiling", 4

#: The bot of the calling app (``bots.resolve_bot``), read before the transaction.
BOT_SELECT = sql(_sql("select", "bots", tuple(_BOT_COLS), "WHERE app_id = ? ORDER BY id LIMIT 1"))
#: The chat locked, its open session, members, line + queue, the target user, the event binding.
OPEN_DIALOG = sql(
    "SELECT state, c, s, member_ids, member_kinds, l, queue, u FROM openlines_open_dialog(?, ?)"
)
#: Members, session and history row in one statement (``PgTransfers.save_change``).
CHANGE = sql(_CHANGE_WITH_HISTORY)
#: The routing hook of an owner change (``routing.on_owner_changed``).
OFFERS_DELETE = sql("DELETE FROM routing_offers WHERE session_id = ?")
TIMERS_DELETE = sql("DELETE FROM timers WHERE session_id = ? AND fired = 0 AND kind = ANY(?::text[])")
_CHAT_SET = tuple(c for c in _CHAT_COLS if c != "id")
CHAT_UPDATE = sql(_sql("update", "chats", _CHAT_SET))
_MESSAGE_SET = [c for c in _MESSAGE_COLS if c != "id"]
MESSAGE_INSERT = sql(
    f"WITH m AS (INSERT INTO messages({', '.join(_MESSAGE_SET)}) VALUES ({', '.join('?' * len(_MESSAGE_SET))}) "
    "RETURNING id, chat_id), c AS (UPDATE chats SET last_message_id = m.id FROM m "
    "WHERE chats.id = m.chat_id) SELECT id FROM m"
)
#: Round trips of one transfer: the bot, BEGIN, the six statements below, COMMIT.
ROUND_TRIPS = 9


async def transfer(con: Any, chat_id: int, to_id: int, now: float) -> None:
    """The statements of one transfer to a user, in the server's order (a bot's transfer of a chat
    an employee holds: the employee leaves, the target joins)."""
    await con.fetchrow(BOT_SELECT, APP_ID)
    async with con.transaction():
        row = await con.fetchrow(OPEN_DIALOG, chat_id, to_id)
        chat, session = dict(row["c"]), dict(row["s"])
        leaving = [
            user_id
            for user_id, kind in zip(row["member_ids"], row["member_kinds"], strict=True)
            if kind == "employee" and user_id != to_id
        ]
        previous = session["operator_id"]
        session.update(operator_id=to_id, owner_type="user", date_modify=now, version=session["version"] + 1)
        history = dict(
            session_id=session["id"],
            chat_id=chat_id,
            line_id=chat["line_id"],
            from_type="bot",
            from_id=BOT_ID,
            to_type="user",
            to_id=to_id,
            mode="bot",
            reason="",
            actor_id=1,
            date_create=now,
        )
        await con.fetchval(
            CHANGE,
            chat_id,
            leaving,
            chat_id,
            now,
            [to_id],
            *[session[c] for c in _SESSION_SET],
            session["id"],
            *[history[c] for c in _TRANSFER_SET],
        )
        await con.execute(OFFERS_DELETE, session["id"])
        await con.execute(TIMERS_DELETE, session["id"], ["queue", "no_answer", "welcome_bot"])
        chat["author_id"] = to_id
        await con.execute(CHAT_UPDATE, *[chat[c] for c in _CHAT_SET], chat_id)
        text = f"[USER={previous}][/USER] transfered conversation to [USER={to_id}][/USER]"
        await con.fetchval(MESSAGE_INSERT, chat_id, 0, text, 1, "{}", now, 0.0, 0)


async def seed(address: str, chats: int) -> None:
    store = await open_postgres(address, 4)
    try:
        await store.migrate()
    finally:
        await store.close()
    con = await asyncpg.connect(address)
    try:
        now = time.time()
        await con.executemany(
            f"INSERT INTO users({_USER_COLUMNS}) VALUES ($1, $2, $3, '', '', '', '', 1, 0, 0, $4, '{{}}')",
            [(1, "employee", "Admin", now), (2, "employee", "Olga", now), (3, "employee", "Oscar", now)]
            + [(BOT_ID, "bot", "Greeter", now)]
            + [(100 + i, "customer", f"C{i}", now) for i in range(chats)],
        )
        await con.execute(
            "INSERT INTO bots(id, code, app_id, type) VALUES ($1, 'greeter', $2, 'O')", BOT_ID, APP_ID
        )
        await con.execute("INSERT INTO lines(id, name) VALUES (1, 'Support')")
        await con.execute("INSERT INTO line_queue(line_id, user_id, sort) VALUES (1, 2, 0), (1, 3, 10)")
        await con.executemany(
            "INSERT INTO chats(id, entity_type, entity_id, line_id, session_id, customer_id, author_id) "
            "VALUES ($1, 'LINES', $2, 1, $1, $3, 2)",
            [(i + 1, f"livechat|1|c{i}|{100 + i}", 100 + i) for i in range(chats)],
        )
        await con.executemany(
            "INSERT INTO sessions(id, chat_id, line_id, customer_id, owner_type, operator_id, status) "
            "VALUES ($1, $1, 1, $2, 'user', 2, 10)",
            [(i + 1, 100 + i) for i in range(chats)],
        )
        await con.executemany(
            "INSERT INTO chat_members(chat_id, user_id) VALUES ($1, $2)",
            [(i + 1, u) for i in range(chats) for u in (100 + i, 2)],
        )
        await con.execute("ANALYZE")
    finally:
        await con.close()


async def measure(
    address: str, seconds: float, connections: int, chats: int, pool_size: int
) -> dict[str, Any]:
    pool = await asyncpg.create_pool(
        address, min_size=pool_size, max_size=pool_size, statement_cache_size=1024
    )
    latencies: list[float] = []
    end = time.monotonic() + seconds

    async def client(index: int) -> None:
        turn = 0
        while time.monotonic() < end:
            chat_id = 1 + (index + turn * connections) % chats
            to_id = 3 if (index + turn * connections) // chats % 2 == 0 else 2
            turn += 1
            began = time.perf_counter()
            async with pool.acquire() as con:
                await transfer(con, chat_id, to_id, time.time())
            latencies.append(time.perf_counter() - began)

    started = time.monotonic()
    try:
        await asyncio.gather(*(client(i) for i in range(connections)))
    finally:
        await pool.close()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "tx_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "transactions": len(latencies),
        "connections": connections,
        "pool": pool_size,
        "round_trips_per_transfer": ROUND_TRIPS,
    }


async def main(options: argparse.Namespace) -> dict[str, Any]:
    parts = urlsplit(options.db)
    name = f"openlines_ceiling_{secrets.token_hex(4)}"
    address = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    admin = await asyncpg.connect(options.db)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await seed(address, options.chats)
        if options.warmup:
            await measure(address, options.warmup, options.connections, options.chats, options.pool)
        return await measure(address, options.seconds, options.connections, options.chats, options.pool)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m openlines.bench.pg_ceiling", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--db", required=True, help="a PostgreSQL address whose server may CREATE DATABASE")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=64, help="concurrent clients [64]")
    parser.add_argument("--pool", type=int, default=16, help="pooled connections [16, as a worker]")
    parser.add_argument("--chats", type=int, default=10_000, help="open dialogues to transfer [10,000]")
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result))


if __name__ == "__main__":
    cli()
