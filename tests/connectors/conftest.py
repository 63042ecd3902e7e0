"""One real server for the connector tests: the demo portal with a fake clock, an OAuth app that
registers connectors (and its bot), and a webhook of operator 2. The suite runs on SQLite, and a
second time on PostgreSQL where ``OPENLINES_TEST_PG`` is set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_HOOK, ServerProcess, oauth_tokens
from tests.delivery.handler import Handler
from tests.store.pg import fresh_database

APP_ID = "local.connector.app"
APP_SECRET = "connector-secret"
APP_TOKEN = "connector-application-token"
OTHER_APP_ID = "local.other.app"  # bound to the same events; owns no connector
OTHER_APP_SECRET = "other-secret"
OTHER_APP_TOKEN = "other-application-token"
OPERATOR_HOOK = "/rest/2/k_operator_hook/"
CONFIG = f"""
[delivery]
poll_interval = 0.05

[[apps]]
client_id = "{APP_ID}"
client_secret = "{APP_SECRET}"
scopes = ["imconnector", "imopenlines", "imbot", "im"]
install_user = 1
application_token = "{APP_TOKEN}"

[[apps]]
client_id = "{OTHER_APP_ID}"
client_secret = "{OTHER_APP_SECRET}"
scopes = ["imopenlines", "imbot", "im"]
install_user = 1
application_token = "{OTHER_APP_TOKEN}"

[[webhooks]]
user = 2
code = "k_operator_hook"
scopes = ["im", "imopenlines"]
"""

Caller = Callable[..., Any]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    folder: Path = tmp_path_factory.mktemp("connectors-server")
    (folder / "openlines.toml").write_text(CONFIG)
    args = ["--demo", "--fake-clock", "--config", str(folder / "openlines.toml")]
    if request.param == "sqlite":
        proc = ServerProcess(folder, args).start()
        yield proc
        proc.stop()
        return
    with fresh_database("openlines_connectors") as address:
        proc = ServerProcess(folder, [*args, "--db", address]).start()
        yield proc
        proc.stop()


def _caller(portal: ServerProcess, prefix: str, extra: dict[str, Any]) -> Caller:
    def call(method: str, params: dict[str, Any] | None = None, *, raw: bool = False) -> Any:
        with portal.client() as client:
            answer = client.post(f"{prefix}{method}.json", json={**(params or {}), **extra})
        if raw:
            return answer
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    return call


def _access_token(portal: ServerProcess, client_id: str, secret: str) -> str:
    with portal.client() as client:
        return str(oauth_tokens(client, client_id, secret)["access_token"])


@pytest.fixture(scope="session")
def app_token(portal: ServerProcess) -> str:
    return _access_token(portal, APP_ID, APP_SECRET)


@pytest.fixture()
def app(portal: ServerProcess, app_token: str) -> Caller:
    """The connector app (OAuth token); ``raw=True`` gives the HTTP answer."""
    return _caller(portal, "/rest/", {"auth": app_token})


@pytest.fixture()
def other_app(portal: ServerProcess) -> Caller:
    """Another OAuth app of the portal: it registered no connector."""
    return _caller(portal, "/rest/", {"auth": _access_token(portal, OTHER_APP_ID, OTHER_APP_SECRET)})


@pytest.fixture()
def admin(portal: ServerProcess) -> Caller:
    """The demo administrator's webhook (every scope)."""
    return _caller(portal, DEMO_HOOK, {})


@pytest.fixture()
def operator(portal: ServerProcess) -> Caller:
    """Operator 2's webhook."""
    return _caller(portal, OPERATOR_HOOK, {})


@pytest.fixture()
def handler() -> Iterator[Handler]:
    h = Handler().start()
    yield h
    h.stop()
