"""The built-in OAuth server: consent, code exchange, refresh, errors, and expiry by moving the clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_HOOK,
    REDIRECT_CLIENT_ID,
    REDIRECT_CLIENT_SECRET,
    ServerProcess,
    oauth_tokens,
    start_server,
)

TOKEN_KEYS = {
    "access_token",
    "refresh_token",
    "expires",
    "expires_in",
    "scope",
    "domain",
    "server_endpoint",
    "client_endpoint",
    "member_id",
    "status",
    "user_id",
}


def consent(client: httpx.Client, state: str = "st4te", user_id: int = 2) -> dict[str, str]:
    """Grant the redirect app access and return the query it is redirected back with."""
    response = client.post(
        "/oauth/authorize/", data={"client_id": REDIRECT_CLIENT_ID, "state": state, "user_id": str(user_id)}
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("http", "127.0.0.1:9", "/callback")
    query = {k: v[0] for k, v in parse_qs(location.query, keep_blank_values=True).items()}
    assert query.pop("from") == "openlines"  # the app's own query survives
    return query


def exchange(client: httpx.Client, code: str, how: str = "get", **override: str) -> httpx.Response:
    params = {
        "grant_type": "authorization_code",
        "client_id": REDIRECT_CLIENT_ID,
        "client_secret": REDIRECT_CLIENT_SECRET,
        "code": code,
        **override,
    }
    if how == "get":
        return client.get("/oauth/token/", params=params)
    return client.post("/oauth/token/", data=params)


def refresh(client: httpx.Client, refresh_token: str, how: str = "get", **override: str) -> httpx.Response:
    params = {
        "grant_type": "refresh_token",
        "client_id": REDIRECT_CLIENT_ID,
        "client_secret": REDIRECT_CLIENT_SECRET,
        "refresh_token": refresh_token,
        **override,
    }
    if how == "get":
        return client.get("/oauth/token/", params=params)
    return client.post("/oauth/token/", data=params)


def me(client: httpx.Client, token: str, how: str = "auth") -> httpx.Response:
    if how == "auth":
        return client.get("/rest/user.current", params={"auth": token})
    if how == "access_token":
        return client.post("/rest/user.current.json", json={"access_token": token})
    return client.post("/rest/user.current", headers={"Authorization": f"Bearer {token}"})


def test_authorize_page_shows_the_app_and_users(client: httpx.Client) -> None:
    page = client.get("/oauth/authorize/", params={"client_id": REDIRECT_CLIENT_ID, "state": "abc"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'name="state" value="abc"' in page.text
    assert re.search(r'<option value="2" selected>Olga Operator', page.text)
    assert "Scopes: user" in page.text


def test_authorize_unknown_app(client: httpx.Client) -> None:
    page = client.get("/oauth/authorize/", params={"client_id": "no.such.app"})
    assert page.status_code == 401
    assert "Cannot authorize" in page.text


def test_authorize_redirects_with_code_and_portal_identity(
    client: httpx.Client, server: ServerProcess
) -> None:
    query = consent(client, state="xyz")
    assert set(query) == {"code", "state", "domain", "member_id", "scope", "server_domain"}
    assert query["state"] == "xyz"
    assert query["domain"] == f"127.0.0.1:{server.port}"
    assert query["scope"] == "user"
    assert re.fullmatch(r"[0-9a-f]{32}", query["member_id"])


@pytest.mark.parametrize("how", ["get", "post"])
def test_code_exchange_answers_the_bitrix_token_format(
    client: httpx.Client, server: ServerProcess, how: str
) -> None:
    code = consent(client)["code"]
    response = exchange(client, code, how)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    tokens = response.json()
    assert set(tokens) >= TOKEN_KEYS
    assert "time" not in tokens
    assert tokens["expires_in"] == 3600 and isinstance(tokens["expires"], int)
    assert tokens["client_endpoint"] == f"{server.url}/rest/"
    assert (tokens["status"], tokens["user_id"], tokens["scope"]) == ("L", 2, "user")
    assert tokens["access_token"] != tokens["refresh_token"]
    # a code works once
    again = exchange(client, code, how)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize("how", ["auth", "access_token", "bearer"])
def test_token_is_accepted_three_ways(client: httpx.Client, how: str) -> None:
    tokens = exchange(client, consent(client)["code"]).json()
    response = me(client, tokens["access_token"], how)
    assert response.status_code == 200
    assert response.json()["result"]["ID"] == "2"


def test_app_info_names_the_app(client: httpx.Client) -> None:
    tokens = exchange(client, consent(client)["code"]).json()
    info = client.get("/rest/app.info", params={"auth": tokens["access_token"]}).json()["result"]
    assert (info["CODE"], info["client_id"], info["user_id"]) == (REDIRECT_CLIENT_ID, REDIRECT_CLIENT_ID, 2)
    assert info["install"]["member_id"] == tokens["member_id"]


def test_the_token_carries_only_the_apps_scopes(client: httpx.Client) -> None:
    tokens = exchange(client, consent(client)["code"]).json()
    scopes = client.get("/rest/scope", params={"auth": tokens["access_token"]}).json()["result"]
    assert scopes == ["user"]


@pytest.mark.parametrize("how", ["get", "post"])
def test_refresh_gives_a_new_pair_and_the_refresh_token_works_once(client: httpx.Client, how: str) -> None:
    first = exchange(client, consent(client)["code"]).json()
    response = refresh(client, first["refresh_token"], how)
    assert response.status_code == 200
    second = response.json()
    assert set(second) >= TOKEN_KEYS
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert me(client, second["access_token"]).status_code == 200
    reused = refresh(client, first["refresh_token"], how)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert refresh(client, second["refresh_token"], how).status_code == 200


def test_token_endpoint_errors(client: httpx.Client) -> None:
    code = consent(client)["code"]
    cases = [
        (exchange(client, code, client_secret="wrong"), 401, "invalid_client"),
        (exchange(client, code, client_id="no.such.app"), 401, "invalid_client"),
        (
            exchange(client, code, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),
            400,
            "invalid_grant",
        ),
        (exchange(client, "not-a-code"), 400, "invalid_grant"),
        (exchange(client, ""), 400, "invalid_grant"),
        (refresh(client, "not-a-refresh-token"), 400, "invalid_grant"),
        (exchange(client, code, grant_type="password"), 400, "invalid_request"),
        (client.get("/oauth/token/"), 400, "invalid_request"),
    ]
    for response, status, error in cases:
        assert (response.status_code, response.json()["error"]) == (status, error), response.text
    # none of the failures above consumed the code (the app that owns it can still use it)
    assert exchange(client, code).status_code == 200


def test_token_endpoint_tolerates_doubled_slashes_and_extra_params(client: httpx.Client) -> None:
    first = exchange(client, consent(client)["code"]).json()
    url = str(client.base_url).rstrip("/") + "//oauth/token/"
    response = client.post(
        url,
        data={
            "grant_type": "refresh_token",
            "client_id": REDIRECT_CLIENT_ID,
            "client_secret": REDIRECT_CLIENT_SECRET,
            "refresh_token": first["refresh_token"],
            "bx24_request_id": "abc",
        },
    )
    assert response.status_code == 200, response.text


def test_webhook_is_not_an_oauth_token(client: httpx.Client) -> None:
    response = me(client, "demo_webhook_code")
    assert (response.status_code, response.json()["error"]) == (401, "invalid_token")
    assert client.get(DEMO_HOOK + "user.current").status_code == 200


# --- expiry by moving the fake clock ---------------------------------------------------------------


@pytest.fixture(scope="module")
def clock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own: these tests move its clock by hours and days."""
    proc = start_server(tmp_path_factory, "clock-server", "--demo", "--fake-clock")
    yield proc
    proc.stop()


