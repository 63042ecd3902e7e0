"""A bot as Bitrix24 documents it, end to end: it registers over a webhook, a visitor writes, and the
events reach the bot's own HTTP handler form-encoded (join, message, command, delete)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from openlines.protocol.php import parse_str
from tests.bots.helpers import ok, register_bot, say

WAIT = 30.0  # upper bound for an event to arrive; the test moves on as soon as it does


class Receiver:
    """A bot's event handler: a real HTTP server on loopback that records every POST."""

    def __init__(self) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        received = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8")
                form = parse_str(body)
                form["_query"] = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                form["_content_type"] = self.headers.get("Content-Type", "")
                received.put(form)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bot/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, event: str) -> dict[str, Any]:
        """The next event of this kind (others received before it are skipped)."""
        while True:
            form = self.events.get(timeout=WAIT)
            if form.get("event") == event:
                return form

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_a_documented_bot_meets_a_customer(api: httpx.Client, receiver: Receiver) -> None:
    app = "events-app"
    bot_id = register_bot(api, app, "eventbot", EVENT_HANDLER=receiver.url)
    line_id = int(ok(api, "imopenlines.config.add", {"PARAMS": {"LINE_NAME": "Events"}}))
    settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id, "WELCOME_BOT_JOIN": "always"}
    ok(api, "imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": settings})

    first = say(api, line_id, "ev-visitor", "hello bot", name="Vera").json()
    chat_id, session_id = first["chat_id"], first["session_id"]

    join = receiver.next("ONIMBOTJOINCHAT")
    assert join["_content_type"].startswith("application/x-www-form-urlencoded")
    assert join["_query"] == {"CLIENT_ID": app}  # webhook bots get their CLIENT_ID on the URL
    assert join["auth"]["application_token"] == app
    assert join["data"]["BOT"][str(bot_id)]["BOT_CODE"] == "eventbot"
    assert join["data"]["PARAMS"]["DIALOG_ID"] == f"chat{chat_id}"
    assert join["data"]["PARAMS"]["CHAT_ENTITY_TYPE"] == "LINES"

    added = receiver.next("ONIMBOTMESSAGEADD")
    params = added["data"]["PARAMS"]
    assert params["MESSAGE"] == "hello bot" and params["MESSAGE_ID"] == str(first["message_id"])
    assert params["CHAT_ID"] == str(chat_id) and params["DIALOG_ID"] == f"chat{chat_id}"
    assert params["CHAT_ENTITY_DATA_1"].split("|")[5] == str(session_id)
    assert added["data"]["USER"]["NAME"] == "Vera" and added["data"]["USER"]["IS_CONNECTOR"] == "Y"

    # the bot answers the way a real one does: with the chat id from the event
    reply = ok(
        api, "imbot.message.add", {"DIALOG_ID": params["DIALOG_ID"], "MESSAGE": "Hi Vera", "CLIENT_ID": app}
    )
    assert reply > first["message_id"]

    lang = [{"LANGUAGE_ID": "en", "TITLE": "Help"}]
    command_id = ok(
        api,
        "imbot.command.register",
        {
            "BOT_ID": bot_id,
            "COMMAND": "help",
            "EVENT_COMMAND_ADD": receiver.url,
            "LANG": lang,
            "CLIENT_ID": app,
        },
    )
    token = first["visitor_token"]
    typed = say(api, line_id, "ev-visitor", "/help delivery times", token=token).json()
    command = receiver.next("ONIMCOMMANDADD")
    entry = command["data"]["COMMAND"][str(command_id)]
    assert entry["COMMAND"] == "help" and entry["COMMAND_PARAMS"] == "delivery times"
    assert entry["MESSAGE_ID"] == str(typed["message_id"]) and entry["BOT_ID"] == str(bot_id)

    say(api, line_id, "ev-visitor", "thanks", token=token)
    assert receiver.next("ONIMBOTMESSAGEADD")["data"]["PARAMS"]["MESSAGE"] == "thanks"

    # a one-to-one dialogue: an employee writes to the bot directly
    direct = ok(api, "im.message.add", {"DIALOG_ID": str(bot_id), "MESSAGE": "ping"})
    opened = receiver.next("ONIMBOTJOINCHAT")["data"]["PARAMS"]
    assert opened["MESSAGE_TYPE"] == "P" and opened["DIALOG_ID"] == "1" and opened["USER_ID"] == "1"
    assert opened["TO_USER_ID"] == str(bot_id) and "CHAT_ENTITY_TYPE" not in opened
    private = receiver.next("ONIMBOTMESSAGEADD")["data"]["PARAMS"]
    assert private["MESSAGE"] == "ping" and private["MESSAGE_ID"] == str(direct)
    assert (
        private["DIALOG_ID"] == "1"
        and private["FROM_USER_ID"] == "1"
        and private["TO_USER_ID"] == str(bot_id)
    )
    assert private["MESSAGE_TYPE"] == "P" and "CHAT_ENTITY_TYPE" not in private

    ok(api, "imbot.unregister", {"BOT_ID": bot_id, "CLIENT_ID": app})
    deleted = receiver.next("ONIMBOTDELETE")
    assert deleted["data"] == {"BOT_ID": str(bot_id), "BOT_CODE": "eventbot"}


def test_in_a_group_chat_the_bot_hears_only_mentions(api: httpx.Client, receiver: Receiver) -> None:
    app = "group-events-app"
    bot_id = register_bot(api, app, "groupbot", TYPE="B", EVENT_HANDLER=receiver.url)
    chat_id = ok(api, "imbot.chat.add", {"TITLE": "Ops", "USERS": [1], "CLIENT_ID": app})
    ok(api, "im.message.add", {"DIALOG_ID": f"chat{chat_id}", "MESSAGE": "hello everyone"})
    mention = f"[USER={bot_id}]Groupbot[/USER] status please"
    mentioned = ok(api, "im.message.add", {"DIALOG_ID": f"chat{chat_id}", "MESSAGE": mention})
    params = receiver.next("ONIMBOTMESSAGEADD")["data"]["PARAMS"]
    assert params["MESSAGE_ID"] == str(mentioned)  # the first message reached no bot
    assert params["DIALOG_ID"] == f"chat{chat_id}" and params["MESSAGE_TYPE"] == "C"
    assert params["CHAT_TITLE"] == "Ops" and params["CHAT_ENTITY_TYPE"] == ""
