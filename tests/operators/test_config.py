"""imopenlines.config.* over HTTP: shapes, the INVALID_FORMAT validation, CONFIG_ID_EMPTY, 403s."""

from __future__ import annotations

from typing import Any

import pytest

from tests.operators.conftest import Rest

INVALID = "INVALID_FORMAT"


def test_list_get_shows_every_line_with_string_values_and_no_paging(admin: Rest) -> None:
    answer = admin.raw("imopenlines.config.list.get")
    body = answer.json()
    assert "total" not in body and "next" not in body
    lines = {line["ID"]: line for line in body["result"]}
    assert lines["1"]["LINE_NAME"] == "Support" and lines["1"]["QUEUE_TYPE"] == "evenly"
    assert lines["2"]["QUEUE_TYPE"] == "strictly" and lines["2"]["ACTIVE"] == "Y"
    assert lines["1"]["QUEUE_TIME"] == "60" and lines["1"]["WELCOME_BOT_ENABLE"] == "N"
    assert "QUEUE" not in lines["1"]


def test_list_get_select_order_filter_limit_offset(admin: Rest) -> None:
    params = {"select": ["ID", "LINE_NAME"], "order": {"ID": "desc"}, "filter": {"<=ID": 2}}
    rows = admin.ok("imopenlines.config.list.get", {"PARAMS": params})
    assert rows == [{"ID": "2", "LINE_NAME": "Sales"}, {"ID": "1", "LINE_NAME": "Support"}]
    paged = admin.ok("imopenlines.config.list.get", {"PARAMS": {**params, "limit": 1, "offset": 1}})
    assert paged == [{"ID": "1", "LINE_NAME": "Support"}]
    by_name = admin.ok(
        "imopenlines.config.list.get", {"PARAMS": {"select": ["ID"], "filter": {"LINE_NAME": "Sales"}}}
    )
    assert by_name == [{"ID": "2"}]
    active = admin.ok(
        "imopenlines.config.list.get",
        {"PARAMS": {"select": ["ID"], "filter": {"ACTIVE": True, "ID": [1, 2]}}},
    )
    assert active == [{"ID": "1"}, {"ID": "2"}]
    other = admin.ok(
        "imopenlines.config.list.get", {"PARAMS": {"select": ["ID"], "filter": {"!ID": 1, "<=ID": 2}}}
    )
    assert other == [{"ID": "2"}]


def test_list_get_queue_options(admin: Rest) -> None:
    rows = admin.ok(
        "imopenlines.config.list.get",
        {"PARAMS": {"select": ["ID"], "filter": {"ID": 2}}, "OPTIONS": {"QUEUE": "Y", "CONFIG_QUEUE": "Y"}},
    )
    assert rows[0]["QUEUE"] == ["4", "3"]
    assert rows[0]["QUEUE_USERS_FIELDS"]["4"]["USER_NAME"] == "Sara Sales"
    assert rows[0]["CONFIG_QUEUE"] == [
        {"ENTITY_ID": "4", "ENTITY_TYPE": "user"},
        {"ENTITY_ID": "3", "ENTITY_TYPE": "user"},
    ]


