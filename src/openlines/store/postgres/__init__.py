"""The PostgreSQL store: every PostgreSQL repository mixin composed over one asyncpg pool (see
``postgres.base``). Each module mirrors the SQLite module of the same lane."""

from __future__ import annotations

from openlines.store.postgres.bots import PgBotsAndDialogs
from openlines.store.postgres.connectors import PgConnectors  # connectors lane
from openlines.store.postgres.openlines import PgOpenLines
from openlines.store.postgres.platform import PgPlatform
from openlines.store.postgres.routing import PgRouting
from openlines.store.postgres.shared import PgShared
from openlines.store.postgres.transfers import PgTransfers


class PostgresStore(
    PgPlatform, PgOpenLines, PgBotsAndDialogs, PgTransfers, PgRouting, PgConnectors, PgShared
):
    """Platform and Open Lines repositories on one asyncpg pool, shared by every worker process."""


async def open_postgres(dsn: str, pool_size: int = 16) -> PostgresStore:
    """A connected store (raises StoreUnavailable, one clear line, when PostgreSQL cannot be reached)."""
    store = PostgresStore(dsn, pool_size)
    await store.connect()
    return store


__all__ = ["PostgresStore", "open_postgres"]
