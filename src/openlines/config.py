"""Declarative configuration: a TOML file, overridable by ``OPENLINES_*`` environment variables.

The file describes the portal (users, lines, webhooks, apps); it is applied at every start and the
result is the same however often it is applied. Validation collects every problem with its place
(``users[2].id: ...``) so ``openlines check-config`` can list them all at once.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openlines.domain.delivery import is_http_url
from openlines.limits.settings import LimitsConfig, parse_limits

VALID_SCOPES = (
    "basic",
    "user",
    "user_brief",
    "user_basic",
    "im",
    "imbot",
    "imopenlines",
    "imconnector",
    "crm",
)
QUEUE_TYPES = ("evenly", "strictly", "all")
WEBHOOK_CODE = re.compile(r"[A-Za-z0-9_]{1,64}")


class ConfigError(Exception):
    """One or more problems in a configuration; ``problems`` holds each as ``place: what``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8024
    db: str = "openlines.db"
    public_url: str = ""  # e.g. https://openlines.example.com; default built from host and port
    require_https: bool = False
    trust_forwarded: bool = False  # believe X-Forwarded-Proto (only behind your own reverse proxy)
    domain: str = ""  # the portal's domain in OAuth answers and events; default host:port
    member_id: str = ""  # a stable portal id; default derived from the server secret
    secret: str = ""  # HMAC key for stored credentials; generated and kept in the database if empty
    timezone: str = "UTC"  # offset used in ISO dates, e.g. "+03:00"
    body_limit: int = 10 * 1024 * 1024
    access_log: bool = False
    sqlite_synchronous: str = "normal"  # "normal" (fast, WAL-safe on crash) or "full" (fsync per commit)
    tls_cert: str = ""
    tls_key: str = ""
    tls: bool = False
    http_port: int = 0
    data_dir: str = ""  # where --tls keeps its CA; default: next to the database
    routing: bool = True  # distribute queued sessions and run the routing timers (docs/routing.md); false: a queue hand-over stays with the queue
    redis: str = ""  # redis://host:port/db: share the [limits] request-rate buckets through Redis
    redis_prefix: str = "openlines:rate:"  # the bucket keys' prefix: deployments sharing one Redis differ
    operator_idle_timeout: int = 0  # routing lane: seconds without a status report before an online operator counts as idle (0 = never)


@dataclass
class UserConfig:
    id: int
    name: str = ""
    last_name: str = ""
    email: str = ""
    work_position: str = ""
    gender: str = ""
    active: bool = True
    extranet: bool = False
    admin: bool = False


@dataclass
class LineConfig:
    id: int
    name: str = ""
    queue: list[int] = field(default_factory=list)
    queue_type: str = "evenly"
    active: bool = True
    settings: dict[str, Any] = field(default_factory=dict)  # other line settings, upper-case keys


@dataclass
class WebhookConfig:
    user: int
    code: str
    scopes: list[str]


@dataclass
class AppConfig:
    client_id: str
    client_secret: str
    scopes: list[str]
    install_user: int = 1
    application_token: str = ""
    redirect_uri: str = ""
    name: str = ""
    install_handler: str = ""  # gets ONAPPINSTALL when the app is first created (and on `app install`)


@dataclass
class DeliveryConfig:
    """[delivery]: how events are POSTed to handlers (docs/events.md)."""

    enabled: bool = True  # false: events stay in the outbox (openlines events list shows them)
    retries: int = 7  # tries after the first one: 8 attempts in all; 0 = the real server (no retry)
    first_retry: float = 1.0  # seconds before the first retry; doubles on every further one
    max_delay: float = 30.0  # the longest wait between two tries
    jitter: float = 0.2  # each wait is scaled by a random factor in [1 - jitter, 1 + jitter]
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # outlasts a handler that calls the REST API before it answers
    concurrency: int = 64  # deliveries in flight at once
    per_target: int = 8  # deliveries in flight to one handler URL (one per chat at most)
    poll_interval: float = 0.5  # how often the worker looks for due rows without being woken
    keep_days: float = 7.0  # delivered events (and their attempt log) are purged after this; 0 = keep


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    users: list[UserConfig] = field(default_factory=list)
    lines: list[LineConfig] = field(default_factory=list)
    webhooks: list[WebhookConfig] = field(default_factory=list)
    apps: list[AppConfig] = field(default_factory=list)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)  # drop-in lane: [limits]
    source: str = "<defaults>"


