"""Group commit on the SQLite store: blocks that end in one event-loop turn share a COMMIT, each
rolls back alone, and nobody resumes before the shared commit is done."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from openlines.store.base import StoreUnavailable
from openlines.store.sqlite import SqliteStore


async def _store(path: Path) -> SqliteStore:
    store = SqliteStore(str(path))
    await store.migrate()
    store.db.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
    await store.start_background()
    return store


def _committed(path: Path) -> list[str]:
    """What another connection sees: only committed rows."""
    other = sqlite3.connect(path)
    try:
        return [row[0] for row in other.execute("SELECT v FROM t ORDER BY id")]
    finally:
        other.close()


def test_concurrent_blocks_share_one_commit_and_resume_after_it(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    seen_after_resume: dict[str, list[str]] = {}
    commits: list[str] = []

    async def writer(store: SqliteStore, name: str) -> None:
        async with store.atomic():
            store.db.execute("INSERT INTO t(v) VALUES (?)", (name,))
        seen_after_resume[name] = _committed(path)

    async def scenario() -> None:
        store = await _store(path)
        store.db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        await asyncio.gather(*(writer(store, f"w{i}") for i in range(20)))
        await store.close()

    asyncio.run(scenario())
    names = [f"w{i}" for i in range(20)]
    assert sorted(_committed(path)) == sorted(names)
    for name in names:  # every caller resumed only once its own row was committed
        assert name in seen_after_resume[name]
    assert 1 <= len(commits) < 20  # the twenty blocks did not need twenty commits


def test_a_failing_block_rolls_back_alone(tmp_path: Path) -> None:
    path = tmp_path / "g.db"

    async def good(store: SqliteStore, name: str) -> None:
        async with store.atomic():
            store.db.execute("INSERT INTO t(v) VALUES (?)", (name,))

    async def bad(store: SqliteStore) -> None:
        async with store.atomic():
            store.db.execute("INSERT INTO t(v) VALUES ('doomed')")
            raise ValueError("refused")

    async def scenario() -> list[BaseException | None]:
        store = await _store(path)
        outcomes = await asyncio.gather(
            good(store, "a"), bad(store), good(store, "b"), return_exceptions=True
        )
        await store.close()
        return outcomes

    outcomes = asyncio.run(scenario())
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], ValueError)
    assert sorted(_committed(path)) == ["a", "b"]


def test_a_failed_commit_fails_every_waiter_and_keeps_nothing(tmp_path: Path) -> None:
    path = tmp_path / "g.db"

    async def scenario() -> list[BaseException | None]:
        store = await _store(path)
        # A deferred foreign key is only checked at COMMIT: the shared commit fails for everyone.
        store.db.execute("CREATE TABLE parent(id INTEGER PRIMARY KEY)")
        store.db.execute(
            "CREATE TABLE child(id INTEGER PRIMARY KEY, parent INTEGER "
            "REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
        )

        async def innocent() -> None:
            async with store.atomic():
                store.db.execute("INSERT INTO t(v) VALUES ('innocent')")

        async def orphan() -> None:
            async with store.atomic():
                store.db.execute("INSERT INTO child(parent) VALUES (42)")

        outcomes = await asyncio.gather(innocent(), orphan(), return_exceptions=True)
        async with store.atomic():  # the store is usable again afterwards
            store.db.execute("INSERT INTO t(v) VALUES ('later')")
        await store.close()
        return outcomes

    outcomes = asyncio.run(scenario())
    assert all(isinstance(o, StoreUnavailable) for o in outcomes)
    assert _committed(path) == ["later"]


def test_without_the_server_each_block_commits_by_itself(tmp_path: Path) -> None:
    async def scenario() -> int:
        store = SqliteStore(str(tmp_path / "p.db"))
        await store.migrate()
        store.db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        commits: list[str] = []
        store.db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        for i in range(3):
            async with store.atomic():
                store.db.execute("INSERT INTO t(v) VALUES (?)", (str(i),))
        await store.close()
        return len(commits)

    assert asyncio.run(scenario()) == 3


@pytest.mark.parametrize("depth", [2, 3])
def test_nested_blocks_join_the_outer_one(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "n.db"

    async def nest(store: SqliteStore, level: int) -> None:
        async with store.atomic():
            store.db.execute("INSERT INTO t(v) VALUES (?)", (f"level{level}",))
            if level < depth:
                await nest(store, level + 1)
            else:
                raise ValueError("innermost fails")

    async def scenario() -> None:
        store = await _store(path)
        with pytest.raises(ValueError):
            await nest(store, 1)
        await store.close()

    asyncio.run(scenario())
    assert _committed(path) == []  # the whole nest rolled back together
