"""imopenlines.bot.session.* over HTTP against a real server process: every row of the transfer
error table (spec 2.3), the TRANSFER_ID / LEAVE edge cases of spec 2.1 with exact code, text and
status, the effects of each transfer, the sibling bot methods, the audit methods, and many
simultaneous transfers of one chat."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DEMO_HOOK, ServerProcess, oauth_tokens, start_server

METHOD = "imopenlines.bot.session.transfer"
CLIENT = "transfer-bot"
INACTIVE = 6
OPERATOR_HOOK = "/rest/2/olga_hook/"  # operator 2 (scopes imopenlines, im)
HANDLER = "http://127.0.0.1:9/bot"
CONFIG = f"""
[[users]]
id = {INACTIVE}
name = "Ina"
last_name = "Inactive"
active = false

[[webhooks]]
user = 2
code = "olga_hook"
scopes = ["imopenlines", "im"]
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("transfer-config")
    config = folder / "openlines.toml"
    config.write_text(CONFIG)
    proc = start_server(
        tmp_path_factory, "transfer-server", "--demo", "--fake-clock", "--config", str(config)
    )
    yield proc
    proc.stop()


@dataclass
class World:
    srv: ServerProcess
    http: httpx.Client
    bot: int  # the welcome bot of line 1, registered over the webhook with CLIENT_ID
    other_bot: int  # a second app's bot

    def call(self, method: str, params: Any = None, hook: str = DEMO_HOOK, **options: Any) -> httpx.Response:
        if "data" in options or "content" in options:
            return self.http.post(f"{hook}{method}", **options)
        return self.http.post(f"{hook}{method}", json=params if params is not None else {})

    def ok(self, method: str, params: Any = None, hook: str = DEMO_HOOK) -> Any:
        answer = self.call(method, params, hook)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    def transfer(self, params: dict[str, Any]) -> httpx.Response:
        return self.call(METHOD, {"CLIENT_ID": CLIENT, **params})

    def dialog(self, line_id: int = 1) -> int:
        """A new visitor writes into a line; answers the chat id."""
        answer = self.http.post(
            f"/widget/{line_id}/messages", json={"visitor": uuid.uuid4().hex, "text": "hello", "name": "Vera"}
        )
        assert answer.status_code == 200, answer.text
        return int(answer.json()["chat_id"])

    def session(self, chat_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.ok("openlines.session.get", {"CHAT_ID": chat_id})
        return result

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.srv.db}?mode=ro", uri=True, timeout=10)

    def members(self, chat_id: int) -> set[int]:
        with self.db() as db:
            return {
                r[0] for r in db.execute("SELECT user_id FROM chat_members WHERE chat_id = ?", (chat_id,))
            }

    def notices(self, chat_id: int) -> list[str]:
        with self.db() as db:
            rows = db.execute(
                "SELECT text FROM messages WHERE chat_id = ? AND system = 1 ORDER BY id", (chat_id,)
            )
            return [r[0] for r in rows]

    def rows(self, chat_id: int) -> list[tuple[str, int, str, int, str]]:
        """The chat's transfer history as (FROM_TYPE, FROM_ID, TO_TYPE, TO_ID, MODE)."""
        return [
            (t["FROM_TYPE"], t["FROM_ID"], t["TO_TYPE"], t["TO_ID"], t["MODE"])
            for t in self.session(chat_id)["TRANSFERS"]
        ]

    def customer(self, chat_id: int) -> int:
        with self.db() as db:
            return int(db.execute("SELECT customer_id FROM chats WHERE id = ?", (chat_id,)).fetchone()[0])


def register_bot(api: World, code: str, client_id: str) -> int:
    params = {
        "CODE": code,
        "TYPE": "O",
        "EVENT_HANDLER": HANDLER,
        "PROPERTIES": {"NAME": code.title()},
        "CLIENT_ID": client_id,
    }
    return int(api.ok("imbot.register", params))


