"""imbot.* over HTTP against a real server: registration (error order, idempotency, limits),
messages (keyboard forms, limits, edit rules), chats and slash commands."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.bots.helpers import advance_clock, call, error, ok, register_bot, say
from tests.conftest import DEMO_CLIENT_ID, oauth_tokens

URL = "http://127.0.0.1:9/events"
FULL = {
    "EVENT_MESSAGE_ADD": URL,
    "EVENT_WELCOME_MESSAGE": URL,
    "EVENT_BOT_DELETE": URL,
}


def register(client: httpx.Client, **params: Any) -> httpx.Response:
    return call(client, "imbot.register", params)


# --- imbot.register -------------------------------------------------------------------------------


def test_register_needs_client_id_on_a_webhook(api: httpx.Client) -> None:
    answer = register(api, CODE="x", PROPERTIES={"NAME": "X"}, **FULL)
    assert error(answer) == (403, "ACCESS_DENIED", "Access denied! Client ID not specified.")


def test_register_refuses_browser_sessions(api: httpx.Client) -> None:
    answer = api.post("/rest/imbot.register.json", json={"sessid": "abc", "CODE": "x"})
    assert error(answer) == (
        403,
        "WRONG_AUTH_TYPE",
        "Access for this method not allowed by session authorization.",
    )


@pytest.mark.parametrize(
    ("params", "code", "text"),
    [
        ({}, "EVENT_MESSAGE_ADD_ERROR", 'Handler for "Message add" event isn\'t specified'),
        ({"EVENT_MESSAGE_ADD": "ftp://host/x"}, "EVENT_MESSAGE_ADD_ERROR", "Wrong handler URL"),
        ({"EVENT_MESSAGE_ADD": ["http://a/"]}, "EVENT_MESSAGE_ADD_ERROR", "Wrong handler URL"),
        (
            {"EVENT_MESSAGE_ADD": URL},
            "EVENT_WELCOME_MESSAGE_ERROR",
            'Handler for "Welcome message" event isn\'t specified',
        ),
        (
            {"EVENT_MESSAGE_ADD": URL, "EVENT_MESSAGE_UPDATE": "not a url"},
            "EVENT_MESSAGE_UPDATE_ERROR",
            "Wrong handler URL",
        ),
        (
            {"EVENT_MESSAGE_ADD": URL, "EVENT_WELCOME_MESSAGE": URL},
            "EVENT_BOT_DELETE_ERROR",
            'Handler for "Bot delete" event isn\'t specified',
        ),
        ({"EVENT_HANDLER": "http:///nohost"}, "EVENT_MESSAGE_ADD_ERROR", "Wrong handler URL"),
        (FULL, "CODE_ERROR", "Bot code isn't specified"),
        ({**FULL, "CODE": "0"}, "CODE_ERROR", "Bot code isn't specified"),
        ({**FULL, "CODE": "c"}, "NAME_ERROR", "Bot name isn't specified"),
        ({**FULL, "CODE": "c", "PROPERTIES": {"NAME": "  "}}, "NAME_ERROR", "Bot name isn't specified"),
        ({**FULL, "CODE": "c", "PROPERTIES": "Bob"}, "NAME_ERROR", "Bot name isn't specified"),
    ],
)
def test_register_error_order(api: httpx.Client, params: dict[str, Any], code: str, text: str) -> None:
    # URL checks come before CODE and NAME: no CODE or PROPERTIES in the early cases still gets the URL error.
    assert error(register(api, CLIENT_ID="order", **params)) == (400, code, text)


def test_register_is_idempotent_by_code_within_the_app(api: httpx.Client) -> None:
    first = register_bot(api, "idem", "helper")
    assert register_bot(api, "idem", "helper") == first
    other_app = register_bot(api, "idem-other", "helper")
    assert other_app != first
    listing = ok(api, "imbot.bot.list")
    assert listing[str(first)] == {"ID": first, "NAME": "Helper", "CODE": "helper", "OPENLINE": "Y"}
    assert str(other_app) in listing


def test_register_accepts_bracket_form_and_lower_case_keys(api: httpx.Client) -> None:
    form = {
        "code": "formbot",
        "event_handler": URL,
        "client_id": "formapp",
        "PROPERTIES[NAME]": "Form",
        "PROPERTIES[LAST_NAME]": "Bot",
        "OPENLINE": "Y",
    }
    bot_id = int(ok(api, "imbot.register", form, form=True))
    entry = ok(api, "imbot.bot.list")[str(bot_id)]
    assert entry["NAME"] == "Form Bot" and entry["OPENLINE"] == "Y"


def test_type_b_without_openline_is_not_an_open_lines_bot(api: httpx.Client) -> None:
    bot_id = register_bot(api, "plainapp", "plain", TYPE="B", OPENLINE="y")  # only "Y" counts
    assert ok(api, "imbot.bot.list")[str(bot_id)]["OPENLINE"] == "N"


def test_five_bots_per_app_at_most(api: httpx.Client) -> None:
    ids = [register_bot(api, "fullapp", f"b{i}") for i in range(5)]
    answer = register(api, CLIENT_ID="fullapp", CODE="b5", PROPERTIES={"NAME": "Six"}, **FULL)
    assert error(answer) == (
        400,
        "MAX_COUNT_ERROR",
        "Has reached the maximum number of bots for application (max: 5)",
    )
    assert register_bot(api, "fullapp", "b0") == ids[0]  # a known code is still answered


def test_oauth_app_owns_its_bots_without_client_id(api: httpx.Client) -> None:
    token = oauth_tokens(api)["access_token"]
    answer = api.post(
        "/rest/imbot.register.json",
        json={
            "auth": token,
            "CODE": "oauthbot",
            "PROPERTIES": {"NAME": "OAuth"},
            "CLIENT_ID": "ignored",
            **FULL,
        },
    )
    bot_id = answer.json()["result"]
    # the webhook with CLIENT_ID=ignored is another owner: the bot is not its
    mine = call(api, "imbot.unregister", {"BOT_ID": bot_id, "CLIENT_ID": "ignored"})
    assert error(mine) == (400, "APP_ID_ERROR", "Bot was installed by another rest application")
    again = api.post("/rest/imbot.unregister.json", json={"auth": token, "BOT_ID": bot_id})
    assert again.json()["result"] is True
    assert str(bot_id) not in ok(api, "imbot.bot.list")
    assert DEMO_CLIENT_ID


def test_unregister_and_update_errors(api: httpx.Client) -> None:
    bot_id = register_bot(api, "upd", "upd")
    assert error(call(api, "imbot.unregister", {"CLIENT_ID": "upd"})) == (
        400,
        "BOT_ID_ERROR",
        "Bot not found",
    )
    assert error(call(api, "imbot.unregister", {"BOT_ID": 999999, "CLIENT_ID": "upd"})) == (
        400,
        "BOT_ID_ERROR",
        "Bot not found",
    )
    assert error(call(api, "imbot.update", {"BOT_ID": bot_id, "CLIENT_ID": "upd"})) == (
        400,
        "WRONG_REQUEST",
        "Update fields can't be empty",
    )
    bad_url = {"BOT_ID": bot_id, "CLIENT_ID": "upd", "FIELDS": {"EVENT_MESSAGE_ADD": "nope"}}
    assert error(call(api, "imbot.update", bad_url)) == (400, "EVENT_MESSAGE_ADD_ERROR", "Wrong handler URL")
    no_name = {"BOT_ID": bot_id, "CLIENT_ID": "upd", "FIELDS": {"PROPERTIES": {"NAME": "", "LAST_NAME": ""}}}
    assert error(call(api, "imbot.update", no_name)) == (400, "NAME_ERROR", "Bot name isn't specified")
    rename = {
        "BOT_ID": bot_id,
        "CLIENT_ID": "upd",
        "FIELDS": {"CODE": "renamed", "PROPERTIES": {"NAME": "New"}},
    }
    assert ok(api, "imbot.update", rename) is True
    assert ok(api, "imbot.bot.list")[str(bot_id)]["CODE"] == "renamed"
    assert ok(api, "imbot.unregister", {"BOT_ID": bot_id, "CLIENT_ID": "upd"}) is True
    assert error(call(api, "imbot.unregister", {"BOT_ID": bot_id, "CLIENT_ID": "upd"}))[1] == "BOT_ID_ERROR"


# --- messages ------------------------------------------------------------------------------------


@pytest.fixture()
def dialog(api: httpx.Client, request: pytest.FixtureRequest) -> dict[str, Any]:
    """A fresh line whose welcome bot (of app ``<test name>``) owns a visitor's new session."""
    app = request.node.name[:40]
    bot_id = register_bot(api, app, "welcome")
    line_id = ok(api, "imopenlines.config.add", {"PARAMS": {"LINE_NAME": f"Line {app}"}})
    settings = {
        "WELCOME_BOT_ENABLE": "Y",
        "WELCOME_BOT_ID": bot_id,
        "WELCOME_BOT_JOIN": "always",
        # the bot keeps the dialogue however far a test moves the clock: with routing on (the
        # default) the line's WELCOME_BOT_TIME (600 s) would otherwise hand it to the queue
        "WELCOME_BOT_TIME": 0,
    }
    assert ok(api, "imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": settings}) is True
    answer = say(api, int(line_id), f"visitor-{app}", "hello")
    assert answer.status_code == 200, answer.text
    chat_id = answer.json()["chat_id"]
    return {"app": app, "bot": bot_id, "line": int(line_id), "chat": chat_id, "dialog": f"chat{chat_id}"}


