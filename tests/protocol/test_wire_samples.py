"""Every request in the reference's recorded wire samples parses to the parameters it means.

``bitrix24-wire-samples.jsonl`` holds 45 requests that real clients (fast-bitrix24, b24pysdk,
b24jssdk, CRest, bitrixogram) sent. Each row of ``EXPECTED`` below says, for the sample on the same
line, which method it calls, which credentials it presents, and the parameters the server must see
(for ``batch``: the parameters of every sub-command too). For the transfer calls it also pins what
``CHAT_ID`` and ``LEAVE`` mean after PHP coercion, since clients disagree on how they send them.

The parser is tested directly (the methods some samples call are built by other modules); a second
test replays every sample over HTTP against the live server and checks the envelope.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from openlines.auth.authenticate import Credentials
from openlines.methods.batch import _commands
from openlines.protocol import php
from openlines.protocol.request import bearer_token, parse_params, parse_rest_path
from tests.conftest import DEMO_HOOK, REFERENCE, ServerProcess

SAMPLES_FILE = REFERENCE / "bitrix24-wire-samples.jsonl"
TRANSFER = "imopenlines.bot.session.transfer"
HOOK = ("1", "hookcode")
JS_TELEMETRY = {"bx24_sdk_ver": "2.2.0", "bx24_sdk_type": "b24-js-sdk"}


@dataclass
class Expect:
    method: str | None  # None: not a /rest path (the OAuth token endpoint)
    params: dict[str, Any]
    hook: tuple[str, str] | None = HOOK
    token: str | None = None
    sub: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # batch: key → (method, params)
    meaning: tuple[int, bool] | None = None  # transfer: (int CHAT_ID, LEAVE == 'Y')
    telemetry: bool = False  # b24jssdk puts bx24_request_id & co. in the query string


def _transfer(chat: int, leave: bool = False) -> tuple[int, bool]:
    return chat, leave


FB_ORDER = {
    "__order": "order0000000000",
    "CHAT_ID": "5",
    "USER_ID": "7",
    "LEAVE": "True",
    "FIELDS": {"A": ["1", "2"], "B": "x y/z"},
}
TOKEN_FORM = {"grant_type": "refresh_token", "client_id": "app.1", "client_secret": "sec"}

EXPECTED: list[Expect] = [
    # --- fast_bitrix24 1.8.14
    Expect("batch", {"halt": 0, "cmd": ...}, sub={"order0000000000": (TRANSFER, FB_ORDER)}),
    Expect(TRANSFER, {"CHAT_ID": 5, "QUEUE_ID": 2, "LEAVE": "Y"}, meaning=_transfer(5, True)),
    Expect(
        "batch",
        {"halt": 0, "cmd": ...},
        sub={"a": (TRANSFER, {"CHAT_ID": "5", "USER_ID": "7"}), "b": (TRANSFER, {"CHAT_ID": "0"})},
    ),
    Expect(
        "batch",
        {"halt": 0, "cmd": ...},
        sub={"order0000000000": (TRANSFER, {"__order": "order0000000000", "CHAT_ID": "0"})},
    ),
    Expect(TRANSFER, {"CHAT_ID": 0}, meaning=_transfer(0)),
    Expect(TRANSFER, {"CHAT_ID": 503}, meaning=_transfer(503)),
    Expect(TRANSFER, {"CHAT_ID": 503}, meaning=_transfer(503)),
    Expect(TRANSFER, {"CHAT_ID": 6, "USER_ID": 8, "auth": "expired-token"}, hook=None, token="expired-token"),
    Expect(TRANSFER, {"CHAT_ID": 6, "USER_ID": 8, "auth": "fresh-token"}, hook=None, token="fresh-token"),
    # --- b24pysdk 1.3.2 (always .json, JSON bodies with native types)
    Expect(TRANSFER, {"CHAT_ID": 5, "LEAVE": True, "USER_ID": 7}, meaning=_transfer(5, True)),
    Expect(TRANSFER, {"CHAT_ID": 5, "LEAVE": False, "QUEUE_ID": 2}, meaning=_transfer(5, False)),
    Expect(TRANSFER, {"CHAT_ID": 0, "USER_ID": 7}, meaning=_transfer(0)),
    Expect(TRANSFER, {"CHAT_ID": 503, "USER_ID": 7}, meaning=_transfer(503)),
    Expect(TRANSFER, {"CHAT_ID": 503, "USER_ID": 7}, meaning=_transfer(503)),
    Expect(TRANSFER, {"CHAT_ID": 5, "FIELDS": {"A": [1, 2]}}, meaning=_transfer(5)),
    Expect(
        "batch",
        {"cmd": ..., "halt": False},
        sub={
            "a": (TRANSFER, {"CHAT_ID": "5", "USER_ID": "7", "LEAVE": "True", "X": "", "E": [""]}),
            "b": (TRANSFER, {"CHAT_ID": "0"}),
        },
    ),
    Expect(
        "batch",
        {"cmd": ..., "halt": False},
        sub={"0": (TRANSFER, {"CHAT_ID": "5"}), "1": (TRANSFER, {"CHAT_ID": "6"})},
    ),
    Expect(TRANSFER, {"CHAT_ID": 6, "USER_ID": 8, "auth": "expired-token"}, hook=None, token="expired-token"),
    Expect(None, {**TOKEN_FORM, "refresh_token": "r1"}, hook=None),
    Expect(TRANSFER, {"CHAT_ID": 6, "USER_ID": 8, "auth": "fresh-token"}, hook=None, token="fresh-token"),
    Expect(TRANSFER, {"CHAT_ID": 6, "USER_ID": 8, "auth": "expired-token"}, hook=None, token="expired-token"),
    Expect(None, {**TOKEN_FORM, "refresh_token": "dead-refresh"}, hook=None),
    # --- b24jssdk 2.2.0 (telemetry in the query string, JSON body)
    Expect(
        TRANSFER,
        {"CHAT_ID": 5, "USER_ID": 7, "LEAVE": "Y", "FIELDS": {"A": [1, 2]}},
        meaning=_transfer(5, True),
        telemetry=True,
    ),
    Expect(TRANSFER, {"CHAT_ID": 0}, meaning=_transfer(0), telemetry=True),
    Expect(TRANSFER, {"CHAT_ID": 503}, meaning=_transfer(503), telemetry=True),
    Expect(TRANSFER, {"CHAT_ID": 503}, meaning=_transfer(503), telemetry=True),
    Expect(
        "batch",
        {"halt": 0, "cmd": ...},
        sub={
            "a": (TRANSFER, {"CHAT_ID": "5", "LEAVE": "true", "N": "", "L": ["1", "2"]}),
            "b": (TRANSFER, {"CHAT_ID": "0"}),
        },
        telemetry=True,
    ),
    Expect(
        "batch",
        {"halt": 1, "cmd": ...},
        sub={"0": (TRANSFER, {"CHAT_ID": "5"}), "1": (TRANSFER, {"CHAT_ID": "6"})},
        telemetry=True,
    ),
    Expect(
        TRANSFER,
        {"CHAT_ID": 6, "USER_ID": 8, "auth": "expired-token"},
        hook=None,
        token="expired-token",
        telemetry=True,
    ),
    Expect(None, {**TOKEN_FORM, "refresh_token": "r1"}, hook=None),
    Expect(
        TRANSFER,
        {"CHAT_ID": 6, "USER_ID": 8, "auth": "fresh-token"},
        hook=None,
        token="fresh-token",
        telemetry=True,
    ),
    Expect(None, {**TOKEN_FORM, "refresh_token": "r1"}, hook=None),
    Expect(
        TRANSFER,
        {"CHAT_ID": 6, "USER_ID": 8, "auth": "fresh-token"},
        hook=None,
        token="fresh-token",
        telemetry=True,
    ),
    # --- CRest 1.36 (urlencoded forms, encoded brackets, + for space)
    Expect(
        TRANSFER,
        {
            "CHAT_ID": "5",
            "USER_ID": "7",
            "LEAVE": "Y",
            "FIELDS": {"A": ["1", "2"], "B": "x y"},
            "T": "1",
            "F": "0",
        },
        meaning=_transfer(5, True),
    ),
    Expect(TRANSFER, {"CHAT_ID": "0"}, meaning=_transfer(0)),
    Expect(TRANSFER, {"CHAT_ID": "503"}, meaning=_transfer(503)),
    Expect("profile", {}),
    Expect(
        "batch",
        {"cmd": ..., "halt": "0"},
        sub={"a": (TRANSFER, {"CHAT_ID": "5", "USER_ID": "7"}), "b": (TRANSFER, {"CHAT_ID": "0"})},
    ),
    Expect(
        TRANSFER, {"CHAT_ID": "6", "USER_ID": "8", "auth": "expired-token"}, hook=None, token="expired-token"
    ),
    Expect(
        TRANSFER, {"CHAT_ID": "6", "USER_ID": "8", "auth": "expired-token"}, hook=None, token="expired-token"
    ),
    # --- bitrixogram 1.0.7 (forms, CLIENT_ID on every call)
    Expect(
        "imbot.message.add",
        {
            "DIALOG_ID": "15",
            "MESSAGE": "hi",
            "ATTACH": "",
            "KEYBOARD": [
                {
                    "TEXT": "+",
                    "COMMAND": "inc",
                    "BG_COLOR": "#29619b",
                    "BG_COLOR_TOKEN": "base",
                    "TEXT_COLOR": "#fff",
                    "DISPLAY": "LINE",
                    "BLOCK": "Y",
                    "WIDTH": "200",
                    "DISABLED": "N",
                }
            ],
            "CLIENT_ID": "bot-client-id",
        },
    ),
    Expect(TRANSFER, {"CHAT_ID": "15", "USER_ID": "7", "CLIENT_ID": "bot-client-id"}, meaning=_transfer(15)),
    Expect(TRANSFER, {"CHAT_ID": "0", "CLIENT_ID": "bot-client-id"}, meaning=_transfer(0)),
    Expect(
        "imbot.command.register",
        {
            "BOT_ID": "42",
            "COMMAND": "inc",
            "COMMON": "Y",
            "HIDDEN": "Y",
            "EXTRANET_SUPPORT": "N",
            "CLIENT_ID": "bot-client-id",
            "LANG": [{"LANGUAGE_ID": "en", "TITLE": "+", "PARAMS": "text"}],
            "EVENT_COMMAND_ADD": "http://127.0.0.1:18999/",
        },
    ),
    Expect(
        "imbot.message.add",
        {"DIALOG_ID": "3", "MESSAGE": "echo: hello", "ATTACH": "", "CLIENT_ID": "bot-client-id"},
    ),
]


def load_samples() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLES_FILE.read_text().splitlines() if line.strip()]


SAMPLES = load_samples()


def asgi_scope(sample: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(sample["path"])
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in sample["headers"].items()]
    return {
        "type": "http",
        "method": sample["verb"],
        "scheme": sample["scheme"],
        "path": parts.path,
        "query_string": parts.query.encode(),
        "headers": headers,
    }


def parse(sample: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(parse_params(asgi_scope(sample), sample["body"].encode()))


def test_every_sample_has_an_expectation() -> None:
    assert len(SAMPLES) == len(EXPECTED) == 45


@pytest.mark.parametrize(
    ("sample", "expect"),
    list(zip(SAMPLES, EXPECTED, strict=True)),
    ids=[
        f"{i:02d}-{s['client']}-{urlsplit(s['path']).path.rsplit('/', 2)[-1] or 'token'}"
        for i, s in enumerate(SAMPLES)
    ],
)
def test_sample_parses_to_its_meaning(sample: dict[str, Any], expect: Expect) -> None:
    scope = asgi_scope(sample)
    path = parse_rest_path(scope["path"])
    params = parse(sample)

    # URL form: method and webhook parts (duplicate slashes, .json and case do not matter)
    if expect.method is None:
        assert path is None
    else:
        assert path is not None
        assert path.method.lower() == expect.method
        assert (path.hook_user, path.hook_code) == (expect.hook or (None, None))

    # Parameters: exactly what the sample means, telemetry from the query string merged in
    wanted = dict(expect.params)
    if expect.telemetry:
        assert params.pop("bx24_request_id").startswith("0d11")
        wanted.update(JS_TELEMETRY)
    if wanted.get("cmd") is ...:
        wanted["cmd"] = params.get("cmd")
    assert params == wanted

    # Credentials the request presents
    creds = Credentials(
        hook_user=path.hook_user if path else None,
        hook_code=path.hook_code if path else None,
        bearer=bearer_token(scope),
        params=params,
    )
    assert creds.token() == expect.token

    # batch: every sub-command, parsed like PHP parse_str, in the order sent
    if expect.method == "batch":
        commands = _commands(params["cmd"])
        assert [key for key, _ in commands] == list(expect.sub)
        for key, command in commands:
            name, _, query = command.partition("?")
            sub_method, sub_params = expect.sub[key]
            assert name == sub_method
            assert php.parse_str(query) == sub_params

    # What the transfer parameters mean after PHP coercion
    if expect.meaning is not None:
        chat, leave = expect.meaning
        upper = php.upper_keys(params)
        assert php.php_int(upper.get("CHAT_ID")) == chat
        assert php.php_equals_y(upper.get("LEAVE")) is leave


def test_batch_halt_flags_in_samples_follow_php_truthiness() -> None:
    halts = [parse(s).get("halt") for s, e in zip(SAMPLES, EXPECTED, strict=True) if e.method == "batch"]
    assert [php.php_truthy(h) for h in halts] == [False, False, False, False, False, False, True, False]


def _replay(client: httpx.Client, sample: dict[str, Any]) -> httpx.Response:
    path = sample["path"].replace("/rest/1/hookcode/", DEMO_HOOK)
    headers = {
        k: v for k, v in sample["headers"].items() if k.lower() not in ("connection", "content-length")
    }
    body = sample["body"].encode()
    return client.request(sample["verb"], path, headers=headers, content=body or None)


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_sample_replayed_over_http_gets_a_wire_envelope(server: ServerProcess, index: int) -> None:
    sample, expect = SAMPLES[index], EXPECTED[index]
    with server.client() as client:
        response = _replay(client, sample)
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    if expect.method is None:  # the OAuth token endpoint: app.1 is not an app of this portal
        assert (response.status_code, body["error"]) == (401, "invalid_client")
        return
    if expect.method == "batch":
        assert response.status_code == 200
        assert set(body["result"]) == {"result", "result_error", "result_total", "result_next", "result_time"}
        assert "time" in body
        return
    if expect.method == "profile":
        assert response.status_code == 200
        assert body["result"]["ID"] == "1"
        return
    if expect.hook is None:  # made-up OAuth tokens: rejected before any method runs
        if server_has(client_for=server, method=expect.method):
            assert (response.status_code, body["error"]) == (401, "invalid_token")
        else:
            assert (response.status_code, body["error"]) == (404, "ERROR_METHOD_NOT_FOUND")
        return
    # webhook calls to bot methods: whatever the method answers, it is an envelope, never a 500
    assert response.status_code < 500 or body.get("error") in ("QUERY_LIMIT_EXCEEDED", "SERVICE_UNAVAILABLE")
    assert ("result" in body and "time" in body) or ("error" in body and "error_description" in body)
    if not server_has(client_for=server, method=expect.method):
        assert (response.status_code, body["error"]) == (404, "ERROR_METHOD_NOT_FOUND")


_METHODS: dict[str, set[str]] = {}


def server_has(client_for: ServerProcess, method: str) -> bool:
    """Whether the running server implements ``method`` (asked once through the ``methods`` method)."""
    if client_for.url not in _METHODS:
        with client_for.client() as client:
            names = client.get(DEMO_HOOK + "methods", params={"full": "1"}).json()["result"]
        _METHODS[client_for.url] = set(names)
    return method in _METHODS[client_for.url]
