"""The ``openlines`` command: serve, init, check-config, migrate, webhook and app management."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets as pysecrets
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from openlines import __version__, logs
from openlines import config as config_mod
from openlines.cli_support import (
    ConfigOption,
    DbOption,
    console,
    errors_console,
    fail,
    load_config,
    open_services,
    run,
    with_store_errors,
)
from openlines.config import REDIS_SCHEMES, VALID_SCOPES, Config, ConfigError
from openlines.delivery.commands import events_app
from openlines.limits.settings import PRESETS

app = typer.Typer(
    help="openlines: a self-hosted Open Lines server, wire-compatible with Bitrix24's chat-bot REST API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
webhook_app = typer.Typer(help="Incoming webhooks (the /rest/USER_ID/CODE/ URLs).", no_args_is_help=True)
apps_app = typer.Typer(help="OAuth applications.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")
app.add_typer(apps_app, name="app")


app.add_typer(events_app, name="events")


def version_callback(value: bool) -> None:
    if value:
        console.print(f"openlines {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """openlines command line."""


# --- serve -----------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: 8024).")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the built-in demo portal.")] = False,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request (costs ~30 % speed).")
    ] = False,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="Private key for --tls-cert.")] = None,
    tls: Annotated[bool, typer.Option("--tls", help="Serve HTTPS with a generated local CA.")] = False,
    http_port: Annotated[int | None, typer.Option("--http-port", help="Also serve plain HTTP here.")] = None,
    fake_clock: Annotated[
        bool, typer.Option("--fake-clock", help="Start a clock that moves only when told.")
    ] = False,
    limits: Annotated[
        str | None,
        typer.Option("--limits", help="Emulate the cloud's limits: off, cloud or enterprise (default: off)."),
    ] = None,
    redis: Annotated[
        str | None,
        typer.Option("--redis", help="Share the --limits request-rate buckets through Redis (redis://…)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            envvar="OPENLINES_WORKERS",
            help="Worker processes sharing the port (more than 1 needs PostgreSQL).",
        ),
    ] = 1,
) -> None:
    """Run the server."""
    cfg = load_config(config, demo=demo, db=db)
    server = cfg.server
    if host is not None:
        server.host = host
    if port is not None:
        server.port = port
    if http_port is not None:
        server.http_port = http_port
    server.access_log = server.access_log or access_log
    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert and --tls-key go together", 2)
    if tls_cert is not None and tls_key is not None:
        for file in (tls_cert, tls_key):
            if not file.is_file():
                fail(f"{file}: no such file", 2)
        server.tls_cert, server.tls_key = str(tls_cert), str(tls_key)
    server.tls = server.tls or tls
    for value, name in ((server.port, "--port"), (server.http_port, "--http-port")):
        if not 0 <= value <= 65535:
            fail(f"{name} must be between 0 and 65535", 2)
    if redis is not None:
        if not redis.startswith(REDIS_SCHEMES):
            fail(f"--redis must start with one of {', '.join(REDIS_SCHEMES)}", 2)
        server.redis = redis
    if limits is not None:  # drop-in lane
        if limits.lower() not in PRESETS:
            fail(f"--limits must be one of {', '.join(PRESETS)}", 2)
        cfg.limits.preset = limits.lower()
    logs.configure(logging.INFO if server.access_log else logging.WARNING)
    if workers != 1:  # scale-out lane: a supervisor forks the workers (openlines.workers)
        from openlines.workers import serve_workers

        serve_workers(cfg, fake_clock, workers, _serve, run, fail)
        return
    run(_serve(cfg, fake_clock))


async def _serve(cfg: Config, fake_clock: bool, sockets: tuple[Any, Any] | None = None) -> None:
    from openlines import httpserver
    from openlines.portal import bootstrap
    from openlines.store.base import StoreUnavailable
    from openlines.web.app import build_app

    server = cfg.server
    ca_path: Path | None = None
    if server.tls and not server.tls_cert:
        from openlines.tls import ensure_local_tls

        folder = Path(server.data_dir) if server.data_dir else _data_dir(server.db)
        made = ensure_local_tls(folder)
        server.tls_cert, server.tls_key, ca_path = str(made.cert), str(made.key), made.ca
    try:
        if sockets is not None:  # a worker of serve --workers: the supervisor bound them
            main_socket, plain_socket = sockets
        else:
            main_socket = httpserver.bind(server.host, server.port)
            plain_socket = httpserver.bind(server.host, server.http_port) if server.http_port else None
    except httpserver.PortInUse as exc:
        fail(str(exc))
        return
    if server.port == 0:
        server.port = main_socket.getsockname()[1]
    try:
        boot = await bootstrap(cfg, fake_clock=fake_clock)
    except StoreUnavailable as exc:
        main_socket.close()
        fail(str(exc))
        return
    services = boot.services
    services.startup.insert(0, services.store.start_background)
    services.shutdown.append(services.store.close)
    from openlines.delivery import install as install_delivery
    from openlines.limits import install as install_limits

    install_delivery(services)  # after store.close: shutdown runs in reverse, so the worker stops first
    install_limits(services)  # drop-in lane
    if sockets is None or os.environ.get("OPENLINES_WORKER") == "0":
        _banner(cfg, services, ca_path, plain_socket)
    ssl = (server.tls_cert, server.tls_key) if server.tls_cert else None
    asgi = build_app(services)
    if services.store.dialect == "postgresql" or cfg.server.redis:  # state every worker must share
        from openlines.workers import share_state

        asgi = await share_state(asgi, services)
    await httpserver.serve(asgi, main_socket, access_log=server.access_log, ssl=ssl, plain=plain_socket)


def _data_dir(db: str) -> Path:
    if db == ":memory:" or db.startswith("postgres"):
        return Path("openlines-data")
    return Path(db).resolve().parent / "openlines-data"


def _banner(cfg: Config, services: Any, ca_path: Path | None, plain_socket: Any) -> None:
    portal = services.portal
    server = cfg.server
    console.print(f"[bold green]openlines {__version__}[/] serving [bold]{portal.public_url}[/]")
    if plain_socket is not None:
        console.print(f"  plain HTTP also on http://{server.host}:{plain_socket.getsockname()[1]}")
    console.print(
        f"  database: {server.db}"
        + ("   clock: [yellow]fake[/]" if services.clock.fake else "")
        + (f"   limits: {cfg.limits.preset.replace('off', 'custom')}" if cfg.limits.enabled else "")
    )
    for hook in cfg.webhooks:
        console.print(f"  webhook (user {hook.user}): {portal.public_url}/rest/{hook.user}/{hook.code}/")
    for oauth_app in cfg.apps:
        console.print(f"  OAuth app: client_id={oauth_app.client_id} client_secret={oauth_app.client_secret}")
    if cfg.apps:
        console.print(
            f"  OAuth: {portal.public_url}/oauth/authorize/?client_id=…  token: {portal.public_url}/oauth/token/"
        )
    if ca_path is not None:
        console.print(f"  local CA: {ca_path}  (REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS)")
    if not _is_loopback(server.host) and any(h.code.startswith("demo") for h in cfg.webhooks):
        console.print("  [bold yellow]warning:[/] demo credentials are reachable beyond this machine")
    console.print("  Ctrl+C to stop", style="dim")
    sys.stdout.flush()  # the banner must reach a pipe (CI logs, docker logs) before the first request


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


# --- configuration ---------------------------------------------------------------------------------

EXAMPLE_CONFIG = """# openlines configuration. Every [server] key can also be set by an environment variable:
# OPENLINES_<KEY>, for example OPENLINES_PORT=9000 or OPENLINES_DB=/var/lib/openlines/openlines.db.