def history(api: httpx.Client, chat_id: int) -> list[dict[str, Any]]:
    return list(ok(api, "im.dialog.messages.get", {"DIALOG_ID": f"chat{chat_id}", "LIMIT": 50})["messages"])


def test_bot_writes_into_its_open_lines_chat(api: httpx.Client, dialog: dict[str, Any]) -> None:
    message_id = ok(
        api,
        "imbot.message.add",
        {"DIALOG_ID": dialog["dialog"], "MESSAGE": "  Hi, I am a bot  ", "CLIENT_ID": dialog["app"]},
    )
    assert isinstance(message_id, int)
    newest = history(api, dialog["chat"])[0]
    assert (
        newest["id"] == message_id
        and newest["text"] == "Hi, I am a bot"
        and newest["author_id"] == dialog["bot"]
    )


KEYBOARD = [
    {"TEXT": "Yes", "COMMAND": "yes", "BG_COLOR": "#29619b", "TEXT_COLOR": "#fff", "DISPLAY": "LINE"},
    {"TEXT": "No", "COMMAND": "no", "COMMAND_PARAMS": "x", "BLOCK": "Y", "WIDTH": "100"},
    {"TYPE": "NEWLINE"},
    {"TEXT": "Docs", "LINK": "https://example.test/docs", "DISABLED": "N"},
]


