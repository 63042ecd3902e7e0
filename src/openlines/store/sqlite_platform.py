"""SQLite repositories for the platform: portal metadata, users and credentials."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from openlines.domain.credentials import AccessToken, App, AuthCode, RefreshGrant, Webhook
from openlines.domain.users import User
from openlines.store.sqlite_base import SqliteBase


def _scopes(text: str) -> frozenset[str]:
    return frozenset(s for s in text.split(",") if s)


def _join(scopes: Iterable[str]) -> str:
    return ",".join(sorted(set(scopes)))


_USER_COLUMNS = (
    "id, kind, name, last_name, email, work_position, gender, active, extranet, admin, date_register, extra"
)


def _user(row: sqlite3.Row | tuple[Any, ...]) -> User:
    return User(
        id=row[0],
        kind=row[1],
        name=row[2],
        last_name=row[3],
        email=row[4],
        work_position=row[5],
        gender=row[6],
        active=bool(row[7]),
        extranet=bool(row[8]),
        admin=bool(row[9]),
        date_register=row[10],
        extra=json.loads(row[11]) if row[11] and row[11] != "{}" else {},
    )


class SqlitePlatform(SqliteBase):
    """Portal metadata, users and credentials."""

    async def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def upsert_user(self, user: User) -> None:
        self.db.execute(
            f"INSERT INTO users({_USER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, name=excluded.name, last_name=excluded.last_name, "
            "email=excluded.email, work_position=excluded.work_position, gender=excluded.gender, "
            "active=excluded.active, extranet=excluded.extranet, admin=excluded.admin, extra=excluded.extra",
            _user_values(user),
        )

    async def create_user(self, user: User) -> int:
        values = _user_values(user)
        cursor = self.db.execute(
            f"INSERT INTO users({_USER_COLUMNS}) VALUES "
            "((SELECT COALESCE(MAX(id), 0) + 1 FROM users),?,?,?,?,?,?,?,?,?,?,?)",
            values[1:],
        )
        return int(cursor.lastrowid or 0)

    async def get_user(self, user_id: int) -> User | None:
        row = self.db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
        return None if row is None else _user(row)

    async def list_users(self, kinds: tuple[str, ...] = ("employee",)) -> list[User]:
        marks = ",".join("?" * len(kinds))
        rows = self.db.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE kind IN ({marks}) ORDER BY id", kinds
        ).fetchall()
        return [_user(r) for r in rows]

    async def upsert_webhook(
        self, user_id: int, code_hash: str, scopes: list[str], title: str, now: float
    ) -> int:
        self.db.execute(
            "INSERT INTO webhooks(user_id, code_hash, scopes, title, created) VALUES (?,?,?,?,?) "
            "ON CONFLICT(code_hash) DO UPDATE SET user_id=excluded.user_id, scopes=excluded.scopes, "
            "title=excluded.title",
            (user_id, code_hash, _join(scopes), title, now),
        )
        row = self.db.execute("SELECT id FROM webhooks WHERE code_hash = ?", (code_hash,)).fetchone()
        return int(row[0])

    async def find_webhook(self, code_hash: str) -> Webhook | None:
        row = self.db.execute(
            "SELECT id, user_id, scopes, title FROM webhooks WHERE code_hash = ?", (code_hash,)
        ).fetchone()
        return None if row is None else Webhook(row[0], row[1], _scopes(row[2]), row[3])

    async def upsert_app(self, app: App) -> int:
        self.db.execute(
            "INSERT INTO apps(client_id, secret_hash, scopes, install_user, application_token, redirect_uri, "
            "name, active) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(client_id) DO UPDATE SET "
            "secret_hash=excluded.secret_hash, scopes=excluded.scopes, install_user=excluded.install_user, "
            "application_token=excluded.application_token, redirect_uri=excluded.redirect_uri, "
            "name=excluded.name, active=excluded.active",
            (
                app.client_id,
                app.secret_hash,
                _join(app.scopes),
                app.install_user,
                app.application_token,
                app.redirect_uri,
                app.name,
                int(app.active),
            ),
        )
        row = self.db.execute("SELECT id FROM apps WHERE client_id = ?", (app.client_id,)).fetchone()
        return int(row[0])

    _APP_COLUMNS = (
        "id, client_id, secret_hash, scopes, install_user, application_token, redirect_uri, name, active"
    )

    def _app(self, row: tuple[Any, ...] | None) -> App | None:
        if row is None:
            return None
        return App(row[0], row[1], row[2], _scopes(row[3]), row[4], row[5], row[6], row[7], bool(row[8]))

    async def get_app(self, client_id: str) -> App | None:
        return self._app(
            self.db.execute(
                f"SELECT {self._APP_COLUMNS} FROM apps WHERE client_id = ?", (client_id,)
            ).fetchone()
        )

    async def get_app_by_id(self, app_id: int) -> App | None:
        return self._app(
            self.db.execute(f"SELECT {self._APP_COLUMNS} FROM apps WHERE id = ?", (app_id,)).fetchone()
        )

    async def save_auth_code(self, code_hash: str, code: AuthCode) -> None:
        self.db.execute(
            "INSERT INTO oauth_codes(code_hash, app_id, user_id, scopes, expires) VALUES (?,?,?,?,?)",
            (code_hash, code.app_id, code.user_id, _join(code.scopes), code.expires),
        )

    async def take_auth_code(self, code_hash: str) -> AuthCode | None:
        row = self.db.execute(
            "DELETE FROM oauth_codes WHERE code_hash = ? RETURNING app_id, user_id, scopes, expires",
            (code_hash,),
        ).fetchone()
        return None if row is None else AuthCode(row[0], row[1], _scopes(row[2]), row[3])

    async def save_tokens(
        self, access_hash: str, access: AccessToken, refresh_hash: str, refresh: RefreshGrant
    ) -> None:
        async with self.atomic():
            self.db.executemany(
                "INSERT INTO oauth_tokens(token_hash, kind, app_id, user_id, scopes, expires) VALUES (?,?,?,?,?,?)",
                [
                    (
                        access_hash,
                        "access",
                        access.app_id,
                        access.user_id,
                        _join(access.scopes),
                        access.expires,
                    ),
                    (
                        refresh_hash,
                        "refresh",
                        refresh.app_id,
                        refresh.user_id,
                        _join(refresh.scopes),
                        refresh.expires,
                    ),
                ],
            )

    async def find_access_token(self, token_hash: str) -> AccessToken | None:
        row = self.db.execute(
            "SELECT t.app_id, a.client_id, t.user_id, t.scopes, t.expires FROM oauth_tokens t "
            "JOIN apps a ON a.id = t.app_id WHERE t.token_hash = ? AND t.kind = 'access'",
            (token_hash,),
        ).fetchone()
        return None if row is None else AccessToken(row[0], row[1], row[2], _scopes(row[3]), row[4])

    async def take_refresh_token(self, token_hash: str) -> RefreshGrant | None:
        row = self.db.execute(
            "DELETE FROM oauth_tokens WHERE token_hash = ? AND kind = 'refresh' "
            "RETURNING app_id, user_id, scopes, expires",
            (token_hash,),
        ).fetchone()
        return None if row is None else RefreshGrant(row[0], row[1], _scopes(row[2]), row[3])

    async def purge_expired_tokens(self, now: float) -> int:
        cursor = self.db.execute("DELETE FROM oauth_tokens WHERE expires < ?", (now - 86400,))
        self.db.execute("DELETE FROM oauth_codes WHERE expires < ?", (now,))
        return cursor.rowcount


def _user_values(user: User) -> tuple[Any, ...]:
    return (
        user.id,
        user.kind,
        user.name,
        user.last_name,
        user.email,
        user.work_position,
        user.gender,
        int(user.active),
        int(user.extranet),
        int(user.admin),
        user.date_register,
        json.dumps(user.extra) if user.extra else "{}",
    )
