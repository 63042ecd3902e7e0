"""PostgreSQL twin of ``sqlite_connectors``: custom channel connectors (connectors lane K)."""

from __future__ import annotations

from openlines.domain.connectors import Connector, ConnectorLine
from openlines.store.postgres.base import PgBase
from openlines.store.sqlite_connectors import (
    SELECT_CONNECTOR,
    SELECT_CONNECTOR_LINE,
    UPSERT_CONNECTOR,
    UPSERT_CONNECTOR_LINE,
    connector_from_row,
    connector_line_from_row,
    connector_line_values,
    connector_values,
)


class PgConnectors(PgBase):
    async def save_connector(self, connector: Connector) -> None:
        await self.execute(UPSERT_CONNECTOR, *connector_values(connector))

    async def get_connector(self, connector_id: str) -> Connector | None:
        row = await self.fetchrow(f"{SELECT_CONNECTOR} WHERE id = ?", connector_id)
        return None if row is None else connector_from_row(row)

    async def list_connectors(self) -> list[Connector]:
        rows = await self.fetch(f"{SELECT_CONNECTOR} ORDER BY id")
        return [connector_from_row(r) for r in rows]

    async def delete_connector(self, connector_id: str) -> bool:
        """Forget a connector and its per-line state; whether it existed."""
        async with self.atomic():
            await self.execute("DELETE FROM connector_lines WHERE connector = ?", connector_id)
            return await self.execute("DELETE FROM connectors WHERE id = ?", connector_id) > 0

    async def get_connector_line(self, connector_id: str, line_id: int) -> ConnectorLine | None:
        row = await self.fetchrow(
            f"{SELECT_CONNECTOR_LINE} WHERE connector = ? AND line_id = ?", connector_id, line_id
        )
        return None if row is None else connector_line_from_row(row)

    async def save_connector_line(self, state: ConnectorLine) -> None:
        await self.execute(UPSERT_CONNECTOR_LINE, *connector_line_values(state))

    async def drop_line_connectors(self, line_id: int) -> list[ConnectorLine]:
        """Forget every connector's state on a line (see the SQLite store)."""
        rows = await self.fetch(
            "DELETE FROM connector_lines WHERE line_id = ? RETURNING connector, line_id, active, data, changed",
            line_id,
        )
        return sorted((connector_line_from_row(r) for r in rows), key=lambda state: state.connector)

    async def connector_user(self, connector_id: str, external_id: str) -> int:
        """The customer user id behind a connector's external user id (0: none yet)."""
        found = await self.fetchval(
            "SELECT user_id FROM connector_users WHERE connector = ? AND external_id = ?",
            connector_id,
            external_id,
        )
        return 0 if found is None else int(found)

    async def save_connector_user(
        self, connector_id: str, external_id: str, user_id: int, now: float
    ) -> None:
        await self.execute(
            "INSERT INTO connector_users(connector, external_id, user_id, created) VALUES (?,?,?,?) "
            "ON CONFLICT(connector, external_id) DO UPDATE SET user_id = excluded.user_id",
            connector_id,
            external_id,
            user_id,
            now,
        )