def test_list_get_check_permission_limits_an_operator_to_the_lines_of_its_queues(
    op4: Rest, admin: Rest
) -> None:
    mine = op4.ok(
        "imopenlines.config.list.get", {"PARAMS": {"select": ["ID"]}, "OPTIONS": {"CHECK_PERMISSION": "view"}}
    )
    assert {"ID": "2"} in mine and {"ID": "1"} not in mine
    everything = admin.ok("imopenlines.config.list.get", {"OPTIONS": {"CHECK_PERMISSION": "modify"}})
    assert {row["ID"] for row in everything} >= {"1", "2"}


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"PARAMS": {"select": 5}}, "A wrong format for the PARAMS field 'select' is passed"),
        ({"PARAMS": {"order": 5}}, "A wrong format for the PARAMS field 'order' is passed"),
        ({"PARAMS": {"filter": "ID"}}, "A wrong format for the PARAMS field 'filter' is passed"),
        ({"PARAMS": {"group": ["ID"]}}, "Unsupported PARAMS fields are passed: group"),
        ({"PARAMS": {"limit": -1}}, "A non-negative integer is expected in the PARAMS field 'limit'"),
        ({"PARAMS": {"limit": "ten"}}, "A non-negative integer is expected in the PARAMS field 'limit'"),
        ({"PARAMS": {"offset": [1]}}, "A non-negative integer is expected in the PARAMS field 'offset'"),
        ({"PARAMS": {"select": ["NOPE"]}}, "An unknown field 'NOPE' is passed in the PARAMS field 'select'"),
        (
            {"PARAMS": {"select": ["QUEUE"]}},
            "An unknown field 'QUEUE' is passed in the PARAMS field 'select'",
        ),
        ({"PARAMS": {"select": [["ID"]]}}, "A wrong field name is passed in the PARAMS field 'select'"),
        (
            {"PARAMS": {"select": {"1x": "ID"}}},
            "A wrong field alias '1x' is passed in the PARAMS field 'select'",
        ),
        (
            {"PARAMS": {"select": {"LINE_NAME": "ID"}}},
            "The alias 'LINE_NAME' matches an existing field in the PARAMS field 'select'",
        ),
        (
            {"PARAMS": {"order": {"ID": "up"}}},
            "A wrong sorting direction is passed in the PARAMS field 'order'",
        ),
        (
            {"PARAMS": {"order": {"CONFIG_QUEUE": "ASC"}}},
            "An unknown field 'CONFIG_QUEUE' is passed in the PARAMS field 'order'",
        ),
        (
            {"PARAMS": {"filter": {"QUEUE": 2}}},
            "An unknown field 'QUEUE' is passed in the PARAMS field 'filter'",
        ),
        ({"OPTIONS": {"SORT": "Y"}}, "Unsupported OPTIONS fields are passed: SORT"),
        ({"OPTIONS": {"QUEUE": "maybe"}}, "A wrong format for the OPTIONS field 'QUEUE' is passed"),
        (
            {"OPTIONS": {"CONFIG_QUEUE": ["Y"]}},
            "A wrong format for the OPTIONS field 'CONFIG_QUEUE' is passed",
        ),
        (
            {"OPTIONS": {"CHECK_PERMISSION": "fly"}},
            "An unknown value for the OPTIONS field 'CHECK_PERMISSION' is passed",
        ),
        ({"PARAMS": "select"}, "A wrong format for the field 'PARAMS' is passed"),
    ],
)
def test_list_get_invalid_format(admin: Rest, params: dict[str, Any], text: str) -> None:
    admin.error("imopenlines.config.list.get", params, INVALID, text)


@pytest.mark.parametrize(
    "params", [{}, {"CONFIG_ID": 0}, {"CONFIG_ID": "abc"}, {"config_id": 1}, {"CONFIG_ID": -3}]
)
def test_get_without_a_config_id_is_config_id_empty(admin: Rest, params: dict[str, Any]) -> None:
    admin.error("imopenlines.config.get", params, "CONFIG_ID_EMPTY", "Config ID can't be empty")


def test_get_a_non_scalar_config_id_is_an_argument_error(admin: Rest) -> None:
    body = admin.error("imopenlines.config.get", {"CONFIG_ID": {"a": 1}}, "ERROR_ARGUMENT")
    assert body["argument"] == "CONFIG_ID"


def test_get_a_line_with_and_without_queue(admin: Rest, op2: Rest) -> None:
    line = op2.ok("imopenlines.config.get", {"CONFIG_ID": "1"})
    assert line["ID"] == "1" and line["QUEUE"] == ["2", "3"]
    assert line["QUEUE_FULL"]["2"]["USER_ID"] == "2" and line["QUEUE_ONLINE"] == ["2", "3"]
    bare = admin.ok("imopenlines.config.get", {"CONFIG_ID": 1, "WITH_QUEUE": "N"})
    assert "QUEUE" not in bare and bare["LINE_NAME"] == "Support"
    assert admin.ok("imopenlines.config.get", {"CONFIG_ID": 99999}) is False


def test_add_update_delete_round_trip(admin: Rest) -> None:
    line_id = admin.ok(
        "imopenlines.config.add",
        {
            "PARAMS": {
                "LINE_NAME": "Billing",
                "QUEUE": [{"ENTITY_TYPE": "user", "ENTITY_ID": 2}, "3"],
                "QUEUE_TYPE": "all",
                "QUEUE_TIME": "120",
                "MAX_CHAT": 5,
                "CHECK_AVAILABLE": "Y",
                "WELCOME_BOT_JOIN": "first",
                "UNKNOWN_SETTING": "ignored",
            }
        },
    )
    assert isinstance(line_id, int) and line_id > 2
    line = admin.ok("imopenlines.config.get", {"CONFIG_ID": line_id})
    assert (line["LINE_NAME"], line["QUEUE_TYPE"], line["QUEUE_TIME"], line["MAX_CHAT"]) == (
        "Billing",
        "all",
        "120",
        "5",
    )
    assert (line["CHECK_AVAILABLE"], line["WELCOME_BOT_JOIN"], line["QUEUE"]) == ("Y", "first", ["2", "3"])
    assert "UNKNOWN_SETTING" not in line and line["MODIFY_USER_ID"] == "1"

    assert (
        admin.ok("imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": {"ACTIVE": "N", "QUEUE": [4]}})
        is True
    )
    line = admin.ok("imopenlines.config.get", {"CONFIG_ID": line_id})
    assert (line["ACTIVE"], line["QUEUE"], line["QUEUE_TYPE"]) == ("N", ["4"], "all")

    assert admin.ok("imopenlines.config.delete", {"CONFIG_ID": line_id}) is True
    assert admin.ok("imopenlines.config.get", {"CONFIG_ID": line_id}) is False
    assert admin.ok("imopenlines.config.delete", {"CONFIG_ID": line_id}) is False
    assert admin.ok("imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": {"ACTIVE": "Y"}}) is False


