"""im.* over HTTP: reading a dialogue (paging, access), an operator writing into it (the status
machine), im.chat.get and im.dialog.read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.bots.helpers import call, error, ok, register_bot, say
from tests.conftest import oauth_tokens

DENIED = (403, "ACCESS_ERROR", "You do not have access to the specified dialog")


def as_user(api: httpx.Client, token: str, method: str, params: dict[str, Any]) -> httpx.Response:
    return api.post(f"/rest/{method}.json", json={**params, "auth": token})


@pytest.fixture(scope="module")
def tokens(bots_server: Any) -> dict[int, str]:
    with bots_server.client() as api:
        return {uid: oauth_tokens(api, user_id=uid)["access_token"] for uid in (2, 4)}


@pytest.fixture()
def handed(api: httpx.Client, request: pytest.FixtureRequest) -> dict[str, Any]:
    """A visitor's dialogue on line 1 that the welcome bot handed to operator 2."""
    app = "im-" + request.node.name[:30]
    bot_id = register_bot(api, app, "imbot")
    settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id, "WELCOME_BOT_JOIN": "always"}
    ok(api, "imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": settings})
    first = say(api, 1, f"v-{app}", "hello").json()
    ok(api, "imopenlines.bot.session.transfer", {"CHAT_ID": first["chat_id"], "USER_ID": 2, "CLIENT_ID": app})
    ok(api, "imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": {"WELCOME_BOT_ENABLE": "N"}})
    return {"app": app, "bot": bot_id, **first, "dialog": f"chat{first['chat_id']}"}


def status(api: httpx.Client, chat_id: int) -> int:
    return int(ok(api, "openlines.session.get", {"CHAT_ID": chat_id})["STATUS"])


def test_operator_reply_and_customer_answer_move_the_status(
    api: httpx.Client, tokens: dict[int, str], handed: dict[str, Any]
) -> None:
    chat_id = handed["chat_id"]
    assert status(api, chat_id) == 10
    sent = as_user(
        api, tokens[2], "im.message.add", {"DIALOG_ID": handed["dialog"], "MESSAGE": "Hello, Olga here"}
    )
    assert sent.status_code == 200, sent.text
    assert status(api, chat_id) == 40
    say(api, 1, f"v-{handed['app']}", "my parcel is late", token=handed["visitor_token"])
    assert status(api, chat_id) == 25
    as_user(api, tokens[2], "im.message.add", {"DIALOG_ID": handed["dialog"], "MESSAGE": "Let me check"})
    assert status(api, chat_id) == 40
    newest = ok(api, "im.dialog.messages.get", {"DIALOG_ID": handed["dialog"], "LIMIT": 1})["messages"][0]
    assert newest["text"] == "Let me check" and newest["author_id"] == 2
    # the visitor sees the operator's replies
    seen = httpx.get(
        f"{api.base_url}/widget/1/messages", headers={"Authorization": f"Bearer {handed['visitor_token']}"}
    ).json()
    assert [m["text"] for m in seen["messages"] if m["from"] == "agent"] == [
        "Hello, Olga here",
        "Let me check",
    ]


def test_access_rules(api: httpx.Client, tokens: dict[int, str]) -> None:
    # Routing (on by default) would give the new dialogue to an operator of line 1 at once; with the
    # line checking availability and both its operators offline it waits with the queue.
    ok(api, "imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": {"CHECK_AVAILABLE": "Y"}})
    for uid in (2, 3):
        ok(api, "openlines.operator.status.set", {"STATUS": "offline", "USER_ID": uid})
    try:
        first = say(api, 1, "v-access", "hello").json()
        dialog = f"chat{first['chat_id']}"
        waiting = ok(api, "openlines.session.get", {"CHAT_ID": first["chat_id"]})
        assert waiting["OWNER"] == {"TYPE": "queue", "ID": 0} and waiting["STATUS"] == 0  # new, unassigned
        # operator 2 is in line 1's queue: may read the waiting dialogue, may not write before joining it
        readable = as_user(api, tokens[2], "im.dialog.messages.get", {"DIALOG_ID": dialog})
        assert readable.status_code == 200 and readable.json()["result"]["chat_id"] == first["chat_id"]
        denied = as_user(api, tokens[2], "im.message.add", {"DIALOG_ID": dialog, "MESSAGE": "x"})
        assert error(denied) == DENIED
        # operator 4 works line 2 only
        for method, params in (
            ("im.dialog.messages.get", {"DIALOG_ID": dialog}),
            ("im.dialog.read", {"DIALOG_ID": dialog}),
            ("im.chat.get", {"CHAT_ID": first["chat_id"]}),
        ):
            assert error(as_user(api, tokens[4], method, params)) == DENIED, method
        # operator 2 comes online: routing hands the waiting dialogue to her at once
        ok(api, "openlines.operator.status.set", {"STATUS": "online", "USER_ID": 2})
        assigned = ok(api, "openlines.session.get", {"CHAT_ID": first["chat_id"]})
        assert assigned["OWNER"] == {"TYPE": "user", "ID": 2} and assigned["STATUS"] == 5
    finally:
        for uid in (2, 3):
            ok(api, "openlines.operator.status.set", {"STATUS": "online", "USER_ID": uid})
        ok(api, "imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": {"CHECK_AVAILABLE": "N"}})


