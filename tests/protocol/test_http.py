"""What real clients send on the wire: URL forms, method-name case, parameter sources, odd headers.

The raw-socket tests send exactly the bytes libcurl (CRest, the PHP SDK) sends, including
``Expect: 100-continue`` and the ``Upgrade: h2c`` request it adds to plain-HTTP POSTs.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import DEMO_HOOK, ServerProcess, oauth_tokens

HOOK = DEMO_HOOK.strip("/")  # rest/1/demo_webhook_code


def absolute(client: httpx.Client, path: str) -> str:
    """An absolute URL, so a path starting with // is sent as it is (not read as a host)."""
    return str(client.base_url).rstrip("/") + path


def user_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    return [u["ID"] for u in result] if isinstance(result, list) else [result["ID"]]


@pytest.mark.parametrize(
    "path",
    [
        f"/{HOOK}/user.current",
        f"/{HOOK}/user.current.json",
        f"/{HOOK}/user.current/",
        f"/{HOOK}/user.current.json/",
        "/rest/1/demo_webhook_code//user.current/",
        "/rest//1//demo_webhook_code/user.current",
        "//rest/1/demo_webhook_code/user.current",
        f"/{HOOK}/USER.CURRENT",
        f"/{HOOK}/User.Current.JSON",
    ],
)
def test_webhook_url_forms(client: httpx.Client, path: str) -> None:
    url = absolute(client, path)
    assert user_ids(client.get(url)) == ["1"]
    assert user_ids(client.post(url)) == ["1"]


def test_oauth_url_forms(client: httpx.Client) -> None:
    token = oauth_tokens(client, user_id=2)["access_token"]
    for path in (
        "/rest/user.current",
        "/rest//user.current",
        "/rest/user.current.json",
        "/rest/USER.current/",
    ):
        assert user_ids(client.get(absolute(client, path), params={"auth": token})) == ["2"]


def test_parameters_from_query_json_form_and_multipart(client: httpx.Client) -> None:
    url = DEMO_HOOK + "user.get"
    assert user_ids(client.get(url, params={"FILTER[ID]": "2"})) == ["2"]
    assert user_ids(client.post(url, json={"FILTER": {"ID": 3}})) == ["3"]
    assert user_ids(client.post(url, data={"FILTER[ID]": "4"})) == ["4"]
    assert user_ids(client.post(url, content=b"FILTER%5BID%5D=2")) == ["2"]  # no content type: parse_str
    multipart = client.post(url, files={"FILTER[ID]": (None, "3")})
    assert multipart.request.headers["content-type"].startswith("multipart/form-data")
    assert user_ids(multipart) == ["3"]
    # lower-case keys work too (upper-cased like the real server does)
    assert user_ids(client.post(url, json={"filter": {"ID": 4}})) == ["4"]


def test_body_wins_over_query(client: httpx.Client) -> None:
    response = client.post(DEMO_HOOK + "user.get", params={"FILTER[ID]": "2"}, data={"FILTER[ID]": "3"})
    assert user_ids(response) == ["3"]


def test_unknown_parameters_are_ignored(client: httpx.Client) -> None:
    params = {
        "__order": "order0000000000",
        "bx24_request_id": "x",
        "bx24_sdk_ver": "2.2.0",
        "CLIENT_ID": "bot",
    }
    assert user_ids(client.get(DEMO_HOOK + "user.current", params=params)) == ["1"]
    assert user_ids(client.post(DEMO_HOOK + "user.get", json={**params, "FILTER": {"ID": 2}})) == ["2"]


def test_malformed_json_body_is_ignored(client: httpx.Client) -> None:
    response = client.post(
        DEMO_HOOK + "user.get",
        params={"FILTER[ID]": "2"},
        content=b'{"FILTER": {"ID": 3',
        headers={"Content-Type": "application/json"},
    )
    assert user_ids(response) == ["2"]  # only the query remains
    not_an_object = client.post(
        DEMO_HOOK + "user.current", content=b"[1,2]", headers={"Content-Type": "application/json"}
    )
    assert user_ids(not_an_object) == ["1"]


def test_get_without_a_body(client: httpx.Client) -> None:
    response = client.get(DEMO_HOOK + "profile.json")
    assert response.status_code == 200
    assert response.json()["result"]["ID"] == "1"


def test_auth_param_does_not_break_a_webhook(client: httpx.Client) -> None:
    assert user_ids(client.post(DEMO_HOOK + "user.current", json={"auth": "whatever"})) == ["1"]


def test_healthz_and_openapi(client: httpx.Client) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["fake_clock"] is True
    spec = client.get(absolute(client, "//openapi.json")).json()
    assert "/rest/user.get" in spec["paths"] and "/rest/batch" in spec["paths"]


