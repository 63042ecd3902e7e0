"""b24pysdk, unchanged, manages an app's event subscriptions over HTTPS (``event.bind``, ``event.get``,
``event.offline.get``, ``event.unbind``), and its ``Event`` objects read what openlines answers."""

from __future__ import annotations

import gc
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_HOOK, oauth_tokens
from tests.test_clients import TlsServer, free_port


@pytest.fixture(scope="module")
def tls_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    folder = tmp_path_factory.mktemp("b24pysdk-events")
    proc = TlsServer(
        folder,
        ["--demo", "--fake-clock", "--tls", "--http-port", str(free_port())],
        {"OPENLINES_DATA_DIR": str(folder / "data")},
        scheme="https",
    )
    proc.http_port = int(proc.args[-1])
    proc.port = free_port()
    proc.start(verify=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(proc.ca))
        yield proc
    # An error response b24pysdk raised keeps its socket alive in a reference cycle; without a
    # collection the server would wait its whole graceful-shutdown time for that connection.
    gc.collect()
    proc.stop()


def sdk_client(portal: TlsServer, http: httpx.Client) -> Any:
    from b24pysdk import BitrixApp, BitrixToken, Client

    tokens = oauth_tokens(http, user_id=1)
    return Client(
        BitrixToken(
            domain=portal.host,
            auth_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            bitrix_app=BitrixApp(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),
        )
    )


def test_b24pysdk_binds_lists_polls_and_unbinds(tls_portal: TlsServer) -> None:
    from b24pysdk.errors import BitrixAPIError

    context = ssl.create_default_context(cafile=str(tls_portal.ca))
    with httpx.Client(base_url=tls_portal.url, verify=context) as http:
        client = sdk_client(tls_portal, http)
        handler = "https://bots.example.test/openlines/transfers?x=1"
        assert client.event.bind("OnOpenLinesSessionTransfer", handler).call().result is True
        assert client.event.bind("OnSessionFinish", event_type="offline").call().result is True
        with pytest.raises(BitrixAPIError) as twice:
            client.event.bind("OnOpenLinesSessionTransfer", handler).call()
        assert "Handler already binded" in str(twice.value)

        events = client.event.get().call().values
        found = {(e.event, e.handler, e.offline) for e in events}
        assert ("ONOPENLINESSESSIONTRANSFER", handler, False) in found
        assert ("ONSESSIONFINISH", None, True) in found

        polled = client.event.offline.get().call()
        assert polled.result["events"] == [] and list(polled.values) == []

        assert client.event.unbind("OnOpenLinesSessionTransfer", handler).call().value == 1
        assert client.event.unbind("OnOpenLinesSessionTransfer", handler).call().value == 0

        hooked = http.post(f"{DEMO_HOOK}event.get", json={})
        assert hooked.status_code == 403 and hooked.json()["error"] == "WRONG_AUTH_TYPE"