def test_keyboard_in_json_and_bracket_form(api: httpx.Client, dialog: dict[str, Any]) -> None:
    as_json = ok(
        api,
        "imbot.message.add",
        {
            "DIALOG_ID": dialog["dialog"],
            "MESSAGE": "json",
            "KEYBOARD": KEYBOARD,
            "ATTACH": "",
            "CLIENT_ID": dialog["app"],
        },
    )
    form: dict[str, str] = {
        "DIALOG_ID": dialog["dialog"],
        "MESSAGE": "form",
        "ATTACH": "",
        "CLIENT_ID": dialog["app"],
    }
    for i, button in enumerate(KEYBOARD):
        for key, value in button.items():
            form[f"KEYBOARD[{i}][{key}]"] = value
    as_form = ok(api, "imbot.message.add", form, form=True)
    as_string = ok(
        api,
        "imbot.message.add",
        {
            "DIALOG_ID": dialog["dialog"],
            "MESSAGE": "string",
            "KEYBOARD": json.dumps(KEYBOARD),
            "CLIENT_ID": dialog["app"],
        },
    )
    by_id = {m["id"]: m for m in history(api, dialog["chat"])}
    for message_id in (as_json, as_form, as_string):
        assert by_id[message_id]["params"]["KEYBOARD"] == KEYBOARD
        assert "ATTACH" not in by_id[message_id]["params"]


