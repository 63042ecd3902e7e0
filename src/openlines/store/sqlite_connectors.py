"""SQLite repository of custom channel connectors (imconnector.*; connectors lane K)."""

from __future__ import annotations

import json
from typing import Any

from openlines.domain.connectors import Connector, ConnectorLine
from openlines.store.sqlite_base import SqliteBase

_CONNECTOR_COLUMNS = "id, app_id, name, icon, icon_disabled, placement_handler, options, created"


def connector_from_row(row: Any) -> Connector:
    return Connector(
        id=str(row[0]),
        app_id=str(row[1]),
        name=str(row[2]),
        icon=json.loads(row[3]),
        icon_disabled=json.loads(row[4]),
        placement_handler=str(row[5]),
        options=json.loads(row[6]),
        created=float(row[7]),
    )


def connector_values(connector: Connector) -> tuple[Any, ...]:
    return (
        connector.id,
        connector.app_id,
        connector.name,
        json.dumps(connector.icon),
        json.dumps(connector.icon_disabled),
        connector.placement_handler,
        json.dumps(connector.options),
        connector.created,
    )


UPSERT_CONNECTOR = (
    f"INSERT INTO connectors({_CONNECTOR_COLUMNS}) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
    "app_id=excluded.app_id, name=excluded.name, icon=excluded.icon, icon_disabled=excluded.icon_disabled, "
    "placement_handler=excluded.placement_handler, options=excluded.options"
)
SELECT_CONNECTOR = f"SELECT {_CONNECTOR_COLUMNS} FROM connectors"
UPSERT_CONNECTOR_LINE = (
    "INSERT INTO connector_lines(connector, line_id, active, data, changed) VALUES (?,?,?,?,?) "
    "ON CONFLICT(connector, line_id) DO UPDATE SET active=excluded.active, data=excluded.data, "
    "changed=excluded.changed"
)
SELECT_CONNECTOR_LINE = "SELECT connector, line_id, active, data, changed FROM connector_lines"


def connector_line_from_row(row: Any) -> ConnectorLine:
    return ConnectorLine(
        connector=str(row[0]),
        line_id=int(row[1]),
        active=bool(row[2]),
        data=json.loads(row[3]),
        changed=float(row[4]),
    )


def connector_line_values(state: ConnectorLine) -> tuple[Any, ...]:
    return (state.connector, state.line_id, int(state.active), json.dumps(state.data), state.changed)


class SqliteConnectors(SqliteBase):
    async def save_connector(self, connector: Connector) -> None:
        self.db.execute(UPSERT_CONNECTOR, connector_values(connector))

    async def get_connector(self, connector_id: str) -> Connector | None:
        row = self.db.execute(f"{SELECT_CONNECTOR} WHERE id = ?", (connector_id,)).fetchone()
        return None if row is None else connector_from_row(row)

    async def list_connectors(self) -> list[Connector]:
        rows = self.db.execute(f"{SELECT_CONNECTOR} ORDER BY id").fetchall()
        return [connector_from_row(r) for r in rows]

    async def delete_connector(self, connector_id: str) -> bool:
        """Forget a connector and its per-line state; whether it existed."""
        self.db.execute("DELETE FROM connector_lines WHERE connector = ?", (connector_id,))
        cursor = self.db.execute("DELETE FROM connectors WHERE id = ?", (connector_id,))
        return cursor.rowcount > 0

    async def get_connector_line(self, connector_id: str, line_id: int) -> ConnectorLine | None:
        row = self.db.execute(
            f"{SELECT_CONNECTOR_LINE} WHERE connector = ? AND line_id = ?", (connector_id, line_id)
        ).fetchone()
        return None if row is None else connector_line_from_row(row)

    async def save_connector_line(self, state: ConnectorLine) -> None:
        self.db.execute(UPSERT_CONNECTOR_LINE, connector_line_values(state))

    async def drop_line_connectors(self, line_id: int) -> list[ConnectorLine]:
        """Forget every connector's state on a line (the line is being deleted); what was there."""
        rows = self.db.execute(f"{SELECT_CONNECTOR_LINE} WHERE line_id = ? ORDER BY connector", (line_id,))
        dropped = [connector_line_from_row(r) for r in rows.fetchall()]
        self.db.execute("DELETE FROM connector_lines WHERE line_id = ?", (line_id,))
        return dropped

    async def connector_user(self, connector_id: str, external_id: str) -> int:
        """The customer user id behind a connector's external user id (0: none yet)."""
        row = self.db.execute(
            "SELECT user_id FROM connector_users WHERE connector = ? AND external_id = ?",
            (connector_id, external_id),
        ).fetchone()
        return 0 if row is None else int(row[0])

    async def save_connector_user(
        self, connector_id: str, external_id: str, user_id: int, now: float
    ) -> None:
        self.db.execute(
            "INSERT INTO connector_users(connector, external_id, user_id, created) VALUES (?,?,?,?) "
            "ON CONFLICT(connector, external_id) DO UPDATE SET user_id = excluded.user_id",
            (connector_id, external_id, user_id, now),
        )
