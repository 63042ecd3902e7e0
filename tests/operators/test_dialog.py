"""imopenlines.dialog.get, crm.chat.*, session.open and session.history.get over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.operators.conftest import OPERATOR_HOOKS, Pool, Rest

ACCESS_TEXT = "You do not have access to the specified dialog"
OPEN_DENIED = "You cannot open this conversation as you do not have sufficient permissions"


def test_dialog_get_by_each_identifier(admin: Rest, pool: Pool) -> None:
    d = pool.take()
    ways: list[dict[str, Any]] = [
        {"CHAT_ID": d.chat_id},
        {"DIALOG_ID": f"chat{d.chat_id}"},
        {"SESSION_ID": d.session_id},
        {"USER_CODE": d.user_code},
        {"USER_CODE": "imol|" + d.user_code},
        {"chat_id": str(d.chat_id)},  # this method folds key case
    ]
    for params in ways:
        chat = admin.ok("imopenlines.dialog.get", params)
        assert chat["id"] == d.chat_id, params
        assert chat["dialog_id"] == f"chat{d.chat_id}"
        assert (chat["type"], chat["entity_type"], chat["entity_id"]) == ("lines", "LINES", d.user_code)
        assert chat["entity_data_1"].split("|")[5] == str(d.session_id)
        assert chat["message_count"] >= 1 and chat["user_counter"] >= 1


def test_dialog_get_precedence_chat_id_then_dialog_id_then_session_then_user_code(
    admin: Rest, pool: Pool
) -> None:
    a, b, c = pool.take(), pool.take(), pool.take()
    params = {"CHAT_ID": a.chat_id, "DIALOG_ID": f"chat{b.chat_id}", "SESSION_ID": c.session_id}
    assert admin.ok("imopenlines.dialog.get", params)["id"] == a.chat_id
    del params["CHAT_ID"]
    assert admin.ok("imopenlines.dialog.get", params)["id"] == b.chat_id
    assert (
        admin.ok("imopenlines.dialog.get", {"SESSION_ID": c.session_id, "USER_CODE": a.user_code})["id"]
        == c.chat_id
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"CHAT_ID": 0},
        {"CHAT_ID": 987654},
        {"DIALOG_ID": "123"},
        {"DIALOG_ID": "chatx"},
        {"DIALOG_ID": "chat" + "9" * 30},
        {"CHAT_ID": "9" * 30},
        {"SESSION_ID": 987654},
        {"SESSION_ID": 10**30},
    ],
)
def test_dialog_get_access_error_for_nothing_found(admin: Rest, params: dict[str, Any]) -> None:
    admin.error("imopenlines.dialog.get", params, "ACCESS_ERROR", ACCESS_TEXT)


def test_dialog_get_a_user_code_that_names_no_chat(admin: Rest) -> None:
    admin.error("imopenlines.dialog.get", {"USER_CODE": "livechat|1|nobody|0"}, "ACCESS_ERROR", ACCESS_TEXT)


def test_dialog_get_access_for_queue_operators_only(admin: Rest, op2: Rest, op4: Rest, pool: Pool) -> None:
    d = pool.take(line_id=1)
    assert op2.ok("imopenlines.dialog.get", {"CHAT_ID": d.chat_id})["id"] == d.chat_id
    op4.error("imopenlines.dialog.get", {"CHAT_ID": d.chat_id}, "ACCESS_ERROR", ACCESS_TEXT)
    extranet = Rest(admin.client, OPERATOR_HOOKS[5])
    extranet.error("imopenlines.dialog.get", {"CHAT_ID": d.chat_id}, "ACCESS_ERROR", ACCESS_TEXT)


def test_dialog_get_a_non_scalar_chat_id_is_an_argument_error(admin: Rest) -> None:
    body = admin.error("imopenlines.dialog.get", {"CHAT_ID": [1, 2]}, "ERROR_ARGUMENT")
    assert body["argument"] == "CHAT_ID"


@pytest.mark.parametrize(
    ("params", "argument", "text"),
    [
        ({"CRM_ENTITY": 5}, "CRM_ENTITY_TYPE", "Argument 'CRM_ENTITY_TYPE' is null or empty"),
        ({"CRM_ENTITY_TYPE": "lead"}, "CRM_ENTITY", "Argument 'CRM_ENTITY' is null or empty"),
        (
            {"CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": "x1"},
            "CRM_ENTITY",
            "The value of an argument 'CRM_ENTITY' has an invalid type",
        ),
        (
            {"CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": "9" * 30},
            "CRM_ENTITY",
            "The value of an argument 'CRM_ENTITY' has an invalid type",
        ),
        (
            {"CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": {"a": 1}},
            "CRM_ENTITY",
            "The value of an argument 'CRM_ENTITY' has an invalid type",
        ),
    ],
)
def test_crm_chat_argument_errors(admin: Rest, params: dict[str, Any], argument: str, text: str) -> None:
    for method in ("imopenlines.crm.chat.get", "imopenlines.crm.chat.getLastId"):
        body = admin.error(method, params, "ERROR_ARGUMENT", text)
        assert body["argument"] == argument


def test_crm_chat_without_bindings(admin: Rest) -> None:
    assert admin.ok("imopenlines.crm.chat.get", {"CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": 1209}) == []
    admin.error(
        "imopenlines.crm.chat.getLastId",
        {"crm_entity_type": "deal", "crm_entity": "7"},
        "CRM_CHAT_EMPTY_CRM_DATA",
        "Could not find CRM entity",
    )


def test_session_open_by_user_code(admin: Rest, op2: Rest, op4: Rest, pool: Pool) -> None:
    d = pool.take(line_id=1)
    assert op2.ok("imopenlines.session.open", {"USER_CODE": d.user_code}) == {"chatId": str(d.chat_id)}
    assert admin.ok("imopenlines.session.open", {"USER_CODE": d.user_code}) == {"chatId": str(d.chat_id)}
    op4.error("imopenlines.session.open", {"USER_CODE": d.user_code}, "ACCESS_DENIED", OPEN_DENIED)
    admin.error("imopenlines.session.open", {"USER_CODE": "livechat|1|none|0"}, "ACCESS_DENIED", OPEN_DENIED)
    admin.error("imopenlines.session.open", {"user_code": d.user_code}, "ACCESS_DENIED", OPEN_DENIED)


def test_session_history_by_session_and_by_chat(admin: Rest, op2: Rest, pool: Pool) -> None:
    d = pool.take(line_id=1)
    by_session = op2.ok("imopenlines.session.history.get", {"SESSION_ID": d.session_id})
    by_chat = admin.ok("imopenlines.session.history.get", {"CHAT_ID": d.chat_id})
    for history in (by_session, by_chat):
        assert history["sessionId"] == d.session_id and history["chatId"] == d.chat_id
        assert history["userId"] == f"chat{d.chat_id}"
        texts = [m["text"] for m in history["message"].values()]
        assert "Hello" in texts
        assert sorted(int(k) for k in history["message"]) == history["usersMessage"][f"chat{d.chat_id}"]
        first = next(iter(history["message"].values()))
        assert first["recipientid"] == f"chat{d.chat_id}" and first["chatid"] == d.chat_id
    assert by_chat["canJoin"] == "Y" and by_chat["canVoteHead"] == "Y"


def test_session_history_errors(admin: Rest, op4: Rest, pool: Pool) -> None:
    d = pool.take(line_id=1)
    admin.error(
        "imopenlines.session.history.get",
        {},
        "MISSING_REQUIRED_PARAM",
        "Session ID or Chat ID must be provided",
    )
    admin.error(
        "imopenlines.session.history.get",
        {"CHAT_ID": 987654},
        "INVALID_SESSION_ID",
        "Unable to determine session ID from provided parameters",
    )
    admin.error(
        "imopenlines.session.history.get",
        {"CHAT_ID": "chat5"},
        "INVALID_SESSION_ID",
        "Unable to determine session ID from provided parameters",
    )
    admin.error("imopenlines.session.history.get", {"SESSION_ID": 987654}, "ACCESS_DENIED", OPEN_DENIED)
    op4.error("imopenlines.session.history.get", {"SESSION_ID": d.session_id}, "ACCESS_DENIED", OPEN_DENIED)
