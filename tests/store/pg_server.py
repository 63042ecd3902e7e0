"""``openlines serve`` processes on a PostgreSQL database of their own, and a read-only view of
that database shaped like ``sqlite3`` for tests that inspect rows (``execute(sql, params)`` with
``?`` placeholders, ``fetchone``, iteration)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from openlines.store.postgres.base import sql
from tests.conftest import ServerProcess
from tests.store.pg import fresh_database


@dataclass
class PgServerProcess(ServerProcess):
    """A server whose ``--db`` is a PostgreSQL address."""

    address: str = ""

    @property
    def db(self) -> Any:  # the address given to --db (a Path for the SQLite parent)
        return self.address


class Rows(list[tuple[Any, ...]]):
    def fetchone(self) -> tuple[Any, ...] | None:
        return self[0] if self else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self)


class PgReader:
    """Enough of a ``sqlite3.Connection`` for tests that read rows."""

    def __init__(self, address: str) -> None:
        self.address = address

    def __enter__(self) -> PgReader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, query: str, params: Sequence[Any] = ()) -> Rows:
        async def fetch() -> Rows:
            connection = await asyncpg.connect(self.address)
            try:
                return Rows(tuple(r) for r in await connection.fetch(sql(query), *params))
            finally:
                await connection.close()

        return asyncio.run(fetch())

    def close(self) -> None:
        return None


@contextmanager
def pg_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, *args: str, **env: str
) -> Iterator[PgServerProcess]:
    """A fresh database and a server on it; both gone afterwards."""
    with fresh_database() as address:
        folder: Path = tmp_path_factory.mktemp(name)
        proc = PgServerProcess(folder, list(args), dict(env), address=address)
        proc.start()
        try:
            yield proc
        finally:
            proc.stop()
