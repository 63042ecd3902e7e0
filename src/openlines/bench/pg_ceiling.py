"""The raw asyncpg ceiling of a transfer: the same SQL as one ``imopenlines.bot.session.transfer``
to a user on the PostgreSQL store (12 statements in one transaction, as the store issues them),
run through a bare asyncpg pool with no HTTP, no protocol and no domain code. W2 on PostgreSQL is
reported against it.

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
from openlines.store.sqlite_openlines import _CHAT_COLS, _LINE_COLS, _MESSAGE_COLS, _SESSION_COLS
from openlines.store.sqlite_platform import _USER_COLUMNS

CHAT_SELECT = sql(f"SELECT {', '.join(_CHAT_COLS)} FROM chats WHERE id = ? FOR UPDATE SKIP LOCKED")
SESSION_SELECT = sql(
    f"SELECT {', '.join(_SESSION_COLS)} FROM sessions WHERE chat_id = ? AND closed = 0 ORDER BY id DESC LIMIT 1"
)
USER_SELECT = sql(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?")
LINE_SELECT = sql(
    f"SELECT {', '.join(_LINE_COLS)}, ARRAY(SELECT q.user_id FROM line_queue q "
    "WHERE q.line_id = lines.id ORDER BY q.sort, q.user_id) FROM lines WHERE id = ?"
)
MEMBER_KINDS = sql(
    "SELECT m.user_id, COALESCE(u.kind, 'employee') FROM chat_members m "
    "LEFT JOIN users u ON u.id = m.user_id WHERE m.chat_id = ? ORDER BY m.user_id"
)
MEMBER_DELETE = sql("DELETE FROM chat_members WHERE chat_id = ? AND user_id = ?")
MEMBER_INSERT = sql(
    "INSERT INTO chat_members(chat_id, user_id, manager, date_join) VALUES (?,?,?,?) ON CONFLICT DO NOTHING"
)
_SESSION_SET = [c for c in _SESSION_COLS if c != "id"]
SESSION_UPDATE = sql(f"UPDATE sessions SET {', '.join(c + ' = ?' for c in _SESSION_SET)} WHERE id = ?")
TRANSFER_INSERT = sql(
    "INSERT INTO transfers(session_id, chat_id, line_id, from_type, from_id, to_type, to_id, mode, reason, "
    "actor_id, date_create) VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING id"
)
BOUND = sql("SELECT 1 FROM event_bindings WHERE event = ? AND kind = 'app' LIMIT 1")
_CHAT_SET = [c for c in _CHAT_COLS if c != "id"]
CHAT_UPDATE = sql(f"UPDATE chats SET {', '.join(c + ' = ?' for c in _CHAT_SET)} WHERE id = ?")
_MESSAGE_SET = [c for c in _MESSAGE_COLS if c != "id"]
MESSAGE_INSERT = sql(
    f"WITH m AS (INSERT INTO messages({', '.join(_MESSAGE_SET)}) VALUES ({', '.join('?' * len(_MESSAGE_SET))}) "
    "RETURNING id, chat_id), c AS (UPDATE chats SET last_message_id = m.id FROM m "
    "WHERE chats.id = m.chat_id) SELECT id FROM m"
)


async def transfer(con: Any, chat_id: int, to_id: int, now: float) -> None:
    """The statements of one transfer to a user, in the store's order."""
    async with con.transaction():
        chat = await con.fetchrow(CHAT_SELECT, chat_id)
        session = dict(await con.fetchrow(SESSION_SELECT, chat_id))
        await con.fetchrow(USER_SELECT, to_id)
        await con.fetchrow(LINE_SELECT, chat["line_id"])
        members = await con.fetch(MEMBER_KINDS, chat_id)
        for user_id, kind in members:
            if kind == "employee" and user_id != to_id:
                await con.execute(MEMBER_DELETE, chat_id, user_id)
        await con.execute(MEMBER_INSERT, chat_id, to_id, 0, now)
        previous = session["operator_id"]
        session.update(operator_id=to_id, owner_type="user", date_modify=now, version=session["version"] + 1)
        await con.execute(SESSION_UPDATE, *[session[c] for c in _SESSION_SET], session["id"])
        await con.fetchval(
            TRANSFER_INSERT,
            session["id"],
            chat_id,
            chat["line_id"],
            "user",
            previous,
            "user",
            to_id,
            "bot",
            "",
            1,
            now,
        )
        await con.fetchval(BOUND, "ONOPENLINESSESSIONTRANSFER")
        values = dict(chat)
        values["author_id"] = to_id
        await con.execute(CHAT_UPDATE, *[values[c] for c in _CHAT_SET], chat_id)
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
            + [(100 + i, "customer", f"C{i}", now) for i in range(chats)],
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
        "statements_per_transfer": 12,
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