def advance(client: httpx.Client, seconds: float) -> dict[str, Any]:
    response = client.post(DEMO_HOOK + "openlines.clock.advance", json={"SECONDS": seconds})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def test_access_token_expires_when_the_clock_passes_expiry(clock_server: ServerProcess) -> None:
    with clock_server.client() as client:
        tokens = oauth_tokens(client, user_id=3)
        now = client.post(DEMO_HOOK + "openlines.clock.get").json()["result"]["NOW"]
        assert tokens["expires"] == int(now) + 3600
        assert me(client, tokens["access_token"]).status_code == 200
        advance(client, tokens["expires"] - now - 1)  # one second before expiry: still good
        assert me(client, tokens["access_token"]).status_code == 200
        advance(client, 1)  # at expiry: gone
        for how in ("auth", "access_token", "bearer"):
            expired = me(client, tokens["access_token"], how)
            assert expired.status_code == 401
            assert expired.json() == {
                "error": "expired_token",
                "error_description": "The access token provided has expired",
            }
        # the way clients recover: refresh, retry with the new token
        renewed = client.get(
            "/oauth/token/",
            params={
                "grant_type": "refresh_token",
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "refresh_token": tokens["refresh_token"],
            },
        ).json()
        now = client.post(DEMO_HOOK + "openlines.clock.get").json()["result"]["NOW"]
        assert renewed["expires"] == int(now) + 3600
        assert me(client, renewed["access_token"]).json()["result"]["ID"] == "3"


def test_refresh_token_lives_180_days(clock_server: ServerProcess) -> None:
    with clock_server.client() as client:
        young = oauth_tokens(client)
        old = oauth_tokens(client)
        advance(client, 180 * 86400 - 10)
        form = {
            "grant_type": "refresh_token",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        }
        assert (
            client.post("/oauth/token/", data={**form, "refresh_token": young["refresh_token"]}).status_code
            == 200
        )
        advance(client, 10)
        late = client.post("/oauth/token/", data={**form, "refresh_token": old["refresh_token"]})
        assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")


def test_authorization_code_lives_30_seconds(clock_server: ServerProcess) -> None:
    with clock_server.client() as client:
        codes = []
        for _ in range(2):
            page = client.post("/oauth/authorize/", data={"client_id": DEMO_CLIENT_ID, "user_id": "1"})
            match = re.search(r"<th>code</th><td><code>([^<]+)</code>", page.text)
            assert match is not None
            codes.append(match.group(1))
        advance(client, 29)
        form = {
            "grant_type": "authorization_code",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        }
        assert client.post("/oauth/token/", data={**form, "code": codes[0]}).status_code == 200
        advance(client, 1)
        late = client.post("/oauth/token/", data={**form, "code": codes[1]})
        assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")


def test_time_blocks_follow_the_fake_clock(clock_server: ServerProcess) -> None:
    with clock_server.client() as client:
        before = client.get(DEMO_HOOK + "server.time").json()
        moved = advance(client, 86400)
        after = client.get(DEMO_HOOK + "server.time").json()
        assert after["time"]["start"] == pytest.approx(before["time"]["start"] + 86400, abs=1e-3)
        assert after["result"] == moved["ISO"]
