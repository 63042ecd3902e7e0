"""The whole bot story with the real SDKs, unchanged: b24pysdk 1.3.2 over HTTPS (webhook and OAuth with
automatic refresh) and fast-bitrix24 1.8.14 over plain HTTP. A bot registers, a customer writes on the
widget, the bot receives the events, answers, hands the dialogue to a user and to a queue, and every
documented transfer error reaches the client as its own exception (or error dict) with the right code."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openlines.testing import EventReceiver
from tests.conftest import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_HOOK, free_port, oauth_tokens
from tests.test_clients import TlsServer

TRANSFER = "imopenlines.bot.session.transfer"


@pytest.fixture(scope="module")
def story_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    folder = tmp_path_factory.mktemp("story-server")
    http_port = free_port()
    proc = TlsServer(
        folder,
        ["--demo", "--fake-clock", "--tls", "--http-port", str(http_port)],
        {"OPENLINES_DATA_DIR": str(folder / "data")},
        scheme="https",
    )
    proc.http_port, proc.port = http_port, free_port()
    proc.start(verify=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REQUESTS_CA_BUNDLE", str(proc.ca))
        yield proc
    proc.stop()


@pytest.fixture()
def receiver() -> Iterator[EventReceiver]:
    r = EventReceiver().start()
    yield r
    r.stop()


@pytest.fixture()
def plain(story_server: TlsServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=story_server.plain_url, timeout=30) as http:
        yield http
        http.post(f"{DEMO_HOOK}openlines.fault.clear")


def customer_writes(plain: httpx.Client, visitor: str, text: str, line: int = 1) -> dict[str, Any]:
    answer = plain.post(f"/widget/{line}/messages", json={"visitor": visitor, "text": text})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def welcome(plain: httpx.Client, bot_id: int, line: int = 1) -> None:
    params = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id, "WELCOME_BOT_JOIN": "always"}
    answer = plain.post(f"{DEMO_HOOK}imopenlines.config.update", json={"CONFIG_ID": line, "PARAMS": params})
    assert answer.status_code == 200, answer.text


def owner(plain: httpx.Client, chat_id: int) -> dict[str, Any]:
    session = plain.post(f"{DEMO_HOOK}openlines.session.get", json={"CHAT_ID": chat_id}).json()["result"]
    return dict(session["OWNER"])


def routed_from_queue(plain: httpx.Client, chat_id: int, line_id: int, operators: set[int]) -> int:
    """After a bot's hand-over to a line's queue, routing (on by default) gives the dialogue to one of
    the line's operators: the history ends with the hand-over row and routing's row. Answers the
    operator, who now owns the dialogue."""
    rows: list[dict[str, Any]] = []
    while True:  # every page: an unanswered dialogue may have moved on many times before
        page = plain.post(
            f"{DEMO_HOOK}openlines.transfer.list", json={"CHAT_ID": chat_id, "start": len(rows)}
        ).json()
        rows += page["result"]
        if "next" not in page:
            break
    handover, routed = [(r["FROM_TYPE"], r["TO_TYPE"], r["TO_ID"], r["MODE"]) for r in rows[-2:]]
    assert handover == ("bot", "queue", line_id, "bot")
    assert routed[:2] == ("queue", "user") and routed[2] in operators and routed[3] == "routing"
    assert owner(plain, chat_id) == {"TYPE": "user", "ID": routed[2]}
    return int(routed[2])


def bot_fields(code: str, client_id: str, handler: str) -> dict[str, Any]:
    return {"CODE": code, "TYPE": "O", "EVENT_HANDLER": handler, "CLIENT_ID": client_id,
            "PROPERTIES": {"NAME": code.title()}}  # fmt: skip


# --- b24pysdk over HTTPS ---------------------------------------------------------------------------


def test_b24pysdk_webhook_bot_story(
    story_server: TlsServer, plain: httpx.Client, receiver: EventReceiver
) -> None:
    from b24pysdk import BitrixWebhook, Client
    from b24pysdk.errors import BitrixAPIBadRequest, BitrixAPIError, BitrixAPIForbidden

    webhook = BitrixWebhook(domain=story_server.host, webhook_token="1/demo_webhook_code")
    client = Client(webhook)
    bot_id = webhook.call_method("imbot.register", bot_fields("pybot", "py-bot", receiver.url))["result"]
    assert isinstance(bot_id, int)
    welcome(plain, bot_id)

    first = customer_writes(plain, "py-visitor-1", "hello, I need help")
    chat_id = first["chat_id"]
    receiver.wait_for("ONIMBOTJOINCHAT", DIALOG_ID=f"chat{chat_id}")
    message = receiver.wait_for("ONIMBOTMESSAGEADD", MESSAGE="hello, I need help")
    assert message.query["CLIENT_ID"] == "py-bot"
    sent = webhook.call_method(
        "imbot.message.add",
        {"BOT_ID": bot_id, "DIALOG_ID": f"chat{chat_id}", "MESSAGE": "One moment", "CLIENT_ID": "py-bot"},
    )
    assert isinstance(sent["result"], int) and "time" in sent

    # the documented transfer errors, each as b24pysdk's own exception
    transfer = client.imopenlines.bot.session.transfer
    cases: list[tuple[Any, type[BitrixAPIError], int, str]] = [
        (lambda: transfer(0, user_id=2, client_id="py-bot"), BitrixAPIBadRequest, 400, "CHAT_ID_EMPTY"),
        (lambda: transfer(chat_id, user_id=0, client_id="py-bot"), BitrixAPIBadRequest, 400, "USER_ID_EMPTY"),
        (
            lambda: transfer(chat_id, queue_id=0, client_id="py-bot"),
            BitrixAPIBadRequest,
            400,
            "QUEUE_ID_EMPTY",
        ),
        (lambda: transfer(chat_id, user_id=2), BitrixAPIForbidden, 403, "ACCESS_DENIED"),
        (lambda: transfer(chat_id, user_id=2, client_id="nobody"), BitrixAPIBadRequest, 400, "BOT_ID_ERROR"),
        (
            lambda: transfer(chat_id, user_id=5, client_id="py-bot"),
            BitrixAPIBadRequest,
            400,
            "OPERATOR_WRONG",
        ),
    ]
    for make, kind, status, code in cases:
        with pytest.raises(kind) as caught:
            make().call()
        assert (caught.value.status_code, caught.value.error) == (status, code)
    with pytest.raises(BitrixAPIBadRequest) as caught:  # the SDK's helper insists on a destination
        webhook.call_method(TRANSFER, {"CHAT_ID": chat_id, "CLIENT_ID": "py-bot"})
    assert caught.value.error == "TRANSFER_ID_EMPTY"

    # to a user (LEAVE as a JSON true means Y), then a second dialogue to the queue
    assert transfer(chat_id, user_id=2, client_id="py-bot", leave=True).call().result is True
    assert owner(plain, chat_id) == {"TYPE": "user", "ID": 2}
    second = customer_writes(plain, "py-visitor-2", "another question")
    receiver.wait_for("ONIMBOTMESSAGEADD", MESSAGE="another question")
    assert transfer(second["chat_id"], queue_id=1, client_id="py-bot").call().result is True
    routed_from_queue(plain, second["chat_id"], 1, {2, 3})
    rows = plain.post(f"{DEMO_HOOK}openlines.transfer.list", json={"CHAT_ID": second["chat_id"]}).json()
    assert [(r["TO_TYPE"], r["MODE"]) for r in rows["result"]] == [("queue", "bot"), ("user", "routing")]


def test_b24pysdk_retries_a_503_and_surfaces_a_429(story_server: TlsServer, plain: httpx.Client) -> None:
    from b24pysdk import BitrixWebhook, Client
    from b24pysdk.errors import BitrixAPIOperationTimeLimit

    client = Client(BitrixWebhook(domain=story_server.host, webhook_token="1/demo_webhook_code"))
    plain.post(
        f"{DEMO_HOOK}openlines.fault.add", json={"METHOD": "server.time", "ERROR": "QUERY_LIMIT_EXCEEDED"}
    )
    assert isinstance(client.server.time().call().result, str)  # one 503, one retry
    plain.post(
        f"{DEMO_HOOK}openlines.fault.add", json={"METHOD": "server.time", "ERROR": "OPERATION_TIME_LIMIT"}
    )
    with pytest.raises(BitrixAPIOperationTimeLimit):
        client.server.time().call()


def test_b24pysdk_oauth_bot_refreshes_its_token(
    story_server: TlsServer, plain: httpx.Client, receiver: EventReceiver
) -> None:
    from b24pysdk import BitrixApp, BitrixToken, Client
    from b24pysdk.api.requesters.bitrix_oauth_requester import BitrixOAuthRequester

    tokens = oauth_tokens(plain)
    token = BitrixToken(
        domain=story_server.host,
        auth_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        bitrix_app=BitrixApp(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),
    )
    client = Client(token)
    original = BitrixOAuthRequester._OAUTH_TOKEN_URL
    BitrixOAuthRequester._OAUTH_TOKEN_URL = f"{story_server.url}/oauth/token/"  # type: ignore[misc]
    try:
        fields = bot_fields("oauthbot", "", receiver.url)
        del fields["CLIENT_ID"]  # an app's bot belongs to the app
        bot_id = token.call_method("imbot.register", fields)["result"]
        welcome(plain, bot_id)
        chat_id = customer_writes(plain, "oauth-visitor", "hi app")["chat_id"]
        event = receiver.wait_for("ONIMBOTMESSAGEADD", MESSAGE="hi app")
        assert event.data["auth"]["application_token"]
        plain.post(f"{DEMO_HOOK}openlines.clock.advance", json={"SECONDS": tokens["expires_in"] + 60})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            done = client.imopenlines.bot.session.transfer(chat_id, queue_id=1).call()  # expired → refresh
        assert done.result is True
        assert token.auth_token != tokens["access_token"]
        # (meanwhile WELCOME_BOT_TIME ran out and routing moved the unanswered dialogue between
        # operators 2 and 3 every QUEUE_TIME; the bot's own hand-over is routed again)
        routed_from_queue(plain, chat_id, 1, {2, 3})
    finally:
        BitrixOAuthRequester._OAUTH_TOKEN_URL = original  # type: ignore[misc]


# --- fast-bitrix24 over HTTP -----------------------------------------------------------------------


def test_fast_bitrix24_bot_story(
    story_server: TlsServer, plain: httpx.Client, receiver: EventReceiver
) -> None:
    from fast_bitrix24 import Bitrix
    from fast_bitrix24.server_response import ErrorInServerResponseException

    b = Bitrix(f"{story_server.plain_url}{DEMO_HOOK}", verbose=False)
    bot_id = b.call("imbot.register", bot_fields("fastbot", "fast-bot", receiver.url), raw=True)["result"]
    welcome(plain, bot_id)
    first = customer_writes(plain, "fast-visitor-1", "hello fast")
    chat_id = first["chat_id"]
    receiver.wait_for("ONIMBOTMESSAGEADD", MESSAGE="hello fast")

    # its batching: several messages in one call()
    messages = [
        {"BOT_ID": bot_id, "DIALOG_ID": f"chat{chat_id}", "MESSAGE": f"line {i}", "CLIENT_ID": "fast-bot"}
        for i in range(3)
    ]
    ids = b.call("imbot.message.add", messages)
    assert len(ids) == 3 and all(int(i) > 0 for i in ids)

    # errors come back through call() (a batch), as the batch's result_error
    def error_code(params: dict[str, Any]) -> str:
        with pytest.raises(ErrorInServerResponseException) as caught:
            b.call(TRANSFER, {"CLIENT_ID": "fast-bot", **params})
        (entry,) = caught.value.args[0].values()
        return str(entry["error"])

    assert error_code({"CHAT_ID": 0, "USER_ID": 2}) == "CHAT_ID_EMPTY"
    assert error_code({"CHAT_ID": chat_id, "USER_ID": 0}) == "USER_ID_EMPTY"
    assert error_code({"CHAT_ID": chat_id, "QUEUE_ID": 0}) == "QUEUE_ID_EMPTY"
    assert error_code({"CHAT_ID": chat_id}) == "TRANSFER_ID_EMPTY"
    assert error_code({"CHAT_ID": chat_id, "USER_ID": 2, "CLIENT_ID": "nobody"}) == "BOT_ID_ERROR"
    assert error_code({"CHAT_ID": chat_id, "USER_ID": 5}) == "OPERATOR_WRONG"
    with pytest.raises(ErrorInServerResponseException) as caught:
        b.call(TRANSFER, {"CHAT_ID": chat_id, "USER_ID": 2})
    assert next(iter(caught.value.args[0].values()))["error"] == "ACCESS_DENIED"

    # to a user through call() (LEAVE=True travels as the string "True": N), to a queue raw (JSON true)
    assert (
        b.call(TRANSFER, {"CHAT_ID": chat_id, "USER_ID": 3, "LEAVE": True, "CLIENT_ID": "fast-bot"}) is True
    )
    assert owner(plain, chat_id) == {"TYPE": "user", "ID": 3}
    second = customer_writes(plain, "fast-visitor-2", "need sales")
    receiver.wait_for("ONIMBOTMESSAGEADD", MESSAGE="need sales")
    params = {"CHAT_ID": second["chat_id"], "TRANSFER_ID": "queue2", "CLIENT_ID": "fast-bot"}
    assert b.call(TRANSFER, params, raw=True)["result"] is True
    assert routed_from_queue(plain, second["chat_id"], 2, {4, 3}) == 4  # Sales: strictly, queue [4, 3]


def test_fast_bitrix24_retries_503_and_pages_with_get_all(
    story_server: TlsServer, plain: httpx.Client
) -> None:
    from fast_bitrix24 import Bitrix

    b = Bitrix(f"{story_server.plain_url}{DEMO_HOOK}", verbose=False)
    fault = {"METHOD": "batch", "ERROR": "QUERY_LIMIT_EXCEEDED", "COUNT": 2}
    assert plain.post(f"{DEMO_HOOK}openlines.fault.add", json=fault).status_code == 200
    assert b.call("user.current", {"CLIENT_ID": "x"})["order0000000000"]["ID"] == "1"  # after two 503s
    listed = plain.post(f"{DEMO_HOOK}openlines.fault.list").json()
    assert listed["result"] == []
    users = b.get_all("user.get")
    assert len(users) == len({u["ID"] for u in users}) >= 5


def test_fast_bitrix24_oauth_gets_a_new_token_after_expired_token(
    story_server: TlsServer, plain: httpx.Client
) -> None:
    import asyncio

    from fast_bitrix24 import BitrixAsync

    issued: list[dict[str, Any]] = []

    def grant() -> dict[str, Any]:
        with httpx.Client(base_url=story_server.plain_url) as http:
            return oauth_tokens(http)

    async def token_func() -> str:
        tokens = await asyncio.to_thread(grant)
        issued.append(tokens)
        return str(tokens["access_token"])

    async def story() -> None:
        b = BitrixAsync(f"{story_server.plain_url}/rest/", token_func=token_func, verbose=False)
        assert (await b.call("user.current", raw=True))["result"]["ID"] == "1"
        plain.post(f"{DEMO_HOOK}openlines.clock.advance", json={"SECONDS": issued[0]["expires_in"] + 60})
        assert (await b.call("user.current", raw=True))["result"]["ID"] == "1"  # 401 → token_func → retry

    asyncio.run(story())
    assert len(issued) == 2 and issued[0]["access_token"] != issued[1]["access_token"]
