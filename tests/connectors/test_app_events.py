"""Open Lines app events over HTTP (spec 8.1): OnSessionStart / OnSessionFinish and
OnOpenLineMessageAdd / Update / Delete reach the apps that bound them, in the documented shapes.

Two apps bind the same events to two handler paths. A dialogue that comes in through the first app's
connector concerns that app only: its handler hears everything, the other app's hears nothing (not
even the connector's own OnImConnector* events). A live-chat dialogue, which no app registered,
reaches both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess
from tests.connectors.conftest import APP_TOKEN, OTHER_APP_TOKEN, Caller
from tests.connectors.helpers import connected_line, fresh_id, message
from tests.delivery.handler import Handler, Received

EVENTS = (
    "OnSessionStart",
    "OnSessionFinish",
    "OnOpenLineMessageAdd",
    "OnOpenLineMessageUpdate",
    "OnOpenLineMessageDelete",
    "OnImConnectorMessageAdd",
    "OnImConnectorDialogStart",
    "OnImConnectorStatusDelete",
    "OnImConnectorLineDelete",
)
MINE, THEIRS = "/mine.php", "/theirs.php"


@pytest.fixture()
def both_bound(app: Caller, other_app: Caller, handler: Handler) -> Iterator[None]:
    for event in EVENTS:
        assert app("event.bind", {"event": event, "handler": handler.url(MINE)}) is True
        assert other_app("event.bind", {"event": event, "handler": handler.url(THEIRS)}) is True
    yield
    for event in EVENTS:
        app("event.unbind", {"event": event, "handler": handler.url(MINE)})
        other_app("event.unbind", {"event": event, "handler": handler.url(THEIRS)})


def arrived(handler: Handler, path: str, event: str, count: int, **fields: str) -> list[Received]:
    """Wait until ``count`` deliveries of ``event`` to ``path`` whose form fields include ``fields``
    arrived; return them in arrival order."""
    found: list[Received] = []
    for total in range(count, count + 200):
        pool = handler.wait_for(total, event)
        found = [
            r for r in pool if r.path_qs == path and all(r.fields.get(k) == v for k, v in fields.items())
        ]
        if len(found) >= count:
            return found
    raise AssertionError(f"expected {count} {event} at {path} with {fields}, got {len(found)}")


def test_a_connector_dialogue_is_heard_by_the_connector_app_only(
    app: Caller, other_app: Caller, admin: Caller, handler: Handler, both_bound: None
) -> None:
    connector, bot_id, line_id = connected_line(app, admin, handler, "scoped")
    params = {"CONNECTOR": connector, "LINE": line_id}

    hello = message("ext-user", "ext-chat", "Hello there", mid="ext-1")
    (result,) = app("imconnector.send.messages", {**params, "MESSAGES": [hello]})["DATA"]["RESULT"]
    chat_id, session_id, customer = result["session"]["CHAT_ID"], result["session"]["ID"], result["user"]
    in_chat = {"data[DATA][0][connector][connector_id]": connector}

    (start,) = arrived(handler, MINE, "ONSESSIONSTART", 1, **in_chat)
    assert start.fields["auth[application_token]"] == APP_TOKEN
    nested = start.nested["data"]["DATA"][0]
    assert nested == {
        "connector": {
            "connector_id": connector,
            "line_id": str(line_id),
            "chat_id": "ext-chat",
            "user_id": str(customer),
        },
        "session": {"id": str(session_id), "closed": "N", "parent_id": "0", "close_term": "0"},
        "chat": {"id": str(chat_id)},
        "user": {"id": str(customer)},
    }

    # The customer's message is known by its id in the external channel.
    said = arrived(handler, MINE, "ONOPENLINEMESSAGEADD", 1, **{"data[DATA][0][message][id]": "ext-1"})[0]
    entry = said.nested["data"]["DATA"][0]
    assert entry["message"]["text"] == "Hello there" and entry["message"]["system"] == "N"
    assert entry["message"]["user_id"] == str(customer) and entry["chat"] == {"id": "ext-chat"}
    assert entry["connector"]["connector_id"] == connector and entry["extra"] == {"EXTRA_URL": ""}

    # The bot answers, edits and deletes; the customer edits and deletes through the connector.
    reply = int(app("imbot.message.add", {"BOT_ID": bot_id, "DIALOG_ID": f"chat{chat_id}", "MESSAGE": "Hi!"}))
    added = arrived(handler, MINE, "ONOPENLINEMESSAGEADD", 1, **{"data[DATA][0][message][id]": str(reply)})[0]
    assert added.fields["data[DATA][0][message][user_id]"] == str(bot_id)
    assert added.fields["data[DATA][0][message][text]"] == "Hi!"
    assert app("imbot.message.update", {"BOT_ID": bot_id, "MESSAGE_ID": reply, "MESSAGE": "Hi again"}) is True
    edited = arrived(handler, MINE, "ONOPENLINEMESSAGEUPDATE", 1, **{"data[CONNECTOR]": connector})[0]
    assert edited.nested["data"] == {
        "CONNECTOR": connector,
        "LINE": str(line_id),
        "DATA": [
            {
                "im": {"chat_id": str(chat_id), "message_id": str(reply)},
                "message": {"id": str(reply)},
                "chat": {"id": "ext-chat"},
            }
        ],
    }
    assert app("imbot.message.delete", {"BOT_ID": bot_id, "MESSAGE_ID": reply, "COMPLETE": "Y"}) is True
    removed = arrived(handler, MINE, "ONOPENLINEMESSAGEDELETE", 1, **{"data[CONNECTOR]": connector})[0]
    assert removed.fields["data[DATA][0][im][message_id]"] == str(reply)

    fixed = message("ext-user", "ext-chat", "Hello there, edited", mid="ext-1")
    assert app("imconnector.update.messages", {**params, "MESSAGES": [fixed]})["DATA"]["RESULT"][0]["SUCCESS"]
    own = {"data[DATA][0][message][id]": "ext-1"}
    customer_edit = arrived(handler, MINE, "ONOPENLINEMESSAGEUPDATE", 1, **own)[0]
    assert customer_edit.fields["data[DATA][0][message][text]"] == "Hello there, edited"
    assert "data[CONNECTOR]" not in customer_edit.fields  # a customer's edit is shaped like Add
    gone = {"user": {"id": "ext-user"}, "message": {"id": "ext-1"}, "chat": {"id": "ext-chat"}}
    assert app("imconnector.delete.messages", {**params, "MESSAGES": [gone]})["DATA"]["RESULT"][0]["SUCCESS"]
    arrived(handler, MINE, "ONOPENLINEMESSAGEDELETE", 1, **own)

    assert app("imopenlines.bot.session.finish", {"CHAT_ID": chat_id}) is True
    (finish,) = arrived(handler, MINE, "ONSESSIONFINISH", 1, **in_chat)
    assert finish.fields["data[DATA][0][session][id]"] == str(session_id)
    assert finish.fields["data[DATA][0][session][closed]"] == "Y"
    arrived(handler, MINE, "ONIMCONNECTORDIALOGSTART", 1, **{"data[CONNECTOR]": connector})

    # Every broadcast was copied to its handlers in one go: what the other app would have had for
    # this chat exists by now, and there is none of it.
    def deliveries(path: str) -> list[dict[str, object]]:
        found = admin(
            "openlines.event.delivery.list", {"FILTER": {"TARGET": handler.url(path), "CHAT_ID": chat_id}}
        )
        assert isinstance(found, list)
        return found

    mine = {str(d["EVENT"]) for d in deliveries(MINE)}
    assert {"ONSESSIONSTART", "ONOPENLINEMESSAGEADD", "ONIMCONNECTORMESSAGEADD", "ONSESSIONFINISH"} <= mine
    assert deliveries(THEIRS) == []
    assert [
        r for r in handler.received if r.path_qs == THEIRS and r.fields.get("data[CONNECTOR]") == connector
    ] == []


def test_a_live_chat_dialogue_is_heard_by_every_bound_app(
    portal: ServerProcess, handler: Handler, both_bound: None
) -> None:
    with portal.client() as client:
        first = client.post(
            "/widget/1/messages", json={"visitor": fresh_id("visitor-"), "text": "widget hello"}
        )
    assert first.status_code == 200, first.text
    visitor = first.json()
    in_chat = {"data[DATA][0][connector][connector_id]": "livechat"}
    for path, token in ((MINE, APP_TOKEN), (THEIRS, OTHER_APP_TOKEN)):
        starts = arrived(handler, path, "ONSESSIONSTART", 1, **in_chat)
        assert starts[0].fields["data[DATA][0][chat][id]"] == str(visitor["chat_id"])
        assert starts[0].fields["auth[application_token]"] == token
        said = {"data[DATA][0][message][id]": str(visitor["message_id"])}
        (message_event,) = arrived(handler, path, "ONOPENLINEMESSAGEADD", 1, **said)
        assert message_event.fields["data[DATA][0][message][text]"] == "widget hello"
        assert message_event.fields["data[DATA][0][connector][connector_id]"] == "livechat"


def test_switching_a_connector_off_and_deleting_its_line_tell_its_app(
    app: Caller, admin: Caller, handler: Handler, both_bound: None
) -> None:
    connector, _, line_id = connected_line(app, admin, handler, "leaving")
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": line_id, "ACTIVE": 0}) is True
    (off,) = arrived(handler, MINE, "ONIMCONNECTORSTATUSDELETE", 1, **{"data[CONNECTOR]": connector})
    assert off.nested["data"] == {"CONNECTOR": connector, "LINE": str(line_id)}
    assert off.fields["auth[application_token]"] == APP_TOKEN
    # Off again is no change: nothing more is sent.
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": line_id, "ACTIVE": 0}) is True

    assert admin("imopenlines.config.delete", {"CONFIG_ID": line_id}) is True
    (gone,) = arrived(handler, MINE, "ONIMCONNECTORLINEDELETE", 1, data=str(line_id))
    assert gone.fields["event_handler_id"] != "0"
    status = app("imconnector.status", {"CONNECTOR": connector, "LINE": line_id})
    assert status["STATUS"] is False
    # Written in the transaction of the change, one row for the connector's app: one switch-off.
    rows = admin(
        "openlines.event.delivery.list", {"FILTER": {"EVENT": "ONIMCONNECTORSTATUSDELETE"}, "WITH_DATA": "Y"}
    )
    ours = [r for r in rows if r["TARGET"] == "" and r["DATA"]["data"].get("CONNECTOR") == connector]
    assert [r["APP_ID"] for r in ours] == ["local.connector.app"]
    theirs = admin("openlines.event.delivery.list", {"FILTER": {"TARGET": handler.url(THEIRS)}})
    assert [d for d in theirs if "DELETE" in str(d["EVENT"]) and "IMCONNECTOR" in str(d["EVENT"])] == []