def test_message_add_errors(api: httpx.Client, dialog: dict[str, Any]) -> None:
    base = {"DIALOG_ID": dialog["dialog"], "CLIENT_ID": dialog["app"]}
    cases = [
        ({"CLIENT_ID": dialog["app"], "MESSAGE": "x"}, (400, "DIALOG_ID_EMPTY", "Dialog ID can't be empty")),
        ({**base, "MESSAGE": "   "}, (400, "MESSAGE_EMPTY", "Message can't be empty")),
        ({**base, "MESSAGE": "x", "ATTACH": "{broken"}, (400, "ATTACH_ERROR", "Incorrect attach params")),
        (
            {**base, "MESSAGE": "x", "KEYBOARD": [{"TEXT": "no action"}]},
            (400, "KEYBOARD_ERROR", "Incorrect keyboard params"),
        ),
        (
            {**base, "MESSAGE": "x", "KEYBOARD": [{"TEXT": "y" * 31000, "COMMAND": "c"}]},
            (400, "KEYBOARD_OVERSIZE", "You have exceeded the maximum allowable size of keyboard"),
        ),
        (
            {**base, "MESSAGE": "x", "ATTACH": [{"MESSAGE": "z" * 31000}]},
            (400, "ATTACH_OVERSIZE", "You have exceeded the maximum allowable size of attach"),
        ),
        ({**base, "MESSAGE": "x", "DIALOG_ID": "chat999999"}, (400, "WRONG_REQUEST", "Message isn't added")),
        ({**base, "MESSAGE": "x", "DIALOG_ID": "chatX"}, (400, "WRONG_REQUEST", "Message isn't added")),
        ({**base, "MESSAGE": "x", "BOT_ID": 999999}, (400, "BOT_ID_ERROR", "Bot not found")),
        ({**base, "MESSAGE": "x", "CLIENT_ID": "nobody-here"}, (400, "BOT_ID_ERROR", "Bot not found")),
        ({**base, "MESSAGE": {"a": 1}}, (400, "MESSAGE_EMPTY", "Message can't be empty")),
    ]
    for params, expected in cases:
        assert error(call(api, "imbot.message.add", params)) == expected, params


def test_attachment_alone_is_a_message(api: httpx.Client, dialog: dict[str, Any]) -> None:
    attach = [{"MESSAGE": "Order #1 is on its way"}, {"DELIMITER": {"SIZE": 200}}]
    message_id = ok(
        api,
        "imbot.message.add",
        {"DIALOG_ID": dialog["dialog"], "ATTACH": attach, "CLIENT_ID": dialog["app"]},
    )
    assert history(api, dialog["chat"])[0]["params"]["ATTACH"] == attach
    assert message_id


def test_update_and_delete_rules(api: httpx.Client, bots_server: Any, dialog: dict[str, Any]) -> None:
    app = dialog["app"]
    mine = ok(
        api,
        "imbot.message.add",
        {"DIALOG_ID": dialog["dialog"], "MESSAGE": "v1", "KEYBOARD": KEYBOARD, "CLIENT_ID": app},
    )
    customer_message = history(api, dialog["chat"])[-1]["id"]  # the visitor's "hello"
    refused = (403, "CANT_EDIT_MESSAGE", "Time has expired for modification or you don't have access")
    assert (
        error(
            call(
                api,
                "imbot.message.update",
                {"MESSAGE_ID": customer_message, "MESSAGE": "x", "CLIENT_ID": app},
            )
        )
        == refused
    )
    assert (
        error(call(api, "imbot.message.delete", {"MESSAGE_ID": customer_message, "CLIENT_ID": app}))
        == refused
    )
    assert error(call(api, "imbot.message.update", {"MESSAGE": "x", "CLIENT_ID": app})) == (
        400,
        "MESSAGE_ID_ERROR",
        "Message ID can't be empty",
    )

    assert (
        ok(
            api,
            "imbot.message.update",
            {"MESSAGE_ID": mine, "MESSAGE": "v2", "KEYBOARD": "N", "CLIENT_ID": app},
        )
        is True
    )
    edited = next(m for m in history(api, dialog["chat"]) if m["id"] == mine)
    assert edited["text"] == "v2" and "KEYBOARD" not in edited["params"]

    # Dialogues other tests left waiting would be re-offered every QUEUE_TIME for three fake days;
    # a long queue time keeps this jump to one re-check each (restored below for the next tests).
    lines = {line["ID"]: line["QUEUE_TIME"] for line in ok(api, "imopenlines.config.list.get")}
    for line_id in lines:
        ok(api, "imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": {"QUEUE_TIME": 30 * 86400}})
    try:
        advance_clock(api, 3 * 24 * 3600 + 1)
    finally:
        for line_id, queue_time in lines.items():
            ok(api, "imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": {"QUEUE_TIME": queue_time}})
    owner = ok(api, "openlines.session.get", {"CHAT_ID": dialog["chat"]})["OWNER"]
    assert owner == {"TYPE": "bot", "ID": dialog["bot"]}  # WELCOME_BOT_TIME 0: the bot still has it
    assert (
        error(call(api, "imbot.message.update", {"MESSAGE_ID": mine, "MESSAGE": "v3", "CLIENT_ID": app}))
        == refused
    )

    fresh = ok(
        api, "imbot.message.add", {"DIALOG_ID": dialog["dialog"], "MESSAGE": "soon gone", "CLIENT_ID": app}
    )
    assert ok(api, "imbot.message.delete", {"MESSAGE_ID": fresh, "CLIENT_ID": app}) is True
    soft = next(m for m in history(api, dialog["chat"]) if m["id"] == fresh)
    assert soft["text"] == "This message was deleted." and soft["params"]["IS_DELETED"] == "Y"
    gone = ok(
        api, "imbot.message.add", {"DIALOG_ID": dialog["dialog"], "MESSAGE": "vanish", "CLIENT_ID": app}
    )
    assert ok(api, "imbot.message.delete", {"MESSAGE_ID": gone, "COMPLETE": "Y", "CLIENT_ID": app}) is True
    assert gone not in {m["id"] for m in history(api, dialog["chat"])}


