"""PostgreSQL repositories for the platform: portal metadata, users and credentials (see
``sqlite_platform``: the same SQL, ``?`` placeholders numbered by the base)."""

from __future__ import annotations

from typing import Any

from openlines.domain.credentials import AccessToken, App, AuthCode, RefreshGrant, Webhook
from openlines.domain.users import User
from openlines.store.postgres.base import USER_IDS, PgBase, translate
from openlines.store.sqlite_platform import _USER_COLUMNS, _join, _scopes, _user, _user_values

# The sequence's next value, or (when explicit ids from the configuration are above it) one more
# than the largest id, moving the sequence there: ids stay above every existing user, as on SQLite.
_NEXT_USER_ID = (
    f"(SELECT CASE WHEN n > m THEN n ELSE setval('{USER_IDS}', m + 1) END "
    f"FROM (SELECT nextval('{USER_IDS}') AS n, (SELECT COALESCE(MAX(id), 0) FROM users) AS m) AS s)"
)


class PgPlatform(PgBase):
    """Portal metadata, users and credentials."""

    async def get_meta(self, key: str) -> str | None:
        value = await self.fetchval("SELECT value FROM meta WHERE key = ?", key)
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        await self.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )

    async def upsert_user(self, user: User) -> None:
        await self.execute(
            f"INSERT INTO users({_USER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, name=excluded.name, last_name=excluded.last_name, "
            "email=excluded.email, work_position=excluded.work_position, gender=excluded.gender, "
            "active=excluded.active, extranet=excluded.extranet, admin=excluded.admin, extra=excluded.extra",
            *_user_values(user),
        )

    async def create_user(self, user: User) -> int:
        """A new user with the next id from a sequence (concurrent creations never wait on each
        other). An id the configuration took explicitly is skipped: the sequence moves past the
        largest id and the insert is tried again."""
        values = _user_values(user)[1:]
        for _ in range(5):
            new_id = await self.fetchval(
                f"INSERT INTO users({_USER_COLUMNS}) VALUES ({_NEXT_USER_ID},?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(id) DO NOTHING RETURNING id",
                *values,
            )
            if new_id is not None:
                return int(new_id)
            await self.fetchval(f"SELECT setval('{USER_IDS}', (SELECT MAX(id) FROM users))")
        raise translate(TimeoutError("could not allocate a user id"))

    async def get_user(self, user_id: int) -> User | None:
        row = await self.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", user_id)
        return None if row is None else _user(tuple(row))

    async def list_users(self, kinds: tuple[str, ...] = ("employee",)) -> list[User]:
        rows = await self.fetch(
            f"SELECT {_USER_COLUMNS} FROM users WHERE kind = ANY(?::text[]) ORDER BY id", list(kinds)
        )
        return [_user(tuple(r)) for r in rows]

    async def upsert_webhook(
        self, user_id: int, code_hash: str, scopes: list[str], title: str, now: float
    ) -> int:
        return int(
            await self.fetchval(
                "INSERT INTO webhooks(user_id, code_hash, scopes, title, created) VALUES (?,?,?,?,?) "
                "ON CONFLICT(code_hash) DO UPDATE SET user_id=excluded.user_id, scopes=excluded.scopes, "
                "title=excluded.title RETURNING id",
                user_id,
                code_hash,
                _join(scopes),
                title,
                now,
            )
        )

    async def find_webhook(self, code_hash: str) -> Webhook | None:
        row = await self.fetchrow(
            "SELECT id, user_id, scopes, title FROM webhooks WHERE code_hash = ?", code_hash
        )
        return None if row is None else Webhook(row[0], row[1], _scopes(row[2]), row[3])

    async def upsert_app(self, app: App) -> int:
        return int(
            await self.fetchval(
                "INSERT INTO apps(client_id, secret_hash, scopes, install_user, application_token, "
                "redirect_uri, name, active) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(client_id) DO UPDATE SET "
                "secret_hash=excluded.secret_hash, scopes=excluded.scopes, install_user=excluded.install_user, "
                "application_token=excluded.application_token, redirect_uri=excluded.redirect_uri, "
                "name=excluded.name, active=excluded.active RETURNING id",
                app.client_id,
                app.secret_hash,
                _join(app.scopes),
                app.install_user,
                app.application_token,
                app.redirect_uri,
                app.name,
                int(app.active),
            )
        )

    _APP_COLUMNS = (
        "id, client_id, secret_hash, scopes, install_user, application_token, redirect_uri, name, active"
    )

    def _app(self, row: Any) -> App | None:
        if row is None:
            return None
        return App(row[0], row[1], row[2], _scopes(row[3]), row[4], row[5], row[6], row[7], bool(row[8]))

    async def get_app(self, client_id: str) -> App | None:
        return self._app(
            await self.fetchrow(f"SELECT {self._APP_COLUMNS} FROM apps WHERE client_id = ?", client_id)
        )

    async def get_app_by_id(self, app_id: int) -> App | None:
        return self._app(await self.fetchrow(f"SELECT {self._APP_COLUMNS} FROM apps WHERE id = ?", app_id))

    async def save_auth_code(self, code_hash: str, code: AuthCode) -> None:
        await self.execute(
            "INSERT INTO oauth_codes(code_hash, app_id, user_id, scopes, expires) VALUES (?,?,?,?,?)",
            code_hash,
            code.app_id,
            code.user_id,
            _join(code.scopes),
            code.expires,
        )

    async def take_auth_code(self, code_hash: str) -> AuthCode | None:
        row = await self.fetchrow(
            "DELETE FROM oauth_codes WHERE code_hash = ? RETURNING app_id, user_id, scopes, expires",
            code_hash,
        )
        return None if row is None else AuthCode(row[0], row[1], _scopes(row[2]), row[3])

    async def save_tokens(
        self, access_hash: str, access: AccessToken, refresh_hash: str, refresh: RefreshGrant
    ) -> None:
        await self.executemany(
            "INSERT INTO oauth_tokens(token_hash, kind, app_id, user_id, scopes, expires) VALUES (?,?,?,?,?,?)",
            [
                (access_hash, "access", access.app_id, access.user_id, _join(access.scopes), access.expires),
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
        row = await self.fetchrow(
            "SELECT t.app_id, a.client_id, t.user_id, t.scopes, t.expires FROM oauth_tokens t "
            "JOIN apps a ON a.id = t.app_id WHERE t.token_hash = ? AND t.kind = 'access'",
            token_hash,
        )
        return None if row is None else AccessToken(row[0], row[1], row[2], _scopes(row[3]), row[4])

    async def take_refresh_token(self, token_hash: str) -> RefreshGrant | None:
        row = await self.fetchrow(
            "DELETE FROM oauth_tokens WHERE token_hash = ? AND kind = 'refresh' "
            "RETURNING app_id, user_id, scopes, expires",
            token_hash,
        )
        return None if row is None else RefreshGrant(row[0], row[1], _scopes(row[2]), row[3])

    async def purge_expired_tokens(self, now: float) -> int:
        count = await self.execute("DELETE FROM oauth_tokens WHERE expires < ?", now - 86400)
        await self.execute("DELETE FROM oauth_codes WHERE expires < ?", now)
        return count
