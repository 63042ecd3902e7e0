"""The WAL checkpointer copies committed pages into the database file from its own thread."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

from openlines.store.sqlite import SqliteStore
from openlines.store.sqlite_base import Checkpointer


def _fill(path: Path, rows: int) -> sqlite3.Connection:
    """Write rows into the WAL only; the caller keeps the connection open (closing the last
    connection would checkpoint by itself)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer may move pages
    db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    for _ in range(rows):
        db.execute("INSERT INTO t(v) VALUES (?)", ("x" * 500,))
    return db


def test_checkpointer_moves_the_wal_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    writer = _fill(path, 2000)
    before = os.path.getsize(path)
    assert os.path.getsize(str(path) + "-wal") > 500_000
    worker = Checkpointer(str(path), interval=0.01, threshold=0)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while os.path.getsize(path) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
    checkpointed = os.path.getsize(path)  # measured before the writer closes (closing checkpoints too)
    writer.close()
    assert checkpointed > before + 500_000
    assert not worker.is_alive()


def test_store_starts_and_stops_its_checkpointer(tmp_path: Path) -> None:
    async def scenario() -> tuple[bool, bool]:
        store = SqliteStore(str(tmp_path / "s.db"))
        await store.migrate()
        await store.start_background()
        running = store._checkpointer is not None and store._checkpointer.is_alive()
        worker = store._checkpointer
        await store.close()
        return running, worker is not None and not worker.is_alive()

    running, stopped = asyncio.run(scenario())
    assert running and stopped


def test_memory_database_has_no_checkpointer() -> None:
    async def scenario() -> bool:
        store = SqliteStore(":memory:")
        await store.start_background()
        started = store._checkpointer is not None
        await store.close()
        return started

    assert asyncio.run(scenario()) is False