def test_chat_methods(api: httpx.Client, dialog: dict[str, Any]) -> None:
    app = dialog["app"]
    chat = ok(api, "im.chat.get", {"CHAT_ID": dialog["chat"]})
    assert ok(api, "imbot.chat.get", {"ENTITY_TYPE": "LINES", "ENTITY_ID": chat["entity_id"]}) == {
        "ID": dialog["chat"]
    }
    assert ok(api, "imbot.chat.get", {"ENTITY_TYPE": "LINES", "ENTITY_ID": "nope|1|2|3"}) is None
    assert ok(api, "imbot.chat.sendTyping", {"DIALOG_ID": dialog["dialog"], "CLIENT_ID": app}) is True
    assert error(call(api, "imbot.chat.sendTyping", {"CLIENT_ID": app})) == (
        400,
        "DIALOG_ID_EMPTY",
        "Dialog ID can't be empty",
    )
    assert error(call(api, "imbot.chat.leave", {"CLIENT_ID": app})) == (
        400,
        "CHAT_ID_EMPTY",
        "Chat ID can't be empty",
    )
    assert ok(api, "openlines.session.get", {"CHAT_ID": dialog["chat"]})["OWNER"]["TYPE"] == "bot"
    assert ok(api, "imbot.chat.leave", {"CHAT_ID": dialog["chat"], "CLIENT_ID": app}) is True
    session = ok(api, "openlines.session.get", {"CHAT_ID": dialog["chat"]})
    assert session["OWNER"]["TYPE"] == "queue" and session["STATUS"] == 5  # handed over, not left ownerless
    assert error(call(api, "imbot.chat.leave", {"CHAT_ID": dialog["chat"], "CLIENT_ID": app})) == (
        403,
        "ACCESS_ERROR",
        "Action unavailable",
    )
    # no longer a member: it cannot write there
    left = call(api, "imbot.message.add", {"DIALOG_ID": dialog["dialog"], "MESSAGE": "x", "CLIENT_ID": app})
    assert error(left) == (400, "WRONG_REQUEST", "Message isn't added")


