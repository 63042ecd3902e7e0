"""imconnector.* over HTTP with an OAuth app's token: registration, activation, status, list,
channel data, and the argument errors with the real server's texts."""

from __future__ import annotations

from typing import Any

import pytest

from openlines.methods.catalog import build
from tests.connectors.conftest import Caller
from tests.connectors.helpers import ICON, fresh_id, message, registration

APP_CONTEXT = "Current authorization type is denied for this method Application context required"
CONNECTOR_METHODS = sorted(name for name in build().methods if name.startswith("imconnector."))


def error_of(answer: Any) -> tuple[int, str, str]:
    body = answer.json()
    return answer.status_code, body.get("error", ""), body.get("error_description", "")


def registered(app: Caller, stem: str) -> str:
    connector = fresh_id(stem)
    assert app("imconnector.register", registration(connector)) == {"result": True}
    return connector


def test_every_imconnector_method_is_served() -> None:
    assert len(CONNECTOR_METHODS) == 12, CONNECTOR_METHODS


@pytest.mark.parametrize("method", CONNECTOR_METHODS)
def test_webhooks_are_refused_on_every_method(admin: Caller, method: str) -> None:
    answer = admin(method, {"CONNECTOR": "x", "LINE": 1, "ID": "x"}, raw=True)
    assert error_of(answer) == (403, "WRONG_AUTH_TYPE", APP_CONTEXT)


def test_register_lower_cases_the_id_and_lists_it_beside_livechat(app: Caller) -> None:
    connector = fresh_id("MixedCase")
    assert app("imconnector.register", registration(connector)) == {"result": True}
    listed = app("imconnector.list")
    assert listed["livechat"]
    assert listed[connector.lower()] == f"Channel {connector}"
    assert connector not in listed


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"ID": ""}, "CONNECTOR_ID_REQUIRED"),
        ({"ID": "with.dot"}, "CONNECTOR_ID_REQUIRED"),
        ({"NAME": ""}, "NAME_REQUIRED"),
        ({"ICON": ""}, "ICON_REQUIRED"),
        ({"ICON": {"COLOR": "#fff"}}, "ICON_REQUIRED"),
        ({"PLACEMENT_HANDLER": ""}, "NO_PLACEMENT_HANDLER"),
        ({"ID": "livechat"}, "GENERAL_CONNECTOR_REGISTRATION_ERROR"),
    ],
)
def test_register_errors_come_back_with_http_200(app: Caller, change: dict[str, Any], code: str) -> None:
    answer = app("imconnector.register", {**registration(fresh_id("bad")), **change}, raw=True)
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert result["result"] is False and result["error"] == code and result["error_description"]


def test_unregister_forgets_the_connector(app: Caller) -> None:
    connector = registered(app, "gone")
    assert app("imconnector.unregister", {"ID": connector}) is True
    assert connector not in app("imconnector.list")
    again = app("imconnector.unregister", {"ID": connector})
    assert again["result"] is False and again["error"] == "APPLICATION_UNREGISTRATION_ERROR"


@pytest.mark.parametrize("missing", ["CONNECTOR", "LINE", "ACTIVE"])
def test_activate_requires_its_arguments(app: Caller, missing: str) -> None:
    params = {"CONNECTOR": registered(app, "arg"), "LINE": 1, "ACTIVE": 1}
    del params[missing]
    answer = app("imconnector.activate", params, raw=True)
    assert error_of(answer) == (400, "ERROR_ARGUMENT", f"Argument '{missing}' is null or empty")


def test_activate_and_status(app: Caller) -> None:
    connector = registered(app, "stat")
    off = app("imconnector.status", {"CONNECTOR": connector, "LINE": 1})
    assert off == {"LINE": "1", "CONNECTOR": connector, "ERROR": False, "CONFIGURED": False, "STATUS": False}
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": 1, "ACTIVE": 1}) is True
    assert app("imconnector.status", {"CONNECTOR": connector, "LINE": 1})["STATUS"] is True
    assert app("imconnector.status", {"CONNECTOR": connector, "LINE": 2})["STATUS"] is False
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": 1, "ACTIVE": 0}) is True
    assert app("imconnector.status", {"CONNECTOR": connector, "LINE": 1})["CONFIGURED"] is False


def test_activate_an_unregistered_connector_or_missing_line(app: Caller) -> None:
    answer = app("imconnector.activate", {"CONNECTOR": fresh_id("never"), "LINE": 1, "ACTIVE": 1}, raw=True)
    assert error_of(answer)[:2] == (400, "ERROR_ARGUMENT")
    answer = app(
        "imconnector.activate", {"CONNECTOR": registered(app, "noline"), "LINE": 999, "ACTIVE": 1}, raw=True
    )
    assert error_of(answer)[1] == "NOT_ACTIVE_LINE"


