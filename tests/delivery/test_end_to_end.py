"""A Bitrix24 bot against openlines, end to end over HTTP.

The bot's handler is a real HTTP server on loopback. It registers with ``imbot.register`` (over a
webhook with CLIENT_ID, and from an OAuth app), a visitor writes through the widget API, the bot
receives ONIMBOTJOINCHAT and ONIMBOTMESSAGEADD, reads them with b24pysdk's event model, and, from
inside its handler before it answers (as bots commonly do), replies with ``imbot.message.add`` and
transfers the dialogue with ``imopenlines.bot.session.transfer``. The visitor sees the reply; an app
bound to OnOpenLinesSessionTransfer hears about the transfer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from b24pysdk.credentials.oauth_event_data import OAuthEventData

from openlines.delivery import envelope
from tests.conftest import DEMO_HOOK, ServerProcess, oauth_tokens
from tests.delivery.handler import Handler, Received
from tests.store.pg import fresh_database

APP_ID = "local.e2e.app"
APP_SECRET = "e2e-secret"
APP_TOKEN = "e2e-application-token"
CONFIG = f"""
[delivery]
poll_interval = 0.05

[[apps]]
client_id = "{APP_ID}"
client_secret = "{APP_SECRET}"
scopes = ["imbot", "imopenlines", "im"]
install_user = 1
application_token = "{APP_TOKEN}"
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """The demo portal on SQLite, and again on PostgreSQL where OPENLINES_TEST_PG is set."""
    folder: Path = tmp_path_factory.mktemp("e2e-server")
    (folder / "openlines.toml").write_text(CONFIG)
    args = ["--demo", "--fake-clock", "--config", str(folder / "openlines.toml")]
    if request.param == "sqlite":
        proc = ServerProcess(folder, args).start()
        yield proc
        proc.stop()
        return
    with fresh_database("openlines_e2e") as address:
        proc = ServerProcess(folder, [*args, "--db", address]).start()
        yield proc
        proc.stop()


Caller = Callable[[str, dict[str, Any]], Any]


def webhook_caller(portal: ServerProcess, client_id: str) -> Caller:
    def call(method: str, params: dict[str, Any]) -> Any:
        with portal.client() as client:
            answer = client.post(f"{DEMO_HOOK}{method}.json", json={**params, "CLIENT_ID": client_id})
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    return call


def app_caller(portal: ServerProcess) -> Caller:
    with portal.client() as client:
        return token_caller(portal, oauth_tokens(client, APP_ID, APP_SECRET)["access_token"])


def token_caller(portal: ServerProcess, token: str) -> Caller:
    def call(method: str, params: dict[str, Any]) -> Any:
        with portal.client() as client:
            answer = client.post(f"/rest/{method}.json", json={**params, "auth": token})
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    return call


