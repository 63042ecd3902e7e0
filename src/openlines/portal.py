"""Bringing a portal up: open the store, migrate, make or load the server secret, apply the
declarative configuration, and assemble the :class:`Services` every request uses."""

from __future__ import annotations

import secrets as pysecrets
from dataclasses import dataclass

from openlines.auth import secrets
from openlines.clock import Clock, FakeClock, parse_offset
from openlines.config import Config
from openlines.domain.credentials import App
from openlines.domain.users import User
from openlines.engine import app_install
from openlines.methods import catalog
from openlines.services import Portal, Services, member_id_for
from openlines.store import open_store
from openlines.store.base import Store


@dataclass
class Bootstrap:
    services: Services
    migrated: list[int]


def public_url(config: Config) -> str:
    server = config.server
    if server.public_url:
        return server.public_url.rstrip("/")
    scheme = "https" if (server.tls or server.tls_cert) else "http"
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}:{server.port}"


async def load_secret(store: Store, configured: str) -> bytes:
    if configured:
        return configured.encode("utf-8")
    existing = await store.get_meta("secret")
    if existing:
        return existing.encode("utf-8")
    made = pysecrets.token_hex(32)
    await store.set_meta("secret", made)
    return made.encode("utf-8")


async def bootstrap(config: Config, clock: Clock | None = None, fake_clock: bool = False) -> Bootstrap:
    tz = parse_offset(config.server.timezone)
    if clock is None:
        clock = FakeClock(tz=tz) if fake_clock else Clock(tz)
    store = await open_store(config.server.db, config.server.sqlite_synchronous)
    try:
        # Servers starting together on one database do this one at a time: one migrates, one makes
        # the secret, and an app new to the database is installed (ONAPPINSTALL) by one of them.
        async with store.startup_lock():
            migrated = await store.migrate()
            secret = await load_secret(store, config.server.secret)
            url = public_url(config)
            portal = Portal(
                domain=config.server.domain or url.split("://", 1)[1],
                member_id=config.server.member_id or member_id_for(secret),
                public_url=url,
            )
            services = Services(
                config=config,
                clock=clock,
                store=store,
                registry=catalog.build(),
                secret=secret,
                portal=portal,
            )
            await apply_config(services)
    except BaseException:
        await store.close()
        raise
    return Bootstrap(services, migrated)


async def apply_config(services: Services) -> None:
    """Upsert what the configuration declares. Applying it twice changes nothing."""
    config = services.config
    store = services.store
    now = services.clock.now()
    async with store.atomic():
        for u in config.users:
            existing = await store.get_user(u.id)
            await store.upsert_user(
                User(
                    id=u.id,
                    kind="employee",
                    name=u.name,
                    last_name=u.last_name,
                    email=u.email,
                    work_position=u.work_position,
                    gender=u.gender,
                    active=u.active,
                    extranet=u.extranet,
                    admin=u.admin,
                    date_register=existing.date_register if existing else now,
                    extra=existing.extra if existing else {},
                )
            )
        for hook in config.webhooks:
            await store.upsert_webhook(
                hook.user, secrets.digest(services.secret, hook.code), hook.scopes, "config", now
            )
        for app in config.apps:
            record = App(
                id=0,
                client_id=app.client_id,
                secret_hash=secrets.digest(services.secret, app.client_secret),
                scopes=frozenset(app.scopes),
                install_user=app.install_user,
                application_token=app.application_token
                or application_token_for(services.secret, app.client_id),
                redirect_uri=app.redirect_uri,
                name=app.name,
            )
            await add_app(services, record, app.install_handler)
    # Feature modules (lines, routing...) apply their own tables through the catalog's appliers.
    for applier in catalog.config_appliers():
        await applier(services)


async def add_app(services: Services, app: App, install_handler: str = "") -> bool:
    """Create or update an app (in the caller's transaction). A new app is installed: its
    ``install_handler`` hears ONAPPINSTALL. True when the app is new."""
    store = services.store
    new = await store.get_app(app.client_id) is None
    await store.upsert_app(app)
    await app_install.bind_install_handler(services, app, install_handler)
    if new:
        await app_install.installed(services, app)
    return new


def application_token_for(secret: bytes, client_id: str) -> str:
    """A stable per-app token, so events stay verifiable across restarts without storing a new one."""
    return secrets.digest(secret, "application_token:" + client_id)[:32]
