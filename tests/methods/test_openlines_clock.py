"""``openlines.clock.get`` / ``openlines.clock.advance``."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest

from openlines.clock import FakeClock
from openlines.methods import openlines_clock
from tests.conftest import DEMO_HOOK, IMBOT_ONLY_HOOK, USER_ONLY_HOOK, ServerProcess, oauth_tokens

GET = DEMO_HOOK + "openlines.clock.get"
ADVANCE = DEMO_HOOK + "openlines.clock.advance"


def test_get_reports_a_fake_clock(client: httpx.Client) -> None:
    result = client.get(GET).json()["result"]
    assert list(result) == ["NOW", "ISO", "FAKE"]
    assert isinstance(result["NOW"], float) and result["FAKE"] is True
    assert datetime.fromisoformat(result["ISO"]).timestamp() == int(result["NOW"])


def test_advance_moves_the_clock_by_exactly_seconds(client: httpx.Client) -> None:
    before = client.get(GET).json()["result"]["NOW"]
    after = client.post(ADVANCE, json={"SECONDS": 2.5}).json()["result"]
    assert after["NOW"] == pytest.approx(before + 2.5)
    assert client.get(GET).json()["result"] == after  # it stays there: the clock does not run by itself
    zero = client.post(ADVANCE, data={"seconds": "0"}).json()["result"]  # key case does not matter
    assert zero["NOW"] == after["NOW"]


@pytest.mark.parametrize(
    "seconds", [-1, "-0.5", "abc", "", None, [1], {"a": 1}, "nan", "inf", True, 1e300, "4e9"]
)
def test_advance_refuses_bad_seconds(client: httpx.Client, seconds: object) -> None:
    before = client.get(GET).json()["result"]["NOW"]
    body = {} if seconds is None else {"SECONDS": seconds}
    response = client.post(ADVANCE, json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "ERROR_ARGUMENT"
    assert response.json()["argument"] == "SECONDS"
    assert client.get(GET).json()["result"]["NOW"] == before


@pytest.mark.parametrize("hook", [USER_ONLY_HOOK, IMBOT_ONLY_HOOK])
def test_only_admins_may_use_the_clock(client: httpx.Client, hook: str) -> None:
    for method in ("openlines.clock.get", "openlines.clock.advance?SECONDS=1"):
        response = client.get(hook + method)
        assert (response.status_code, response.json()["error"]) == (403, "ACCESS_DENIED")


def test_real_clock_cannot_be_moved(strict_server: ServerProcess) -> None:
    with strict_server.client() as client:
        token = oauth_tokens(client)["access_token"]
        state = client.get("/rest/openlines.clock.get", params={"auth": token}).json()["result"]
        assert state["FAKE"] is False
        response = client.get("/rest/openlines.clock.advance", params={"auth": token, "SECONDS": "60"})
        assert response.status_code == 400
        assert response.json()["error"] == "FAKE_CLOCK_DISABLED"
        assert "--fake-clock" in response.json()["error_description"]


def test_advance_awaits_the_timer_hook() -> None:
    """The hook a timers module registers runs with the new time before ``advance`` answers."""
    asyncio.run(_advance_with_hook())


async def _advance_with_hook() -> None:
    from openlines.config import Config
    from openlines.portal import bootstrap

    clock = FakeClock(start=1000.0)
    config = Config()
    config.server.db = ":memory:"
    services = (await bootstrap(config, clock=clock)).services
    seen: list[float] = []

    async def fire_due_timers(now: float) -> None:
        seen.append(now)

    services.extras[openlines_clock.ON_CLOCK_ADVANCED] = fire_due_timers
    from openlines.auth.caller import Caller
    from openlines.methods.invoke import invoke

    admin = Caller(1, "apauth", frozenset(), admin=True)
    method = services.registry.find("openlines.clock.advance")
    assert method is not None
    result, _ = await invoke(services, method, admin, {"SECONDS": 30})
    assert seen == [1030.0]
    assert result == {"NOW": 1030.0, "ISO": clock.iso(1030.0), "FAKE": True}
    await services.store.close()
