"""The handoff bot's tests: a real openlines server (the ``openlines_server`` fixture from
``pip install openlines``), the bot's own app on a loopback port, a customer on the live-chat widget."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from bot import GREETING, HANDING_OVER, NO_OPERATOR, create_app

from openlines.testing import Customer, OpenlinesServer, serve_asgi

CLIENT_ID = "handoff-bot"


@pytest.fixture()
def bot_line(openlines_server: OpenlinesServer) -> Iterator[OpenlinesServer]:
    """The bot runs and is the welcome bot of line 1 ("Support", operators 2 and 3)."""
    app = create_app(openlines_server.webhook_url, CLIENT_ID, queue_id=1)
    with serve_asgi(app) as url:
        bot_id = openlines_server.call(
            "imbot.register",
            {
                "CODE": "handoff",
                "TYPE": "O",
                "EVENT_HANDLER": url,
                "CLIENT_ID": CLIENT_ID,
                "PROPERTIES": {"NAME": "Handoff bot"},
            },
        )
        openlines_server.make_welcome_bot(int(bot_id), line=1)
        yield openlines_server


def wait_for_text(customer: Customer, text: str, timeout: float = 20.0) -> list[str]:
    """What the customer sees, once ``text`` is among it (the bot answers asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = [m["text"] for m in customer.messages()]
        if any(text in t for t in seen):
            return seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


def test_greets_and_answers(bot_line: OpenlinesServer) -> None:
    customer = bot_line.customer(line=1, name="Ann")
    customer.says("What are your opening hours?")
    wait_for_text(customer, GREETING)
    wait_for_text(customer, "You wrote: What are your opening hours?")
    assert bot_line.transfers(CHAT_ID=customer.chat_id) == []


def test_hands_over_to_the_queue_when_asked_for_a_human(bot_line: OpenlinesServer) -> None:
    customer = bot_line.customer(line=1)
    customer.says("I want a human please")
    wait_for_text(customer, HANDING_OVER)
    bot_line.wait_until(lambda: bot_line.transfers(CHAT_ID=customer.chat_id))
    handover, *routed = bot_line.transfers(CHAT_ID=customer.chat_id)
    assert (handover["FROM_TYPE"], handover["TO_TYPE"], handover["TO_ID"]) == ("bot", "queue", 1)
    # the queue then offers the dialogue to one of line 1's operators (routing)
    assert [(r["TO_TYPE"], r["TO_ID"] in (2, 3)) for r in routed] == [("user", True)]


def test_retries_a_rate_limited_transfer(bot_line: OpenlinesServer) -> None:
    bot_line.faults.add("imopenlines.bot.session.transfer", error="QUERY_LIMIT_EXCEEDED", count=2)
    customer = bot_line.customer(line=1)
    customer.says("operator!")
    bot_line.wait_until(lambda: bot_line.transfers(CHAT_ID=customer.chat_id))
    assert bot_line.faults.list() == []  # both refusals were spent, the third try went through


def test_apologises_when_the_transfer_keeps_failing(bot_line: OpenlinesServer) -> None:
    bot_line.faults.add("imopenlines.bot.session.transfer", error="QUERY_LIMIT_EXCEEDED", count=3)
    customer = bot_line.customer(line=1)
    customer.says("human")
    wait_for_text(customer, NO_OPERATOR)
    assert bot_line.transfers(CHAT_ID=customer.chat_id) == []


def test_keeps_working_when_its_events_fail_at_first(bot_line: OpenlinesServer) -> None:
    bot_line.faults.add("*", target="delivery", status=500, count=1)
    customer = bot_line.customer(line=1)
    customer.says("hello")
    bot_line.wait_until(lambda: any(d["ATTEMPTS"] for d in bot_line.deliveries(STATUS="pending")))
    bot_line.clock.advance(60)  # the worker retries after its backoff, on the fake clock
    wait_for_text(customer, GREETING)
