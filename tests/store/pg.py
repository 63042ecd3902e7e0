"""Throw-away PostgreSQL databases for tests, made from ``OPENLINES_TEST_PG`` (the tests that need
one skip only where it is unset). Every database made here is dropped by the same helper."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

PG_ADDRESS = os.environ.get("OPENLINES_TEST_PG", "")


def with_database(address: str, name: str) -> str:
    parts = urlsplit(address)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADDRESS)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_database(prefix: str = "openlines_t") -> Iterator[str]:
    """A new empty database (``openlines_t_<random>``); its address; dropped afterwards."""
    if not PG_ADDRESS:
        pytest.skip("OPENLINES_TEST_PG is not set")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(PG_ADDRESS, name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def reset(address: str) -> None:
    """Empty every table except the migration record, restarting the id sequences."""
    connection = await asyncpg.connect(address)
    try:
        tables = [
            r[0]
            for r in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'schema_migrations'"
            )
        ]
        if tables:
            await connection.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        await connection.execute("ALTER SEQUENCE IF EXISTS openlines_user_ids RESTART WITH 1")
    finally:
        await connection.close()