def test_paging_newest_first_and_after_first_id(api: httpx.Client) -> None:
    first = say(api, 1, "v-paging", "m0").json()
    token = first["visitor_token"]
    ids = [first["message_id"]] + [
        say(api, 1, "v-paging", f"m{i}", token=token).json()["message_id"] for i in range(1, 6)
    ]
    dialog = f"chat{first['chat_id']}"
    page = ok(api, "im.dialog.messages.get", {"DIALOG_ID": dialog, "LIMIT": 2})
    assert [m["id"] for m in page["messages"]] == [ids[5], ids[4]]
    assert page["chat_id"] == first["chat_id"] and page["files"] == []
    assert {u["id"] for u in page["users"]} == {page["messages"][0]["author_id"]}
    assert page["users"][0]["connector"] is True and page["users"][0]["bot"] is False
    older = ok(api, "im.dialog.messages.get", {"DIALOG_ID": dialog, "LIMIT": 2, "LAST_ID": ids[4]})
    assert [m["id"] for m in older["messages"]] == [ids[3], ids[2]]
    newer = ok(api, "im.dialog.messages.get", {"DIALOG_ID": dialog, "FIRST_ID": ids[2], "LIMIT": 50})
    assert [m["id"] for m in newer["messages"]] == ids[3:]
    capped = ok(api, "im.dialog.messages.get", {"DIALOG_ID": dialog, "LIMIT": 500})
    # the six messages, and before them routing's notice (on by default: the dialogue went to an
    # operator of line 1 as it opened)
    owner = ok(api, "openlines.session.get", {"CHAT_ID": first["chat_id"]})["OWNER"]
    assert owner["TYPE"] == "user" and owner["ID"] in (2, 3)
    assert [m["id"] for m in capped["messages"][:6]] == ids[::-1]
    assert len(capped["messages"]) == 7
    assert (
        capped["messages"][6]["text"]
        == f"Enquiry transferred to [USER={owner['ID']}][/USER] according to queuing rules"
    )
    message = capped["messages"][0]
    assert set(message) >= {"id", "chat_id", "author_id", "date", "text", "params"}
    assert message["date"][:2] == "20" and "T" in message["date"]


def test_chat_get_and_read(api: httpx.Client) -> None:
    first = say(api, 1, "v-chatget", "hello").json()
    chat = ok(api, "im.chat.get", {"CHAT_ID": first["chat_id"]})
    assert chat["id"] == first["chat_id"] and chat["type"] == "lines" and chat["message_type"] == "L"
    assert ok(api, "im.chat.get", {"DIALOG_ID": f"chat{first['chat_id']}"}) == chat
    assert ok(api, "im.chat.get", {"ENTITY_TYPE": "LINES", "ENTITY_ID": chat["entity_id"]}) == {
        "ID": chat["id"]
    }
    assert error(call(api, "im.chat.get", {})) == (400, "CHAT_ID_EMPTY", "Chat ID can't be empty")
    assert error(call(api, "im.chat.get", {"CHAT_ID": 99999999})) == DENIED
    read = ok(
        api, "im.dialog.read", {"DIALOG_ID": f"chat{first['chat_id']}", "MESSAGE_ID": first["message_id"]}
    )
    assert read == {
        "dialogId": f"chat{first['chat_id']}",
        "chatId": first["chat_id"],
        "lastId": first["message_id"],
        "counter": 0,
    }


def test_message_add_errors_and_private_dialogue(api: httpx.Client) -> None:
    assert error(call(api, "im.message.add", {"MESSAGE": "x"})) == (
        400,
        "DIALOG_ID_EMPTY",
        "Dialog ID can't be empty",
    )
    assert error(call(api, "im.message.add", {"DIALOG_ID": "chat1", "MESSAGE": " "})) == (
        400,
        "MESSAGE_EMPTY",
        "Message can't be empty",
    )
    assert error(call(api, "im.message.add", {"DIALOG_ID": "chat99999999", "MESSAGE": "x"})) == DENIED
    assert error(call(api, "im.message.add", {"DIALOG_ID": "1", "MESSAGE": "me to me"})) == DENIED
    # a one-to-one dialogue with operator 3
    message_id = ok(api, "im.message.add", {"DIALOG_ID": "3", "MESSAGE": "Hi Oscar"})
    page = ok(api, "im.dialog.messages.get", {"DIALOG_ID": "3"})
    assert page["messages"][0]["id"] == message_id
    chat = ok(api, "im.chat.get", {"CHAT_ID": page["chat_id"]})
    assert chat["type"] == "private" and chat["entity_type"] == ""