def admin(portal: ServerProcess, method: str, params: dict[str, Any]) -> Any:
    with portal.client() as client:
        answer = client.post(f"{DEMO_HOOK}{method}.json", json=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


@pytest.mark.parametrize("kind", ["webhook", "oauth"])
def test_bot_hears_the_customer_replies_and_transfers(
    portal: ServerProcess, handler: Handler, second_handler: Handler, kind: str
) -> None:
    code = f"e2e{kind}"
    call = webhook_caller(portal, f"e2e-{kind}-client") if kind == "webhook" else app_caller(portal)
    expected_token = f"e2e-{kind}-client" if kind == "webhook" else APP_TOKEN
    url = handler.url(f"/bot/{kind}.php?lang=en")
    bot_id = int(
        call(
            "imbot.register",
            {"CODE": code, "TYPE": "O", "EVENT_HANDLER": url, "PROPERTIES": {"NAME": f"Bot {kind}"}},
        )
    )
    line_id = int(admin(portal, "imopenlines.config.add", {"PARAMS": {"LINE_NAME": f"E2E {kind}"}}))
    settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id, "WELCOME_BOT_JOIN": "always"}
    admin(portal, "imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": settings})
    app = app_caller(portal)
    app_url = second_handler.url(f"/app/{kind}/transfers")
    assert app("event.bind", {"event": "OnOpenLinesSessionTransfer", "handler": app_url}) is True

    did: dict[str, Any] = {}

    def bot_logic(got: Received) -> None:
        """Runs inside the handler, before it answers the delivery."""
        if got.event != "ONIMBOTMESSAGEADD":
            return
        event = OAuthEventData.from_dict(got.fields)
        data = event.data or {}
        params = data["PARAMS"]
        act = call
        bundle = data["BOT"][str(bot_id)]
        did["bot_token"] = bundle.get("access_token")
        if kind == "oauth":  # an app's bot acts with the token bundle the event brought (data[BOT][id])
            act = token_caller(portal, bundle["access_token"])
        did["reply"] = act(
            "imbot.message.add", {"DIALOG_ID": params["DIALOG_ID"], "MESSAGE": "Hello, I am a bot"}
        )
        did["transfer"] = act(
            "imopenlines.bot.session.transfer", {"CHAT_ID": params["CHAT_ID"], "USER_ID": 2, "LEAVE": "N"}
        )

    handler.inside.append(bot_logic)
    with portal.client() as client:
        first = client.post(f"/widget/{line_id}/messages", json={"visitor": f"v-{kind}", "text": "hi there"})
        assert first.status_code == 200, first.text
        visitor = first.json()
        join, added = (
            handler.wait_for(1, "ONIMBOTJOINCHAT")[0],
            handler.wait_for(1, "hi there", answered=True)[0],
        )

        for got in (join, added):
            parsed = OAuthEventData.from_dict(got.fields)  # b24pysdk's own event model
            assert parsed.auth.application_token == expected_token
            assert parsed.auth.member_id and parsed.auth.client_endpoint.endswith("/rest/")
            assert parsed.event_handler_id > 0
            assert got.path_qs.startswith(f"/bot/{kind}.php?lang=en")
            assert envelope.verify(expected_token, got.body, got.headers["X-Openlines-Signature"])
        params = OAuthEventData.from_dict(added.fields).data["PARAMS"]  # type: ignore[index]
        assert params["MESSAGE"] == "hi there"
        assert params["DIALOG_ID"] == f"chat{visitor['chat_id']}"
        assert params["MESSAGE_ID"] == str(visitor["message_id"])
        assert added.fields["data[USER][ID]"].isdigit()
        assert join.fields["data[PARAMS][CHAT_ENTITY_TYPE]"] == "LINES"

        # Tokens in data[BOT][id] for an app's bot only (a webhook bot has no app to mint them for).
        assert bool(did["bot_token"]) == (kind == "oauth")
        if kind == "oauth":
            assert added.fields[f"data[BOT][{bot_id}][user_id]"] == str(bot_id)
            assert added.fields[f"data[BOT][{bot_id}][AUTH][access_token]"] == did["bot_token"]
        # The handler's own REST calls went through while its delivery waited for its answer.
        assert did["transfer"] is True and int(did["reply"]) > visitor["message_id"]
        seen = client.get(
            f"/widget/{line_id}/messages", headers={"Authorization": f"Bearer {visitor['visitor_token']}"}
        ).json()
        assert "Hello, I am a bot" in [m["text"] for m in seen["messages"] if m["from"] == "agent"]

    transfer = second_handler.wait_for(1, "ONOPENLINESSESSIONTRANSFER")[0]
    assert transfer.fields["auth[application_token]"] == APP_TOKEN
    assert transfer.fields["data[TO][ID]"] == "2" and transfer.fields["data[TO][TYPE]"] == "user"
    assert transfer.fields["data[CHAT][ID]"] == str(visitor["chat_id"])
    assert envelope.verify(APP_TOKEN, transfer.body, transfer.headers["X-Openlines-Signature"])
    history = admin(portal, "im.dialog.messages.get", {"DIALOG_ID": f"chat{visitor['chat_id']}"})
    assert any(m["author_id"] == 0 for m in history["messages"])  # the transfer's system notice
    app("event.unbind", {"event": "OnOpenLinesSessionTransfer", "handler": app_url})
