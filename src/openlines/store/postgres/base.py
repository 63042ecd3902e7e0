"""The PostgreSQL connection layer: an ``asyncpg`` pool, prepared statements, one transaction per
``atomic()``.

Every repository mixin writes its SQL with ``?`` placeholders, exactly as the SQLite mixin beside it;
:func:`sql` turns them into ``$1, $2, …`` once per statement text (cached), and asyncpg prepares and
caches the statement per connection. Inside ``atomic()`` the connection the transaction runs on is
held in a context variable, so every store call made by the same task joins that transaction;
outside it a call borrows a pooled connection for one statement.

Errors are translated at this one place: a lost or refused connection becomes
:class:`StoreUnavailable` (503), a lock that cannot be had, a deadlock or a serialisation failure
becomes :class:`LockConflict` (the caller refuses the operation). The pool reconnects by itself once
PostgreSQL is back.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from openlines.store import migrations
from openlines.store.base import LockConflict, StoreUnavailable

T = TypeVar("T")
Connection = asyncpg.Connection | PoolConnectionProxy

#: A fixed key for ``pg_advisory_lock`` while migrating ("openline" in ASCII, as a 63-bit number).
MIGRATION_LOCK = 0x6F70656E6C696E65 & 0x7FFFFFFFFFFFFFFF
#: Lock the operator, then count their open dialogues, in one round trip: in a VOLATILE PL/pgSQL
#: function each statement takes a new snapshot, so the count sees every assignment committed by
#: the transaction that held the lock before (one SQL statement would count from its own start).
OPERATOR_LOAD_FUNCTION = """
CREATE OR REPLACE FUNCTION openlines_operator_load(lock_key BIGINT, operator BIGINT, line BIGINT, below BIGINT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN (SELECT COUNT(*) FROM sessions s WHERE s.closed = 0 AND s.operator_id = operator
            AND s.line_id = line AND s.owner_type = 'user' AND s.status < below);
END
$fn$
"""
#: What an ownership change reads, in one round trip (``PgTransfers.open_dialog``): the chat
#: row is locked first (``SKIP LOCKED``: state -1 when another transaction holds it, 0 when there is
#: no such chat), then each read is its own statement, so it takes a snapshot after the lock and
#: sees what the previous holder committed (a single SQL statement would read from its own start).
OPEN_DIALOG_FUNCTION = """
CREATE OR REPLACE FUNCTION openlines_open_dialog(
    chat BIGINT, target BIGINT,
    OUT state INT, OUT c chats, OUT s sessions, OUT member_ids BIGINT[], OUT member_kinds TEXT[],
    OUT l lines, OUT queue BIGINT[], OUT u users)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    SELECT * INTO c FROM chats WHERE id = chat FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        state := CASE WHEN EXISTS (SELECT 1 FROM chats WHERE id = chat) THEN -1 ELSE 0 END;
        RETURN;
    END IF;
    state := 1;
    SELECT * INTO s FROM sessions WHERE chat_id = chat AND closed = 0 ORDER BY id DESC LIMIT 1;
    SELECT array_agg(m.user_id ORDER BY m.user_id), array_agg(COALESCE(k.kind, 'employee') ORDER BY m.user_id)
        INTO member_ids, member_kinds
        FROM chat_members m LEFT JOIN users k ON k.id = m.user_id WHERE m.chat_id = chat;
    IF s.id IS NOT NULL THEN
        SELECT * INTO l FROM lines WHERE id = s.line_id;
        queue := ARRAY(SELECT q.user_id FROM line_queue q WHERE q.line_id = s.line_id ORDER BY q.sort, q.user_id);
    END IF;
    IF target > 0 THEN
        SELECT * INTO u FROM users WHERE id = target;
    END IF;
END
$fn$
"""
#: The sequence of generated user ids (see ``migrate``).
USER_IDS = "openlines_user_ids"
#: Advisory lock held while a server starts (migrations and the portal secret).
STARTUP_LOCK = 0x6F70656E7374
#: Advisory lock of the broadcast expansion (one worker at a time keeps the copies in order).
EXPAND_LOCK = 0x6F70656E6578
#: Advisory lock namespace of an operator's capacity check (count + assign in one transaction).
OPERATOR_LOCK = 0x6F70

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a connection the server dropped while a statement was starting
)
_CONFLICT: tuple[type[BaseException], ...] = (
    asyncpg.LockNotAvailableError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.UniqueViolationError,  # a concurrent request created the same row first
)
_EXPECTED = _UNAVAILABLE + _CONFLICT


@functools.lru_cache(maxsize=2048)
def sql(text: str) -> str:
    """``?`` placeholders → ``$1, $2, …`` (our SQL keeps ``?`` out of string literals)."""
    counter = 0

    def number(_: re.Match[str]) -> str:
        nonlocal counter
        counter += 1
        return f"${counter}"

    return re.sub(r"\?", number, text)


def rowcount(status: str) -> int:
    """The row count of a command tag: ``UPDATE 3`` → 3, ``INSERT 0 1`` → 1."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def translate(exc: BaseException) -> BaseException:
    if isinstance(exc, _CONFLICT):
        return LockConflict(str(exc))
    if isinstance(exc, _UNAVAILABLE):
        return StoreUnavailable(f"PostgreSQL: {type(exc).__name__}: {exc}".rstrip(": "))
    return exc


class _Held:
    """The connection of one ``atomic()`` block; ``active`` is False once the block has ended."""

    __slots__ = ("active", "connection", "task")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.active = True
        self.task = asyncio.current_task()  # a task started inside the block has its own transaction

    def joins(self) -> bool:
        return self.active and self.task is asyncio.current_task()


class PgBase:
    """Pool and transaction handling shared by every PostgreSQL repository mixin."""

    dialect = "postgresql"

    def __init__(self, dsn: str, pool_size: int = 16) -> None:
        self.dsn = dsn
        self.pool_size = max(1, pool_size)
        self._pool: asyncpg.Pool | None = None
        self._held: contextvars.ContextVar[_Held | None] = contextvars.ContextVar(
            f"openlines_pg_{id(self)}", default=None
        )

    # --- lifecycle ----------------------------------------------------------------------------------

    async def connect(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.pool_size,
                statement_cache_size=1024,
                max_inactive_connection_lifetime=300.0,
                timeout=10.0,
                command_timeout=30.0,
                server_settings={"lock_timeout": "5s", "application_name": "openlines"},
                reset=_keep_session,
            )
        except Exception as exc:  # any failure to reach the database is one clear line
            raise StoreUnavailable(f"cannot connect to PostgreSQL ({_safe(self.dsn)}): {exc}") from exc

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("the PostgreSQL store is not connected")
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10)
            except _UNAVAILABLE:
                pool.terminate()

    async def start_background(self) -> None:
        """Nothing to run beside the server: PostgreSQL checkpoints by itself."""

    async def migrate(self) -> list[int]:
        """Apply the numbered PostgreSQL migrations once, under an advisory lock, so workers that
        start together on a fresh database migrate once and the others wait, then find nothing to do."""
        applied: list[int] = []
        try:
            async with self.pool.acquire() as con:
                await con.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
                try:
                    await con.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(version INTEGER PRIMARY KEY, name TEXT, applied DOUBLE PRECISION)"
                    )
                    done = {r[0] for r in await con.fetch("SELECT version FROM schema_migrations")}
                    for migration in migrations.load("postgresql"):
                        if migration.version in done:
                            continue
                        async with con.transaction():
                            await con.execute(migration.sql)
                            await con.execute(
                                "INSERT INTO schema_migrations(version, name, applied) "
                                "VALUES ($1, $2, extract(epoch from now()))",
                                migration.version,
                                migration.name,
                            )
                        applied.append(migration.version)
                    # Generated user ids (customers, bots) come from a sequence: concurrent creations
                    # never wait on each other. Users also get explicit ids from the configuration, so
                    # the sequence starts above them (PgPlatform.create_user skips any it meets later).
                    await con.execute(OPERATOR_LOAD_FUNCTION)
                    await con.execute(OPEN_DIALOG_FUNCTION)
                    await con.execute(
                        f"CREATE SEQUENCE IF NOT EXISTS {USER_IDS}; "
                        f"SELECT setval('{USER_IDS}', GREATEST((SELECT COALESCE(MAX(id), 0) FROM users), "
                        f"(SELECT last_value FROM {USER_IDS})))"
                    )
                finally:
                    await con.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        except _UNAVAILABLE as exc:
            raise translate(exc) from exc
        return applied

    @asynccontextmanager
    async def startup_lock(self) -> AsyncIterator[None]:
        """Held while a server migrates and creates the portal secret: servers starting together on
        one database (workers, or several machines) do it one after another, so they all read the
        same secret. A connection of its own, so the pool stays free for the work inside."""
        try:
            connection = await asyncpg.connect(self.dsn, timeout=10.0)
        except Exception as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL ({_safe(self.dsn)}): {exc}") from exc
        try:
            await connection.execute("SELECT pg_advisory_lock($1)", STARTUP_LOCK)
            yield
        finally:
            connection.terminate()  # ends the session, and with it the lock

    # --- transactions ---------------------------------------------------------------------------------

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """One transaction on one connection; nested use joins the outer one (same task)."""
        held = self._held.get()
        if held is not None and held.joins():
            yield
            return
        try:
            connection = await self.pool.acquire()
        except _UNAVAILABLE as exc:
            raise translate(exc) from exc
        held = _Held(connection)
        token = self._held.set(held)
        transaction = connection.transaction()
        try:
            try:
                await transaction.start()
            except _UNAVAILABLE as exc:
                raise translate(exc) from exc
            try:
                yield
            except BaseException:
                held.active = False
                if not connection.is_closed():
                    with suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        await transaction.rollback()
                raise
            held.active = False
            try:
                await transaction.commit()
            except _EXPECTED as exc:
                raise translate(exc) from exc
        finally:
            held.active = False
            self._held.reset(token)
            await self.pool.release(connection)

    @property
    def in_transaction(self) -> bool:
        held = self._held.get()
        return held is not None and held.joins()

    async def _run(self, call: Callable[[Connection], Awaitable[T]]) -> T:
        held = self._held.get()
        try:
            if held is not None and held.joins():
                return await call(held.connection)
            async with self.pool.acquire() as connection:
                return await call(connection)
        except _EXPECTED as exc:
            raise translate(exc) from exc

    # --- statements (``?`` placeholders, like the SQLite mixins) -----------------------------------------

    async def fetch(self, text: str, *args: Any) -> list[asyncpg.Record]:
        query, args = sql(text), _text_safe(args)
        return await self._run(lambda con: con.fetch(query, *args))

    async def fetchrow(self, text: str, *args: Any) -> asyncpg.Record | None:
        query, args = sql(text), _text_safe(args)
        return await self._run(lambda con: con.fetchrow(query, *args))

    async def fetchval(self, text: str, *args: Any) -> Any:
        query, args = sql(text), _text_safe(args)
        return await self._run(lambda con: con.fetchval(query, *args))

    async def execute(self, text: str, *args: Any) -> int:
        """Run a statement; the number of rows it touched."""
        query, args = sql(text), _text_safe(args)
        status: str = await self._run(lambda con: con.execute(query, *args))
        return rowcount(status)

    async def executemany(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        query, rows = sql(text), [_text_safe(tuple(row)) for row in rows]
        await self._run(lambda con: con.executemany(query, rows))


async def _keep_session(connection: Connection) -> None:
    """Nothing to reset when a connection goes back to the pool (asyncpg still rolls back an open
    transaction first): the store sets no session state, listens to nothing and releases its one
    session advisory lock itself, so asyncpg's default reset query would be a wasted round trip."""


def _text_safe(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """PostgreSQL text cannot hold NUL characters (SQLite can): each becomes U+FFFD, the
    replacement character, instead of failing the request."""
    if not any(type(a) is str and "\x00" in a for a in args):
        return args
    return tuple(a.replace("\x00", "\ufffd") if type(a) is str else a for a in args)


def _safe(dsn: str) -> str:
    """The address without a password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", dsn)
