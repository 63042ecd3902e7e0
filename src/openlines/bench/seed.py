"""Seeding: a welcome bot on line 1 and a pool of open bot-owned sessions, made through the public wire
API (``imbot.register``, ``imopenlines.config.update``, the widget API) on a running server; then, for
the scale workload, more stored sessions added in bulk through the store API."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLIENT_ID = "openlines_bench"
LINE_ID = 1
WEBHOOK = "/rest/1/demo_webhook_code/"


class SeedError(Exception):
    pass


@dataclass
class Seeded:
    client_id: str = CLIENT_ID
    line_id: int = LINE_ID
    bot_id: int = 0
    chats: list[int] = field(default_factory=list)  # the measured transfer pool
    warm_chats: list[int] = field(default_factory=list)  # a separate pool for warm-up
    visitors: list[tuple[str, str]] = field(default_factory=list)  # (visitor id, token) for W4a
    warm_visitors: list[tuple[str, str]] = field(default_factory=list)
    stored_sessions: int = 0
    seconds: float = 0.0

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Seeded:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for key in ("visitors", "warm_visitors"):
            data[key] = [tuple(v) for v in data[key]]
        return cls(**data)


async def rest(client: httpx.AsyncClient, method: str, params: dict[str, Any]) -> Any:
    answer = await client.post(WEBHOOK + method + ".json", data=params)
    data = answer.json()
    if answer.status_code != 200 or "error" in data:
        raise SeedError(f"{method}: HTTP {answer.status_code} {answer.text[:300]}")
    return data["result"]


async def available_methods(base_url: str) -> set[str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, trust_env=False) as client:
        result = await rest(client, "methods", {"full": "true"})
    return {str(m).lower() for m in (result if isinstance(result, list) else [])}


async def widget_available(base_url: str, line_id: int = LINE_ID) -> bool:
    """The widget API is there when its route answers anything but the generic 404 of an unknown path."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10, trust_env=False) as client:
        answer = await client.get(f"/widget/{line_id}/messages")
    return not (answer.status_code == 404 and b'"NOT_FOUND"' in answer.content)


async def pending_events(base_url: str) -> int | None:
    """Events waiting in the outbox (``openlines.event.delivery.list``), or None without that method."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as client:
        answer = await client.post(
            WEBHOOK + "openlines.event.delivery.list.json", data={"FILTER[STATUS]": "pending"}
        )
    if answer.status_code != 200:
        return None
    total = answer.json().get("total", 0)
    return int(total) if isinstance(total, int) else 0


async def wait_drained(base_url: str, timeout: float) -> int | None:
    """Wait until the outbox is empty, so a copied database does not start with a delivery backlog.
    Returns what is still pending after ``timeout`` seconds (None if the server cannot tell)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        pending = await pending_events(base_url)
        if not pending or loop.time() >= deadline:
            return pending
        await asyncio.sleep(0.5)


async def settle_outbox(db_path: str) -> int:
    """Mark the seeding's still-pending bot events as delivered (store API, server stopped), so that
    the measured runs do not inherit a delivery backlog. Returns how many were settled."""
    import time

    from openlines.store import open_store

    store = await open_store(db_path)
    settled = 0
    try:
        while True:
            rows, _ = await store.list_deliveries({"status": "pending"}, 0, 1000, False)
            if not rows:
                return settled
            now = time.time()
            async with store.atomic():
                for delivery in rows:
                    await store.mark_delivered(delivery.id, delivery.attempts + 1, now)
            settled += len(rows)
    finally:
        await store.close()