[server]
host = "127.0.0.1"
port = 8024
db = "openlines.db"          # SQLite file; ":memory:" for a throwaway portal
# public_url = "https://openlines.example.com"   # what clients are told (OAuth endpoints, events)
require_https = false         # true: webhook calls over plain HTTP get INVALID_REQUEST "Https required."
# timezone = "+03:00"         # offset used in ISO dates in answers
# sqlite_synchronous = "full" # fsync every commit (slower; survives power loss, not only crashes)

# Employees. Operators are employees listed in a line's queue.
[[users]]
id = 1
name = "Alex"
last_name = "Admin"
email = "admin@example.test"
admin = true

[[users]]
id = 2
name = "Olga"
last_name = "Operator"
work_position = "Support agent"

# Open Lines with their operator queues.
[[lines]]
id = 1
name = "Support"
queue = [2]
queue_type = "evenly"         # evenly | strictly | all

# Incoming webhooks: /rest/<user>/<code>/<method>
[[webhooks]]
user = 1
code = "change_me_to_a_long_random_code"
scopes = ["imbot", "imopenlines", "imconnector", "user", "im"]

# OAuth applications (their tokens come from /oauth/authorize/ and /oauth/token/).
[[apps]]
client_id = "local.myapp"
client_secret = "change_me"
scopes = ["imbot", "imopenlines", "imconnector", "user"]
install_user = 1
# redirect_uri = "http://127.0.0.1:9000/oauth/callback"

