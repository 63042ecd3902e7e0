"""A connector app end to end over HTTP: it registers a connector and switches it on for a line
whose welcome bot is the app's own bot; its customer writes in with ``send.messages``; the bot and
then operator 2 answer; each answer reaches the app's loopback handler (bound with ``event.bind``)
as ONIMCONNECTORMESSAGEADD, and the dialogue's start and finish as OnImConnectorDialogStart/Finish.
The customer's own messages, a SKIP_CONNECTOR message and system notices never go out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.connectors.conftest import APP_TOKEN, Caller
from tests.connectors.helpers import connected_line, fresh_id, message, registration
from tests.delivery.handler import Handler, Received

CONNECTOR_EVENTS = (
    "OnImConnectorMessageAdd",
    "OnImConnectorMessageUpdate",
    "OnImConnectorMessageDelete",
    "OnImConnectorDialogStart",
    "OnImConnectorDialogFinish",
)


def of_connector(handler: Handler, event: str, connector: str, count: int) -> list[Received]:
    """Wait for ``count`` deliveries of ``event`` about ``connector`` (other tests' connectors share
    the server) and return them in arrival order."""
    found: list[Received] = []
    for total in range(count, count + 50):
        found = [r for r in handler.wait_for(total, event) if r.fields.get("data[CONNECTOR]") == connector]
        if len(found) >= count:
            return found
    raise AssertionError(f"expected {count} {event} for {connector}, got {len(found)}")


@pytest.fixture()
def bound(app: Caller, handler: Handler) -> Iterator[str]:
    url = handler.url("/connector/events.php?app=connector")
    for event in CONNECTOR_EVENTS:
        assert app("event.bind", {"event": event, "handler": url}) is True
    yield url
    for event in CONNECTOR_EVENTS:
        app("event.unbind", {"event": event, "handler": url})


def test_replies_and_dialogue_events_reach_the_connector_app(
    app: Caller, admin: Caller, operator: Caller, handler: Handler, bound: str
) -> None:
    connector, bot_id, line_id = connected_line(app, admin, handler, "telegramish")

    hello = message("tg-77", "tg-chat-9", "Hello from outside", name="Maria", last_name="Ivanova")
    sent = app("imconnector.send.messages", {"CONNECTOR": connector, "LINE": line_id, "MESSAGES": [hello]})
    assert sent["SUCCESS"] is True
    (result,) = sent["DATA"]["RESULT"]
    assert result["SUCCESS"] is True and result["ERRORS"] == []
    chat_id, session_id = int(result["session"]["CHAT_ID"]), int(result["session"]["ID"])
    customer_id = int(result["user"])
    assert result["chat"]["id"] == str(chat_id) and result["message"]["text"] == "Hello from outside"

    # The dialogue exists as Open Lines sees it: LINES chat, session owned by the welcome bot.
    user_code = f"{connector}|{line_id}|tg-chat-9|{customer_id}"
    session = admin("openlines.session.get", {"CHAT_ID": chat_id})
    assert session["ID"] == session_id and session["LINE_ID"] == line_id
    assert session["OWNER"] == {"TYPE": "bot", "ID": bot_id} and session["USER_CODE"] == user_code
    dialog = admin("imopenlines.dialog.get", {"CHAT_ID": chat_id})
    assert dialog["entity_id"] == user_code and dialog["entity_type"] == "LINES"
    assert "Maria Ivanova" in dialog["name"]
    start = of_connector(handler, "ONIMCONNECTORDIALOGSTART", connector, 1)[0]
    assert start.fields["data[LINE]"] == str(line_id)
    assert start.fields["data[DATA][0][session][ID]"] == str(session_id)
    assert start.fields["data[DATA][0][chat][id]"] == "tg-chat-9"

    # The same external person writing again continues the same chat and session.
    again = message("tg-77", "tg-chat-9", "Anyone there?")
    more = app("imconnector.send.messages", {"CONNECTOR": connector, "LINE": line_id, "MESSAGES": [again]})
    assert more["DATA"]["RESULT"][0]["session"] == {"ID": str(session_id), "CHAT_ID": str(chat_id)}

    # The bot answers, hands over to operator 2; the customer writes; the operator answers twice,
    # once hidden from the channel (SKIP_CONNECTOR=Y).
    bot_reply = int(
        app("imbot.message.add", {"BOT_ID": bot_id, "DIALOG_ID": f"chat{chat_id}", "MESSAGE": "I am a bot"})
    )
    dialog_id = f"chat{chat_id}"
    edit = {"BOT_ID": bot_id, "MESSAGE_ID": bot_reply, "MESSAGE": "I am a bot, edited"}
    assert app("imbot.message.update", edit) is True
    slip = int(app("imbot.message.add", {"BOT_ID": bot_id, "DIALOG_ID": dialog_id, "MESSAGE": "oops"}))
    assert app("imbot.message.delete", {"BOT_ID": bot_id, "MESSAGE_ID": slip, "COMPLETE": "Y"}) is True
    updated = of_connector(handler, "ONIMCONNECTORMESSAGEUPDATE", connector, 1)[0].fields
    assert updated["data[MESSAGES][0][im][message_id]"] == str(bot_reply)
    assert updated["data[MESSAGES][0][message][text]"] == "[b]Helper:[/b][br]I am a bot, edited"
    deleted = of_connector(handler, "ONIMCONNECTORMESSAGEDELETE", connector, 1)[0].fields
    assert deleted["data[MESSAGES][0][im][message_id]"] == str(slip)
    moved = app(
        "imopenlines.bot.session.transfer", {"BOT_ID": bot_id, "CHAT_ID": chat_id, "USER_ID": 2, "LEAVE": "N"}
    )
    assert moved is True
    customer = message("tg-77", "tg-chat-9", "Thanks")
    app("imconnector.send.messages", {"CONNECTOR": connector, "LINE": line_id, "MESSAGES": [customer]})
    operator(
        "im.message.add", {"DIALOG_ID": f"chat{chat_id}", "MESSAGE": "internal note", "SKIP_CONNECTOR": "Y"}
    )
    operator_reply = int(
        operator("im.message.add", {"DIALOG_ID": f"chat{chat_id}", "MESSAGE": "Operator here"})
    )
    operator_name = admin("user.get", {"ID": 2})[0]
    full_name = " ".join(p for p in (operator_name["NAME"], operator_name["LAST_NAME"]) if p)

    replies = of_connector(handler, "ONIMCONNECTORMESSAGEADD", connector, 3)
    del replies[1]  # the bot's deleted "oops"
    texts = [r.fields["data[MESSAGES][0][message][text]"] for r in replies]
    # Deliveries keep each chat's order: had the customer's message, the transfer notice or the
    # hidden note gone out, they would stand before the operator's reply.
    assert texts == ["[b]Helper:[/b][br]I am a bot", f"[b]{full_name}:[/b][br]Operator here"]
    for got, message_id, author in zip(replies, (bot_reply, operator_reply), (bot_id, 2), strict=True):
        fields = got.fields
        assert got.path_qs == "/connector/events.php?app=connector"
        assert fields["auth[application_token]"] == APP_TOKEN
        assert fields["data[LINE]"] == str(line_id)
        assert fields["data[MESSAGES][0][im][chat_id]"] == str(chat_id)
        assert fields["data[MESSAGES][0][im][message_id]"] == str(message_id)
        assert fields["data[MESSAGES][0][message][user_id]"] == str(author)
        assert fields["data[MESSAGES][0][chat][id]"] == "tg-chat-9"
    assert (
        app(
            "imconnector.send.status.delivery",
            {
                "CONNECTOR": connector,
                "LINE": line_id,
                "MESSAGES": [{"im": {"chat_id": chat_id, "message_id": operator_reply}}],
            },
        )
        is True
    )

    # The operator closes the dialogue: OnImConnectorDialogFinish.
    assert operator("imopenlines.operator.finish", {"CHAT_ID": chat_id}) is True
    finish = of_connector(handler, "ONIMCONNECTORDIALOGFINISH", connector, 1)[0]
    # The closing text is a system notice flagged IMPORTANT_CONNECTOR=Y: it reaches the channel,
    # unsigned; the session's own notices before it (operator-only) do not.
    closing = of_connector(handler, "ONIMCONNECTORMESSAGEADD", connector, 4)[3].fields
    assert closing["data[MESSAGES][0][message][text]"] == "Thank you, goodbye"
    assert closing["data[MESSAGES][0][message][user_id]"] == "0"
    assert finish.fields["data[DATA][0][session][ID]"] == str(session_id)


def test_two_external_people_get_two_chats_and_edits_reach_the_chat(app: Caller, admin: Caller) -> None:
    connector = fresh_id("pair")
    assert app("imconnector.register", registration(connector)) == {"result": True}
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": 1, "ACTIVE": 1}) is True
    params: dict[str, Any] = {"CONNECTOR": connector, "LINE": 1}
    first = message("a", "room", "from a", mid="ma")
    second = message("b", "room", "from b", mid="mb")
    answer = app("imconnector.send.messages", {**params, "MESSAGES": [first, second]})["DATA"]["RESULT"]
    assert [r["SUCCESS"] for r in answer] == [True, True]
    assert answer[0]["session"]["CHAT_ID"] != answer[1]["session"]["CHAT_ID"]
    chat_id = answer[0]["session"]["CHAT_ID"]

    edited = message("a", "room", "from a, edited", mid="ma")
    changed = app("imconnector.update.messages", {**params, "MESSAGES": [edited]})["DATA"]["RESULT"]
    assert changed[0]["SUCCESS"] is True
    history = admin("im.dialog.messages.get", {"DIALOG_ID": f"chat{chat_id}"})["messages"]
    assert "from a, edited" in [m["text"] for m in history]
    unknown = message("a", "room", "x", mid="nope")
    missing = app("imconnector.update.messages", {**params, "MESSAGES": [unknown]})["DATA"]["RESULT"]
    assert missing[0]["SUCCESS"] is False and missing[0]["ERRORS"] == ["MESSAGE_NOT_FOUND"]

    gone = app(
        "imconnector.delete.messages",
        {**params, "MESSAGES": [{"user": {"id": "a"}, "message": {"id": "ma"}, "chat": {"id": "room"}}]},
    )
    assert gone["DATA"]["RESULT"][0]["SUCCESS"] is True
    history = admin("im.dialog.messages.get", {"DIALOG_ID": f"chat{chat_id}"})["messages"]
    assert "from a, edited" not in [m["text"] for m in history]

    renamed = {**params, "CHAT_ID": "room", "USER_ID": "b", "NAME": "Room of b"}
    assert app("imconnector.chat.name.set", renamed) is True
    other = answer[1]["session"]["CHAT_ID"]
    assert admin("imopenlines.dialog.get", {"CHAT_ID": other})["name"] == "Room of b"
