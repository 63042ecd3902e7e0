"""``batch``: references, halt, the 50-command limit, nesting, mixed errors, scopes, result shapes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_HOOK, EMPLOYEES, IMBOT_ONLY_HOOK

BATCH = DEMO_HOOK + "batch"
KEYS = ["result", "result_error", "result_total", "result_next", "result_time"]
SUB_TIME_KEYS = ["start", "finish", "duration", "processing", "date_start", "date_finish"]
NOT_FOUND = {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


def run(client: httpx.Client, url: str = BATCH, **kwargs: Any) -> dict[str, Any]:
    response = client.post(url, **kwargs)
    assert response.status_code == 200, response.text  # batch is HTTP 200 whatever its commands do
    body = response.json()
    assert list(body["result"]) == KEYS
    assert "time" in body
    result: dict[str, Any] = body["result"]
    return result


def test_results_keyed_like_cmd_with_full_time_blocks(client: httpx.Client) -> None:
    out = run(client, json={"cmd": {"now": "server.time", "me": "user.current"}})
    assert set(out["result"]) == {"now", "me"}
    assert out["result"]["me"]["ID"] == "1"
    assert out["result_error"] == []
    for key in ("now", "me"):
        assert list(out["result_time"][key]) == SUB_TIME_KEYS


def test_list_results_carry_total_and_next(client: httpx.Client) -> None:
    out = run(
        client, json={"cmd": {"page1": "user.get", "page2": "user.get?start=50", "one": "user.current"}}
    )
    assert len(out["result"]["page1"]) == 50
    assert len(out["result"]["page2"]) == EMPLOYEES - 50
    assert out["result_total"] == {"page1": EMPLOYEES, "page2": EMPLOYEES}
    assert out["result_next"] == {"page1": 50}


def test_whole_reference_substitutes_the_value(client: httpx.Client) -> None:
    cmd = {"a": "user.get?FILTER[ID]=3", "b": "user.get?FILTER[ID]=$result[a][0][ID]"}
    out = run(client, json={"cmd": cmd})
    assert [u["ID"] for u in out["result"]["b"]] == ["3"]


def test_reference_to_an_array_substitutes_the_array(client: httpx.Client) -> None:
    # the whole value is one reference to a map (user 4's fields), so FILTER becomes that map
    cmd = {"pick": "user.get?FILTER[ID]=4", "again": "user.get?FILTER=$result[pick][0]"}
    out = run(client, json={"cmd": cmd})
    assert [u["ID"] for u in out["result"]["again"]] == ["4"]
    # a missing key stops the descent: the reference then stands for what was found so far
    cmd = {"pick": "user.get?FILTER[ID]=4", "again": "user.get?FILTER=$result[pick][0][NOPE]"}
    assert [u["ID"] for u in run(client, json={"cmd": cmd})["result"]["again"]] == ["4"]


def test_embedded_references_become_text(client: httpx.Client) -> None:
    cmd = {
        "me": "user.current",
        "find": "user.search?FILTER[FIND]=$result[me][NAME] $result[me][LAST_NAME]",
        "first": "user.get",
        "page2": "user.get?start=$next[first]&ORDER=ASC",
    }
    out = run(client, json={"cmd": cmd})
    assert [u["ID"] for u in out["result"]["find"]] == ["1"]  # "Alex Admin"
    assert out["result"]["page2"][0]["ID"] != out["result"]["first"][0]["ID"]
    assert len(out["result"]["page2"]) == EMPLOYEES - 50
    # an embedded reference to a map cannot become text: it stays as written, so nothing matches
    cmd2 = {"me": "user.current", "x": "user.search?FILTER[FIND]=x$result[me]"}
    assert run(client, json={"cmd": cmd2})["result"]["x"] == []


def test_reference_to_a_failed_command(client: httpx.Client) -> None:
    cmd = {"bad": "no.such.method", "who": "user.search?FILTER[FIND]=$error[bad][error]"}
    out = run(client, json={"cmd": cmd})
    assert out["result_error"] == {"bad": NOT_FOUND}
    assert out["result"]["who"] == []


def test_errors_mixed_with_results(client: httpx.Client) -> None:
    cmd = {
        "a": "server.time",
        "b": "no.such.method",
        "c": "user.current",
        "d": "openlines.clock.advance?SECONDS=x",
    }
    out = run(client, json={"cmd": cmd, "halt": 0})
    assert set(out["result"]) == {"a", "c"}
    assert out["result_error"]["b"] == NOT_FOUND
    assert out["result_error"]["d"] == {
        "error": "ERROR_ARGUMENT",
        "error_description": "SECONDS must be a number of seconds",
    }
    assert set(out["result_time"]) == {"a", "c"}


HALTING = [True, 1, "1", "true", "Y", "false"]  # PHP truthiness: even the string "false" halts
NOT_HALTING = [False, 0, "0", "", None]


@pytest.mark.parametrize("halt", HALTING + NOT_HALTING, ids=repr)
def test_halt_follows_php_truthiness_in_json(client: httpx.Client, halt: Any) -> None:
    body: dict[str, Any] = {"cmd": {"a": "server.time", "b": "no.such.method", "c": "user.current"}}
    if halt is not None:
        body["halt"] = halt
    out = run(client, json=body)
    assert out["result_error"] == {"b": NOT_FOUND}
    if halt in HALTING and halt is not None:
        assert set(out["result"]) == {"a"}  # stopped after the first error; c appears nowhere
    else:
        assert set(out["result"]) == {"a", "c"}


@pytest.mark.parametrize(("halt", "stops"), [("1", True), ("0", False), ("", False)])
def test_halt_in_a_form(client: httpx.Client, halt: str, stops: bool) -> None:
    form = {"cmd[a]": "no.such.method", "cmd[b]": "server.time", "halt": halt}
    out = run(client, data=form)
    assert ("b" in (out["result"] or {})) is not stops


def test_cmd_as_a_json_list_gives_lists(client: httpx.Client) -> None:
    out = run(client, json={"halt": 0, "cmd": ["server.time", "user.current?x=1"]})
    assert isinstance(out["result"], list) and len(out["result"]) == 2
    assert out["result"][1]["ID"] == "1"
    assert isinstance(out["result_time"], list)


def test_list_keys_with_a_gap_stay_a_map(client: httpx.Client) -> None:
    out = run(client, json={"cmd": ["server.time", "no.such.method", "user.current"]})
    assert out["result"] == {"0": out["result"]["0"], "2": out["result"]["2"]}
    assert out["result_error"] == {"1": NOT_FOUND}


def test_cmd_as_a_form_with_encoded_queries(client: httpx.Client) -> None:
    body = "cmd%5Ba%5D=user.get%3FFILTER%255BID%255D%3D2&cmd%5Bb%5D=USER.CURRENT.json&halt=0"
    out = run(client, content=body.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert [u["ID"] for u in out["result"]["a"]] == ["2"]
    assert out["result"]["b"]["ID"] == "1"


def test_cmd_in_the_query_string(client: httpx.Client) -> None:
    out = run(client, params={"cmd[a]": "user.get?FILTER[ID]=4", "cmd[b]": "server.time"})
    assert [u["ID"] for u in out["result"]["a"]] == ["4"]


def test_fast_bitrix24_style_single_call(client: httpx.Client) -> None:
    cmd = {"order0000000000": "user.get?__order=order0000000000&FILTER[ID]=2&FILTER[ACTIVE]=True&"}
    out = run(client, json={"halt": 0, "cmd": cmd})
    assert [u["ID"] for u in out["result"]["order0000000000"]] == ["2"]


def test_at_most_50_commands(client: httpx.Client) -> None:
    cmd = {f"c{i}": "server.time" for i in range(1, 53)}
    out = run(client, json={"cmd": cmd})
    assert list(out["result"]) == [f"c{i}" for i in range(1, 51)]
    exceeded = {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}
    assert out["result_error"] == {"c51": exceeded, "c52": exceeded}
    halted = run(client, json={"cmd": cmd, "halt": True})
    assert len(halted["result"]) == 50
    assert halted["result_error"] == {"c51": exceeded}


def test_non_string_commands_are_skipped_but_counted(client: httpx.Client) -> None:
    cmd: dict[str, Any] = {"a": 5, "b": {"x": 1}, "c": "server.time"}
    out = run(client, json={"cmd": cmd})
    assert list(out["result"]) == ["c"]
    assert out["result_error"] == []
    many: dict[str, Any] = {f"n{i}": None for i in range(50)}
    many["late"] = "server.time"
    assert run(client, json={"cmd": many})["result_error"]["late"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


@pytest.mark.parametrize("inner", ["batch?cmd[x]=server.time", "BATCH", "batch.json", "download", "upload"])
def test_nested_batch_and_transfers_are_refused(client: httpx.Client, inner: str) -> None:
    out = run(client, json={"cmd": {"a": inner, "b": "server.time"}})
    assert out["result_error"] == {
        "a": {
            "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "error_description": "Method is not allowed for batch usage",
        }
    }
    assert list(out["result"]) == ["b"]


def test_every_command_is_checked_for_scope(client: httpx.Client) -> None:
    out = run(client, IMBOT_ONLY_HOOK + "batch", json={"cmd": {"t": "server.time", "u": "user.current"}})
    assert list(out["result"]) == ["t"]  # basic methods need no scope
    assert out["result_error"] == {
        "u": {
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the webhook token",
        }
    }


def test_empty_or_missing_cmd(client: httpx.Client) -> None:
    for body in ({}, {"cmd": {}}, {"cmd": "server.time"}):
        out = run(client, json=body)
        assert all(out[key] == [] for key in KEYS)


def test_batch_itself_needs_credentials(client: httpx.Client) -> None:
    response = client.post("/rest/batch", json={"cmd": {"a": "server.time"}})
    assert (response.status_code, response.json()["error"]) == (401, "NO_AUTH_FOUND")
