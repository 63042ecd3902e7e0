"""Timers on the fake clock in a real portal: the welcome bot's time, auto-close after the operator's
last answer, the no-answer text once, and the index use of every routing query."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openlines.domain.openlines import Bot, Status
from openlines.domain.users import User
from tests.routing.harness import LINE, RoutingPortal


def with_welcome_bot(portal: RoutingPortal, hold: int, left: str = "queue") -> int:
    async def setup() -> int:
        store = portal.store
        async with store.atomic():
            bot_id = await store.create_user(User(id=0, kind="bot", name="Greeter"))
            await store.save_bot(Bot(id=bot_id, code="greeter", app_id="customtimers", openline=True))
            line = await store.get_line(LINE)
            assert line is not None
            line.settings.update(
                WELCOME_BOT_ENABLE="Y", WELCOME_BOT_ID=bot_id, WELCOME_BOT_TIME=hold, WELCOME_BOT_LEFT=left
            )
            await store.save_line(line)
        return bot_id

    return portal.run(setup)


@pytest.fixture()
def portal(tmp_path: Path) -> Iterator[RoutingPortal]:
    p = RoutingPortal(
        tmp_path,
        "evenly",
        (11, 12),
        QUEUE_TIME=60,
        AUTO_CLOSE_TIME=300,
        NO_ANSWER_RULE="text",
        NO_ANSWER_TIME=90,
        NO_ANSWER_TEXT="All agents are busy, please wait",
    )
    yield p
    p.close()


def test_the_welcome_bot_hands_over_when_its_time_is_up(portal: RoutingPortal) -> None:
    bot = with_welcome_bot(portal, 120)
    chat = portal.dialog()
    assert portal.owner(chat.id) == ("bot", bot)
    portal.advance(119)
    assert portal.owner(chat.id) == ("bot", bot)
    portal.advance(1)
    assert portal.owner(chat.id) == ("user", 11)
    rows = portal.history(chat.id)
    assert [(r.from_type, r.to_type, r.mode) for r in rows] == [
        ("bot", "queue", "bot"),
        ("queue", "user", "routing"),
    ]
    assert "Bot has forwarded conversation to an agent" in portal.texts(chat.id)


def test_a_welcome_bot_time_of_zero_never_hands_over(portal: RoutingPortal) -> None:
    bot = with_welcome_bot(portal, 0)
    chat = portal.dialog()
    portal.advance(86400 * 30)
    assert portal.owner(chat.id) == ("bot", bot)


def test_the_bot_timer_is_void_once_the_bot_transferred(portal: RoutingPortal) -> None:
    bot = with_welcome_bot(portal, 120)
    chat = portal.dialog()
    assert portal.answer(chat.id, 12)  # someone took it from the bot
    portal.advance(500)
    assert portal.owner(chat.id) == ("user", 12)
    assert [r.from_id for r in portal.history(chat.id)] == [bot]


def test_auto_close_after_the_operators_last_answer(portal: RoutingPortal) -> None:
    chat = portal.dialog()
    assert portal.answer(chat.id, 11)
    portal.reply(chat.id, 11)
    assert portal.session(chat.id).status == Status.OPERATOR
    portal.advance(200)
    portal.reply(chat.id, 11)  # a later answer moves the deadline
    portal.advance(299)
    assert not portal.session(chat.id).closed
    portal.advance(1)
    session = portal.session(chat.id)
    assert session.closed and session.status == Status.CLOSE


def test_a_customer_message_cancels_auto_close(portal: RoutingPortal) -> None:
    chat = portal.dialog()
    assert portal.answer(chat.id, 11)
    portal.reply(chat.id, 11)
    portal.customer_says(chat)
    portal.advance(1000)
    assert not portal.session(chat.id).closed


def test_the_no_answer_text_goes_out_once(portal: RoutingPortal) -> None:
    chat = portal.dialog()
    portal.advance(89)
    assert "All agents are busy, please wait" not in portal.texts(chat.id)
    portal.advance(1)
    portal.advance(1000)
    assert portal.texts(chat.id).count("All agents are busy, please wait") == 1
    # a new hand-over to the queue does not send it again
    portal.to_queue(chat.id, portal.session(chat.id).operator_id)
    portal.advance(1000)
    assert portal.texts(chat.id).count("All agents are busy, please wait") == 1


def test_no_no_answer_text_once_answered(portal: RoutingPortal) -> None:
    chat = portal.dialog()
    assert portal.answer(chat.id, 11)
    portal.advance(1000)
    assert "All agents are busy, please wait" not in portal.texts(chat.id)


def test_a_finished_session_has_no_timers_left(portal: RoutingPortal) -> None:
    chat = portal.dialog()
    session = portal.session(chat.id)
    assert portal.run(lambda: portal.store.timers_of(session.id))
    assert portal.finish(chat.id, 11)
    assert portal.run(lambda: portal.store.timers_of(session.id)) == []


QUERIES = [
    (
        "SELECT id FROM sessions WHERE line_id = 1 AND closed = 0 AND owner_type = 'queue' ORDER BY id LIMIT 20",
        "sessions_waiting",
    ),
    (
        "SELECT COUNT(*) FROM sessions WHERE closed = 0 AND operator_id = 11 AND line_id = 1 "
        "AND owner_type = 'user' AND status < 40",
        "sessions_operator_load",
    ),
    ("SELECT MIN(due) FROM timers WHERE fired = 0", "timers_due"),
    ("SELECT id FROM timers WHERE fired = 0 AND due <= 5 ORDER BY due, id LIMIT 1", "timers_due"),
    ("SELECT line_id FROM line_queue WHERE user_id = 11", "line_queue_user"),
    (
        "SELECT user_id FROM line_queue WHERE line_id = 1 AND (last_activity, sort, user_id) > (0, 0, 0) "
        "ORDER BY last_activity, sort, user_id LIMIT 8",
        "line_queue_activity",
    ),
    ("SELECT user_id FROM line_queue WHERE line_id = 1 ORDER BY sort, user_id LIMIT 8", "line_queue_order"),
    ("SELECT id FROM routing_decisions WHERE session_id = 1 ORDER BY id", "routing_decisions_session"),
    ("SELECT from_type FROM transfers WHERE session_id = 1 ORDER BY id DESC LIMIT 1", "transfers_session"),
]


@pytest.mark.parametrize(("sql", "index"), QUERIES)
def test_routing_queries_use_an_index(portal: RoutingPortal, sql: str, index: str) -> None:
    db = portal.store.db  # type: ignore[attr-defined]
    plan = " | ".join(str(row[-1]) for row in db.execute("EXPLAIN QUERY PLAN " + sql))
    assert index in plan, plan
    assert "SCAN" not in plan.replace("SCAN CONSTANT", "") or "USING" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort outside the index


@pytest.mark.parametrize(("left", "stays"), [("queue", False), ("close", True)])
def test_welcome_bot_left_decides_whether_the_bot_stays(
    portal: RoutingPortal, left: str, stays: bool
) -> None:
    bot = with_welcome_bot(portal, 30, left)
    chat = portal.dialog()
    portal.advance(30)
    assert portal.owner(chat.id) == ("user", 11)
    members = portal.run(lambda: portal.store.member_kinds(chat.id))
    assert (bot in members) is stays


def test_timers_fire_in_due_order_within_one_advance(portal: RoutingPortal) -> None:
    """A dialogue assigned at t and another at t+10: one advance past both timers moves each once,
    the earlier first (its move is recorded first)."""
    first = portal.dialog()
    portal.advance(10)
    second = portal.dialog()
    portal.advance(65)
    moves = [
        (r.chat_id, r.date_create)
        for r in portal.history(first.id) + portal.history(second.id)
        if r.mode == "routing" and r.from_type == "user"
    ]
    assert [chat for chat, _ in sorted(moves, key=lambda m: m[1])] == [first.id, second.id]
    assert moves[1][1] - moves[0][1] == 10  # each fired at its own due time, not at the end of the advance
