"""The pytest plugin's ``openlines_server`` fixture, used the way a bot developer would use it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from openlines.testing import OpenlinesError, OpenlinesServer

CLIENT = "plugin-bot"
TRANSFER = "imopenlines.bot.session.transfer"


def welcome_bot(server: OpenlinesServer) -> int:
    bot_id = server.register_bot("pluginbot", CLIENT)
    server.make_welcome_bot(bot_id, line=1)
    return bot_id


def test_a_customer_reaches_the_bot_and_the_bot_hands_over(openlines_server: OpenlinesServer) -> None:
    server = openlines_server
    bot_id = welcome_bot(server)
    customer = server.customer(line=1, name="Ann")
    sent = customer.says("I need a human")
    join = server.events.wait_for("ONIMBOTJOINCHAT")
    assert join.params["DIALOG_ID"] == f"chat{sent['chat_id']}"
    message = server.events.wait_for("ONIMBOTMESSAGEADD", MESSAGE="I need a human")
    assert str(bot_id) in message.data["data"]["BOT"]
    assert message.query == {"CLIENT_ID": CLIENT}

    done = server.call(
        "imopenlines.bot.session.transfer",
        {"CHAT_ID": customer.chat_id, "TRANSFER_ID": "queue1", "CLIENT_ID": CLIENT},
    )
    assert done is True
    rows = server.transfers(CHAT_ID=customer.chat_id)
    assert rows and (rows[0]["FROM_TYPE"], rows[0]["TO_TYPE"], rows[0]["TO_ID"]) == ("bot", "queue", 1)
    with pytest.raises(OpenlinesError) as caught:
        server.call("imopenlines.bot.session.transfer", {"CHAT_ID": customer.chat_id, "CLIENT_ID": CLIENT})
    assert (caught.value.status, caught.value.code) == (400, "TRANSFER_ID_EMPTY")
    assert any(m["from"] == "customer" for m in customer.messages())


def test_clock_and_app_credentials(openlines_server: OpenlinesServer) -> None:
    server = openlines_server
    before = server.clock.now()
    assert server.clock.advance(3600) == pytest.approx(before + 3600)
    tokens = server.app.tokens(user_id=2)
    answer = server.http.post("/rest/user.current", json={"auth": tokens["access_token"]})
    assert answer.json()["result"]["ID"] == "2"
    server.clock.advance(tokens["expires_in"] + 1)
    expired = server.http.post("/rest/user.current", json={"auth": tokens["access_token"]})
    assert (expired.status_code, expired.json()["error"]) == (401, "expired_token")


def test_faults_through_the_fixture(openlines_server: OpenlinesServer) -> None:
    server = openlines_server
    fault = server.faults.add("imopenlines.bot.session.transfer", error="QUERY_LIMIT_EXCEEDED", count=2)
    assert fault["COUNT"] == 2 and server.faults.list()[0]["ID"] == fault["ID"]
    for _ in range(2):
        with pytest.raises(OpenlinesError) as caught:
            server.call("imopenlines.bot.session.transfer", {"CHAT_ID": 1})
        assert (caught.value.status, caught.value.code) == (503, "QUERY_LIMIT_EXCEEDED")
    with pytest.raises(OpenlinesError) as caught:  # spent: the method itself answers again
        server.call("imopenlines.bot.session.transfer", {"CHAT_ID": 0})
    assert caught.value.code == "CHAT_ID_EMPTY"
    assert server.faults.list() == []
    server.faults.add("server.time", status=500, probability=1.0)
    with pytest.raises(OpenlinesError) as caught:
        server.call("server.time")
    assert (caught.value.status, caught.value.code) == (500, "INTERNAL_SERVER_ERROR")
    assert server.faults.clear() == 1
    assert isinstance(server.call("server.time"), str)
    before = server.clock.now()
    server.faults.add("server.time", delay=45)
    assert isinstance(server.call("server.time"), str)
    assert server.clock.now() == pytest.approx(before + 45)  # a fake clock moves instead of sleeping


def failed_tries(server: OpenlinesServer, event: str, tries: int) -> dict[str, Any]:
    """The delivery row of ``event`` once it has failed ``tries`` times (polled; the worker is async)."""
    deadline = time.monotonic() + 20
    while True:
        rows = server.call("openlines.event.delivery.list", {"FILTER": {"EVENT": event}})
        if rows and rows[0]["ATTEMPTS"] >= tries:
            return dict(rows[0])
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)


def test_delivery_faults_through_the_fixture(openlines_server: OpenlinesServer) -> None:
    server = openlines_server
    welcome_bot(server)
    server.faults.add("ONIMBOTJOINCHAT", target="delivery", status=503, count=2)
    server.customer(line=1).says("hello")
    row = failed_tries(server, "ONIMBOTJOINCHAT", 1)
    assert row["LAST_ERROR"] == "injected fault: HTTP 503 SERVICE_UNAVAILABLE"
    assert len(server.events) == 0  # the chat's later events wait behind the failed one
    server.clock.advance(60)  # past the first backoff wait: the second try fails too
    failed_tries(server, "ONIMBOTJOINCHAT", 2)
    server.clock.advance(60)
    server.events.wait_for("ONIMBOTJOINCHAT")
    server.events.wait_for("ONIMBOTMESSAGEADD", MESSAGE="hello")
    assert server.faults.list() == []


def test_the_shared_server_clears_faults_between_tests(openlines_shared_server: OpenlinesServer) -> None:
    openlines_shared_server.faults.add("server.time", status=500, count=5)
    assert len(openlines_shared_server.faults.list()) == 1


def test_the_shared_server_is_the_same_and_clean(openlines_shared_server: OpenlinesServer) -> None:
    assert openlines_shared_server.faults.list() == []
    assert isinstance(openlines_shared_server.call("server.time"), str)


def test_delivery_faults_for_another_handler_leave_the_bot_alone(openlines_server: OpenlinesServer) -> None:
    server = openlines_server
    welcome_bot(server)
    server.faults.add("*", target="delivery", status=500, count=5, handler="http://127.0.0.1:9/")
    server.customer(line=1).says("hi")
    server.events.wait_for("ONIMBOTMESSAGEADD", MESSAGE="hi")
    assert server.faults.list()[0]["HITS"] == 0


@pytest.mark.openlines(env={"OPENLINES_ROUTING": "true"})
def test_a_timeout_in_seconds_with_routing_on(openlines_server: OpenlinesServer) -> None:
    """The whole handoff with its timeout: the bot hands over, the queue offers the dialogue to an
    operator, nobody answers, and after QUEUE_TIME (fake seconds) it moves to the other operator."""
    server = openlines_server
    welcome_bot(server)
    customer = server.customer(line=1)
    customer.says("human please")
    server.events.wait_for("ONIMBOTMESSAGEADD", MESSAGE="human please")
    server.call(TRANSFER, {"CHAT_ID": customer.chat_id, "TRANSFER_ID": "queue1", "CLIENT_ID": CLIENT})
    first = server.transfers(CHAT_ID=customer.chat_id)[-1]
    assert (first["FROM_TYPE"], first["TO_TYPE"]) == ("queue", "user") and first["TO_ID"] in (2, 3)
    queue_time = int(server.call("imopenlines.config.get", {"CONFIG_ID": 1})["QUEUE_TIME"])
    server.clock.advance(queue_time + 1)
    moved = server.transfers(CHAT_ID=customer.chat_id)[-1]
    assert (moved["FROM_TYPE"], moved["FROM_ID"]) == ("user", first["TO_ID"])
    assert moved["TO_ID"] == ({2, 3} - {first["TO_ID"]}).pop()


def test_a_slow_delivery_arrives_and_moves_the_fake_clock(openlines_server: OpenlinesServer) -> None:
    server = openlines_server
    welcome_bot(server)
    before = server.clock.now()
    server.faults.add("ONIMBOTJOINCHAT", target="delivery", delay=30)
    server.customer(line=1).says("slowly")
    server.events.wait_for("ONIMBOTJOINCHAT")
    assert server.clock.now() == pytest.approx(before + 30)
    # the worker records the try after the handler answered: wait for it, then it is the first one
    row = server.wait_until(
        lambda: [d for d in server.deliveries(EVENT="ONIMBOTJOINCHAT") if d["STATUS"] == "delivered"]
    )
    assert row[0]["ATTEMPTS"] == 1


@pytest.mark.openlines(limits="cloud")
def test_the_marker_turns_on_the_cloud_limits(openlines_server: OpenlinesServer) -> None:
    for _ in range(50):
        openlines_server.call("server.time")
    with pytest.raises(OpenlinesError) as caught:
        openlines_server.call("server.time")
    assert (caught.value.status, caught.value.code) == (503, "QUERY_LIMIT_EXCEEDED")
    openlines_server.clock.advance(1)  # the fixture's own control calls are never limited
    assert isinstance(openlines_server.call("server.time"), str)
