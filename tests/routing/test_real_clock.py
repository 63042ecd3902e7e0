"""The scheduler on the real clock: a server with no fake clock moves an unanswered dialogue on by
itself after QUEUE_TIME, and a timer that fell due while the server was down fires once at start.
These wait for an effect with a generous deadline; they assert what happened, not how fast."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx

from tests.conftest import DEMO_HOOK, ServerProcess

CONFIG = """
[server]
routing = true

[[lines]]
id = 1
name = "Support"
queue = [2, 3]
queue_type = "strictly"
QUEUE_TIME = 1
"""


def start(folder: Path, port: int = 0) -> ServerProcess:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "openlines.toml").write_text(CONFIG)
    return ServerProcess(folder, ["--demo", "--config", str(folder / "openlines.toml")], port=port).start()


def owner(http: httpx.Client, chat: int) -> int:
    answer = http.post(f"{DEMO_HOOK}openlines.session.get", json={"CHAT_ID": chat})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["result"]["OWNER"]["ID"])


def wait_for_owner(http: httpx.Client, chat: int, expected: int, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while owner(http, chat) != expected:
        assert time.monotonic() < deadline, f"chat {chat} never reached operator {expected}"
        time.sleep(0.1)


def test_the_scheduler_moves_an_unanswered_dialogue_and_catches_up_after_a_restart(tmp_path: Path) -> None:
    proc = start(tmp_path / "real")
    try:
        with proc.client() as http:
            made = http.post("/widget/1/messages", json={"visitor": uuid.uuid4().hex, "text": "hi"})
            assert made.status_code == 200, made.text
            chat = int(made.json()["chat_id"])
            assert owner(http, chat) == 2
            wait_for_owner(http, chat, 3)  # QUEUE_TIME later, on its own
    finally:
        proc.stop()
    time.sleep(1.2)  # the next timer (back to operator 2) falls due while the server is down
    proc = start(tmp_path / "real", port=proc.port)
    try:
        with proc.client() as http:
            wait_for_owner(http, chat, 2)
            rows = http.post(f"{DEMO_HOOK}openlines.transfer.list", json={"CHAT_ID": chat}).json()["result"]
            assert [r["TO_ID"] for r in rows][:3] == [2, 3, 2]
    finally:
        proc.stop()