# Event delivery to bot and app handlers (docs/events.md). Bitrix24 never retries; openlines does.
# [delivery]
# retries = 7               # tries after the first (8 in all); 0 = one attempt, as Bitrix24
# first_retry = 1.0         # seconds; doubles on every retry
# max_delay = 30.0          # the longest wait between tries
# read_timeout = 30.0       # seconds to wait for a handler's answer

# The Bitrix24 cloud's limits (docs/testing-your-bot.md#limits); also serve --limits.
# [limits]
# preset = "cloud"          # off (default), cloud (2 req/s, burst 50, 480 s) or enterprise (5/s, 250)
# rate_key = "ip"           # "client": one bucket per webhook/app instead of per client IP
# rate_clock = "server"     # "real": the bucket drains in real time even on a fake clock
# operating_limit = 480     # seconds of one method's time per webhook/app in 10 minutes
"""


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example.")] = Path("openlines.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example configuration."""
    if path.exists() and not force:
        fail(f"{path} already exists (use --force to overwrite)", 2)
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    console.print(f"wrote {path}; check it with: openlines check-config {path}")


@app.command("check-config")
def check_config(path: Annotated[Path, typer.Argument(help="The TOML file to check.")]) -> None:
    """Validate a configuration file and list every problem."""
    try:
        cfg = config_mod.load(path)
    except ConfigError as exc:
        for problem in exc.problems:
            errors_console.print(f"[bold red]{escape(exc.source)}:[/] {escape(problem)}")
        raise typer.Exit(2) from None
    console.print(
        f"{path}: ok ({len(cfg.users)} users, {len(cfg.lines)} lines, "
        f"{len(cfg.webhooks)} webhooks, {len(cfg.apps)} apps)"
    )


@app.command()
def migrate(config: ConfigOption = None, db: DbOption = None) -> None:
    """Apply database migrations and exit."""
    cfg = load_config(config, db=db)

    async def go() -> list[int]:
        from openlines.store import open_store

        store = await open_store(cfg.server.db, cfg.server.sqlite_synchronous)
        try:
            return await store.migrate()
        finally:
            await store.close()

    applied = with_store_errors(go())
    console.print(f"{cfg.server.db}: " + (f"applied {applied}" if applied else "up to date"))


def _scopes(text: str) -> list[str]:
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in scopes if s not in VALID_SCOPES]
    if unknown or not scopes:
        fail(f"unknown scope(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(VALID_SCOPES)}", 2)
    return scopes


