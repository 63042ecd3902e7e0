"""The SQLite connection: the stdlib driver, WAL, one connection, short ``BEGIN IMMEDIATE`` transactions."""

from __future__ import annotations

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

    async def start_background(self) -> None:
        """Move WAL checkpoints off the event loop (the server calls this; short CLI runs do not).

        A checkpoint copies the WAL into the database file and fsyncs it: milliseconds on a busy disk.
        Run inline (SQLite's default every 1,000 pages) it stalls whichever request commits at that
        moment and every request queued behind it. A thread with its own connection does it instead;
        the inline autocheckpoint stays only as a far-off safety net.
        """
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
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
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
