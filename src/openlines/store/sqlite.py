"""The SQLite store: every SQLite repository composed over one connection (see sqlite_base)."""

from __future__ import annotations

from openlines.store.sqlite_bots import SqliteBotsAndDialogs
from openlines.store.sqlite_connectors import SqliteConnectors  # connectors lane
from openlines.store.sqlite_openlines import SqliteOpenLines
from openlines.store.sqlite_platform import SqlitePlatform
from openlines.store.sqlite_routing import SqliteRouting  # routing lane
from openlines.store.sqlite_transfers import SqliteTransfers


class SqliteStore(
    SqlitePlatform, SqliteOpenLines, SqliteBotsAndDialogs, SqliteTransfers, SqliteRouting, SqliteConnectors
):
    """Platform and Open Lines repositories on one SQLite connection."""