def test_connector_data_set(app: Caller) -> None:
    connector = registered(app, "data")
    data = {"ID": "bot42", "URL": "https://t.me/bot42", "URL_IM": "https://t.me/bot42", "NAME": "Our bot"}
    assert app("imconnector.connector.data.set", {"CONNECTOR": connector, "LINE": 1, "DATA": data}) is True
    answer = app("imconnector.connector.data.set", {"CONNECTOR": connector, "LINE": 1}, raw=True)
    assert error_of(answer) == (400, "ERROR_ARGUMENT", "Argument 'DATA' is null or empty")


@pytest.mark.parametrize(
    ("messages", "text"),
    [
        (None, "Argument 'MESSAGES' is null or empty"),
        ("hello", "The value of an argument 'MESSAGES' must be of type array"),
        (["hello"], "The MESSAGES parameter must be an array of messages (arrays)"),
        (
            [{"user": {"id": "u"}, "message": {"text": "x"}}],
            "The incorrect structure of a message inside MESSAGES parameter",
        ),
        (
            [{"user": {}, "message": {"text": "x"}, "chat": {"id": "c"}}],
            "The incorrect structure of a message inside MESSAGES parameter",
        ),
        (
            [{"user": {"id": "u"}, "message": {"text": ""}, "chat": {"id": "c"}}],
            "The incorrect structure of a message inside MESSAGES parameter",
        ),
    ],
)
def test_send_messages_argument_errors(app: Caller, messages: Any, text: str) -> None:
    params: dict[str, Any] = {"CONNECTOR": "any", "LINE": 1}
    if messages is not None:
        params["MESSAGES"] = messages
    answer = app("imconnector.send.messages", params, raw=True)
    assert error_of(answer) == (400, "ERROR_ARGUMENT", text)


def test_send_messages_needs_the_connector_active_on_that_line(app: Caller) -> None:
    connector = registered(app, "inactive")
    send = {"CONNECTOR": connector, "LINE": 1, "MESSAGES": [message("u1", "c1", "hello")]}
    not_active = (400, "NOT_ACTIVE_LINE", "The line with this ID is inactive or does not exist")
    assert error_of(app("imconnector.send.messages", send, raw=True)) == not_active
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": 2, "ACTIVE": 1}) is True
    assert error_of(app("imconnector.send.messages", send, raw=True)) == not_active  # on line 2 only
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": 1, "ACTIVE": 1}) is True
    assert app("imconnector.send.messages", send)["SUCCESS"] is True
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": 1, "ACTIVE": "0"}) is True
    assert error_of(app("imconnector.send.messages", send, raw=True)) == not_active
    unknown = {**send, "CONNECTOR": fresh_id("unknown")}
    assert error_of(app("imconnector.send.messages", unknown, raw=True)) == not_active


def test_icon_is_kept_as_sent(app: Caller) -> None:
    # ICON with extra keys registers fine (COLOR, SIZE, POSITION are optional)
    connector = fresh_id("icon")
    full = registration(connector, ICON={**ICON, "SIZE": "90%", "POSITION": "center"})
    assert app("imconnector.register", full) == {"result": True}


ODD_SHAPES: list[Any] = [
    {"0": {"user": {"id": {"x": 1}}, "message": {"text": ["a"]}, "chat": {"id": []}}},
    [{"user": "u", "message": "m", "chat": "c"}],
    [{"user": {"id": "u", "picture": "not a dict"}, "message": {"text": 5, "files": "x"}, "chat": {"id": 7}}],
    [{"user": {"id": "u"}, "message": {"files": [{"url": {"deep": 1}}, "x", None]}, "chat": {"id": "c"}}],
    [{"user": {"id": "u" * 5000, "name": 3.5}, "message": {"text": "\u0000x"}, "chat": {"id": "c"}}],
]


@pytest.mark.parametrize("messages", ODD_SHAPES)
@pytest.mark.parametrize(
    "method", ["send.messages", "update.messages", "delete.messages", "send.status.reading"]
)
def test_odd_message_shapes_never_give_a_server_error(app: Caller, method: str, messages: Any) -> None:
    connector = registered(app, "odd")
    assert app("imconnector.activate", {"CONNECTOR": connector, "LINE": 1, "ACTIVE": 1}) is True
    answer = app(f"imconnector.{method}", {"CONNECTOR": connector, "LINE": 1, "MESSAGES": messages}, raw=True)
    assert answer.status_code in (200, 400), answer.text
    assert "error" in answer.json() or "result" in answer.json()