@pytest.fixture(scope="module")
def world(srv: ServerProcess) -> Iterator[World]:
    with srv.client() as http:
        api = World(srv, http, 0, 0)
        api.bot = register_bot(api, "greeter", CLIENT)
        api.other_bot = register_bot(api, "stranger", "other-app")
        settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": api.bot, "WELCOME_BOT_JOIN": "always"}
        assert api.ok("imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": settings}) is True
        yield api


@pytest.fixture()
def chat(world: World) -> int:
    chat_id = world.dialog()
    session = world.session(chat_id)
    assert session["OWNER"] == {"TYPE": "bot", "ID": world.bot} and session["STATUS"] == 0
    return chat_id


def assert_error(answer: httpx.Response, status: int, code: str, text: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert (body["error"], body["error_description"]) == (code, text)
    assert "time" not in body


CHAT_ID_EMPTY = (400, "CHAT_ID_EMPTY", "Chat ID can't be empty")
USER_ID_EMPTY = (400, "USER_ID_EMPTY", "User ID can't be empty")
QUEUE_ID_EMPTY = (400, "QUEUE_ID_EMPTY", "QUEUE ID can't be empty")
TRANSFER_ID_EMPTY = (400, "TRANSFER_ID_EMPTY", "Queue ID or User ID can't be empty")
ACCESS_DENIED = (403, "ACCESS_DENIED", "Access denied! Client ID not specified.")
BOT_ID_ERROR = (400, "BOT_ID_ERROR", "Bot not found")
OPERATOR_WRONG = (400, "OPERATOR_WRONG", "You can not redirect to this operator")
WRONG_AUTH_TYPE = (403, "WRONG_AUTH_TYPE", "Access for this method not allowed by session authorization.")

# (params, expected); "CHAT" stands for the test's chat id. CLIENT_ID is added unless given.
PARAMETER_ERRORS: list[tuple[dict[str, Any], tuple[int, str, str]]] = [
    ({"USER_ID": 2}, CHAT_ID_EMPTY),
    ({"CHAT_ID": 0, "USER_ID": 2}, CHAT_ID_EMPTY),
    ({"CHAT_ID": "abc", "USER_ID": 2}, CHAT_ID_EMPTY),
    ({"CHAT_ID": -4, "USER_ID": 2}, CHAT_ID_EMPTY),
    ({"chat_id": "CHAT", "USER_ID": 2}, CHAT_ID_EMPTY),  # names are case-sensitive
    ({}, CHAT_ID_EMPTY),  # CHAT_ID is checked before the destination
    ({"CHAT_ID": "CHAT", "USER_ID": 0}, USER_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "USER_ID": "-2"}, USER_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "TRANSFER_ID": "Queue1"}, USER_ID_EMPTY),  # "queue" is case-sensitive
    ({"CHAT_ID": "CHAT", "TRANSFER_ID": "abc"}, USER_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "TRANSFER_ID": 0}, USER_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "TRANSFER_ID": "abc", "USER_ID": 2}, USER_ID_EMPTY),  # TRANSFER_ID overrides
    ({"CHAT_ID": "CHAT", "QUEUE_ID": 0}, QUEUE_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "TRANSFER_ID": "queue"}, QUEUE_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "TRANSFER_ID": "queueX"}, QUEUE_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "TRANSFER_ID": "queue", "QUEUE_ID": 1}, QUEUE_ID_EMPTY),
    ({"CHAT_ID": "CHAT"}, TRANSFER_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "TRANSFER_ID": None}, TRANSFER_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "user_id": 2, "transfer_id": "2"}, TRANSFER_ID_EMPTY),
    ({"CHAT_ID": "CHAT", "CLIENT_ID": None}, TRANSFER_ID_EMPTY),  # the destination comes first
    ({"CHAT_ID": "CHAT", "USER_ID": 2, "CLIENT_ID": None}, ACCESS_DENIED),
    ({"CHAT_ID": "CHAT", "USER_ID": 2, "CLIENT_ID": ""}, ACCESS_DENIED),
    ({"CHAT_ID": "CHAT", "USER_ID": 2, "CLIENT_ID": "0"}, ACCESS_DENIED),
    ({"CHAT_ID": "CHAT", "USER_ID": 2, "CLIENT_ID": "nobody"}, BOT_ID_ERROR),
    ({"CHAT_ID": 999999, "USER_ID": 2, "CLIENT_ID": "nobody"}, BOT_ID_ERROR),  # bot before chat
]


