"""What a load generator sends: one request plan, shared by the wrk Lua script and the Python generator,
so both produce the same byte sequence of requests."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TRANSFER = "imopenlines.bot.session.transfer"
MESSAGE_PREFIX = "bench message "  # + the request's number: W4 finds it again in the bot event


@dataclass
class Plan:
    """``kind``: ``fixed`` (same body each time), ``transfer`` (request i moves chat ``chats[i % n]`` to
    ``users[(i // n) % len(users)]``, so consecutive passes over the pool alternate the operator),
    ``batch`` (``per_request`` consecutive transfers in one ``batch`` call), ``widget`` (a visitor's
    message with its bearer token)."""

    path: str
    kind: str = "fixed"
    method: str = "POST"
    content_type: str = FORM
    body: str = ""
    chats: list[int] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    client_id: str = ""
    per_request: int = 1
    visitors: list[tuple[str, str]] = field(default_factory=list)
    expect: str = ""  # a substring every answer must contain; "" checks the status only
    target: str = "USER_ID"  # routing lane: W3 sends QUEUE_ID (users then holds line ids)
    receiver_port: int = 0  # W4: the generator also listens here for the bot events its messages cause
    receiver_process: bool = False  # W4: that handler runs in a child process, not on the generator's loop

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data: dict[str, Any] = json.loads(text)
        data["visitors"] = [tuple(v) for v in data.get("visitors", [])]
        return cls(**data)


def transfer_query(plan: Plan, i: int) -> str:
    n = len(plan.chats)
    chat = plan.chats[i % n]
    user = plan.users[(i // n) % len(plan.users)]
    return f"CHAT_ID={chat}&{plan.target}={user}&LEAVE=N&CLIENT_ID={plan.client_id}"


def body(plan: Plan, i: int) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and extra headers of request ``i`` (0-based)."""
    if plan.kind == "transfer":
        return transfer_query(plan, i).encode(), []
    if plan.kind == "batch":
        k = plan.per_request
        parts = [
            f"cmd%5Bt{j}%5D=" + quote(f"{TRANSFER}?{transfer_query(plan, i * k + j)}", safe="")
            for j in range(k)
        ]
        return ("halt=0&" + "&".join(parts)).encode(), []
    if plan.kind == "widget":
        visitor, token = plan.visitors[i % len(plan.visitors)]
        text = json.dumps({"visitor": visitor, "text": f"{MESSAGE_PREFIX}{i}"}).encode()
        return text, [("Authorization", f"Bearer {token}")]
    return plan.body.encode(), []
