"""Routing over HTTP against real server processes with the fake clock: a bot hands a dialogue to a
queue of two operators, the first does not answer, QUEUE_TIME later it moves to the second, and the
transfer history and openlines.routing.explain show both steps; timers survive a restart and fire
once; operator status and pause methods with their errors."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_HOOK, ServerProcess

OPERATOR_HOOK = "/rest/2/routing_op_hook/"  # operator 2, not an administrator
CLIENT = "routing-bot"
CONFIG = """
[server]
routing = true

[[webhooks]]
user = 2
code = "routing_op_hook"
scopes = ["imopenlines", "im"]

[[webhooks]]
user = 3
code = "routing_op3_hook"
scopes = ["imopenlines", "im"]
"""


def start(folder: Path, port: int = 0) -> ServerProcess:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "openlines.toml"
    config.write_text(CONFIG)
    return ServerProcess(folder, ["--demo", "--fake-clock", "--config", str(config)], port=port).start()


class Api:
    def __init__(self, http: httpx.Client, db: Path) -> None:
        self.http = http
        self.db_path = db

    def call(
        self, method: str, params: dict[str, Any] | None = None, hook: str = DEMO_HOOK
    ) -> httpx.Response:
        return self.http.post(f"{hook}{method}", json=params or {})

    def ok(self, method: str, params: dict[str, Any] | None = None, hook: str = DEMO_HOOK) -> Any:
        answer = self.call(method, params, hook)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    def dialog(self) -> int:
        answer = self.http.post(
            "/widget/1/messages", json={"visitor": uuid.uuid4().hex, "text": "hi", "name": "Vera"}
        )
        assert answer.status_code == 200, answer.text
        return int(answer.json()["chat_id"])

    def owner(self, chat_id: int) -> dict[str, Any]:
        owner: dict[str, Any] = self.ok("openlines.session.get", {"CHAT_ID": chat_id})["OWNER"]
        return owner

    def advance(self, seconds: float) -> None:
        self.ok("openlines.clock.advance", {"SECONDS": seconds})

    def routing_rows(self) -> list[tuple[int, int]]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as db:
            rows = db.execute("SELECT session_id, to_id FROM transfers WHERE mode = 'routing' ORDER BY id")
            return [(int(a), int(b)) for a, b in rows]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start(tmp_path_factory.mktemp("routing-http"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def api(srv: ServerProcess) -> Iterator[Api]:
    with srv.client() as http:
        yield Api(http, srv.db)


def test_a_bot_hands_over_and_the_queue_moves_on_after_queue_time(api: Api) -> None:
    bot = int(
        api.ok(
            "imbot.register",
            {
                "CODE": "router",
                "TYPE": "O",
                "EVENT_HANDLER": "http://127.0.0.1:9/bot",
                "PROPERTIES": {"NAME": "R"},
                "CLIENT_ID": CLIENT,
            },
        )
    )
    settings = {
        "WELCOME_BOT_ENABLE": "Y",
        "WELCOME_BOT_ID": bot,
        "WELCOME_BOT_JOIN": "always",
        "QUEUE_TIME": 60,
    }
    assert api.ok("imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": settings}) is True
    chat = api.dialog()
    assert api.owner(chat) == {"TYPE": "bot", "ID": bot}

    assert api.ok(
        "imopenlines.bot.session.transfer", {"CHAT_ID": chat, "TRANSFER_ID": "queue1", "CLIENT_ID": CLIENT}
    )
    first = api.owner(chat)
    assert first["TYPE"] == "user" and first["ID"] in (2, 3)
    second_id = 5 - first["ID"]
    api.advance(59)
    assert api.owner(chat) == first  # not yet
    api.advance(1)
    assert api.owner(chat) == {"TYPE": "user", "ID": second_id}

    rows = api.ok("openlines.transfer.list", {"CHAT_ID": chat})
    steps = [(r["FROM_TYPE"], r["FROM_ID"], r["TO_TYPE"], r["TO_ID"], r["MODE"]) for r in rows]
    assert steps == [
        ("bot", bot, "queue", 1, "bot"),
        ("queue", 1, "user", first["ID"], "routing"),
        ("user", first["ID"], "user", second_id, "routing"),
    ]
    why = api.ok("openlines.routing.explain", {"CHAT_ID": chat})
    assert why["OWNER"] == {"TYPE": "user", "ID": second_id}
    assert [(s["CAUSE"], s["RESULT"], s["OPERATOR_ID"]) for s in why["STEPS"]] == [
        ("queued", "assigned", first["ID"]),
        ("queue_timer", "assigned", second_id),
    ]
    assert why["STEPS"][1]["TRANSFER_ID"] == rows[2]["ID"]
    assert {"USER_ID": second_id, "VERDICT": "chosen", "REASON": ""} in why["STEPS"][1]["CANDIDATES"]
    assert [t["KIND"] for t in why["TIMERS"]] == ["queue"]
    # the second operator answers: the queue timer no longer applies and nothing moves any more
    assert (
        api.ok(
            "imopenlines.operator.answer",
            {"CHAT_ID": chat},
            f"/rest/{second_id}/{'routing_op_hook' if second_id == 2 else 'routing_op3_hook'}/",
        )
        is True
    )
    assert api.ok("openlines.routing.explain", {"CHAT_ID": chat})["TIMERS"] == []
    api.advance(3600)
    assert api.owner(chat) == {"TYPE": "user", "ID": second_id}
    assert len(api.ok("openlines.transfer.list", {"CHAT_ID": chat})) == 3


def test_explain_errors(api: Api) -> None:
    answer = api.call("openlines.routing.explain")
    assert answer.status_code == 400 and answer.json()["error"] == "ERROR_ARGUMENT"
    answer = api.call("openlines.routing.explain", {"SESSION_ID": 987654})
    assert answer.status_code == 404 and answer.json()["error"] == "SESSION_NOT_FOUND"
    answer = api.call("openlines.routing.explain", {"CHAT_ID": "abc"})
    assert answer.status_code == 400


def test_status_and_pause(api: Api) -> None:
    state = api.ok("openlines.operator.status.set", {"STATUS": "away"}, OPERATOR_HOOK)
    assert (state["USER_ID"], state["STATUS"], state["AVAILABLE"]) == (2, "away", False)
    assert api.ok("openlines.operator.status.get", {"USER_ID": 2})["STATUS"] == "away"
    state = api.ok("openlines.operator.status.set", {"STATUS": "ONLINE"}, OPERATOR_HOOK)
    assert state["AVAILABLE"] is True
    assert api.ok("imopenlines.operator.pause.start", {}, OPERATOR_HOOK) is True
    assert api.ok("imopenlines.operator.pause.get", {}, OPERATOR_HOOK) == {"USER_ID": 2, "PAUSE": "Y"}
    assert api.ok("openlines.operator.status.get", {}, OPERATOR_HOOK)["AVAILABLE"] is False
    assert api.ok("imopenlines.operator.pause.stop", {}, OPERATOR_HOOK) is True
    assert api.ok("imopenlines.operator.pause.get", {"USER_ID": 2})["PAUSE"] == "N"
    # an administrator may set anyone's status; an operator only their own
    assert api.ok("openlines.operator.status.set", {"STATUS": "offline", "USER_ID": 3})["STATUS"] == "offline"
    assert api.ok("openlines.operator.status.set", {"STATUS": "online", "USER_ID": 3})["STATUS"] == "online"
    denied = api.call("openlines.operator.status.set", {"STATUS": "online", "USER_ID": 3}, OPERATOR_HOOK)
    assert denied.status_code == 403 and denied.json()["error"] == "ACCESS_DENIED"
    denied = api.call("imopenlines.operator.pause.start", {"USER_ID": 3}, OPERATOR_HOOK)
    assert denied.status_code == 403
    for bad in ({"STATUS": "busy"}, {}, {"STATUS": ["online"]}):
        answer = api.call("openlines.operator.status.set", bad, OPERATOR_HOOK)
        assert answer.status_code == 400, answer.text
    answer = api.call("openlines.operator.status.get", {"USER_ID": 424242})
    assert answer.status_code == 400 and answer.json()["error"] == "USER_ID"


def test_pending_timers_survive_a_restart_and_fire_once(tmp_path: Path) -> None:
    folder = tmp_path / "restart"
    proc = start(folder)
    try:
        with proc.client() as http:
            api = Api(http, proc.db)
            chats = [api.dialog() for _ in range(3)]
            before = api.routing_rows()
            assert len(before) == 3  # each dialogue assigned once, each with a queue timer pending
    finally:
        proc.stop()
    for advance, expected_new in ((61, 3), (30, 0)):
        proc = start(folder, port=proc.port)
        try:
            with proc.client() as http:
                api = Api(http, proc.db)
                api.advance(advance)
                after = api.routing_rows()
                assert len(after) == len(before) + expected_new
                sessions = [row[0] for row in after[len(before) :]]
                assert len(set(sessions)) == len(sessions)  # nobody moved twice
                before = after
                for chat in chats:
                    assert api.owner(chat)["TYPE"] == "user"
        finally:
            proc.stop()
