"""The ``store`` fixture: every contract test runs on a real SQLite file and on a PostgreSQL
database made for this test session (the PostgreSQL half skips only when OPENLINES_TEST_PG is unset)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from openlines.store import open_store
from openlines.store.base import Store
from tests.store.pg import fresh_database, reset

T = TypeVar("T")


class Harness:
    """A store on its own event loop: ``run`` drives one coroutine to its end."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.loop = asyncio.new_event_loop()
        self.store: Store = self.run(open_store(address))
        self.run(self.store.migrate())

    @property
    def dialect(self) -> str:
        return self.store.dialect

    def run(self, work: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    def close(self) -> None:
        self.run(self.store.close())
        self.loop.close()


@pytest.fixture(scope="session")
def pg_address() -> Iterator[str]:
    with fresh_database() as address:
        yield address


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "sqlite":
        harness = Harness(str(tmp_path / "contract.db"))
    else:
        address: str = request.getfixturevalue("pg_address")
        asyncio.run(reset(address))
        harness = Harness(address)
    yield harness
    harness.close()
