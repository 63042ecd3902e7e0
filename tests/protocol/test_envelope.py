"""Envelopes and errors: what every answer looks like on the wire, and every system error's code,
text and HTTP status."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from openlines.auth.caller import Caller
from openlines.methods.invoke import check_access
from openlines.methods.registry import Call, Method
from openlines.protocol import errors
from openlines.protocol.envelope import php_json, php_shape
from openlines.protocol.errors import RestError
from openlines.protocol.rest import error_for
from openlines.store.base import StoreUnavailable
from tests.conftest import DEMO_HOOK, IMBOT_ONLY_HOOK, SPECIAL_NAME, SPECIAL_USER_ID, USER_ONLY_HOOK

TIME_KEYS = ["start", "finish", "duration", "processing", "date_start", "date_finish", "operating"]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "origin, content-type, accept",
    "x-content-type-options": "nosniff",
}


def assert_wire_headers(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    for name, value in CORS.items():
        assert response.headers[name] == value


def assert_error(response: httpx.Response, status: int, code: str, text: str, **extra: Any) -> None:
    assert_wire_headers(response)
    assert response.status_code == status, response.text
    assert response.json() == {"error": code, "error_description": text, **extra}


# --- success ---------------------------------------------------------------------------------------


def test_success_envelope_has_result_and_a_full_time_block(client: httpx.Client) -> None:
    response = client.get(DEMO_HOOK + "server.time")
    assert response.status_code == 200
    assert_wire_headers(response)
    body = response.json()
    assert list(body) == ["result", "time"]
    time = body["time"]
    assert list(time) == TIME_KEYS
    for key in ("start", "finish", "duration", "processing", "operating"):
        assert isinstance(time[key], (int, float)) and not isinstance(time[key], bool)
    assert time["finish"] >= time["start"]
    assert time["duration"] == pytest.approx(time["finish"] - time["start"], abs=1e-5)
    assert ISO.match(time["date_start"]) and ISO.match(time["date_finish"])
    assert ISO.match(body["result"])
    assert datetime.fromisoformat(time["date_start"]).timestamp() == pytest.approx(time["start"], abs=1)


def test_list_methods_lift_total_and_next_to_the_top_level(client: httpx.Client) -> None:
    body = client.get(DEMO_HOOK + "user.get").json()
    assert list(body) == ["result", "next", "total", "time"]
    assert isinstance(body["result"], list) and len(body["result"]) == 50
    assert (body["next"], type(body["total"])) == (50, int)


def test_empty_results_are_json_arrays(client: httpx.Client) -> None:
    response = client.get(DEMO_HOOK + "user.get", params={"FILTER[NAME]": "nobody-has-this-name"})
    assert response.content.startswith(b'{"result":[],')
    assert response.json()["total"] == 0
    batch = client.post(DEMO_HOOK + "batch", json={"cmd": {"a": "server.time"}}).json()["result"]
    assert batch["result_error"] == [] and batch["result_total"] == [] and batch["result_next"] == []


def test_strings_are_escaped_like_php_json_encode(client: httpx.Client) -> None:
    response = client.get(DEMO_HOOK + "user.get", params={"FILTER[ID]": str(SPECIAL_USER_ID)})
    assert response.json()["result"][0]["NAME"] == SPECIAL_NAME
    raw = response.content
    assert b'"NAME":"\\u003Cb\\u003ETom \\u0026 \\u0022Jerry\\u0027s\\u0022\\u003C\\/b\\u003E a\\/b"' in raw
    for char in (b"<", b">", b"&", b"'"):
        assert char not in raw


def test_php_json_unit() -> None:
    assert php_json({"a": "<>&'\"/é\\"}) == b'{"a":"\\u003C\\u003E\\u0026\\u0027\\u0022\\/\xc3\xa9\\\\"}'
    assert php_json({"k\\": '\\"'}) == b'{"k\\\\":"\\\\\\u0022"}'
    assert php_shape({}) == []
    assert php_shape({"0": "a", "1": "b"}) == ["a", "b"]
    assert php_shape({"1": "a", "0": "b"}) == {"1": "a", "0": "b"}
    assert php_shape({"x": 1}) == {"x": 1}


def test_cors_preflight(client: httpx.Client) -> None:
    response = client.options(DEMO_HOOK + "user.current")
    assert response.status_code == 200
    assert_wire_headers(response)


# --- errors over HTTP ------------------------------------------------------------------------------


def test_error_envelope_has_no_time(client: httpx.Client) -> None:
    response = client.get("/rest/no.such.method")
    assert_error(response, 404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
    assert "time" not in response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/rest/no.such.method",
        "/rest/1/wrong_code/no.such.method",
        "/rest/9/demo_webhook_code/no.such.method.json",
        "/rest/too/many/parts/here",
        "/rest/1/code",
        "/rest/",
        "/restaurant",
    ],
)
def test_unknown_method_is_404_before_authentication(client: httpx.Client, path: str) -> None:
    assert_error(client.post(path), 404, "ERROR_METHOD_NOT_FOUND", "Method not found!")


def test_no_credentials(client: httpx.Client) -> None:
    assert_error(client.get("/rest/user.current"), 401, "NO_AUTH_FOUND", "Wrong authorization data")


@pytest.mark.parametrize(
    "path", ["/rest/1/wrong_code/user.current", "/rest/2/demo_webhook_code/user.current"]
)
def test_wrong_webhook_code_or_user(client: httpx.Client, path: str) -> None:
    assert_error(client.get(path), 401, "INVALID_CREDENTIALS", "Invalid request credentials")


def test_webhook_without_the_scope(client: httpx.Client) -> None:
    assert_error(
        client.get(IMBOT_ONLY_HOOK + "user.current"),
        401,
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
    )


def test_unknown_token(client: httpx.Client) -> None:
    for response in (
        client.get("/rest/user.current", params={"auth": "made-up"}),
        client.post("/rest/user.current", json={"access_token": "made-up"}),
        client.get("/rest/user.current", headers={"Authorization": "Bearer made-up"}),
    ):
        assert_error(response, 401, "invalid_token", "Unable to get application by token")


@pytest.mark.parametrize(
    ("kwargs", "sessid"),
    [({"params": {"sessid": "abc123"}}, "abc123"), ({"headers": {"X-Bitrix-Csrf-Token": "tok9"}}, "tok9")],
)
def test_browser_session_cannot_be_verified(
    client: httpx.Client, kwargs: dict[str, Any], sessid: str
) -> None:
    response = client.get("/rest/user.current", **kwargs)
    assert_error(
        response,
        401,
        "access_denied",
        "User not authorized",
        sessid=sessid,
        extended_error="user_not_authorized",
    )


def test_admin_only_method_refuses_other_users(client: httpx.Client) -> None:
    assert_error(
        client.get(USER_ONLY_HOOK + "openlines.clock.get"),
        403,
        "ACCESS_DENIED",
        "Access denied! Only a portal administrator may call this method.",
    )


def test_xml_transport_is_a_clear_400(client: httpx.Client) -> None:
    assert_error(
        client.get(DEMO_HOOK + "user.current.xml"),
        400,
        "INTERNAL_WRONG_TRANSPORT",
        "Wrong transport! openlines serves the JSON transport only",
    )


def test_argument_error_names_the_argument(client: httpx.Client) -> None:
    response = client.post(DEMO_HOOK + "openlines.clock.advance", data={"SECONDS": "soon"})
    assert_error(response, 400, "ERROR_ARGUMENT", "SECONDS must be a number of seconds", argument="SECONDS")


def test_body_over_the_limit_is_413(strict_server: Any) -> None:
    with strict_server.client() as client:
        big = {"FILTER[NAME]": "x" * 4096}
        response = client.post("/rest/user.get", data=big)
        assert_error(
            response,
            413,
            "REQUEST_ENTITY_TOO_LARGE",
            "Request body is larger than the server limit of 2048 bytes",
        )

        def chunks() -> Any:  # no Content-Length: the limit holds while reading
            for _ in range(8):
                yield b"a" * 1024

        response = client.post("/rest/user.get", content=chunks(), headers={"Content-Type": "text/plain"})
        assert response.status_code == 413
        assert response.json()["error"] == "REQUEST_ENTITY_TOO_LARGE"
        small = client.post("/rest/1/demo_webhook_code/user.get", data={"x": "y" * 1000})
        assert small.status_code == 401  # under the limit it reaches authentication (https required)


def test_require_https_refuses_webhooks_over_http(strict_server: Any) -> None:
    with strict_server.client() as client:
        assert_error(client.get(DEMO_HOOK + "user.current"), 401, "INVALID_REQUEST", "Https required.")


# --- every error the layer can raise: code, text, status -------------------------------------------

SYSTEM_ERRORS = [
    (errors.method_not_found(), "ERROR_METHOD_NOT_FOUND", "Method not found!", 404),
    (
        errors.batch_method_not_allowed(),
        "ERROR_BATCH_METHOD_NOT_ALLOWED",
        "Method is not allowed for batch usage",
        405,
    ),
    (errors.batch_length_exceeded(), "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400),
    (errors.no_auth_found(), "NO_AUTH_FOUND", "Wrong authorization data", 401),
    (errors.invalid_credentials(), "INVALID_CREDENTIALS", "Invalid request credentials", 401),
    (errors.https_required(), "INVALID_REQUEST", "Https required.", 401),
    (
        errors.webhook_insufficient_scope(),
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
        401,
    ),
    (
        errors.token_insufficient_scope(),
        "insufficient_scope",
        "The request requires higher privileges than provided by the access token",
        401,
    ),
    (errors.expired_token(), "expired_token", "The access token provided has expired", 401),
    (errors.invalid_token(), "invalid_token", "Unable to get application by token", 401),
    (errors.application_not_found(), "APPLICATION_NOT_FOUND", "Application not found", 401),
    (errors.authorization_error(), "authorization_error", "Unable to authorize user", 401),
    (
        errors.session_auth_forbidden(),
        "WRONG_AUTH_TYPE",
        "Access for this method not allowed by session authorization.",
        403,
    ),
    (
        errors.application_context_required(),
        "WRONG_AUTH_TYPE",
        "Current authorization type is denied for this method Application context required",
        403,
    ),
    (errors.access_denied(), "ACCESS_DENIED", "Access denied!", 403),
    (errors.query_limit_exceeded(), "QUERY_LIMIT_EXCEEDED", "Too many requests", 503),
    (
        errors.operation_time_limit(),
        "OPERATION_TIME_LIMIT",
        "Method is blocked due to operation time limit.",
        429,
    ),
    (errors.internal_error(), "INTERNAL_SERVER_ERROR", "Internal server error", 500),
]


@pytest.mark.parametrize(
    ("error", "code", "text", "status"), SYSTEM_ERRORS, ids=[e[1] for e in SYSTEM_ERRORS]
)
def test_system_error_code_text_status(error: RestError, code: str, text: str, status: int) -> None:
    assert (error.code, error.description, error.status) == (code, text, status)
    assert error.body() == {"error": code, "error_description": text}


def test_failures_map_to_errors_without_leaking_internals() -> None:
    assert error_for(errors.no_auth_found()).code == "NO_AUTH_FOUND"
    unavailable = error_for(StoreUnavailable("disk gone"))
    assert (unavailable.code, unavailable.status) == ("SERVICE_UNAVAILABLE", 503)
    bug = error_for(ZeroDivisionError("secret detail"))
    assert bug.body() == {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}


async def _noop(call: Call) -> None:
    return None


def test_auth_type_checks() -> None:
    session = Caller(0, "sessionauth", frozenset(), token="sid")
    webhook = Caller(1, "apauth", frozenset({"imopenlines"}), webhook_id=1)
    app = Caller(1, "oauth", frozenset({"imopenlines"}), client_id="app")
    no_sessions = Method("x.bot", "imopenlines", _noop, session_auth=False)
    apps_only = Method("x.connector", "imopenlines", _noop, app_context_only=True)
    with pytest.raises(RestError) as caught:
        check_access(no_sessions, session)
    assert (caught.value.code, caught.value.status) == ("WRONG_AUTH_TYPE", 403)
    with pytest.raises(RestError) as caught:
        check_access(apps_only, webhook)
    assert caught.value.description.endswith("Application context required")
    check_access(apps_only, app)  # an app may
    with pytest.raises(RestError) as caught:
        check_access(Method("x.crm", "crm", _noop), app)
    assert caught.value.description.endswith("provided by the access token")