@webhook_app.command("create")
def webhook_create(
    user: Annotated[int, typer.Option("--user", help="The user the webhook acts as.")],
    scope: Annotated[str, typer.Option("--scope", help="Comma-separated scopes, e.g. imopenlines,imbot.")],
    code: Annotated[str | None, typer.Option("--code", help="The secret code (default: random).")] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Create an incoming webhook and print its URL."""
    cfg = load_config(config, db=db)
    scopes = _scopes(scope)
    if code is not None and not config_mod.WEBHOOK_CODE.fullmatch(code):
        fail("--code must be 1-64 characters of A-Z, a-z, 0-9 and _", 2)
    secret_code = code or pysecrets.token_hex(8)

    async def go() -> str:
        from openlines.auth import secrets

        services = await open_services(cfg)
        try:
            target = await services.store.get_user(user)
            if target is None or target.kind != "employee":
                fail(f"user {user} does not exist (declare it in [[users]])", 2)
            await services.store.upsert_webhook(
                user, secrets.digest(services.secret, secret_code), scopes, "cli", services.clock.now()
            )
            return str(services.portal.public_url)
        finally:
            await services.store.close()

    url = with_store_errors(go())
    console.print(f"{url}/rest/{user}/{secret_code}/")


@apps_app.command("create")
def app_create(
    scope: Annotated[str, typer.Option("--scope", help="Comma-separated scopes.")],
    client_id: Annotated[str | None, typer.Option("--client-id", help="Default: local.<random>.")] = None,
    client_secret: Annotated[str | None, typer.Option("--client-secret", help="Default: random.")] = None,
    user: Annotated[int, typer.Option("--user", help="The user who installed it.")] = 1,
    redirect_uri: Annotated[
        str, typer.Option("--redirect-uri", help="Where /oauth/authorize/ sends the code.")
    ] = "",
    install_handler: Annotated[
        str, typer.Option("--install-handler", help="A URL that gets ONAPPINSTALL (with tokens) now.")
    ] = "",
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Register an OAuth application and print its credentials."""
    cfg = load_config(config, db=db)
    scopes = _scopes(scope)
    _check_handler(install_handler)
    cid = client_id or f"local.{pysecrets.token_hex(7)}"
    secret = client_secret or pysecrets.token_urlsafe(24)

    async def go() -> dict[str, Any]:
        from openlines.auth import secrets
        from openlines.domain.credentials import App
        from openlines.portal import add_app, application_token_for

        services = await open_services(cfg)
        try:
            if await services.store.get_user(user) is None:
                fail(f"user {user} does not exist (declare it in [[users]])", 2)
            token = application_token_for(services.secret, cid)
            made = App(
                0, cid, secrets.digest(services.secret, secret), frozenset(scopes), user, token, redirect_uri
            )
            async with services.store.atomic():
                await add_app(services, made, install_handler)
            return {
                "client_id": cid,
                "client_secret": secret,
                "application_token": token,
                "authorize_url": f"{services.portal.public_url}/oauth/authorize/?client_id={cid}",
                "token_url": f"{services.portal.public_url}/oauth/token/",
            }
        finally:
            await services.store.close()

    for key, value in with_store_errors(go()).items():
        console.print(f"{key}: {value}")


@apps_app.command("install")
def app_install(
    client_id: Annotated[str, typer.Argument(help="The application.")],
    handler: Annotated[
        str, typer.Option("--handler", help="Bind this URL to the app's OnAppInstall first.")
    ] = "",
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Install an app again: ONAPPINSTALL goes to its OnAppInstall handlers (delivered by the server)."""
    cfg = load_config(config, db=db)
    _check_handler(handler)

    async def go() -> bool:
        from openlines.engine import app_install as install

        services = await open_services(cfg)
        try:
            app_ = await services.store.get_app(client_id)
            if app_ is None:
                fail(f"no app with client_id {client_id!r}", 2)
            async with services.store.atomic():
                await install.bind_install_handler(services, app_, handler)
                return await install.installed(services, app_)
        finally:
            await services.store.close()

    if with_store_errors(go()):
        console.print(f"ONAPPINSTALL queued for {client_id}'s OnAppInstall handlers")
    else:
        fail(f"{client_id} has no OnAppInstall handler: give --handler URL (or bind one with event.bind)", 1)


def _check_handler(url: str) -> None:
    from openlines.domain.delivery import is_http_url

    if url and not is_http_url(url):
        fail(f"not an http(s) URL: {url!r}", 2)


@apps_app.command("token")
def app_token(
    client_id: Annotated[str, typer.Argument(help="The application.")],
    user: Annotated[
        int | None, typer.Option("--user", help="Act as this user (default: who installed it).")
    ] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Issue an access and refresh token for an app directly (for scripts and tests)."""
    cfg = load_config(config, db=db)

    async def go() -> dict[str, Any]:
        from openlines.auth import oauth

        services = await open_services(cfg)
        try:
            app_ = await services.store.get_app(client_id)
            if app_ is None:
                fail(f"no app with client_id {client_id!r}", 2)
            who = user or app_.install_user
            target = await services.store.get_user(who)
            if target is None or not target.active:
                fail(f"user {who} does not exist or is not active", 2)
            return await oauth.issue(services, app_, who, app_.scopes)
        finally:
            await services.store.close()

    sys.stdout.write(orjson.dumps(with_store_errors(go()), option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
)
def bench(ctx: typer.Context) -> None:
    """Measure throughput and latency against the ceiling of the same run (openlines bench --help)."""
    from openlines.bench.main import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


def main() -> None:
    app()