async def add_dead_backlog(address: str, url: str, count: int) -> None:
    """Queue ``count`` bot events for ``url`` (store API, server stopped), as a handler that stopped
    answering leaves them: pending, due, one chat each, in id order before the measured messages."""
    import time

    from openlines.domain.openlines import OutboxEvent
    from openlines.store import open_store

    store = await open_store(address)
    now = time.time()
    try:
        async with store.atomic():
            for i in range(count):
                data = {
                    "PARAMS": {"DIALOG_ID": f"chat{i + 1}", "MESSAGE_ID": str(i + 1)},
                    "USER": {"ID": "1"},
                }
                payload = {"data": data, "auth": {"application_token": "dead"}}
                await store.add_event(OutboxEvent("ONIMBOTMESSAGEADD", payload, url, 10_000_000 + i), now)
    finally:
        await store.close()


async def register_welcome_bot(client: httpx.AsyncClient, sink_url: str) -> int:
    bot_id = await rest(
        client,
        "imbot.register",
        {
            "CODE": "openlines_bench_bot",
            "TYPE": "O",
            "OPENLINE": "Y",
            "EVENT_MESSAGE_ADD": sink_url,
            "EVENT_WELCOME_MESSAGE": sink_url,
            "EVENT_BOT_DELETE": sink_url,
            "CLIENT_ID": CLIENT_ID,
            "PROPERTIES[NAME]": "Bench bot",
        },
    )
    await rest(
        client,
        "imopenlines.config.update",
        {
            "CONFIG_ID": LINE_ID,
            "PARAMS[WELCOME_BOT_ENABLE]": "Y",
            "PARAMS[WELCOME_BOT_ID]": bot_id,
            "PARAMS[WELCOME_BOT_JOIN]": "always",
        },
    )
    return int(bot_id)


async def point_bot_messages(base_url: str, bot_id: int, url: str) -> None:
    """Send the welcome bot's ONIMBOTMESSAGEADD to ``url`` from now on (``imbot.update``)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as client:
        await rest(
            client,
            "imbot.update",
            {"BOT_ID": bot_id, "CLIENT_ID": CLIENT_ID, "FIELDS[EVENT_MESSAGE_ADD]": url},
        )


async def open_sessions(
    port: int, count: int, prefix: str, concurrency: int = 32
) -> list[tuple[int, str, str]]:
    """``count`` new visitors each write a first message: one new chat and session each.
    Returns (chat id, visitor id, visitor token) in creation order. Raw keep-alive connections (as in
    the load generator): an HTTP client library would be the slower side here."""
    from openlines.bench.pyload import connect

    out: list[tuple[int, str, str] | None] = [None] * count
    todo = iter(range(count))
    path = f"/widget/{LINE_ID}/messages"

    async def worker() -> None:
        conn = await connect(port)
        try:
            for i in todo:
                visitor = f"{prefix}{i}"
                payload = json.dumps({"visitor": visitor, "text": "hello", "name": visitor}).encode()
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n"
                )
                status, answer = await conn.call(head.encode() + payload)
                if status != 200:
                    raise SeedError(f"widget message: HTTP {status} {answer[:300]!r}")
                data = json.loads(answer)
                out[i] = (int(data["chat_id"]), visitor, str(data["visitor_token"]))
        finally:
            if conn.transport is not None:
                conn.transport.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [x for x in out if x is not None]


async def seed_pool(
    base_url: str, port: int, sink_url: str, pool: int, warm: int, visitors: int, concurrency: int = 32
) -> Seeded:
    """On a running server: a welcome bot, then ``pool + warm`` bot-owned sessions. W4a's visitors are
    taken from the pool (each workload run starts from a fresh copy of the database)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as client:
        bot_id = await register_welcome_bot(client, sink_url)
    made = await open_sessions(port, pool + warm, "bench-visitor-", concurrency)
    seeded = Seeded(bot_id=bot_id, stored_sessions=len(made))
    seeded.chats = [chat for chat, _, _ in made[:pool]]
    seeded.warm_chats = [chat for chat, _, _ in made[pool:]]
    seeded.visitors = [(v, t) for _, v, t in made[: min(visitors, pool)]]
    seeded.warm_visitors = [(v, t) for _, v, t in made[pool:]]
    return seeded
