"""``--limits``: the cloud's request-rate bucket (503) and method operating time (429), driven by the
fake clock and by DELAY faults, which move it."""

from __future__ import annotations

import math

import httpx
import pytest

from tests.conftest import DEMO_CLIENT_ID, DEMO_HOOK, ServerProcess, oauth_tokens, run_cli, start_server
from tests.dropin.conftest import Api

TOO_MANY = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
BLOCKED = {
    "error": "OPERATION_TIME_LIMIT",
    "error_description": "Method is blocked due to operation time limit.",
}


def statuses(api: Api, method: str, times: int) -> list[int]:
    return [api.post(method).status_code for _ in range(times)]


def test_a_burst_of_50_then_503_until_the_bucket_drains(cloud: Api) -> None:
    assert statuses(cloud, "server.time", 50) == [200] * 50
    refused = cloud.post("server.time")
    assert refused.status_code == 503 and refused.json() == TOO_MANY  # no time block on errors
    assert refused.headers["content-type"] == "application/json; charset=utf-8"
    assert cloud.post("user.current").status_code == 503  # the bucket is per portal and IP, not method
    cloud.advance(1)  # openlines.* control methods are never limited; 1 s drains 2 requests
    assert statuses(cloud, "server.time", 3) == [200, 200, 503]
    cloud.advance(25)
    assert statuses(cloud, "server.time", 51) == [200] * 50 + [503]


def test_a_batch_counts_as_one_request(cloud: Api) -> None:
    commands = {f"c{i}": "server.time" for i in range(50)}
    answer = cloud.post("batch", {"cmd": commands})
    assert answer.status_code == 200 and len(answer.json()["result"]["result"]) == 50
    assert statuses(cloud, "server.time", 50) == [200] * 49 + [503]


def test_operating_time_blocks_the_method_for_that_webhook_until_the_window_passes(cloud: Api) -> None:
    quick = cloud.post("user.current").json()["time"]
    assert quick["operating"] == 0  # calls under 0.1 s are not counted
    cloud.ok("openlines.fault.add", {"METHOD": "user.current", "DELAY": 250, "COUNT": 2})
    first_start = cloud.now()
    first = cloud.post("user.current").json()["time"]
    assert math.isclose(first["operating"], 250, abs_tol=1)
    assert first["operating_reset_at"] == math.ceil(first_start + 250 + 600)
    assert isinstance(first["operating_reset_at"], int)
    second = cloud.post("user.current")  # the call that crosses 480 s still completes
    assert second.status_code == 200 and math.isclose(second.json()["time"]["operating"], 500, abs_tol=1)
    blocked = cloud.post("user.current")
    assert blocked.status_code == 429 and blocked.json() == BLOCKED
    assert cloud.post("server.time").status_code == 200  # only that method is blocked
    inside = cloud.ok("batch", {"cmd": {"me": "user.current", "now": "server.time"}})
    assert inside["result_error"]["me"]["error"] == "OPERATION_TIME_LIMIT" and "now" in inside["result"]
    # another caller (the OAuth app) has its own account
    with httpx.Client(base_url=cloud.http.base_url) as http:
        token = oauth_tokens(http, DEMO_CLIENT_ID)["access_token"]
        assert http.post("/rest/user.current", json={"auth": token}).status_code == 200
    # the oldest minute bucket expires first: 250 s remain, under the limit, so the block lifts
    cloud.advance(first["operating_reset_at"] - cloud.now())
    again = cloud.post("user.current").json()["time"]
    assert math.isclose(again["operating"], 250, abs_tol=1)
    assert again["operating_reset_at"] == math.ceil(first_start + 500 + 600)
    cloud.advance(again["operating_reset_at"] - cloud.now())
    assert cloud.post("user.current").json()["time"]["operating"] == 0


def test_batch_sub_calls_are_metered_each_against_its_own_method(cloud: Api) -> None:
    cloud.ok("openlines.fault.add", {"METHOD": "user.get", "DELAY": 200, "COUNT": 3})
    commands = {"a": "user.get", "b": "user.get", "c": "user.get", "d": "user.get"}
    answer = cloud.ok("batch", {"cmd": commands})
    assert set(answer["result"]) == {"a", "b", "c"}  # 600 s after three: the fourth is refused
    assert answer["result_error"]["d"]["error"] == "OPERATION_TIME_LIMIT"
    assert cloud.post("user.get").status_code == 429
    batch_time = cloud.post("batch", {"cmd": {"t": "server.time"}}).json()["time"]
    assert batch_time["operating"] == 0  # batch itself is not metered