def test_commands(api: httpx.Client, dialog: dict[str, Any]) -> None:
    app, bot = dialog["app"], dialog["bot"]
    base = {"BOT_ID": bot, "CLIENT_ID": app}
    lang = [{"LANGUAGE_ID": "en", "TITLE": "Help", "PARAMS": "topic"}]
    cases = [
        ({"CLIENT_ID": app, "COMMAND": "help"}, (400, "BOT_ID_ERROR", "Bot not found")),
        (
            {**base, "COMMAND": "help"},
            (400, "EVENT_COMMAND_ADD_ERROR", 'Handler for "Command add" event isn\'t specified'),
        ),
        (
            {**base, "COMMAND": "help", "EVENT_COMMAND_ADD": "x"},
            (400, "EVENT_COMMAND_ADD_ERROR", "Wrong handler URL"),
        ),
        ({**base, "EVENT_COMMAND_ADD": URL}, (400, "COMMAND_ERROR", "Command can't be empty")),
        (
            {**base, "EVENT_COMMAND_ADD": URL, "COMMAND": "help"},
            (400, "LANG_ERROR", "Lang set can't be empty"),
        ),
    ]
    for params, expected in cases:
        assert error(call(api, "imbot.command.register", params)) == expected, params
    form = {"BOT_ID": str(bot), "CLIENT_ID": app, "COMMAND": "help", "EVENT_COMMAND_ADD": URL, "COMMON": "Y"}
    form.update({"LANG[0][LANGUAGE_ID]": "en", "LANG[0][TITLE]": "Help", "LANG[0][PARAMS]": "topic"})
    command_id = ok(api, "imbot.command.register", form, form=True)
    again = ok(
        api, "imbot.command.register", {**base, "COMMAND": "help", "EVENT_COMMAND_ADD": URL, "LANG": lang}
    )
    assert again == command_id

    visitor_message = history(api, dialog["chat"])[-1]["id"]
    answer_id = ok(
        api,
        "imbot.command.answer",
        {
            "COMMAND_ID": command_id,
            "MESSAGE_ID": visitor_message,
            "MESSAGE": "Here is help",
            "CLIENT_ID": app,
        },
    )
    assert history(api, dialog["chat"])[0]["id"] == answer_id
    by_name = ok(
        api,
        "imbot.command.answer",
        {"COMMAND": "help", "MESSAGE_ID": visitor_message, "MESSAGE": "More help", "CLIENT_ID": app},
    )
    assert by_name > answer_id
    assert error(
        call(api, "imbot.command.answer", {"COMMAND_ID": 999999, "MESSAGE_ID": 1, "CLIENT_ID": app})
    ) == (
        400,
        "COMMAND_ID_ERROR",
        "Command not found",
    )
    assert error(
        call(api, "imbot.command.unregister", {"COMMAND_ID": command_id, "CLIENT_ID": "someone-else"})
    )[1] == ("APP_ID_ERROR")
    assert ok(api, "imbot.command.unregister", {"COMMAND_ID": command_id, "CLIENT_ID": app}) is True
    assert error(call(api, "imbot.command.unregister", {"COMMAND_ID": command_id, "CLIENT_ID": app})) == (
        400,
        "COMMAND_ID_ERROR",
        "Command not found",
    )


@pytest.mark.parametrize(
    "value",
    [
        ["a"],
        {"x": {"y": 1}},
        10**30,
        -1,
        "9" * 40,
        "chat" + "9" * 40,
        True,
        None,
        1.5,
        "chat",
        "chat-1",
        "chat0",
    ],
)
def test_odd_values_never_break_the_server(api: httpx.Client, value: Any) -> None:
    register_bot(api, "odd", "odd")
    methods = ("imbot.message.add", "imbot.message.update", "imbot.message.delete", "imbot.chat.leave")
    methods += ("imbot.chat.get", "imbot.command.answer", "im.dialog.messages.get", "im.chat.get")
    methods += ("im.message.add", "im.dialog.read", "imbot.message.like", "imbot.dialog.get")
    methods += ("imbot.chat.add", "imbot.chat.user.add", "imbot.chat.user.delete", "imbot.chat.user.list")
    methods += ("imbot.command.update", "imbot.update", "imbot.register")
    for method in methods:
        params = {
            "BOT_ID": value,
            "DIALOG_ID": value,
            "MESSAGE_ID": value,
            "CHAT_ID": value,
            "LAST_ID": value,
            "FIRST_ID": value,
            "LIMIT": value,
            "ENTITY_TYPE": value,
            "ENTITY_ID": value,
            "COMMAND_ID": value,
            "USERS": value,
            "USER_ID": value,
            "ACTION": value,
            "FIELDS": value,
            "TITLE": value,
            "CODE": value,
            "PROPERTIES": value,
            "EVENT_HANDLER": value,
            "MESSAGE": value,
            "KEYBOARD": value,
            "ATTACH": value,
            "CLIENT_ID": "odd",
        }
        answer = call(api, method, params)
        assert answer.status_code < 500, (method, value, answer.text)
        assert "error" in answer.json() or "result" in answer.json()


