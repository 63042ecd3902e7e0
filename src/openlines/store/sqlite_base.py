"""The SQLite connection: the stdlib driver, WAL, one connection, short ``BEGIN IMMEDIATE`` transactions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from openlines.store import migrations
from openlines.store.base import StoreUnavailable


class SqliteBase:
    """Connection handling shared by every SQLite repository mixin."""

    dialect = "sqlite"

    def __init__(self, path: str, synchronous: str = "normal") -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, cached_statements=512
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=5000")
            self.db.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {path!r}: {exc}") from exc
        self._depth = 0
        self._checkpointer: Checkpointer | None = None
        self._grouping = False  # group commit: on for the long-running server (start_background)
        self._group: list[asyncio.Future[None]] | None = None

    async def start_background(self) -> None:
        """Turn on what only pays off in a long-running server (short CLI runs skip it): group
        commit (see ``_grouped``) and WAL checkpoints off the event loop.

        A checkpoint copies the WAL into the database file and fsyncs it: milliseconds on a busy disk.
        Run inline (SQLite's default every 1,000 pages) it stalls whichever request commits at that
        moment and every request queued behind it. A thread with its own connection does it instead;
        the inline autocheckpoint stays only as a far-off safety net.
        """
        self._grouping = True
        if self.path == ":memory:" or self._checkpointer is not None:
            return
        self.db.execute("PRAGMA wal_autocheckpoint=16384")
        self._checkpointer = Checkpointer(self.path)
        self._checkpointer.start()

    async def migrate(self) -> list[int]:
        db = self.db
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied REAL)"
        )
        done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        applied: list[int] = []
        for migration in migrations.load("sqlite"):
            if migration.version in done:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(migration.sql):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations(version, name, applied) VALUES (?, ?, strftime('%s','now'))",
                    (migration.version, migration.name),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            applied.append(migration.version)
        return applied

    async def close(self) -> None:
        self._flush()
        self._grouping = False
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.db.close()

    @asynccontextmanager
    async def startup_lock(self) -> AsyncIterator[None]:
        """Nothing to serialise: one process owns a SQLite file."""
        yield

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """One write transaction. Nested use joins the outer one.

        Nothing inside may await a real suspension (network, sleep): SQLite work is synchronous, so
        the whole block runs without yielding to the event loop and no other request can interleave.
        When the block ends, its writes are committed before ``atomic`` returns.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        if not self._grouping:
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self.db.execute("ROLLBACK")
                raise
            self._depth = 0
            self.db.execute("COMMIT")
            return
        async with self._grouped():
            yield

    @asynccontextmanager
    async def _grouped(self) -> AsyncIterator[None]:
        """Group commit: the blocks that finish in one turn of the event loop share one COMMIT.

        A commit writes every page the transaction touched to the WAL; requests arriving together
        touch the same index pages, so one commit for all of them writes far less than one each.
        Each block runs inside a SAVEPOINT of the shared transaction (a failing block rolls back
        alone) and its caller resumes only after the shared COMMIT succeeded, so nothing is
        acknowledged before it is durable as configured.
        """
        loop = asyncio.get_running_loop()
        if self._group is None:
            self.db.execute("BEGIN IMMEDIATE")
            self._group = []
            loop.call_soon(self._flush)
        self.db.execute("SAVEPOINT atomic")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK TO atomic")
            self.db.execute("RELEASE atomic")
            raise
        self._depth = 0
        self.db.execute("RELEASE atomic")
        committed: asyncio.Future[None] = loop.create_future()
        self._group.append(committed)
        await committed

    def _flush(self) -> None:
        if self._group is None:
            return
        if self._depth:  # a block is still open (it awaited something): commit after it ends
            asyncio.get_running_loop().call_soon(self._flush)
            return
        waiters, self._group = self._group, None
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            failure = StoreUnavailable(f"the SQLite commit failed: {exc}")
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(failure)
            return
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def _statements(sql: str) -> list[str]:
    """Split a migration file into statements (our migrations keep ``--`` and ``;`` out of literals)."""
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


class Checkpointer(threading.Thread):
    """Checkpoints the WAL from a second connection whenever it has grown past ``threshold`` bytes.

    PASSIVE checkpoints never block the writer; they copy what is already committed.
    """

    def __init__(self, path: str, interval: float = 0.25, threshold: int = 4 * 1024 * 1024) -> None:
        super().__init__(name="openlines-sqlite-checkpoint", daemon=True)
        self.path = path
        self.wal = path + "-wal"
        self.interval = interval
        self.threshold = threshold
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return
        with contextlib.closing(db):
            db.execute("PRAGMA busy_timeout=1000")
            while not self._halt.wait(self.interval):
                try:
                    if os.path.getsize(self.wal) >= self.threshold:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except (OSError, sqlite3.Error):
                    continue  # no WAL yet, or busy: try again at the next tick

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