def test_enterprise_preset_and_per_client_counting(tmp_path_factory: pytest.TempPathFactory) -> None:
    proc = start_server(tmp_path_factory, "enterprise", "--demo", "--fake-clock", "--limits", "enterprise")
    try:
        with proc.client() as http:
            codes = [http.post(f"{DEMO_HOOK}server.time").status_code for _ in range(251)]
            assert codes == [200] * 250 + [503]
    finally:
        proc.stop()
    custom = start_server(
        tmp_path_factory,
        "per-client",
        "--demo",
        "--fake-clock",
        OPENLINES_LIMITS_RATE_DRAIN="0.001",
        OPENLINES_LIMITS_RATE_BURST="3",
        OPENLINES_LIMITS_RATE_KEY="client",
    )
    try:
        with custom.client() as http:
            codes = [http.post(f"{DEMO_HOOK}server.time").status_code for _ in range(4)]
            assert codes == [200, 200, 200, 503]
            token = oauth_tokens(http)["access_token"]  # the app has a bucket of its own
            assert http.post("/rest/server.time", json={"auth": token}).status_code == 200
            body = http.post(f"{DEMO_HOOK}user.current").json()
            assert body == TOO_MANY
    finally:
        custom.stop()


def test_limits_are_off_by_default(server: ServerProcess) -> None:
    with server.client() as http:
        codes = {http.post(f"{DEMO_HOOK}server.time").status_code for _ in range(60)}
    assert codes == {200}


def test_bad_limits_settings_are_refused() -> None:
    answer = run_cli("serve", "--limits", "fast", "--db", ":memory:")
    assert answer.returncode == 2 and "--limits must be one of off, cloud, enterprise" in answer.stderr
    answer = run_cli("serve", "--db", ":memory:", env={"OPENLINES_LIMITS_RATE_BURST": "many"})
    assert answer.returncode != 0 and "OPENLINES_LIMITS_RATE_BURST" in answer.stdout + answer.stderr


def test_a_failed_slow_sub_call_charges_nothing_to_the_next(cloud: Api) -> None:
    fault = {"METHOD": "user.current", "DELAY": 300, "ERROR": "QUERY_LIMIT_EXCEEDED", "COUNT": 2}
    cloud.ok("openlines.fault.add", fault)
    commands = {"a": "user.current", "b": "server.time", "c": "user.current", "d": "server.time"}
    answer = cloud.ok("batch", {"cmd": commands})
    assert set(answer["result_error"]) == {"a", "c"} and set(answer["result"]) == {"b", "d"}
    assert cloud.post("server.time").json()["time"]["operating"] == 0  # 600 s of delays were not its time


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    proc = start_server(
        tmp_path_factory,
        "proxied",
        "--demo",
        "--fake-clock",
        OPENLINES_TRUST_FORWARDED="true",
        OPENLINES_LIMITS_RATE_DRAIN="1",
        OPENLINES_LIMITS_RATE_BURST="2",
    )
    try:
        with proc.client() as http:

            def status(ip: str) -> int:
                headers = {"X-Forwarded-For": f"{ip}, 10.0.0.1"}
                return http.post(f"{DEMO_HOOK}server.time", headers=headers).status_code

            assert [status("203.0.113.7") for _ in range(3)] == [200, 200, 503]
            assert status("198.51.100.2") == 200
    finally:
        proc.stop()


def test_a_real_time_bucket_ignores_the_fake_clock(tmp_path_factory: pytest.TempPathFactory) -> None:
    proc = start_server(
        tmp_path_factory,
        "real-time-bucket",
        "--demo",
        "--fake-clock",
        "--limits",
        "cloud",
        OPENLINES_LIMITS_RATE_CLOCK="real",
        OPENLINES_LIMITS_RATE_DRAIN="0.001",
        OPENLINES_LIMITS_RATE_BURST="2",
    )
    try:
        with proc.client() as http:
            api = Api(http)
            assert statuses(api, "server.time", 3) == [200, 200, 503]
            api.advance(3600)  # drains a server-clock bucket at once; this one drains in real time only
            assert statuses(api, "server.time", 1) == [503]
    finally:
        proc.stop()
