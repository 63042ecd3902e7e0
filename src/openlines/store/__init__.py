"""Storage: pick a backend from a database address."""

from __future__ import annotations

from openlines.store.base import Store, StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "open_store"]


async def open_store(address: str, synchronous: str = "normal") -> Store:
    """``openlines.db`` / ``:memory:`` → SQLite; ``postgresql://…`` → PostgreSQL."""
    if address.startswith(("postgresql://", "postgres://")):
        import os

        try:
            from openlines.store.postgres import open_postgres
        except ImportError as exc:  # asyncpg is the optional extra "postgres"
            raise StoreUnavailable(
                f"PostgreSQL needs asyncpg: pip install 'openlines[postgres]' ({exc})"
            ) from exc

        return await open_postgres(address, int(os.environ.get("OPENLINES_PG_POOL_SIZE", "16") or 16))
    from openlines.store.sqlite import SqliteStore

    store = SqliteStore(address, synchronous)
    return store