def test_unregistering_a_bot_hands_its_dialogues_to_the_queue(
    api: httpx.Client, dialog: dict[str, Any]
) -> None:
    assert ok(api, "imbot.unregister", {"BOT_ID": dialog["bot"], "CLIENT_ID": dialog["app"]}) is True
    session = ok(api, "openlines.session.get", {"CHAT_ID": dialog["chat"]})
    assert session["OWNER"] == {"TYPE": "queue", "ID": 0}
    assert dialog["bot"] not in ok(api, "imopenlines.dialog.get", {"CHAT_ID": dialog["chat"]}).get(
        "manager_list", []
    )
    # a new visitor on that line is no longer met by the deleted bot
    answer = say(api, dialog["line"], "after-unregister", "hello")
    fresh = ok(api, "openlines.session.get", {"CHAT_ID": answer.json()["chat_id"]})
    assert fresh["OWNER"]["TYPE"] == "queue"


def test_dialog_get_and_chat_user_list(api: httpx.Client, dialog: dict[str, Any]) -> None:
    app, bot = dialog["app"], dialog["bot"]
    got = ok(api, "imbot.dialog.get", {"DIALOG_ID": dialog["dialog"]})
    assert (
        got["id"] == dialog["chat"] and got["dialog_id"] == dialog["dialog"] and got["entity_type"] == "LINES"
    )
    assert error(call(api, "imbot.dialog.get", {})) == (400, "DIALOG_ID_EMPTY", "Dialog ID can't be empty")
    denied = (403, "ACCESS_ERROR", "You do not have access to the specified dialog")
    assert error(call(api, "imbot.dialog.get", {"DIALOG_ID": "chat99999999"})) == denied
    assert error(call(api, "imbot.dialog.get", {"DIALOG_ID": "2"})) == denied

    members = ok(api, "imbot.chat.user.list", {"CHAT_ID": dialog["chat"], "CLIENT_ID": app})
    customer = ok(api, "im.dialog.messages.get", {"DIALOG_ID": dialog["dialog"]})["messages"][-1]["author_id"]
    assert sorted(members) == sorted([customer, bot])
    assert error(call(api, "imbot.chat.user.list", {"CLIENT_ID": app})) == (
        400,
        "CHAT_ID_EMPTY",
        "Chat ID can't be empty",
    )
    stranger = register_bot(api, app + "-2", "stranger")
    outside = call(
        api, "imbot.chat.user.list", {"CHAT_ID": dialog["chat"], "BOT_ID": stranger, "CLIENT_ID": app + "-2"}
    )
    assert error(outside) == (403, "ACCESS_ERROR", "You do not have access to this chat")


def test_command_update(api: httpx.Client, dialog: dict[str, Any]) -> None:
    app = dialog["app"]
    lang = [{"LANGUAGE_ID": "en", "TITLE": "Status"}]
    command_id = ok(
        api,
        "imbot.command.register",
        {
            "BOT_ID": dialog["bot"],
            "COMMAND": "status",
            "EVENT_COMMAND_ADD": URL,
            "LANG": lang,
            "CLIENT_ID": app,
        },
    )
    base = {"COMMAND_ID": command_id, "CLIENT_ID": app}
    assert error(call(api, "imbot.command.update", base)) == (
        400,
        "WRONG_REQUEST",
        "Update fields can't be empty",
    )
    bad = {**base, "FIELDS": {"EVENT_COMMAND_ADD": "nope"}}
    assert error(call(api, "imbot.command.update", bad)) == (
        400,
        "EVENT_COMMAND_ADD_ERROR",
        "Wrong handler URL",
    )
    assert error(call(api, "imbot.command.update", {**base, "FIELDS": {"LANG": []}})) == (
        400,
        "LANG_ERROR",
        "Lang set can't be empty",
    )
    assert error(
        call(
            api,
            "imbot.command.update",
            {"COMMAND_ID": command_id, "CLIENT_ID": "x", "FIELDS": {"HIDDEN": "Y"}},
        )
    )[1] == ("APP_ID_ERROR")
    assert (
        ok(api, "imbot.command.update", {**base, "FIELDS": {"HIDDEN": "Y", "EVENT_COMMAND_ADD": URL + "/v2"}})
        is True
    )
    # registering again answers the same command (now updated back)
    again = {
        "BOT_ID": dialog["bot"],
        "COMMAND": "status",
        "EVENT_COMMAND_ADD": URL,
        "LANG": lang,
        "CLIENT_ID": app,
    }
    assert ok(api, "imbot.command.register", again) == command_id


