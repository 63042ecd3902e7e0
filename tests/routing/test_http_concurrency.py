"""Many simultaneous answers, rejections, finishes, status changes and clock advances against one
routing server: every call answers an envelope (never a 5xx), and afterwards every open session has
exactly one owner who is a chat member, and no operator holds more routed sessions than MAX_CHAT."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx

from openlines.domain.openlines import Session
from openlines.domain.transfer_rules import ownership_problems
from tests.conftest import DEMO_HOOK, ServerProcess

HOOKS = {uid: f"/rest/{uid}/routing_conc_{uid}/" for uid in (2, 3, 4)}
CONFIG = "[server]\nrouting = true\n\n" + "\n".join(
    f'[[webhooks]]\nuser = {uid}\ncode = "routing_conc_{uid}"\nscopes = ["imopenlines", "im"]\n'
    for uid in HOOKS
)
MAX_CHAT = 3
DIALOGUES = 24


def test_simultaneous_operator_actions_keep_one_owner_and_the_cap(tmp_path: Path) -> None:
    (tmp_path / "openlines.toml").write_text(CONFIG)
    proc = ServerProcess(
        tmp_path, ["--demo", "--fake-clock", "--config", str(tmp_path / "openlines.toml")]
    ).start()
    try:
        with proc.client() as http:
            settings = {
                "QUEUE_TYPE": "strictly",
                "MAX_CHAT": MAX_CHAT,
                "TYPE_MAX_CHAT": "closed",
                "CHECK_AVAILABLE": "Y",
            }
            for line in (1, 2):
                answer = http.post(
                    f"{DEMO_HOOK}imopenlines.config.update", json={"CONFIG_ID": line, "PARAMS": settings}
                )
                assert answer.status_code == 200, answer.text
            chats = []
            for i in range(DIALOGUES):
                made = http.post(
                    f"/widget/{1 + i % 2}/messages", json={"visitor": uuid.uuid4().hex, "text": "hi"}
                )
                assert made.status_code == 200, made.text
                chats.append(int(made.json()["chat_id"]))
        statuses = asyncio.run(_storm(proc, chats))
        assert all(s < 500 for s in statuses), statuses
        _check(proc.db)
    finally:
        proc.stop()


async def _storm(proc: ServerProcess, chats: list[int]) -> list[int]:
    rng = random.Random(6)
    calls: list[tuple[str, str, dict[str, Any]]] = []
    for _ in range(150):
        uid = rng.choice(list(HOOKS))
        kind = rng.random()
        if kind < 0.35:
            calls.append((HOOKS[uid], "imopenlines.operator.answer", {"CHAT_ID": rng.choice(chats)}))
        elif kind < 0.5:
            calls.append((HOOKS[uid], "imopenlines.operator.skip", {"CHAT_ID": rng.choice(chats)}))
        elif kind < 0.6:
            calls.append((HOOKS[uid], "imopenlines.operator.finish", {"CHAT_ID": rng.choice(chats)}))
        elif kind < 0.8:
            status = rng.choice(["online", "online", "away", "offline"])
            calls.append((HOOKS[uid], "openlines.operator.status.set", {"STATUS": status}))
        elif kind < 0.9:
            calls.append((HOOKS[uid], "imopenlines.operator.pause." + rng.choice(["start", "stop"]), {}))
        else:
            calls.append((DEMO_HOOK, "openlines.clock.advance", {"SECONDS": rng.choice([30, 60, 120])}))
    async with httpx.AsyncClient(base_url=proc.url, timeout=60) as client:

        async def one(hook: str, method: str, params: dict[str, Any]) -> int:
            return (await client.post(f"{hook}{method}", json=params)).status_code

        return await asyncio.gather(*(one(*call) for call in calls))


def _check(db_path: Path) -> None:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10) as db:
        names = [r[1] for r in db.execute("PRAGMA table_info(sessions)")]
        rows = db.execute("SELECT * FROM sessions WHERE closed = 0").fetchall()
        for row in rows:
            data = dict(zip(names, row, strict=True))
            session = Session(
                id=data["id"],
                chat_id=data["chat_id"],
                line_id=data["line_id"],
                customer_id=data["customer_id"],
                owner_type=data["owner_type"],
                operator_id=data["operator_id"],
            )
            members = dict(
                db.execute(
                    "SELECT m.user_id, COALESCE(u.kind, 'employee') FROM chat_members m "
                    "LEFT JOIN users u ON u.id = m.user_id WHERE m.chat_id = ?",
                    (session.chat_id,),
                ).fetchall()
            )
            assert ownership_problems(session, members) == []
        # routed (assigned, not yet answered) sessions per operator and line stay within MAX_CHAT
        for operator, line, count in db.execute(
            "SELECT operator_id, line_id, COUNT(*) FROM sessions WHERE closed = 0 AND owner_type = 'user' "
            "AND status < 10 GROUP BY operator_id, line_id"
        ):
            assert count <= MAX_CHAT, (operator, line, count)
