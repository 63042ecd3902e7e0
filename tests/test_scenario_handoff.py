"""The issue's hand-off scenario over HTTP, the way a real bot and real operators drive it.

A bot registered over a webhook (``imbot.register`` with CLIENT_ID) becomes line 1's welcome bot
(``imopenlines.config.update``); a visitor writes through the live-chat API; the bot owns the
session, hands it to an operator (LEAVE=N), to another (LEAVE=Y), back to the queue (routing, on by
default, gives it to a Support operator), to the Sales line's queue (routing gives it to a Sales
operator); that operator answers and finishes. After every step ``imopenlines.dialog.get``,
``im.dialog.messages.get`` and ``openlines.transfer.list`` must show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_HOOK, ServerProcess, start_server

CLIENT = "scenario-bot"
SARA_HOOK = "/rest/4/sara_hook/"  # operator 4, in the Sales line's queue
CONFIG = """
[[webhooks]]
user = 4
code = "sara_hook"
scopes = ["imopenlines", "im"]
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("scenario-config")
    (folder / "openlines.toml").write_text(CONFIG)
    proc = start_server(
        tmp_path_factory,
        "scenario-server",
        "--demo",
        "--fake-clock",
        "--config",
        str(folder / "openlines.toml"),
    )
    yield proc
    proc.stop()


class Steps:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.chat = 0
        self.session = 0

    def ok(self, method: str, params: dict[str, Any], hook: str = DEMO_HOOK) -> Any:
        answer = self.http.post(f"{hook}{method}", json=params)
        assert answer.status_code == 200, f"{method}: {answer.text}"
        return answer.json()["result"]

    def transfer(self, **params: Any) -> None:
        assert self.ok(
            "imopenlines.bot.session.transfer", {"CHAT_ID": self.chat, "CLIENT_ID": CLIENT, **params}
        )

    def dialog(self) -> dict[str, Any]:
        found: dict[str, Any] = self.ok("imopenlines.dialog.get", {"CHAT_ID": self.chat})
        return found

    def texts(self) -> list[str]:
        page = self.ok("im.dialog.messages.get", {"DIALOG_ID": f"chat{self.chat}", "LIMIT": 50})
        return [m["text"] for m in sorted(page["messages"], key=lambda m: m["id"])]

    def history(self) -> list[tuple[str, int, str, int, str]]:
        rows = self.ok("openlines.transfer.list", {"CHAT_ID": self.chat})
        assert all(row["SESSION_ID"] == self.session for row in rows)
        return [(r["FROM_TYPE"], r["FROM_ID"], r["TO_TYPE"], r["TO_ID"], r["MODE"]) for r in rows]

    def owner(self) -> tuple[str, int, int, int]:
        session = self.ok("openlines.session.get", {"SESSION_ID": self.session})
        return session["OWNER"]["TYPE"], session["OWNER"]["ID"], session["STATUS"], session["LINE_ID"]