# --- loading -------------------------------------------------------------------------------------


def load(path: str | Path | None, env: dict[str, str] | None = None) -> Config:
    """Read a TOML file (or nothing), apply ``OPENLINES_*`` overrides, validate everything."""
    env = dict(os.environ) if env is None else env
    if path is None:
        return from_dict({}, "<defaults>", env)
    return from_dict(read_toml(path), str(path), env)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The raw tables of a TOML file; an unreadable or malformed file is a :class:`ConfigError`."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(source, ["file not found"]) from None
    except PermissionError:
        raise ConfigError(source, ["file cannot be read (permission denied)"]) from None
    except IsADirectoryError:
        raise ConfigError(source, ["is a directory, not a TOML file"]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, ["is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None


def from_dict(raw: dict[str, Any], source: str = "<dict>", env: dict[str, str] | None = None) -> Config:
    problems: list[str] = []
    known = {"server", "users", "lines", "webhooks", "apps", "delivery", "limits"}
    for key in raw:
        if key not in known:
            problems.append(f"{key}: unknown table (expected one of {', '.join(sorted(known))})")
    server_raw = dict(_table(raw, "server", problems))
    _apply_env(server_raw, env or {}, problems)
    config = Config(source=source)
    config.server = _server(server_raw, problems)
    config.users = [
        _user(item, f"users[{i}]", problems) for i, item in enumerate(_array(raw, "users", problems))
    ]
    config.lines = [
        _line(item, f"lines[{i}]", problems) for i, item in enumerate(_array(raw, "lines", problems))
    ]
    config.webhooks = [
        _webhook(item, f"webhooks[{i}]", problems) for i, item in enumerate(_array(raw, "webhooks", problems))
    ]
    config.apps = [_app(item, f"apps[{i}]", problems) for i, item in enumerate(_array(raw, "apps", problems))]
    config.delivery = _delivery(_table(raw, "delivery", problems), env or {}, problems)
    config.limits = parse_limits(_table(raw, "limits", problems), env or {}, problems)
    _cross_check(config, problems)
    if problems:
        raise ConfigError(source, problems)
    return config


def _table(raw: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"{key}: must be a table ([{key}])")
        return {}
    return value


def _array(raw: dict[str, Any], key: str, problems: list[str]) -> list[dict[str, Any]]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.append(f"{key}: must be an array of tables ([[{key}]])")
        return []
    return value


_SERVER_TYPES: dict[str, type] = {
    name: type(getattr(ServerConfig(), name)) for name in ServerConfig.__dataclass_fields__
}


def _apply_env(server: dict[str, Any], env: dict[str, str], problems: list[str]) -> None:
    """``OPENLINES_PORT=9000`` overrides ``[server] port``; every server key has its variable."""
    for name, kind in _SERVER_TYPES.items():
        var = f"OPENLINES_{name.upper()}"
        if var not in env:
            continue
        text = env[var]
        if kind is bool:
            if text.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                problems.append(f"{var}: must be true or false, not {text!r}")
                continue
            server[name] = text.lower() in ("1", "true", "yes", "on")
        elif kind is int:
            try:
                server[name] = int(text)
            except ValueError:
                problems.append(f"{var}: must be a whole number, not {text!r}")
        else:
            server[name] = text


def _server(raw: dict[str, Any], problems: list[str]) -> ServerConfig:
    server = ServerConfig()
    for key, value in raw.items():
        if key not in _SERVER_TYPES:
            problems.append(f"server.{key}: unknown key")
            continue
        kind = _SERVER_TYPES[key]
        if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            problems.append(f"server.{key}: must be a whole number")
            continue
        if kind is bool and not isinstance(value, bool):
            problems.append(f"server.{key}: must be true or false")
            continue
        if kind is str and not isinstance(value, str):
            problems.append(f"server.{key}: must be a string")
            continue
        setattr(server, key, value)
    if not 0 <= server.port <= 65535:
        problems.append("server.port: must be between 0 and 65535")
    if not 0 <= server.http_port <= 65535:
        problems.append("server.http_port: must be between 0 and 65535")
    if server.body_limit < 1024:
        problems.append("server.body_limit: must be at least 1024 bytes")
    if server.sqlite_synchronous not in ("normal", "full"):
        problems.append('server.sqlite_synchronous: must be "normal" or "full"')
    if bool(server.tls_cert) != bool(server.tls_key):
        problems.append("server.tls_cert and server.tls_key: give both or neither")
    if server.redis and not server.redis.startswith(REDIS_SCHEMES):
        problems.append(f"server.redis: must start with one of {', '.join(REDIS_SCHEMES)}")
    try:
        from openlines.clock import parse_offset

        parse_offset(server.timezone)
    except ValueError as exc:
        problems.append(f"server.timezone: {exc}")
    return server


def _delivery(raw: dict[str, Any], env: dict[str, str], problems: list[str]) -> DeliveryConfig:
    """[delivery] keys, each overridable by ``OPENLINES_DELIVERY_<KEY>``."""
    delivery = DeliveryConfig()
    values = dict(raw)
    for name in DeliveryConfig.__dataclass_fields__:
        var = f"OPENLINES_DELIVERY_{name.upper()}"
        if var in env:
            text = env[var].strip()
            if name == "enabled":
                values[name] = text.lower() in ("1", "true", "yes", "on")
                continue
            try:
                values[name] = int(text) if name in ("retries", "concurrency", "per_target") else float(text)
            except ValueError:
                problems.append(f"{var}: must be a number, not {text!r}")
    for key, value in values.items():
        if key not in DeliveryConfig.__dataclass_fields__:
            problems.append(f"delivery.{key}: unknown key")
            continue
        default = getattr(delivery, key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                problems.append(f"delivery.{key}: must be true or false")
                continue
        elif isinstance(default, int):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append(f"delivery.{key}: must be a whole number >= 0")
                continue
        elif not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            problems.append(f"delivery.{key}: must be a number of seconds >= 0")
            continue
        else:
            value = float(value)
        setattr(delivery, key, value)
    if delivery.jitter > 1:
        problems.append("delivery.jitter: must be between 0 and 1")
    for key in ("concurrency", "per_target"):
        if getattr(delivery, key) < 1:
            problems.append(f"delivery.{key}: must be at least 1")
    for key in ("read_timeout", "connect_timeout", "poll_interval"):
        if getattr(delivery, key) <= 0:
            problems.append(f"delivery.{key}: must be more than 0")
    return delivery


def _check_keys(raw: dict[str, Any], place: str, allowed: set[str], problems: list[str]) -> None:
    for key in raw:
        if key not in allowed:
            problems.append(f"{place}.{key}: unknown key (expected {', '.join(sorted(allowed))})")


def _int(raw: dict[str, Any], key: str, place: str, problems: list[str], required: bool = False) -> int:
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(f"{place}.{key}: is required")
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        problems.append(f"{place}.{key}: must be a positive whole number")
        return 0
    return value


def _str(raw: dict[str, Any], key: str, place: str, problems: list[str], required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(f"{place}.{key}: is required")
        return ""
    if not isinstance(value, str):
        problems.append(f"{place}.{key}: must be a string")
        return ""
    return value


def _bool(raw: dict[str, Any], key: str, place: str, problems: list[str], default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        problems.append(f"{place}.{key}: must be true or false")
        return default
    return value


def _scopes(raw: dict[str, Any], place: str, problems: list[str]) -> list[str]:
    value = raw.get("scopes")
    if value is None:
        problems.append(f"{place}.scopes: is required")
        return []
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        problems.append(f"{place}.scopes: must be a list of scope names")
        return []
    for scope in value:
        if scope not in VALID_SCOPES:
            problems.append(f"{place}.scopes: unknown scope {scope!r} (valid: {', '.join(VALID_SCOPES)})")
    return list(dict.fromkeys(value))


def _user(raw: dict[str, Any], place: str, problems: list[str]) -> UserConfig:
    allowed = {"id", "name", "last_name", "email", "work_position", "gender", "active", "extranet", "admin"}
    _check_keys(raw, place, allowed, problems)
    gender = _str(raw, "gender", place, problems)
    if gender not in ("", "M", "F"):
        problems.append(f'{place}.gender: must be "M", "F" or empty')
    return UserConfig(
        id=_int(raw, "id", place, problems, required=True),
        name=_str(raw, "name", place, problems),
        last_name=_str(raw, "last_name", place, problems),
        email=_str(raw, "email", place, problems),
        work_position=_str(raw, "work_position", place, problems),
        gender=gender,
        active=_bool(raw, "active", place, problems, True),
        extranet=_bool(raw, "extranet", place, problems, False),
        admin=_bool(raw, "admin", place, problems, False),
    )


def _line(raw: dict[str, Any], place: str, problems: list[str]) -> LineConfig:
    base = {"id", "name", "queue", "queue_type", "active"}
    queue = raw.get("queue", [])
    if not isinstance(queue, list) or not all(isinstance(q, int) and not isinstance(q, bool) for q in queue):
        problems.append(f"{place}.queue: must be a list of user ids")
        queue = []
    queue_type = _str(raw, "queue_type", place, problems) or "evenly"
    if queue_type not in QUEUE_TYPES:
        problems.append(f"{place}.queue_type: must be one of {', '.join(QUEUE_TYPES)}")
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        if key in base:
            continue
        if isinstance(value, (dict, list)):
            problems.append(f"{place}.{key}: line settings must be plain values")
            continue
        settings[key.upper()] = value
    return LineConfig(
        id=_int(raw, "id", place, problems, required=True),
        name=_str(raw, "name", place, problems),
        queue=list(queue),
        queue_type=queue_type,
        active=_bool(raw, "active", place, problems, True),
        settings=settings,
    )


def _webhook(raw: dict[str, Any], place: str, problems: list[str]) -> WebhookConfig:
    _check_keys(raw, place, {"user", "code", "scopes"}, problems)
    code = _str(raw, "code", place, problems, required=True)
    if code and not WEBHOOK_CODE.fullmatch(code):
        problems.append(f"{place}.code: must be 1-64 characters of A-Z, a-z, 0-9 and _")
    return WebhookConfig(
        user=_int(raw, "user", place, problems, required=True),
        code=code,
        scopes=_scopes(raw, place, problems),
    )


def _app(raw: dict[str, Any], place: str, problems: list[str]) -> AppConfig:
    allowed = {
        "client_id",
        "client_secret",
        "scopes",
        "install_user",
        "application_token",
        "redirect_uri",
        "name",
        "install_handler",
    }
    _check_keys(raw, place, allowed, problems)
    install_handler = _str(raw, "install_handler", place, problems)
    if install_handler and not is_http_url(install_handler):
        problems.append(f"{place}.install_handler: not an http(s) URL: {install_handler!r}")
    return AppConfig(
        client_id=_str(raw, "client_id", place, problems, required=True),
        client_secret=_str(raw, "client_secret", place, problems, required=True),
        scopes=_scopes(raw, place, problems),
        install_user=_int(raw, "install_user", place, problems) or 1,
        application_token=_str(raw, "application_token", place, problems),
        redirect_uri=_str(raw, "redirect_uri", place, problems),
        name=_str(raw, "name", place, problems),
        install_handler=install_handler,
    )


def _cross_check(config: Config, problems: list[str]) -> None:
    user_ids = [u.id for u in config.users]
    for dup in {i for i in user_ids if user_ids.count(i) > 1}:
        problems.append(f"users: id {dup} appears more than once")
    line_ids = [line.id for line in config.lines]
    for dup in {i for i in line_ids if line_ids.count(i) > 1}:
        problems.append(f"lines: id {dup} appears more than once")
    known = set(user_ids)
    for i, line in enumerate(config.lines):
        for uid in line.queue:
            if uid not in known:
                problems.append(f"lines[{i}].queue: user {uid} is not in [[users]]")
    for i, hook in enumerate(config.webhooks):
        if hook.user and hook.user not in known:
            problems.append(f"webhooks[{i}].user: user {hook.user} is not in [[users]]")
    client_ids = [a.client_id for a in config.apps]
    for dup_client in {c for c in client_ids if client_ids.count(c) > 1}:
        problems.append(f"apps: client_id {dup_client!r} appears more than once")
    for i, app in enumerate(config.apps):
        if app.install_user not in known:
            problems.append(f"apps[{i}].install_user: user {app.install_user} is not in [[users]]")
