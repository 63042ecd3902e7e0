"""A server for the operator and lookup tests: the demo portal plus webhooks of operators 2, 3, 4 and
the extranet user 5, so each can call the ``imopenlines.*`` methods with its own credentials."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from openlines.cli import load_config
from openlines.domain.openlines import Chat
from openlines.engine.dialogs import customer_message
from openlines.portal import bootstrap
from tests.conftest import DEMO_HOOK, ServerProcess

SCOPES = '["imopenlines", "im", "imbot", "user"]'
OPERATOR_HOOKS = {
    2: "/rest/2/op2_hook/",
    3: "/rest/3/op3_hook/",
    4: "/rest/4/op4_hook/",
    5: "/rest/5/ext5_hook/",
}


def portal_config() -> str:
    hooks = [
        f'[[webhooks]]\nuser = {uid}\ncode = "{path.split("/")[3]}"\nscopes = {SCOPES}'
        for uid, path in OPERATOR_HOOKS.items()
    ]
    return "\n\n".join(hooks) + "\n"


SEEDED = 40  # customer dialogues per line, written before the server starts


@dataclass(frozen=True)
class Dialogue:
    chat_id: int
    session_id: int
    user_code: str
    line_id: int


async def _seed(config_path: Path, db: Path) -> tuple[list[Dialogue], int]:
    """Customer dialogues made by the real engine in the server's database file (no widget needed)."""
    boot = await bootstrap(load_config(config_path, demo=True, db=str(db)), fake_clock=True)
    services = boot.services
    made = []
    try:
        for line_id in (1, 2):
            for i in range(SEEDED):
                chat, session, _ = await customer_message(
                    services, line_id, "livechat", f"ext-{line_id}-{i}", {"name": f"Visitor {i}"}, "Hello"
                )
                made.append(Dialogue(chat.id, session.id, chat.entity_id, line_id))
        now = services.clock.now()
        private = Chat(id=0, type="P", entity_type="", entity_id="", date_create=now)  # not an Open Line
        async with services.store.atomic():
            await services.store.create_chat(private)
            for member in (2, 3):
                await services.store.add_member(private.id, member, now)
    finally:
        await services.store.close()
    return made, private.id


class Pool:
    """Hands each test dialogues nobody else has touched."""

    def __init__(self, dialogues: list[Dialogue], private_chat_id: int) -> None:
        self.free = list(dialogues)
        self.private_chat_id = private_chat_id  # a one-to-one chat of users 2 and 3

    def take(self, line_id: int = 1) -> Dialogue:
        for i, dialogue in enumerate(self.free):
            if dialogue.line_id == line_id:
                return self.free.pop(i)
        raise RuntimeError(f"no seeded dialogue left on line {line_id}; raise SEEDED")


@pytest.fixture(scope="package")
def ops_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Pool]]:
    folder = tmp_path_factory.mktemp("operators-server")
    config = folder / "openlines.toml"
    config.write_text(portal_config())
    proc = ServerProcess(folder, ["--demo", "--fake-clock", "--config", str(config)])
    dialogues, private_id = asyncio.run(_seed(config, proc.db))
    proc.start()
    yield proc, Pool(dialogues, private_id)
    proc.stop()


@pytest.fixture(scope="package")
def ops_server(ops_portal: tuple[ServerProcess, Pool]) -> ServerProcess:
    return ops_portal[0]


@pytest.fixture(scope="package")
def pool(ops_portal: tuple[ServerProcess, Pool]) -> Pool:
    return ops_portal[1]


class Rest:
    """Calls REST methods as one user (the admin's demo webhook, or an operator's own)."""

    def __init__(self, client: httpx.Client, hook: str) -> None:
        self.client = client
        self.hook = hook

    def raw(self, method: str, params: Any = None) -> httpx.Response:
        return self.client.post(self.hook + method, json=params if params is not None else {})

    def ok(self, method: str, params: Any = None) -> Any:
        answer = self.raw(method, params)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    def error(
        self, method: str, params: Any, code: str, text: str | None = None, status: int = 400
    ) -> dict[str, Any]:
        answer = self.raw(method, params)
        body: dict[str, Any] = answer.json()
        assert (answer.status_code, body.get("error")) == (status, code), answer.text
        if text is not None:
            assert body["error_description"] == text
        return body


@pytest.fixture()
def http(ops_server: ServerProcess) -> Iterator[httpx.Client]:
    with ops_server.client() as c:
        yield c


@pytest.fixture()
def admin(http: httpx.Client) -> Rest:
    return Rest(http, DEMO_HOOK)


@pytest.fixture()
def op2(http: httpx.Client) -> Rest:
    return Rest(http, OPERATOR_HOOKS[2])


@pytest.fixture()
def op3(http: httpx.Client) -> Rest:
    return Rest(http, OPERATOR_HOOKS[3])


@pytest.fixture()
def op4(http: httpx.Client) -> Rest:
    return Rest(http, OPERATOR_HOOKS[4])
