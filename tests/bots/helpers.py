"""Small helpers for the bots-and-customers tests: REST calls through the demo webhook and widget
messages, against a real server process."""

from __future__ import annotations

from typing import Any

import httpx

HOOK = "/rest/1/demo_webhook_code/"


def call(
    client: httpx.Client, method: str, params: Any = None, *, form: bool = False, hook: str = HOOK
) -> httpx.Response:
    if form:
        return client.post(f"{hook}{method}.json", data=params or {})
    return client.post(f"{hook}{method}.json", json=params or {})


def ok(client: httpx.Client, method: str, params: Any = None, **options: Any) -> Any:
    answer = call(client, method, params, **options)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "result" in body, body
    return body["result"]


def error(answer: httpx.Response) -> tuple[int, str, str]:
    body = answer.json()
    return answer.status_code, body.get("error", ""), body.get("error_description", "")


def register_bot(client: httpx.Client, client_id: str, code: str = "bot", **extra: Any) -> int:
    params = {
        "CODE": code,
        "TYPE": "O",
        "EVENT_HANDLER": "http://127.0.0.1:9/events",
        "CLIENT_ID": client_id,
        "PROPERTIES": {"NAME": code.title()},
        **extra,
    }
    return int(ok(client, "imbot.register", params))


def say(
    client: httpx.Client, line_id: int, visitor: str, text: str, token: str | None = None, name: str = ""
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = {"visitor": visitor, "text": text}
    if name:
        body["name"] = name
    return client.post(f"/widget/{line_id}/messages", json=body, headers=headers)


def advance_clock(client: httpx.Client, seconds: float) -> None:
    """Move the server's fake clock, and wait until a fresh request sees the new time (with several
    workers on PostgreSQL the time is published through the database)."""
    # Advancing fires every timer due by the new time, in order (a queue re-check every QUEUE_TIME
    # for each waiting dialogue of the shared server): days of fake time can take seconds to apply.
    answer = client.post(f"{HOOK}openlines.clock.advance.json", json={"SECONDS": seconds}, timeout=120)
    assert answer.status_code == 200, answer.text
    target = answer.json()["result"]["NOW"]
    for _ in range(200):
        if ok(client, "openlines.clock.get")["NOW"] >= target:
            return
    raise AssertionError("the server clock did not show the advanced time")