def test_add_without_params_uses_the_defaults(admin: Rest) -> None:
    line_id = admin.ok("imopenlines.config.add")
    line = admin.ok("imopenlines.config.get", {"CONFIG_ID": line_id})
    assert line["LINE_NAME"] == f"Open line {line_id}" and line["ACTIVE"] == "Y" and line["QUEUE"] == []
    assert line["WELCOME_BOT_JOIN"] == "always" and line["TYPE_MAX_CHAT"] == "answered"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"QUEUE_TYPE": "random"}, "'QUEUE_TYPE'"),
        ({"QUEUE_TIME": -5}, "'QUEUE_TIME'"),
        ({"MAX_CHAT": "many"}, "'MAX_CHAT'"),
        ({"ACTIVE": "yes"}, "'ACTIVE'"),
        ({"WELCOME_BOT_LEFT": "never"}, "'WELCOME_BOT_LEFT'"),
        ({"TYPE_MAX_CHAT": "all"}, "'TYPE_MAX_CHAT'"),
        ({"LINE_NAME": ["x"]}, "'LINE_NAME'"),
        ({"QUEUE": "2,3"}, "'QUEUE'"),
        ({"QUEUE": [{"ENTITY_TYPE": "department", "ENTITY_ID": 1}]}, "'QUEUE'"),
        ({"QUEUE": [5]}, "The user 5 in the PARAMS field 'QUEUE'"),
        ({"QUEUE": [424242]}, "The user 424242 in the PARAMS field 'QUEUE'"),
        ({"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": 2}, "'WELCOME_BOT_ID'"),
        ({"WELCOME_BOT_ENABLE": "Y"}, "'WELCOME_BOT_ID'"),
    ],
)
def test_add_and_update_validate_values(admin: Rest, params: dict[str, Any], fragment: str) -> None:
    before = admin.ok("imopenlines.config.get", {"CONFIG_ID": 1})
    for method, extra in (("imopenlines.config.add", {}), ("imopenlines.config.update", {"CONFIG_ID": 1})):
        body = admin.error(method, {**extra, "PARAMS": params}, INVALID)
        assert fragment in body["error_description"]
    after = admin.ok("imopenlines.config.get", {"CONFIG_ID": 1})
    assert after == before


@pytest.mark.parametrize("method", ["imopenlines.config.update", "imopenlines.config.delete"])
def test_change_checks_config_id_then_permission(op2: Rest, method: str) -> None:
    op2.error(method, {"PARAMS": {"ACTIVE": "N"}}, "CONFIG_ID_EMPTY", "Config ID can't be empty")
    op2.error(
        method,
        {"CONFIG_ID": 1, "PARAMS": {"ACTIVE": "N"}},
        "CONFIG_WRONG_USER_PERMISSION",
        "Permission denied",
        403,
    )


def test_add_needs_an_administrator(op2: Rest, admin: Rest) -> None:
    count = len(admin.ok("imopenlines.config.list.get"))
    op2.error(
        "imopenlines.config.add",
        {"PARAMS": {"LINE_NAME": "x"}},
        "CONFIG_WRONG_USER_PERMISSION",
        "Permission denied",
        403,
    )
    assert len(admin.ok("imopenlines.config.list.get")) == count


def test_path_and_revision(admin: Rest, op3: Rest) -> None:
    path = op3.ok("imopenlines.config.path.get")
    assert path["PUBLIC_PATH"] == "/contact_center/" and path["SERVER_ADDRESS"].startswith(
        "http://127.0.0.1:"
    )
    assert admin.ok("imopenlines.revision.get") == {"rest": 2, "web": 1, "mobile": 1}


def test_bracket_form_parameters(admin: Rest) -> None:
    answer = admin.client.post(
        admin.hook + "imopenlines.config.list.get",
        content="PARAMS[select][]=ID&PARAMS[select][]=LINE_NAME&PARAMS[filter][ID]=2&PARAMS[limit]=5&OPTIONS[QUEUE]=Y",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    row = answer.json()["result"][0]
    assert (row["ID"], row["LINE_NAME"], row["QUEUE"]) == ("2", "Sales", ["4", "3"])
    query = admin.client.get(admin.hook + "imopenlines.config.get?CONFIG_ID=2&WITH_QUEUE=N")
    assert query.json()["result"]["LINE_NAME"] == "Sales" and "QUEUE" not in query.json()["result"]