def test_unknown_page_is_a_json_404(client: httpx.Client) -> None:
    response = client.get("/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"


# --- raw sockets -----------------------------------------------------------------------------------


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response with a Content-Length body from the socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed early: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    return status, headers, rest[:length]


def _connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def _request(path: str, body: bytes, *extra: str) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "User-Agent: Bitrix24 CRest PHP 1.36",
        "Accept: */*",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_expect_100_continue(server: ServerProcess) -> None:
    body = b"FILTER%5BID%5D=3&pad=" + b"x" * 2000
    with _connect(server) as sock:
        request = _request(f"/{HOOK}/user.get.json", body, "Expect: 100-continue")
        head, _, payload = request.partition(b"\r\n\r\n")
        sock.sendall(head + b"\r\n\r\n")
        interim = sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(payload)
        status, headers, raw = _read_response(sock)
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert [u["ID"] for u in json.loads(raw)["result"]] == ["3"]


def test_h2c_upgrade_request_keeps_its_body(server: ServerProcess) -> None:
    upgrade = (
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA",
    )
    with _connect(server) as sock:
        for wanted in ("2", "4"):  # two requests on one keep-alive connection
            sock.sendall(_request(f"/{HOOK}/user.get", f"FILTER%5BID%5D={wanted}".encode(), *upgrade))
            status, _, raw = _read_response(sock)
            assert status == 200  # served as HTTP/1.1: the upgrade is declined, not switched
            assert [u["ID"] for u in json.loads(raw)["result"]] == [wanted]


def test_h2c_upgrade_split_across_packets(server: ServerProcess) -> None:
    upgrade = (
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA",
    )
    request = _request(f"/{HOOK}/user.get", b"FILTER%5BID%5D=3&x=" + b"y" * 5000, *upgrade)
    with _connect(server) as sock:
        head_end = request.index(b"\r\n\r\n") + 4
        sock.sendall(request[: head_end + 10])
        sock.sendall(request[head_end + 10 :])
        status, _, raw = _read_response(sock)
    assert status == 200
    assert [u["ID"] for u in json.loads(raw)["result"]] == ["3"]


def test_keep_alive_many_requests(server: ServerProcess) -> None:
    with _connect(server) as sock:
        for wanted in ("2", "3", "4"):
            sock.sendall(_request(f"/{HOOK}/user.get", f"FILTER[ID]={wanted}".encode()))
            status, _, raw = _read_response(sock)
            assert status == 200
            assert [u["ID"] for u in json.loads(raw)["result"]] == [wanted]


@pytest.mark.parametrize(
    "query",
    [
        "0=x",  # numeric top-level names once turned the parameters into a list (a 500)
        "0=a&1=b&FILTER[ID]=2",
        "FILTER" + "[x]" * 5000 + "=1",  # deeper than PHP allows: dropped, not a crash
        "cmd[a]=user.get%3FFILTER" + "%5Bx%5D" * 3000 + "%3D1",
    ],
    ids=["zero", "numeric-names", "deep", "deep-in-batch"],
)
def test_odd_parameter_names_never_crash(client: httpx.Client, query: str) -> None:
    for method in ("user.get", "batch"):
        response = client.post(DEMO_HOOK + method, content=query.encode())
        assert response.status_code == 200, response.text


def test_websocket_upgrade_is_refused_not_a_server_error(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(
            (
                f"GET /{HOOK}/user.current HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            ).encode()
        )
        status, _, _ = _read_response(sock)
    assert status == 403


def test_chunked_body(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"FILTER%5BI"
        yield b"D%5D=4"

    response = client.post(
        DEMO_HOOK + "user.get",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert user_ids(response) == ["4"]


def test_php_sdk_style_request(server: ServerProcess) -> None:
    """What b24phpsdk sends over plain HTTP: trailing slash, telemetry in the query, a JSON body and
    libcurl's h2c upgrade headers."""
    body = json.dumps({"FILTER": {"ID": 3}, "start": 0}).encode()
    head = (
        f"POST /{HOOK}/user.get/?bx24_request_id=0d114489-de59-7157-8cee-29f9fa5d2423 HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nUser-Agent: bitrix24-php-sdk\r\nAccept: application/json\r\n"
        "Content-Type: application/json\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with _connect(server) as sock:
        sock.sendall(head + body)
        status, headers, raw = _read_response(sock)
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    answer = json.loads(raw)
    assert [u["ID"] for u in answer["result"]] == ["3"]
    assert answer["total"] == 1 and isinstance(answer["time"]["start"], float)
