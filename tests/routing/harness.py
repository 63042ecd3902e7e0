"""An in-process portal with routing on, on a real SQLite file and a fake clock: operators 11-15,
and one line whose queue type and settings each test chooses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from openlines.config import from_dict
from openlines.domain.openlines import Chat, Session, Transfer
from openlines.engine import availability, dialogs, timers
from openlines.engine import transfer as ownership
from openlines.portal import bootstrap
from openlines.services import Services

T = TypeVar("T")
OPERATORS = (11, 12, 13, 14, 15)
LINE = 1


def routing_config(
    db: Path, queue_type: str, queue: tuple[int, ...], settings: dict[str, Any], idle_timeout: int = 0
) -> dict[str, Any]:
    return {
        "server": {"db": str(db), "routing": True, "operator_idle_timeout": idle_timeout},
        "users": [{"id": 1, "name": "Admin", "admin": True}]
        + [{"id": uid, "name": f"Op{uid}"} for uid in OPERATORS],
        "lines": [
            {"id": LINE, "name": "Support", "queue": list(queue), "queue_type": queue_type, **settings}
        ],
    }


class RoutingPortal:
    def __init__(
        self,
        folder: Path,
        queue_type: str = "evenly",
        queue: tuple[int, ...] = (11, 12),
        idle_timeout: int = 0,
        **settings: Any,
    ) -> None:
        self.folder = folder
        self.loop = asyncio.new_event_loop()
        self.config = from_dict(
            routing_config(folder / "routing.db", queue_type, queue, settings, idle_timeout)
        )
        self.services: Services = self.run(lambda: _boot(self.config))
        self.store = self.services.store
        self.visitors = 0

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        return self.loop.run_until_complete(work())

    def close(self) -> None:
        self.run(self.store.close)
        self.loop.close()

    # --- actions -----------------------------------------------------------------------------------

    def dialog(self, line_id: int = LINE) -> Chat:
        self.visitors += 1
        name = f"v{self.visitors}"
        chat, _, _ = self.run(
            lambda: dialogs.customer_message(self.services, line_id, "livechat", name, {"name": name}, "hi")
        )
        return chat

    def advance(self, seconds: float) -> None:
        self.run(lambda: timers.advance_clock(self.services, seconds))

    def status(self, user_id: int, status: str) -> None:
        self.run(lambda: availability.change(self.services, user_id, status=status))

    def pause(self, user_id: int, paused: bool) -> None:
        self.run(lambda: availability.change(self.services, user_id, paused=paused))

    def answer(self, chat_id: int, user_id: int) -> bool:
        return self.run(lambda: ownership.answer(self.services, chat_id, user_id))

    def finish(self, chat_id: int, user_id: int) -> bool:
        return self.run(lambda: ownership.finish(self.services, chat_id, user_id))

    def to_queue(self, chat_id: int, from_id: int) -> bool:
        return self.run(
            lambda: ownership.transfer(
                self.services,
                chat_id,
                "queue",
                LINE,
                mode="operator",
                from_type="user",
                from_id=from_id,
                actor_id=from_id,
                leave=True,
            )
        )

    def reply(self, chat_id: int, user_id: int, text: str = "ok") -> None:
        from openlines.engine.messages import post

        async def work() -> None:
            chat = await self.store.get_chat(chat_id)
            assert chat is not None
            await post(self.services, chat, user_id, text)
            await self.store.save_chat(chat)

        self.run(work)

    def customer_says(self, chat: Chat, text: str = "again") -> None:
        self.run(
            lambda: dialogs.customer_message(
                self.services, LINE, "livechat", chat.external_chat_id, {"id": chat.customer_id}, text
            )
        )

    # --- reading -----------------------------------------------------------------------------------

    def session(self, chat_id: int) -> Session:
        found = self.run(lambda: self.store.last_session_of_chat(chat_id))
        assert found is not None
        return found

    def owner(self, chat_id: int) -> tuple[str, int]:
        session = self.session(chat_id)
        return session.owner_type, session.operator_id

    def history(self, chat_id: int) -> list[Transfer]:
        rows, _ = self.run(lambda: self.store.list_transfers({"chat_id": chat_id}, 0, 10_000, False))
        return rows

    def assignees(self, chat_id: int) -> list[int]:
        """Every operator routing gave the chat to, in order."""
        return [t.to_id for t in self.history(chat_id) if t.mode == "routing" and t.to_type == "user"]

    def decisions(self, chat_id: int) -> list[dict[str, Any]]:
        return self.run(lambda: self.store.decisions_of(self.session(chat_id).id))

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.run(lambda: self.store.messages_of(chat_id, limit=1000))]

    def load(self, user_id: int, below: int = 40) -> int:
        return self.run(lambda: self.store.count_operator_load(user_id, LINE, below))


async def _boot(config: Any) -> Services:
    return (await bootstrap(config, fake_clock=True)).services