def test_bot_to_operators_to_queues_to_finish(srv: ServerProcess) -> None:
    with srv.client() as http:
        run = Steps(http)
        bot = int(
            run.ok(
                "imbot.register",
                {
                    "CODE": "helper",
                    "TYPE": "O",
                    "EVENT_HANDLER": "http://127.0.0.1:9/helper",
                    "PROPERTIES": {"NAME": "Helper"},
                    "CLIENT_ID": CLIENT,
                },
            )
        )
        settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot, "WELCOME_BOT_JOIN": "always"}
        assert run.ok("imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": settings}) is True

        # 1. a visitor writes; the welcome bot owns the new session
        first = http.post(
            "/widget/1/messages", json={"visitor": "vera-1", "text": "I need help", "name": "Vera"}
        )
        assert first.status_code == 200, first.text
        run.chat, run.session = first.json()["chat_id"], first.json()["session_id"]
        token = first.json()["visitor_token"]
        dialog = run.dialog()
        assert dialog["entity_type"] == "LINES" and dialog["entity_id"].startswith("livechat|1|vera-1|")
        assert dialog["entity_data_1"].split("|")[5] == str(run.session)
        assert dialog["dialog_id"] == f"chat{run.chat}"
        assert run.owner() == ("bot", bot, 0, 1)
        assert run.texts() == ["I need help"]
        assert run.history() == []

        # 2. the bot hands over to operator 2 and stays (LEAVE=N)
        run.transfer(USER_ID=2, LEAVE="N")
        assert run.owner() == ("user", 2, 10, 1)
        dialog = run.dialog()
        assert dialog["owner"] == 2 and dialog["manager_list"] == [2] and dialog["user_counter"] == 3
        assert run.texts()[-1] == f"[USER={bot}][/USER] transfered conversation to [USER=2][/USER]"
        assert run.history() == [("bot", bot, "user", 2, "bot")]

        # 3. to operator 3, and the bot leaves (LEAVE=Y); operator 2 leaves too
        run.transfer(TRANSFER_ID="3", LEAVE="Y")
        assert run.owner() == ("user", 3, 10, 1)
        dialog = run.dialog()
        assert dialog["owner"] == 3 and dialog["user_counter"] == 2  # the customer and operator 3
        assert run.texts()[-1] == f"[USER={bot}][/USER] transfered conversation to [USER=3][/USER]"
        assert run.history()[-1] == ("bot", bot, "user", 3, "bot")

        # 4. back to the Support queue; routing (on by default) gives it to the operator idle longest:
        #    nobody was assigned by routing yet, so the first of the evenly queue [2, 3]; operator 2
        #    joins and must still answer (status 5)
        run.transfer(QUEUE_ID=1)
        assert run.owner() == ("user", 2, 5, 1)
        dialog = run.dialog()
        assert dialog["owner"] == 2 and dialog["user_counter"] == 2  # the customer and operator 2
        assert run.texts()[-2:] == [
            "Enquiry transferred to [USER=2][/USER] according to queuing rules",
            f"[USER={bot}][/USER] rejected conversation",
        ]
        assert run.history()[-2:] == [("bot", bot, "queue", 1, "bot"), ("queue", 1, "user", 2, "routing")]

        # 5. to the Sales line's queue: the session moves to line 2, and routing gives it to the first
        #    of its strictly queue [4, 3]; operator 2 leaves
        run.transfer(TRANSFER_ID="queue2")
        assert run.owner() == ("user", 4, 5, 2)
        assert run.dialog()["entity_data_1"].split("|")[7] == "2"
        assert run.dialog()["owner"] == 4 and run.dialog()["user_counter"] == 2
        assert run.texts()[-2:] == [
            "Enquiry transferred to [USER=4][/USER] according to queuing rules",
            f'[USER={bot}][/USER] redirected conversation from queue "[b]Support[/b]" to queue "[b]Sales[/b]"',
        ]
        assert run.history()[-2:] == [("bot", bot, "queue", 2, "bot"), ("queue", 2, "user", 4, "routing")]

        # 6. the Sales operator answers the dialogue routing gave her, and finishes it with her own webhook
        assert run.ok("imopenlines.operator.answer", {"CHAT_ID": run.chat}, hook=SARA_HOOK) is True
        assert run.owner() == ("user", 4, 10, 2)
        assert run.dialog()["owner"] == 4
        assert run.texts()[-1] == "[USER=4][/USER] picked conversation"
        assert len(run.history()) == 6  # she already owns it: answering changes no owner, adds no row
        assert run.ok("imopenlines.operator.finish", {"CHAT_ID": run.chat}, hook=SARA_HOOK) is True
        closed = run.ok("openlines.session.get", {"SESSION_ID": run.session})
        assert closed["CLOSED"] is True and closed["STATUS"] == 60
        assert run.texts()[-1] == "[USER=4][/USER] has closed session"
        assert len(run.history()) == 6 and len(closed["TRANSFERS"]) == 6

        # the visitor saw none of the operator-only notices
        seen = http.get("/widget/1/messages", headers={"Authorization": f"Bearer {token}"})
        assert seen.status_code == 200, seen.text
        assert "[USER=" not in seen.text and "I need help" in seen.text
