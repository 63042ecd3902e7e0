"""Databases for the servers under test: a template is prepared once, and every measured run gets a
fresh copy — a file copy for SQLite, ``CREATE DATABASE … TEMPLATE …`` for PostgreSQL. Everything made
here is removed by :meth:`close`."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit


class Databases(Protocol):
    kind: str

    def new(self, name: str) -> str: ...
    def copy(self, source: str, name: str) -> str: ...
    def drop(self, address: str) -> None: ...
    def analyze(self, address: str) -> None: ...
    def close(self) -> None: ...


class SqliteDatabases:
    kind = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def new(self, name: str) -> str:
        return str(self.folder / f"{name}.db")

    def copy(self, source: str, name: str) -> str:
        target = self.new(name)
        for suffix in ("", "-wal", "-shm"):
            src = Path(source + suffix)
            if src.exists():
                shutil.copyfile(src, target + suffix)
        return target

    def drop(self, address: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(address + suffix).unlink(missing_ok=True)

    def analyze(self, address: str) -> None:
        pass  # SQLite plans by its indexes alone; the store never runs ANALYZE

    def close(self) -> None:
        pass  # the work folder goes as a whole


class PostgresDatabases:
    """Databases ``openlines_bench_<random>_<name>`` on the server of ``admin`` (any database there
    that the user may connect to; the user needs CREATEDB)."""

    kind = "postgresql"

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.prefix = f"openlines_bench_{uuid.uuid4().hex[:8]}_"
        self.made: list[str] = []

    def _address(self, database: str) -> str:
        parts = urlsplit(self.admin)
        return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))

    def _run(self, statement: str) -> None:
        async def go() -> None:
            import asyncpg

            connection = await asyncpg.connect(self.admin)
            try:
                await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(go())

    def analyze(self, address: str) -> None:
        """Statistics for a seeded template (copies inherit them). Without them the planner takes
        freshly filled tables for empty ones and picks sequential scans, e.g. over all users for a
        chat's member kinds; autovacuum would gather them in time, but may be off or not yet run."""

        async def go() -> None:
            import asyncpg

            connection = await asyncpg.connect(address)
            try:
                await connection.execute("ANALYZE")
            finally:
                await connection.close()

        asyncio.run(go())

    def new(self, name: str) -> str:
        database = self.prefix + name.lower().replace("-", "_")
        self._run(f'CREATE DATABASE "{database}"')
        self.made.append(database)
        return self._address(database)

    def copy(self, source: str, name: str) -> str:
        database = self.prefix + name.lower().replace("-", "_")
        template = urlsplit(source).path.lstrip("/")
        for attempt in range(20):  # a stopped server's connections may take a moment to go
            try:
                self._run(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
                break
            except Exception as exc:
                if "being accessed by other users" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.5)
        self.made.append(database)
        return self._address(database)

    def drop(self, address: str) -> None:
        database = urlsplit(address).path.lstrip("/")
        self._run(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if database in self.made:
            self.made.remove(database)

    def close(self) -> None:
        for database in list(self.made):
            self._run(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            self.made.remove(database)


def open_databases(db: str, folder: Path) -> Databases:
    if db.startswith(("postgresql://", "postgres://")):
        return PostgresDatabases(db)
    if db not in ("", "sqlite"):
        raise SystemExit(f"openlines bench: --db takes 'sqlite' or a postgresql:// address, not {db!r}")
    return SqliteDatabases(folder)
