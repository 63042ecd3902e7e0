"""The live-chat widget API over HTTP: first message, tokens, errors, and what the visitor sees."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.bots.helpers import error, ok, say


def get(api: httpx.Client, line_id: int, token: str | None, after: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {} if after is None else {"after": after}
    return api.get(f"/widget/{line_id}/messages", params=params, headers=headers)


def test_first_message_opens_a_dialogue_and_later_ones_continue_it(api: httpx.Client) -> None:
    first = say(api, 1, "w-alice", "hello", name="Alice")
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"chat_id", "session_id", "message_id", "visitor_token"}
    token = body["visitor_token"]
    assert isinstance(token, str) and len(token) >= 32

    second = say(api, 1, "w-alice", "are you there?", token=token)
    assert second.status_code == 200, second.text
    assert second.json()["chat_id"] == body["chat_id"] and second.json()["session_id"] == body["session_id"]
    assert second.json()["message_id"] > body["message_id"] and second.json()["visitor_token"] == token

    chat = ok(api, "im.chat.get", {"CHAT_ID": body["chat_id"]})
    assert chat["type"] == "lines" and chat["entity_type"] == "LINES" and chat["name"] == "Alice - Support"
    assert chat["entity_id"].startswith("livechat|1|w-alice|")
    assert chat["entity_data_1"].split("|")[5] == str(body["session_id"])

    seen = get(api, 1, token)
    assert seen.status_code == 200
    texts = [(m["text"], m["from"]) for m in seen.json()["messages"]]
    assert texts == [("hello", "customer"), ("are you there?", "customer")]
    later = get(api, 1, token, after=body["message_id"])
    assert [m["text"] for m in later.json()["messages"]] == ["are you there?"]


def test_token_may_stand_for_the_visitor_field(api: httpx.Client) -> None:
    token = say(api, 1, "w-tokenonly", "one").json()["visitor_token"]
    answer = api.post(
        "/widget/1/messages", json={"text": "two"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text


def test_a_new_session_after_the_old_one_was_closed(api: httpx.Client) -> None:
    body = say(api, 1, "w-closed", "first").json()
    ok(api, "imopenlines.operator.answer", {"CHAT_ID": body["chat_id"]})
    ok(api, "imopenlines.operator.finish", {"CHAT_ID": body["chat_id"]})
    again = say(api, 1, "w-closed", "back again", token=body["visitor_token"]).json()
    assert again["chat_id"] == body["chat_id"] and again["session_id"] != body["session_id"]


def test_errors(api: httpx.Client) -> None:
    token = say(api, 1, "w-errors", "hi").json()["visitor_token"]
    other_token = say(api, 1, "w-errors-other", "hi").json()["visitor_token"]
    line2_token = say(api, 2, "w-errors", "hi").json()[
        "visitor_token"
    ]  # same name, other line: another visitor

    assert error(say(api, 999, "w-x", "hi"))[:2] == (404, "NOT_ACTIVE_LINE")
    assert error(say(api, 0, "w-x", "hi"))[:2] == (404, "NOT_ACTIVE_LINE")
    assert error(api.post("/widget/abc/messages", json={"visitor": "v", "text": "t"}))[:2] == (
        404,
        "NOT_ACTIVE_LINE",
    )
    assert error(say(api, 1, "w-errors", "again"))[:2] == (401, "TOKEN_REQUIRED")
    assert error(say(api, 1, "w-errors", "again", token="not-a-token"))[:2] == (401, "INVALID_TOKEN")
    assert error(say(api, 1, "w-errors", "again", token=other_token))[:2] == (403, "ACCESS_DENIED")
    assert error(say(api, 1, "w-errors", "again", token=line2_token))[:2] == (403, "ACCESS_DENIED")
    assert error(say(api, 1, "w-errors", "   ", token=token))[:2] == (400, "MESSAGE_EMPTY")
    assert error(say(api, 1, "w-errors", "x" * 10_001, token=token))[:2] == (400, "MESSAGE_TOO_LONG")
    assert say(api, 1, "w-errors", "x" * 10_000, token=token).status_code == 200
    malformed = api.post(
        "/widget/1/messages", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert error(malformed)[:2] == (400, "WRONG_REQUEST")
    assert error(api.post("/widget/1/messages", json=["a list"]))[:2] == (400, "WRONG_REQUEST")
    assert error(api.post("/widget/1/messages", json={"text": "no visitor"}))[:2] == (400, "ERROR_ARGUMENT")
    assert error(api.post("/widget/1/messages", json={"visitor": 5, "text": "t"}))[:2] == (
        400,
        "ERROR_ARGUMENT",
    )
    assert error(say(api, 1, "bad|visitor", "t"))[:2] == (400, "ERROR_ARGUMENT")
    assert error(api.post("/widget/1/messages", json={"visitor": "v", "text": ["t"]}))[:2] == (
        400,
        "MESSAGE_EMPTY",
    )

    assert error(get(api, 1, None))[:2] == (401, "TOKEN_REQUIRED")
    assert error(get(api, 1, "nope"))[:2] == (401, "INVALID_TOKEN")
    assert error(get(api, 2, token))[:2] == (403, "ACCESS_DENIED")
    assert error(get(api, 999, token))[:2] == (404, "NOT_ACTIVE_LINE")
    assert error(get(api, 1, token, after="-1"))[:2] == (400, "ERROR_ARGUMENT")
    assert error(get(api, 1, token, after="abc"))[:2] == (400, "ERROR_ARGUMENT")


def test_inactive_line_is_not_found(api: httpx.Client) -> None:
    line_id = ok(api, "imopenlines.config.add", {"PARAMS": {"LINE_NAME": "Closed", "ACTIVE": "N"}})
    assert error(say(api, int(line_id), "w-inactive", "hi"))[:2] == (404, "NOT_ACTIVE_LINE")


@pytest.fixture()
def bot_dialogue(api: httpx.Client) -> dict[str, Any]:
    from tests.bots.helpers import register_bot

    bot_id = register_bot(api, "widget-app", "widgetbot")
    line_id = int(ok(api, "imopenlines.config.add", {"PARAMS": {"LINE_NAME": "Widget line"}}))
    settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id, "WELCOME_BOT_JOIN": "always"}
    ok(api, "imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": settings})
    body = say(api, line_id, "w-bot", "hello bot").json()
    return {"bot": bot_id, "line": line_id, **body}


def test_visitor_sees_bot_replies_but_not_hidden_or_system_messages(
    api: httpx.Client, bot_dialogue: dict[str, Any]
) -> None:
    dialog, app = f"chat{bot_dialogue['chat_id']}", "widget-app"
    ok(api, "imbot.message.add", {"DIALOG_ID": dialog, "MESSAGE": "Hi! How can I help?", "CLIENT_ID": app})
    ok(
        api,
        "imbot.message.add",
        {"DIALOG_ID": dialog, "MESSAGE": "internal note", "SKIP_CONNECTOR": "y", "CLIENT_ID": app},
    )
    ok(
        api,
        "imbot.message.add",
        {"DIALOG_ID": dialog, "MESSAGE": "a bot notice", "SYSTEM": "Y", "CLIENT_ID": app},
    )
    ok(
        api,
        "imopenlines.bot.session.message.send",
        {"CHAT_ID": bot_dialogue["chat_id"], "NAME": "DEFAULT", "MESSAGE": "Important"},
    )
    ok(
        api,
        "imopenlines.bot.session.transfer",
        {"CHAT_ID": bot_dialogue["chat_id"], "USER_ID": 2, "CLIENT_ID": app},
    )
    seen = [
        (m["text"], m["from"])
        for m in get(api, bot_dialogue["line"], bot_dialogue["visitor_token"]).json()["messages"]
    ]
    assert seen == [("hello bot", "customer"), ("Hi! How can I help?", "agent"), ("Important", "system")]


def test_customer_zero_hands_over_to_the_queue(api: httpx.Client, bot_dialogue: dict[str, Any]) -> None:
    token = bot_dialogue["visitor_token"]
    answer = say(api, bot_dialogue["line"], "w-bot", "0", token=token)
    assert answer.status_code == 200, answer.text
    session = ok(api, "openlines.session.get", {"CHAT_ID": bot_dialogue["chat_id"]})
    assert session["STATUS"] == 5 and session["OWNER"]["TYPE"] == "queue"
    texts = [m["text"] for m in get(api, bot_dialogue["line"], token).json()["messages"]]
    assert texts[-1] == "0"  # posted like any message; the handover notice is for operators only


def test_simultaneous_first_messages_make_one_visitor(bots_server: Any) -> None:
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=bots_server.url, timeout=30) as client:
            body = {"visitor": "w-burst", "text": "hello?"}
            return list(
                await asyncio.gather(*(client.post("/widget/1/messages", json=body) for _ in range(12)))
            )

    answers = asyncio.run(burst())
    accepted = [a for a in answers if a.status_code == 200]
    assert len(accepted) == 1, [a.text for a in answers]
    assert all(error(a)[:2] == (401, "TOKEN_REQUIRED") for a in answers if a.status_code != 200)
    token = accepted[0].json()["visitor_token"]
    with httpx.Client(base_url=bots_server.url) as client:
        seen = get(client, 1, token).json()["messages"]
    assert [m["text"] for m in seen] == ["hello?"]  # one chat, one message
