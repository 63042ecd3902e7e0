"""Incoming webhooks: who they act as, what they may call, and how their codes are stored."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import DEMO_HOOK, IMBOT_ONLY_HOOK, USER_ONLY_HOOK, ServerProcess, start_server


def test_webhook_acts_as_its_user(client: httpx.Client) -> None:
    assert client.get(DEMO_HOOK + "user.current").json()["result"]["ID"] == "1"
    assert client.get(USER_ONLY_HOOK + "user.current").json()["result"]["ID"] == "2"


def test_scope_lists_the_webhooks_scopes(client: httpx.Client) -> None:
    assert client.get(USER_ONLY_HOOK + "scope").json()["result"] == ["user"]
    assert client.get(IMBOT_ONLY_HOOK + "scope").json()["result"] == ["imbot"]
    everything = client.get(IMBOT_ONLY_HOOK + "scope", params={"full": "true"}).json()["result"]
    assert {"basic", "user"} <= set(everything)


def test_methods_lists_what_the_webhook_may_call(client: httpx.Client) -> None:
    imbot_only = set(client.get(IMBOT_ONLY_HOOK + "methods").json()["result"])
    assert {"batch", "server.time", "scope", "methods"} <= imbot_only
    assert "user.current" not in imbot_only
    assert "user.current" in set(client.get(USER_ONLY_HOOK + "methods").json()["result"])
    assert client.get(IMBOT_ONLY_HOOK + "methods", params={"scope": "user"}).json()["result"] == [
        "user.current",
        "user.get",
        "user.search",
    ]


def test_basic_methods_need_no_scope(client: httpx.Client) -> None:
    for method in ("server.time", "profile", "app.info", "scope", "methods"):
        response = client.get(IMBOT_ONLY_HOOK + method)
        assert response.status_code == 200, (method, response.text)


def test_user_scope_grants_user_methods(client: httpx.Client) -> None:
    response = client.get(USER_ONLY_HOOK + "user.get", params={"FILTER[ID]": "3"})
    assert [u["ID"] for u in response.json()["result"]] == ["3"]


def test_deactivated_user_cannot_use_a_webhook(client: httpx.Client) -> None:
    response = client.get("/rest/7/inactive_user_hook/user.current")
    assert response.status_code == 401
    assert response.json() == {
        "error": "authorization_error",
        "error_description": "Unable to authorize user",
    }


def test_webhook_user_must_match(client: httpx.Client) -> None:
    for path in ("/rest/3/user_scope_hook/user.current", "/rest/x/demo_webhook_code/user.current"):
        response = client.get(path)
        assert (response.status_code, response.json()["error"]) == (401, "INVALID_CREDENTIALS")


def test_codes_and_secrets_are_not_stored_in_clear(server: ServerProcess) -> None:
    stored = b"".join(p.read_bytes() for p in server.folder.glob("openlines.db*"))
    assert len(stored) > 0
    for secret in (b"demo_webhook_code", b"user_scope_hook", b"demo_client_secret", b"redirect_secret"):
        assert secret not in stored


def test_forwarded_proto_is_not_trusted_unless_configured(strict_server: ServerProcess) -> None:
    with strict_server.client() as client:
        response = client.get(DEMO_HOOK + "user.current", headers={"X-Forwarded-Proto": "https"})
    assert (response.status_code, response.json()["error"]) == (401, "INVALID_REQUEST")


def test_oauth_calls_are_not_bound_to_https(strict_server: ServerProcess) -> None:
    """require_https is a webhook rule (as on the real server); apps' tokens work over plain HTTP."""
    from tests.conftest import oauth_tokens

    with strict_server.client() as client:
        token = oauth_tokens(client)["access_token"]
        assert client.get("/rest/user.current", params={"auth": token}).status_code == 200


def test_forwarded_proto_is_trusted_behind_a_configured_proxy(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    proc = start_server(
        tmp_path_factory,
        "proxied",
        "--demo",
        OPENLINES_REQUIRE_HTTPS="true",
        OPENLINES_TRUST_FORWARDED="true",
    )
    try:
        with proc.client() as client:
            plain = client.get(DEMO_HOOK + "user.current")
            assert (plain.status_code, plain.json()["error"]) == (401, "INVALID_REQUEST")
            proxied = client.get(DEMO_HOOK + "user.current", headers={"X-Forwarded-Proto": "https"})
            assert proxied.status_code == 200
    finally:
        proc.stop()
