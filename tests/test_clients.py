"""Black-box tests with the real client libraries, unchanged, against a real server process.

b24pysdk only speaks HTTPS, so the server runs with ``--tls`` (a generated local CA in a temp data
folder, handed to ``requests`` through ``REQUESTS_CA_BUNDLE``) and ``--http-port`` for fast-bitrix24,
which is pointed at the plain-HTTP URL the way its users configure it.
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_HOOK,
    EMPLOYEES,
    IMBOT_ONLY_HOOK,
    ServerProcess,
    free_port,
    main_config,
    oauth_tokens,
)


class TlsServer(ServerProcess):
    http_port: int = 0

    @property
    def ca(self) -> Path:
        return self.folder / "data" / "openlines-ca.pem"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def plain_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[TlsServer]:
    folder = tmp_path_factory.mktemp("tls-server")
    config = folder / "openlines.toml"
    config.write_text(main_config())
    http_port = free_port()
    proc = TlsServer(
        folder,
        ["--demo", "--fake-clock", "--config", str(config), "--tls", "--http-port", str(http_port)],
        {"OPENLINES_DATA_DIR": str(folder / "data")},
        scheme="https",
    )
    proc.http_port = http_port
    proc.port = free_port()
    # The CA does not exist before the server makes it; wait on the plain port, then check HTTPS.
    proc.start(verify=False)
    assert proc.ca.is_file()
    assert f"local CA: {proc.ca}" in proc.output()
    monkeypatch_module.setenv("REQUESTS_CA_BUNDLE", str(proc.ca))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_https_is_verified_with_the_generated_ca(tls_server: TlsServer) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(tls_server.ca))) as client:
        assert client.get(f"{tls_server.url}{DEMO_HOOK}user.current").json()["result"]["ID"] == "1"
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.get(f"{tls_server.url}/healthz")  # the system trust store does not know the local CA
    with httpx.Client() as client:  # the plain listener serves the same portal
        assert client.get(f"{tls_server.plain_url}{DEMO_HOOK}user.current").json()["result"]["ID"] == "1"


# --- b24pysdk 1.3.2 over HTTPS -----------------------------------------------------------------------


def b24_webhook_client(tls_server: TlsServer, token: str = "1/demo_webhook_code") -> Any:
    from b24pysdk import BitrixWebhook, Client

    return Client(BitrixWebhook(domain=tls_server.host, webhook_token=token))


def test_b24pysdk_user_current_and_server_time(tls_server: TlsServer) -> None:
    client = b24_webhook_client(tls_server)
    me = client.user.current().call()
    assert me.result["ID"] == "1" and me.result["NAME"] == "Alex"
    now = client.server.time().call()
    assert isinstance(now.result, str)
    assert isinstance(now.time.date_start, datetime)
    assert now.time.duration >= 0


def test_b24pysdk_user_get_pages(tls_server: TlsServer) -> None:
    client = b24_webhook_client(tls_server)
    first = client.user.get().call()
    assert len(first.result) == 50
    everyone = client.user.get().as_list().call()
    ids = [u["ID"] for u in everyone.result]
    assert len(ids) == EMPLOYEES == len(set(ids))
    fast = list(client.user.get().as_list_fast().call().result)
    assert sorted(u["ID"] for u in fast) == sorted(ids)


def test_b24pysdk_batch(tls_server: TlsServer) -> None:
    client = b24_webhook_client(tls_server)
    batch = client.call_batch({"now": client.server.time(), "me": client.user.current()}).call()
    assert batch.result.result["me"]["ID"] == "1"
    assert set(batch.result.result_time) == {"now", "me"}


def test_b24pysdk_sees_errors_by_code(tls_server: TlsServer) -> None:
    from b24pysdk.errors import BitrixAPIError

    client = b24_webhook_client(tls_server, "3/imbot_scope_hook")
    with pytest.raises(BitrixAPIError) as caught:
        client.user.current().call()
    assert caught.value.error == "insufficient_scope"
    assert caught.value.status_code == 401
    bad = b24_webhook_client(tls_server, "1/wrong_code")
    with pytest.raises(BitrixAPIError) as caught:
        bad.user.current().call()
    assert caught.value.error == "INVALID_CREDENTIALS"


def test_b24pysdk_oauth_refreshes_an_expired_token(tls_server: TlsServer) -> None:
    from b24pysdk import BitrixApp, BitrixToken, Client
    from b24pysdk.api.requesters.bitrix_oauth_requester import BitrixOAuthRequester

    with httpx.Client(
        base_url=tls_server.url, verify=ssl.create_default_context(cafile=str(tls_server.ca))
    ) as http:
        tokens = oauth_tokens(http, user_id=2)
        token = BitrixToken(
            domain=tls_server.host,
            auth_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            bitrix_app=BitrixApp(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),
        )
        client = Client(token)
        original = BitrixOAuthRequester._OAUTH_TOKEN_URL
        BitrixOAuthRequester._OAUTH_TOKEN_URL = f"{tls_server.url}/oauth/token/"  # type: ignore[misc]
        try:
            assert client.user.current().call().result["ID"] == "2"
            moved = http.post(DEMO_HOOK + "openlines.clock.advance", json={"SECONDS": 3600})
            assert moved.status_code == 200
            expired = http.get("/rest/user.current", params={"auth": tokens["access_token"]})
            assert expired.json()["error"] == "expired_token"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                again = client.user.current().call()  # 401 expired_token → refresh → retry
            assert again.result["ID"] == "2"
            assert token.auth_token != tokens["access_token"]
            assert token.refresh_token != tokens["refresh_token"]
        finally:
            BitrixOAuthRequester._OAUTH_TOKEN_URL = original  # type: ignore[misc]


# --- fast-bitrix24 1.8.14 over plain HTTP ------------------------------------------------------------


def fast_client(tls_server: TlsServer, hook: str = DEMO_HOOK) -> Any:
    from fast_bitrix24 import Bitrix

    return Bitrix(f"{tls_server.plain_url}{hook}", verbose=False)


def test_fast_bitrix24_user_current_and_server_time(tls_server: TlsServer) -> None:
    b = fast_client(tls_server)
    raw = b.call("user.current", raw=True)  # a direct call
    assert raw["result"]["ID"] == "1" and "time" in raw
    # call() sends even one call as a batch ("user.current?__order=order0000000000&CLIENT_ID=x&")
    # and hands back the batch result keyed by its label
    me = b.call("user.current", {"CLIENT_ID": "my-bot"})
    assert me["order0000000000"]["ID"] == "1"
    now = b.call("server.time", {"CLIENT_ID": "my-bot"})
    assert datetime.fromisoformat(now).tzinfo is not None


def test_fast_bitrix24_get_all_pages_through_every_user(tls_server: TlsServer) -> None:
    b = fast_client(tls_server)
    users = b.get_all("user.get")
    ids = [u["ID"] for u in users]
    assert len(ids) == EMPLOYEES == len(set(ids))
    some = b.get_all("user.get", {"FILTER": {">ID": 100}})
    assert {u["ID"] for u in some} == {str(100 + i) for i in range(1, 61)}


def test_fast_bitrix24_get_by_id_and_batch(tls_server: TlsServer) -> None:
    b = fast_client(tls_server)
    found = b.call("user.get", [{"FILTER": {"ID": 2}}, {"FILTER": {"ID": 3}}])
    assert sorted(u["ID"] for page in found for u in (page if isinstance(page, list) else [page])) == [
        "2",
        "3",
    ]


def test_fast_bitrix24_scope_error(tls_server: TlsServer) -> None:
    import aiohttp

    b = fast_client(tls_server, IMBOT_ONLY_HOOK)
    with pytest.raises(aiohttp.ClientResponseError) as caught:
        b.call("user.current", {}, raw=True)
    assert caught.value.status == 401


def test_own_certificate_with_tls_cert_and_tls_key(tls_server: TlsServer, tmp_path: Path) -> None:
    """--tls-cert/--tls-key serve HTTPS with a certificate the user brings (here: the generated one)."""
    data = tls_server.folder / "data"
    proc = ServerProcess(
        tmp_path,
        [
            "--demo",
            "--tls-cert",
            str(data / "openlines-cert.pem"),
            "--tls-key",
            str(data / "openlines-key.pem"),
        ],
        scheme="https",
    ).start(verify=False)
    try:
        context = ssl.create_default_context(cafile=str(tls_server.ca))
        with httpx.Client(verify=context) as client:
            response = client.get(f"{proc.url}{DEMO_HOOK}user.current")
        assert response.json()["result"]["ID"] == "1"
        assert f"serving https://127.0.0.1:{proc.port}" in proc.output()
    finally:
        proc.stop()


def test_fast_bitrix24_call_batch_results_and_errors(tls_server: TlsServer) -> None:
    from fast_bitrix24.server_response import ErrorInServerResponseException

    b = fast_client(tls_server)
    ok = b.call_batch({"halt": 0, "cmd": {"now": "server.time", "olga": "user.get?FILTER[ID]=2"}})
    assert [u["ID"] for u in ok["olga"]] == ["2"]
    with pytest.raises(ErrorInServerResponseException) as caught:
        b.call_batch({"halt": 0, "cmd": {"now": "server.time", "bad": "no.such.method"}})
    assert caught.value.args[0] == {
        "bad": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}
    }
