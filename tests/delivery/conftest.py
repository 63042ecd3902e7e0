"""Fixtures of the delivery tests: a recording HTTP handler, and an in-process portal whose delivery
worker runs against a real SQLite file with the fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openlines import config as config_mod
from openlines.clock import FakeClock
from openlines.delivery import WORKER, install
from openlines.delivery.worker import DeliveryWorker
from openlines.domain.openlines import OutboxEvent
from openlines.methods.openlines_clock import ON_CLOCK_ADVANCED
from openlines.portal import bootstrap
from openlines.services import Services
from tests.delivery.handler import Handler

APP_CLIENT_ID = "local.listener"
APP_TOKEN = "listener-application-token"
BOT_TOKEN = "bot-application-token"


@pytest.fixture()
def handler() -> Iterator[Handler]:
    h = Handler().start()
    yield h
    h.stop()


@pytest.fixture()
def second_handler() -> Iterator[Handler]:
    h = Handler().start()
    yield h
    h.stop()


async def start_portal(folder: Path, database: str = "", **delivery: Any) -> Services:
    """A portal with its delivery worker running, on a SQLite file in ``folder`` (or ``database``)."""
    raw = {
        "delivery": {"first_retry": 1.0, "jitter": 0.2, "poll_interval": 0.05, **delivery},
        "users": [{"id": 1, "name": "Ada", "admin": True}],
        "apps": [
            {
                "client_id": APP_CLIENT_ID,
                "client_secret": "listener-secret",
                "scopes": ["imopenlines"],
                "application_token": APP_TOKEN,
            }
        ],
    }
    cfg = config_mod.from_dict(raw, "<delivery test>", {})
    cfg.server.db = database or str(folder / "openlines.db")
    services = (await bootstrap(cfg, fake_clock=True)).services
    install(services)
    for start in services.startup:
        await start()
    return services


async def stop_portal(services: Services) -> None:
    for stop in reversed(services.shutdown):
        await stop()
    await services.store.close()


def worker_of(services: Services) -> DeliveryWorker:
    found: DeliveryWorker = services.extras[WORKER]
    return found


async def add_event(
    services: Services,
    label: str,
    target: str,
    chat_id: int = 1,
    event: str = "ONIMBOTMESSAGEADD",
    token: str = BOT_TOKEN,
) -> int:
    """An outbox row shaped as the engine writes bot events: ``{"event", "data", "auth"}``."""
    payload = {
        "event": event,
        "data": {
            "PARAMS": {"MESSAGE": label, "DIALOG_ID": f"chat{chat_id}", "CHAT_ID": str(chat_id)},
            "USER": {"ID": "7", "NAME": "Customer"},
        },
        "auth": {"domain": services.portal.domain, "application_token": token},
    }
    async with services.store.atomic():
        return await services.store.add_event(
            OutboxEvent(event, payload, target, chat_id), services.clock.now()
        )


async def advance(services: Services, seconds: float) -> None:
    """Move the fake clock as ``openlines.clock.advance`` does (through its hook)."""
    clock = services.clock
    assert isinstance(clock, FakeClock)
    now = clock.advance(seconds)
    await services.extras[ON_CLOCK_ADVANCED](now)


async def until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Let the event loop run until ``condition`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


async def status_of(services: Services, delivery_id: int) -> tuple[str, int]:
    found = await services.store.get_delivery(delivery_id)
    assert found is not None
    return found.status, found.attempts