@pytest.mark.parametrize(("params", "expected"), PARAMETER_ERRORS)
def test_parameter_errors(
    world: World, chat: int, params: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    sent = {k: (chat if v == "CHAT" else v) for k, v in {"CLIENT_ID": CLIENT, **params}.items()}
    sent = {k: v for k, v in sent.items() if v is not None or k != "CLIENT_ID"}
    assert_error(world.call(METHOD, sent), *expected)
    assert world.session(chat)["VERSION"] == 0  # nothing happened


def test_session_auth_is_refused_first(world: World) -> None:
    for method in (METHOD, "imopenlines.bot.session.operator", "imopenlines.bot.session.finish"):
        answer = world.http.post(f"/rest/{method}", json={"sessid": "abc", "CHAT_ID": 0})
        assert_error(answer, *WRONG_AUTH_TYPE)
    answer = world.http.post("/rest/imopenlines.bot.session.message.send", data={"sessid": "x"})
    assert_error(answer, *WRONG_AUTH_TYPE)


@pytest.mark.parametrize("value", [[2], {"a": "2"}])
def test_a_non_scalar_transfer_id_is_an_argument_error(world: World, chat: int, value: Any) -> None:
    answer = world.transfer({"CHAT_ID": chat, "TRANSFER_ID": value})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "ERROR_ARGUMENT" and body["argument"] == "TRANSFER_ID"
    form = world.call(METHOD, data={"CHAT_ID": str(chat), "TRANSFER_ID[]": "2", "CLIENT_ID": CLIENT})
    assert form.status_code == 400 and form.json()["argument"] == "TRANSFER_ID"


def test_refused_targets_answer_operator_wrong(world: World, chat: int) -> None:
    customer = world.customer(chat)
    for params in (
        {"USER_ID": 5},  # extranet
        {"USER_ID": INACTIVE},
        {"USER_ID": world.bot},
        {"USER_ID": world.other_bot},
        {"USER_ID": customer},
        {"USER_ID": 987654},
        {"USER_ID": 2**70},  # clamped like PHP, then simply unknown
        {"QUEUE_ID": 77},
        {"TRANSFER_ID": "queue77"},
    ):
        assert_error(world.transfer({"CHAT_ID": chat, **params}), *OPERATOR_WRONG)
    assert_error(world.transfer({"CHAT_ID": 999999, "USER_ID": 2}), *OPERATOR_WRONG)  # no such chat
    session = world.session(chat)
    assert session["VERSION"] == 0 and session["TRANSFERS"] == []


def test_closed_session_answers_operator_wrong(world: World, chat: int) -> None:
    assert world.ok("imopenlines.bot.session.finish", {"CHAT_ID": chat, "CLIENT_ID": CLIENT}) is True
    assert world.session(chat)["STATUS"] == 60
    assert_error(world.transfer({"CHAT_ID": chat, "USER_ID": 2}), *OPERATOR_WRONG)


def test_transfer_to_a_user(world: World, chat: int) -> None:
    answer = world.transfer({"CHAT_ID": chat, "USER_ID": 2})
    assert answer.status_code == 200 and answer.json()["result"] is True and "time" in answer.json()
    session = world.session(chat)
    assert session["OWNER"] == {"TYPE": "user", "ID": 2} and session["STATUS"] == 10
    assert session["VERSION"] == 1 and session["WAIT_ANSWER"] is False
    assert {2, world.bot} <= world.members(chat)  # LEAVE absent: the bot stays
    assert world.notices(chat)[-1] == f"[USER={world.bot}][/USER] transfered conversation to [USER=2][/USER]"
    (row,) = session["TRANSFERS"]
    assert (row["FROM_TYPE"], row["FROM_ID"], row["TO_TYPE"], row["TO_ID"], row["MODE"]) == (
        "bot",
        world.bot,
        "user",
        2,
        "bot",
    )


def test_an_answered_status_is_kept_on_transfer(world: World, chat: int) -> None:
    assert world.transfer({"CHAT_ID": chat, "USER_ID": 2}).status_code == 200
    world.ok("im.message.add", {"DIALOG_ID": f"chat{chat}", "MESSAGE": "How can I help?"}, hook=OPERATOR_HOOK)
    assert world.session(chat)["STATUS"] == 40
    assert world.transfer({"CHAT_ID": chat, "USER_ID": 3, "LEAVE": "Y"}).status_code == 200
    session = world.session(chat)
    assert session["OWNER"] == {"TYPE": "user", "ID": 3} and session["STATUS"] == 40
    members = world.members(chat)
    assert 3 in members and 2 not in members and world.bot not in members


@pytest.mark.parametrize(
    ("leave", "leaves"),
    [
        ("Y", True),
        (True, True),
        ("y", False),
        ("true", False),
        ("1", False),
        (1, False),
        ("N", False),
        (None, False),
    ],
)
def test_leave(world: World, chat: int, leave: Any, leaves: bool) -> None:
    params: dict[str, Any] = {"CHAT_ID": chat, "USER_ID": 2}
    if leave is not None:
        params["LEAVE"] = leave
    assert world.transfer(params).status_code == 200
    assert (world.bot not in world.members(chat)) is leaves
    assert world.session(chat)["OWNER"] == {"TYPE": "user", "ID": 2}


@pytest.mark.parametrize(
    ("params", "owner"),
    [
        ({"TRANSFER_ID": "queue2", "USER_ID": 3}, ("user", 3)),  # USER_ID wins over a queue
        ({"USER_ID": 4, "QUEUE_ID": 2}, ("user", 4)),
        ({"TRANSFER_ID": "3", "USER_ID": 2}, ("user", 3)),  # a user TRANSFER_ID overrides USER_ID
        ({"TRANSFER_ID": 4}, ("user", 4)),
        ({"TRANSFER_ID": " 4"}, ("user", 4)),
        ({"TRANSFER_ID": "4abc"}, ("user", 4)),
        ({"USER_ID": "3.9"}, ("user", 3)),
        ({"QUEUE_ID": 1, "TRANSFER_ID": "queue2"}, ("queue", 2)),
        ({"TRANSFER_ID": "queue2x"}, ("queue", 2)),
        ({"QUEUE_ID": "2"}, ("queue", 2)),
    ],
)
def test_destination_precedence(
    world: World, chat: int, params: dict[str, Any], owner: tuple[str, int]
) -> None:
    assert world.transfer({"CHAT_ID": chat, **params}).status_code == 200
    session = world.session(chat)
    if owner[0] == "user":
        assert session["OWNER"] == {"TYPE": "user", "ID": owner[1]}
        assert world.rows(chat) == [("bot", world.bot, "user", owner[1], "bot")]
    else:
        # the hand-over to the chosen queue, then routing (on by default) gives the dialogue to the
        # first operator of the Sales line's strictly queue [4, 3], who must still answer (status 5)
        assert world.rows(chat) == [
            ("bot", world.bot, "queue", owner[1], "bot"),
            ("queue", owner[1], "user", 4, "routing"),
        ]
        assert session["OWNER"] == {"TYPE": "user", "ID": 4} and session["LINE_ID"] == owner[1]
        assert session["STATUS"] == 5


def test_lower_case_client_id_and_form_encoding(world: World, chat: int) -> None:
    answer = world.call(METHOD, data={"CHAT_ID": str(chat), "USER_ID": "2", "client_id": CLIENT})
    assert answer.status_code == 200, answer.text
    assert world.session(chat)["OWNER"] == {"TYPE": "user", "ID": 2}


def test_transfer_to_queues(world: World, chat: int) -> None:
    assert world.transfer({"CHAT_ID": chat, "QUEUE_ID": 1}).status_code == 200
    # the hand-over to line 1's queue, then routing gives it to one of its operators (evenly), who
    # must still answer (status 5); the queue transfer posts its own notice after distribution
    session = world.session(chat)
    (handover, routed) = world.rows(chat)
    assert handover == ("bot", world.bot, "queue", 1, "bot")
    assert routed[:3] == ("queue", 1, "user") and routed[3] in (2, 3) and routed[4] == "routing"
    first = routed[3]
    assert session["OWNER"] == {"TYPE": "user", "ID": first}
    assert session["STATUS"] == 5 and session["LINE_ID"] == 1
    assert world.notices(chat)[-2:] == [
        f"Enquiry transferred to [USER={first}][/USER] according to queuing rules",
        f"[USER={world.bot}][/USER] rejected conversation",
    ]
    assert world.transfer({"CHAT_ID": chat, "TRANSFER_ID": "queue2", "LEAVE": "Y"}).status_code == 200
    session = world.session(chat)
    assert session["LINE_ID"] == 2 and session["STATUS"] == 5
    assert world.notices(chat)[-2:] == [
        "Enquiry transferred to [USER=4][/USER] according to queuing rules",
        f'[USER={world.bot}][/USER] redirected conversation from queue "[b]Support[/b]" to queue "[b]Sales[/b]"',
    ]
    assert world.bot in world.members(chat)  # a queue transfer ignores LEAVE
    assert first not in world.members(chat)  # line 1's operator lost it with the move to line 2
    # routing gives it to the first of the Sales line's strictly queue [4, 3]
    assert session["OWNER"] == {"TYPE": "user", "ID": 4}
    assert world.rows(chat)[2:] == [
        ("bot", world.bot, "queue", 2, "bot"),
        ("queue", 2, "user", 4, "routing"),
    ]


def test_an_oauth_app_needs_no_client_id(world: World) -> None:
    token = oauth_tokens(world.http)["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    bot = world.http.post(
        "/rest/imbot.register",
        json={"CODE": "oauthbot", "EVENT_HANDLER": HANDLER, "PROPERTIES": {"NAME": "OAuth"}},
        headers=bearer,
    )
    assert bot.status_code == 200, bot.text
    chat = world.dialog()
    answer = world.http.post(
        f"/rest/{METHOD}", json={"CHAT_ID": chat, "USER_ID": 4, "CLIENT_ID": "ignored"}, headers=bearer
    )
    assert answer.status_code == 200, answer.text
    (row,) = world.session(chat)["TRANSFERS"]
    assert (row["FROM_ID"], row["TO_ID"]) == (int(bot.json()["result"]), 4)


def test_transfers_inside_batch(world: World, chat: int) -> None:
    base = f"{METHOD}?CHAT_ID={chat}&CLIENT_ID={CLIENT}"
    cmd = {"a": f"{base}&USER_ID=2", "b": f"{base}&TRANSFER_ID=queue2", "c": f"{base}&USER_ID=5"}
    result = world.ok("batch", {"halt": 0, "cmd": cmd})
    assert result["result"] == {"a": True, "b": True}
    assert result["result_error"]["c"] == {
        "error": "OPERATOR_WRONG",
        "error_description": "You can not redirect to this operator",
    }
    assert [(t["TO_TYPE"], t["TO_ID"], t["MODE"]) for t in world.session(chat)["TRANSFERS"]] == [
        ("user", 2, "bot"),
        ("queue", 2, "bot"),
        ("user", 4, "routing"),  # routing gives it to the first of the Sales line's strictly queue [4, 3]
    ]
    assert world.session(chat)["OWNER"] == {"TYPE": "user", "ID": 4}


# --- sibling methods -----------------------------------------------------------------------------


def test_bot_session_operator(world: World, chat: int) -> None:
    assert_error(world.call("imopenlines.bot.session.operator", {}), *CHAT_ID_EMPTY)
    assert world.ok("imopenlines.bot.session.operator", {"chat_id": chat}) is True  # keys are upper-cased
    session = world.session(chat)
    # the bot hands over to line 1's queue; routing gives it to one of its operators (evenly: whoever
    # is idle longest), who joins the chat and must still answer (status 5)
    (handover, routed) = world.rows(chat)
    assert handover == ("bot", world.bot, "queue", 1, "bot")
    assert routed[:2] == ("queue", 1) and routed[2] == "user" and routed[3] in (2, 3)
    assert routed[4] == "routing"
    assert session["OWNER"] == {"TYPE": "user", "ID": routed[3]} and session["STATUS"] == 5
    assert world.bot not in world.members(chat) and routed[3] in world.members(chat)
    assert world.notices(chat)[-2:] == [
        "Bot has forwarded conversation to an agent",
        f"Enquiry transferred to [USER={routed[3]}][/USER] according to queuing rules",
    ]
    not_bot = (400, "WRONG_CHAT", "Operator is not a bot")
    assert_error(world.call("imopenlines.bot.session.operator", {"CHAT_ID": chat}), *not_bot)
    assert_error(world.call("imopenlines.bot.session.operator", {"CHAT_ID": 999999}), *not_bot)


def test_customer_typing_zero_hands_over(world: World) -> None:
    visitor = uuid.uuid4().hex
    first = world.http.post("/widget/1/messages", json={"visitor": visitor, "text": "hi"})
    token = first.json()["visitor_token"]
    chat = int(first.json()["chat_id"])
    again = world.http.post(
        "/widget/1/messages", json={"text": "0"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert again.status_code == 200, again.text
    # the "0" hands the dialogue to line 1's queue, and routing gives it to one of its operators
    (handover, routed) = world.rows(chat)
    assert handover == ("bot", world.bot, "queue", 1, "bot")
    assert routed[:3] == ("queue", 1, "user") and routed[3] in (2, 3) and routed[4] == "routing"
    assert world.session(chat)["OWNER"] == {"TYPE": "user", "ID": routed[3]}
    assert world.notices(chat)[-2:] == [
        "Bot has forwarded conversation to an agent",
        f"Enquiry transferred to [USER={routed[3]}][/USER] according to queuing rules",
    ]


def test_bot_session_finish(world: World, chat: int) -> None:
    assert_error(world.call("imopenlines.bot.session.finish", {"CHAT_ID": chat}), *ACCESS_DENIED)
    assert_error(
        world.call("imopenlines.bot.session.finish", {"CHAT_ID": chat, "CLIENT_ID": "nobody"}), *BOT_ID_ERROR
    )
    assert_error(world.call("imopenlines.bot.session.finish", {"CLIENT_ID": CLIENT}), *CHAT_ID_EMPTY)
    assert world.ok("imopenlines.bot.session.finish", {"chat_id": chat, "client_id": CLIENT}) is True
    session = world.session(chat)
    assert session["CLOSED"] is True and session["STATUS"] == 60
    assert world.notices(chat)[-2:] == [
        f"[USER={world.bot}][/USER] picked conversation",
        f"[USER={world.bot}][/USER] has closed session",
    ]
    # true even when there is nothing to finish
    assert world.ok("imopenlines.bot.session.finish", {"CHAT_ID": 999999, "CLIENT_ID": CLIENT}) is True


def test_bot_session_message_send(world: World, chat: int) -> None:
    assert_error(world.call("imopenlines.bot.session.message.send", {"NAME": "DEFAULT"}), *CHAT_ID_EMPTY)
    sent = {"CHAT_ID": chat, "NAME": "DEFAULT", "MESSAGE": "An agent will join shortly"}
    assert world.ok("imopenlines.bot.session.message.send", sent) is True
    with world.db() as db:
        text, params = db.execute(
            "SELECT text, params FROM messages WHERE chat_id = ? AND system = 1 ORDER BY id DESC", (chat,)
        ).fetchone()
    assert text == "An agent will join shortly" and '"IMPORTANT_CONNECTOR":"Y"' in params
    before = len(world.notices(chat))
    for params in (
        {"CHAT_ID": chat, "NAME": "default", "MESSAGE": "x"},
        {"CHAT_ID": chat},
        {"CHAT_ID": 999999},
    ):
        assert world.ok("imopenlines.bot.session.message.send", params) is True
    assert world.ok("imopenlines.bot.session.send.message", {**sent, "MESSAGE": "legacy"}) is True
    assert world.notices(chat)[before:] == ["legacy"]
    listed = world.ok("methods", {"full": True})
    assert "imopenlines.bot.session.message.send" in listed
    assert "imopenlines.bot.session.send.message" not in listed


# --- the audit methods ---------------------------------------------------------------------------

ROW_KEYS = [
    "ID",
    "SESSION_ID",
    "CHAT_ID",
    "LINE_ID",
    "FROM_TYPE",
    "FROM_ID",
    "TO_TYPE",
    "TO_ID",
    "MODE",
    "REASON",
    "DATE_CREATE",
]


def test_transfer_list_filters_and_pages(world: World, chat: int) -> None:
    for target in [2, 3] * 28:  # 56 rows for this chat
        assert world.transfer({"CHAT_ID": chat, "USER_ID": target}).status_code == 200
    page = world.call("openlines.transfer.list", {"CHAT_ID": chat}).json()
    assert page["total"] == 56 and page["next"] == 50 and len(page["result"]) == 50
    assert list(page["result"][0]) == ROW_KEYS
    ids = [row["ID"] for row in page["result"]]
    assert ids == sorted(ids)
    assert "T" in page["result"][0]["DATE_CREATE"]
    rest = world.call("openlines.transfer.list", {"CHAT_ID": chat, "start": 50}).json()
    assert len(rest["result"]) == 6 and "next" not in rest and rest["total"] == 56
    cursor = world.call("openlines.transfer.list", {"CHAT_ID": chat, "start": -1}).json()
    assert cursor["total"] == 0 and "next" not in cursor and len(cursor["result"]) == 50
    to_three = world.ok("openlines.transfer.list", {"CHAT_ID": chat, "USER_ID": 3})
    assert len(to_three) == 28 and all(row["TO_ID"] == 3 for row in to_three)
    session_id = world.session(chat)["ID"]
    assert len(world.ok("openlines.transfer.list", {"SESSION_ID": session_id, "start": 50})) == 6
    now = world.ok("openlines.clock.get")["NOW"]
    assert world.ok("openlines.transfer.list", {"CHAT_ID": chat, "DATE_FROM": int(now) + 10}) == []
    late = world.ok("openlines.transfer.list", {"CHAT_ID": chat, "DATE_TO": "2001-01-01T00:00:00Z"})
    assert late == []
    assert len(world.ok("openlines.transfer.list", {"CHAT_ID": chat, "DATE_FROM": "2001-01-01"})) == 50


@pytest.mark.parametrize(
    ("params", "argument"),
    [
        ({"DATE_FROM": "yesterday"}, "DATE_FROM"),
        ({"DATE_TO": [1]}, "DATE_TO"),
        ({"CHAT_ID": "x"}, "CHAT_ID"),
        ({"SESSION_ID": -1}, "SESSION_ID"),
        ({"USER_ID": {"a": 1}}, "USER_ID"),
    ],
)
def test_transfer_list_bad_filters(world: World, params: dict[str, Any], argument: str) -> None:
    answer = world.call("openlines.transfer.list", params)
    assert answer.status_code == 400
    assert answer.json()["error"] == "ERROR_ARGUMENT" and answer.json()["argument"] == argument


def test_session_get(world: World, chat: int) -> None:
    by_chat = world.session(chat)
    by_id = world.ok("openlines.session.get", {"SESSION_ID": by_chat["ID"]})
    assert by_id == by_chat and by_chat["CHAT_ID"] == chat and by_chat["LINE_ID"] == 1
    missing = world.call("openlines.session.get", {"SESSION_ID": 999999})
    assert missing.status_code == 404 and missing.json()["error"] == "SESSION_NOT_FOUND"
    neither = world.call("openlines.session.get", {})
    assert neither.status_code == 400 and neither.json()["error"] == "ERROR_ARGUMENT"


# --- many transfers of one chat at once ---------------------------------------------------------


def test_simultaneous_transfers_of_one_chat(world: World, chat: int) -> None:
    targets: list[dict[str, Any]] = [
        {"USER_ID": 2},
        {"USER_ID": 3},
        {"USER_ID": 4},
        {"QUEUE_ID": 1},
        {"QUEUE_ID": 2},
        {"USER_ID": 5},  # refused: extranet
        {"USER_ID": INACTIVE},  # refused
        {"QUEUE_ID": 77},  # refused
    ] * 5

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=world.srv.url, timeout=30) as client:
            calls = [
                client.post(f"{DEMO_HOOK}{METHOD}", json={"CHAT_ID": chat, "CLIENT_ID": CLIENT, **target})
                for target in targets
            ]
            return await asyncio.gather(*calls)

    answers = asyncio.run(fire())
    accepted: Counter[tuple[str, int]] = Counter()
    for target, answer in zip(targets, answers, strict=True):
        if answer.status_code == 200:
            assert answer.json()["result"] is True
            kind = "user" if "USER_ID" in target else "queue"
            accepted[(kind, int(target.get("USER_ID", target.get("QUEUE_ID"))))] += 1
        else:
            assert_error(answer, *OPERATOR_WRONG)
    assert sum(accepted.values()) >= 1
    assert all(
        target in {("user", 2), ("user", 3), ("user", 4), ("queue", 1), ("queue", 2)} for target in accepted
    )
    session = world.session(chat)
    rows = session["TRANSFERS"]
    # every accepted call left its own row (mode bot); routing (on by default) follows each queue
    # hand-over with one row of its own, in the same transaction: from that queue to one of its operators
    own = [row for row in rows if row["MODE"] != "routing"]
    assert all(row["MODE"] == "bot" for row in own)
    assert Counter((row["TO_TYPE"], row["TO_ID"]) for row in own) == accepted
    queues = {1: {2, 3}, 2: {4, 3}}
    for before, row in pairwise(rows):
        if before["TO_TYPE"] == "queue":
            assert row["MODE"] == "routing" and (row["FROM_TYPE"], row["FROM_ID"]) == (
                "queue",
                before["TO_ID"],
            )
            assert row["TO_TYPE"] == "user" and row["TO_ID"] in queues[before["TO_ID"]]
        else:
            assert row["MODE"] == "bot"
    assert rows[0]["MODE"] == "bot"
    assert len(rows) - len(own) == accepted[("queue", 1)] + accepted[("queue", 2)]
    assert session["VERSION"] == len(rows)
    last = rows[-1]
    owner = session["OWNER"]
    assert last["TO_TYPE"] == "user"  # a queue hand-over is never the last row: routing follows it
    assert owner == {"TYPE": "user", "ID": last["TO_ID"]}
    humans = world.members(chat) & {2, 3, 4}
    assert humans == {last["TO_ID"]}  # one chat, one operator


# --- odd input never gives a 500 ------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
TRANSFER_KEYS = st.sampled_from(
    ["CHAT_ID", "USER_ID", "QUEUE_ID", "TRANSFER_ID", "LEAVE", "CLIENT_ID", "chat_id"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(TRANSFER_KEYS, JSON_VALUES | st.sampled_from(["queue1", "2", CLIENT])))
def test_odd_transfer_input_answers_an_envelope(world: World, params: dict[str, Any]) -> None:
    for method in (METHOD, "imopenlines.bot.session.operator", "imopenlines.bot.session.finish"):
        answer = world.call(method, params)
        assert answer.status_code < 500, answer.text
        body = answer.json()
        assert ("result" in body) != ("error" in body)
