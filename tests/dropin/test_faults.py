"""``openlines.fault.add/list/clear`` over REST: each kind of fault, where it applies, who may use it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_HOOK, oauth_tokens, start_server
from tests.dropin.conftest import Api


def error_of(answer: httpx.Response) -> tuple[int, str, str]:
    body = answer.json()
    assert "time" not in body
    return answer.status_code, body.get("error", ""), body.get("error_description", "")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("QUERY_LIMIT_EXCEEDED", (503, "QUERY_LIMIT_EXCEEDED", "Too many requests")),
        (
            "OPERATION_TIME_LIMIT",
            (429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."),
        ),
        ("expired_token", (401, "expired_token", "The access token provided has expired")),
        ("INTERNAL_SERVER_ERROR", (500, "INTERNAL_SERVER_ERROR", "Internal server error")),
        ("OPERATOR_WRONG", (400, "OPERATOR_WRONG", "Injected fault: OPERATOR_WRONG")),  # not a system code
    ],
)
def test_error_faults_answer_the_real_status(faults: Api, code: str, expected: tuple[int, str, str]) -> None:
    faults.ok("openlines.fault.add", {"METHOD": "server.time", "ERROR": code})
    assert error_of(faults.post("server.time")) == expected
    assert faults.post("server.time").status_code == 200  # COUNT defaults to 1


def test_status_faults_and_overrides(faults: Api) -> None:
    faults.ok("openlines.fault.add", {"METHOD": "server.time", "STATUS": 503, "COUNT": 2})
    assert error_of(faults.post("server.time"))[:2] == (503, "SERVICE_UNAVAILABLE")
    assert error_of(faults.post("server.time"))[:2] == (503, "SERVICE_UNAVAILABLE")
    faults.ok("openlines.fault.add", {"METHOD": "server.time", "STATUS": 418})
    assert error_of(faults.post("server.time")) == (418, "INJECTED_FAULT", "Injected fault: HTTP 418")
    params = {"METHOD": "server.time", "ERROR": "CHAT_ID_EMPTY", "STATUS": 409, "DESCRIPTION": "nope"}
    faults.ok("openlines.fault.add", params)
    assert error_of(faults.post("server.time")) == (409, "CHAT_ID_EMPTY", "nope")


def test_a_delay_moves_the_fake_clock_and_the_call_succeeds(faults: Api) -> None:
    before = faults.now()
    faults.ok("openlines.fault.add", {"METHOD": "user.current", "DELAY": 90.5})
    assert faults.ok("user.current")["ID"] == "1"
    assert faults.now() == pytest.approx(before + 90.5)
    faults.ok("openlines.fault.add", {"METHOD": "user.current", "DELAY": 30, "ERROR": "QUERY_LIMIT_EXCEEDED"})
    assert faults.post("user.current").status_code == 503  # a slow failure
    assert faults.now() == pytest.approx(before + 120.5)
    faults.ok("openlines.fault.add", {"METHOD": "user.current", "DELAY": 0.05, "SLEEP": "Y"})
    assert faults.ok("user.current")["ID"] == "1"  # slept in real time: the fake clock stays
    assert faults.now() == pytest.approx(before + 120.5)


def test_probability_and_wildcard(faults: Api) -> None:
    faults.ok("openlines.fault.add", {"METHOD": "*", "STATUS": 500, "PROBABILITY": 0})
    assert {faults.post("server.time").status_code for _ in range(20)} == {200}
    faults.ok("openlines.fault.clear")
    fault = faults.ok("openlines.fault.add", {"METHOD": "*", "STATUS": 500, "PROBABILITY": 1})
    assert fault["COUNT"] is None and fault["PROBABILITY"] == 1
    assert faults.post("server.time").status_code == 500
    assert faults.post("user.current").status_code == 500
    listed = faults.post("openlines.fault.list").json()  # '*' spares the fault methods themselves
    assert listed["total"] == 1 and listed["result"][0]["HITS"] == 2
    faults.ok("openlines.fault.clear")
    faults.ok("openlines.fault.add", {"METHOD": "server.time", "STATUS": 500, "PROBABILITY": 0.5, "SEED": 7})
    first = [faults.post("server.time").status_code for _ in range(30)]
    faults.ok("openlines.fault.clear")
    faults.ok("openlines.fault.add", {"METHOD": "server.time", "STATUS": 500, "PROBABILITY": 0.5, "SEED": 7})
    again = [faults.post("server.time").status_code for _ in range(30)]
    assert first == again and set(first) == {200, 500}  # a seed makes a run reproducible


def test_faults_hit_each_batch_sub_call_and_the_batch_itself(faults: Api) -> None:
    faults.ok("openlines.fault.add", {"METHOD": "user.current", "ERROR": "QUERY_LIMIT_EXCEEDED"})
    inside = faults.ok(
        "batch", {"cmd": {"me": "user.current", "now": "server.time", "again": "user.current"}}
    )
    assert inside["result_error"]["me"] == {
        "error": "QUERY_LIMIT_EXCEEDED",
        "error_description": "Too many requests",
    }
    assert set(inside["result"]) == {"now", "again"}
    faults.ok("openlines.fault.add", {"METHOD": "batch", "ERROR": "QUERY_LIMIT_EXCEEDED"})
    assert faults.post("batch", {"cmd": {"now": "server.time"}}).status_code == 503


def test_faults_apply_after_authentication(faults: Api) -> None:
    faults.ok("openlines.fault.add", {"METHOD": "*", "STATUS": 500, "PROBABILITY": 1})
    bad = faults.http.post("/rest/1/wrong_code/server.time")
    assert error_of(bad)[:2] == (401, "INVALID_CREDENTIALS")
    assert faults.http.post(f"{DEMO_HOOK}no.such.method").status_code == 404


def test_only_an_administrator_may_inject(faults: Api) -> None:
    token = oauth_tokens(faults.http, user_id=2)["access_token"]  # operator 2 is no administrator
    answer = faults.http.post("/rest/openlines.fault.add", json={"auth": token, "METHOD": "*", "STATUS": 500})
    assert error_of(answer)[:2] == (403, "ACCESS_DENIED")
    assert faults.ok("openlines.fault.list") == []


@pytest.mark.parametrize(
    ("params", "argument"),
    [
        ({"STATUS": 500}, "METHOD"),
        ({"METHOD": "no.such.method", "STATUS": 500}, "METHOD"),
        ({"METHOD": "server.time"}, "ERROR"),
        ({"METHOD": "server.time", "STATUS": 200}, "STATUS"),
        ({"METHOD": "server.time", "STATUS": "abc"}, "STATUS"),
        ({"METHOD": "server.time", "STATUS": 500.5}, "STATUS"),
        ({"METHOD": "server.time", "DELAY": -1}, "DELAY"),
        ({"METHOD": "server.time", "DELAY": "nan"}, "DELAY"),
        ({"METHOD": "server.time", "STATUS": 500, "COUNT": 0}, "COUNT"),
        ({"METHOD": "server.time", "STATUS": 500, "COUNT": 2, "PROBABILITY": 0.5}, "COUNT"),
        ({"METHOD": "server.time", "STATUS": 500, "PROBABILITY": 2}, "PROBABILITY"),
        ({"METHOD": "server.time", "STATUS": 500, "TARGET": "smtp"}, "TARGET"),
        ({"METHOD": ["a"], "STATUS": 500}, "METHOD"),
    ],
)
def test_bad_fault_parameters(faults: Api, params: dict[str, Any], argument: str) -> None:
    answer = faults.post("openlines.fault.add", params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "ERROR_ARGUMENT" and answer.json()["argument"] == argument


def test_list_and_clear_by_id_and_target(faults: Api) -> None:
    a = faults.ok("openlines.fault.add", {"METHOD": "server.time", "STATUS": 500, "COUNT": 5})
    b = faults.ok("openlines.fault.add", {"METHOD": "ONIMBOTJOINCHAT", "TARGET": "delivery", "STATUS": 500})
    c = faults.ok("openlines.fault.add", {"METHOD": "user.current", "DELAY": 1})
    assert [f["ID"] for f in faults.ok("openlines.fault.list")] == [a["ID"], b["ID"], c["ID"]]
    assert b["TARGET"] == "delivery" and b["METHOD"] == "onimbotjoinchat"
    assert faults.ok("openlines.fault.clear", {"ID": a["ID"]}) == 1
    assert faults.ok("openlines.fault.clear", {"TARGET": "delivery"}) == 1
    assert [f["ID"] for f in faults.ok("openlines.fault.list")] == [c["ID"]]
    assert faults.post("openlines.fault.clear", {"TARGET": "x"}).status_code == 400
    assert faults.ok("openlines.fault.clear") == 1


def test_a_delay_on_the_real_clock_sleeps_and_leaves_the_clock_alone(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    proc = start_server(tmp_path_factory, "real-clock-faults", "--demo")
    try:
        with proc.client() as http:
            api = Api(http)
            api.ok("openlines.fault.add", {"METHOD": "server.time", "DELAY": 0.2, "ERROR": "OVERLOAD_LIMIT"})
            assert error_of(api.post("server.time")) == (
                503,
                "OVERLOAD_LIMIT",
                "REST API is blocked due to overload.",
            )
            assert api.ok("openlines.clock.get")["FAKE"] is False
    finally:
        proc.stop()
