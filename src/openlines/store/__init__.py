"""Storage: pick a backend from a database address."""

from __future__ import annotations

from openlines.store.base import Store, StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "open_store"]


async def open_store(address: str, synchronous: str = "normal") -> Store:
    """``openlines.db`` / ``:memory:`` → SQLite; ``postgresql://…`` → PostgreSQL."""
    if address.startswith(("postgresql://", "postgres://")):
        raise StoreUnavailable(
            "PostgreSQL storage is not available in this version yet; use a SQLite file (the default)"
        )
    from openlines.store.sqlite import SqliteStore

    store = SqliteStore(address, synchronous)
    return store