def test_message_like(api: httpx.Client, dialog: dict[str, Any]) -> None:
    app = dialog["app"]
    customer_message = history(api, dialog["chat"])[-1]["id"]
    like = {"MESSAGE_ID": customer_message, "CLIENT_ID": app}
    assert ok(api, "imbot.message.like", like) is True  # auto: toggles on
    assert history(api, dialog["chat"])[-1]["params"]["LIKE"] == [dialog["bot"]]
    unchanged = (400, "WITHOUT_CHANGES", "Action completed without changes")
    assert error(call(api, "imbot.message.like", {**like, "ACTION": "plus"})) == unchanged
    assert ok(api, "imbot.message.like", like) is True  # auto: toggles off
    assert "LIKE" not in history(api, dialog["chat"])[-1]["params"]
    assert error(call(api, "imbot.message.like", {**like, "ACTION": "minus"})) == unchanged
    assert error(call(api, "imbot.message.like", {"CLIENT_ID": app})) == (
        400,
        "MESSAGE_ID_ERROR",
        "Message ID can't be empty",
    )
    assert (
        error(call(api, "imbot.message.like", {"MESSAGE_ID": 99999999, "CLIENT_ID": app}))[1]
        == "MESSAGE_ID_ERROR"
    )


def test_group_chats(api: httpx.Client, dialog: dict[str, Any]) -> None:
    app, bot = dialog["app"], dialog["bot"]
    base = {"CLIENT_ID": app}
    chat_id = ok(
        api, "imbot.chat.add", {**base, "TITLE": "Team", "USERS": [2, 3, 999999], "MESSAGE": "Welcome, team"}
    )
    chat = ok(api, "im.chat.get", {"CHAT_ID": chat_id})
    assert chat["type"] == "chat" and chat["name"] == "Team" and chat["owner"] == bot
    assert sorted(ok(api, "imbot.chat.user.list", {**base, "CHAT_ID": chat_id})) == sorted([bot, 2, 3])
    assert history(api, chat_id)[0]["text"] == "Welcome, team"

    assert ok(api, "imbot.chat.user.add", {**base, "CHAT_ID": chat_id, "USERS": [4]}) is True
    again = (400, "WRONG_REQUEST", "You don't have access or user already member in chat")
    assert error(call(api, "imbot.chat.user.add", {**base, "CHAT_ID": chat_id, "USERS": [4]})) == again
    not_array = call(api, "imbot.chat.user.add", {**base, "CHAT_ID": chat_id, "USERS": "4"})
    assert error(not_array) == (400, "WRONG_REQUEST", "User IDs must be passed in array format")
    assert ok(api, "imbot.chat.user.delete", {**base, "CHAT_ID": chat_id, "USER_ID": 4}) is True
    assert error(call(api, "imbot.chat.user.delete", {**base, "CHAT_ID": chat_id, "USER_ID": 4})) == again
    assert error(call(api, "imbot.chat.user.delete", {**base, "CHAT_ID": chat_id})) == (
        400,
        "USER_ID_EMPTY",
        "User ID can't be empty",
    )
    assert error(call(api, "imbot.chat.user.add", {**base, "USERS": [4]})) == (
        400,
        "CHAT_ID_EMPTY",
        "Chat ID can't be empty",
    )

    # Open Lines chats change members through hand-overs, not through the bot
    assert error(call(api, "imbot.chat.user.add", {**base, "CHAT_ID": dialog["chat"], "USERS": [4]})) == again
    assert error(call(api, "imbot.chat.user.delete", {**base, "CHAT_ID": dialog["chat"], "USER_ID": 2})) == (
        403,
        "ACCESS_ERROR",
        "It is forbidden to delete users of this chat",
    )
    assert error(call(api, "imbot.chat.add", {**base, "USERS": "2"})) == (
        400,
        "INVALID_FORMAT",
        "Parameter USERS has wrong type",
    )
    assert error(call(api, "imbot.chat.add", {**base, "ENTITY_TYPE": "LINES", "ENTITY_ID": "x|1|2|3"})) == (
        400,
        "WRONG_REQUEST",
        "Chat can't be created",
    )
    bound = ok(api, "imbot.chat.add", {**base, "TYPE": "OPEN", "ENTITY_TYPE": "CRM", "ENTITY_ID": "DEAL|7"})
    assert ok(api, "imbot.chat.get", {"ENTITY_TYPE": "CRM", "ENTITY_ID": "DEAL|7"}) == {"ID": bound}
    assert ok(api, "im.chat.get", {"CHAT_ID": bound})["type"] == "open"
