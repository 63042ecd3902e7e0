"""What two servers on one PostgreSQL database share while a bot is tested, over real processes: the
request-rate bucket of ``[limits]`` (in PostgreSQL, or in Redis with ``--redis``), fault rules whose
COUNT is spent across both, and a fake clock whose moves reach the other server's retries and timers
without any request to it. The two servers stand for workers on two machines: each test talks to each
one on purpose."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from openlines.faults.book import REST, Fault
from openlines.faults.shared import spec as shared_spec
from openlines.store import open_store
from openlines.store.postgres import PostgresStore
from tests.conftest import DEMO_HOOK, oauth_tokens
from tests.delivery.handler import Handler
from tests.store.pg import PG_ADDRESS, fresh_database
from tests.store.pg_server import PgServerProcess

pytestmark = pytest.mark.skipif(not PG_ADDRESS, reason="OPENLINES_TEST_PG is not set")

BURST = 6
CONFIG = f"""
[limits]
rate_drain = 1.0
rate_burst = {BURST}

[delivery]
first_retry = 60.0
jitter = 0.0
poll_interval = 0.05
"""
REDIS = "redis://127.0.0.1:6379/0"


def pair(
    folder: Path, address: str, *extra: str, first_delivers: bool = True
) -> tuple[PgServerProcess, PgServerProcess]:
    """Two servers on one database. ``first_delivers=False`` leaves the first one's delivery worker
    and timers (routing) off, so that only the second sends events and fires timers."""
    servers = []
    for name, delivers in (("a", first_delivers), ("b", True)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        config = folder / name / "openlines.toml"
        text = CONFIG.replace("[delivery]", f"[delivery]\nenabled = {str(delivers).lower()}")
        if not delivers:
            text = "[server]\nrouting = false\n\n" + text
        config.write_text(text)
        args = ["--demo", "--fake-clock", "--config", str(config), *extra]
        try:
            servers.append(PgServerProcess(folder / name, args, address=address).start())
        except BaseException:
            for started in servers:
                started.stop()
            raise
    return servers[0], servers[1]


@pytest.fixture()
def servers(tmp_path: Path) -> Iterator[tuple[PgServerProcess, PgServerProcess]]:
    with fresh_database("openlines_shared") as address:
        first, second = pair(tmp_path, address)
        try:
            yield first, second
        finally:
            first.stop()
            second.stop()


def rest(server: PgServerProcess, method: str, **params: Any) -> httpx.Response:
    with server.client() as client:
        return client.post(f"{DEMO_HOOK}{method}", json=params)


def burst_then_drain(first: PgServerProcess, second: PgServerProcess) -> None:
    """BURST requests in all get in, alternating between the servers; the next is refused on either;
    a fake-clock second later (one drained) one more gets in."""
    answers = [rest((first, second)[i % 2], "server.time").status_code for i in range(BURST)]
    assert answers == [200] * BURST
    for server in (first, second):
        refused = rest(server, "server.time")
        assert refused.status_code == 503 and refused.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    assert rest(first, "openlines.clock.advance", SECONDS=1).status_code == 200
    assert rest(second, "server.time").status_code == 200
    assert rest(first, "server.time").status_code == 503


def test_the_rate_bucket_is_shared_through_postgresql(
    servers: tuple[PgServerProcess, PgServerProcess],
) -> None:
    burst_then_drain(*servers)


def test_the_rate_bucket_is_shared_through_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    redis = pytest.importorskip("redis")
    prefix = f"openlines-test-{secrets.token_hex(6)}:"  # this run's keys: parallel runs do not meet
    monkeypatch.setenv("OPENLINES_REDIS_PREFIX", prefix)  # the servers inherit the environment
    client = redis.Redis.from_url(REDIS)
    with fresh_database("openlines_redis") as address:
        first, second = pair(tmp_path, address, "--redis", REDIS)
        try:
            burst_then_drain(first, second)
            keys = client.keys(f"{prefix}*")
            assert len(keys) == 1  # the one client, counted in Redis under the configured prefix
        finally:
            first.stop()
            second.stop()
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)


def test_a_bad_redis_address_is_refused_and_a_dead_redis_answers_503(tmp_path: Path) -> None:
    from tests.conftest import free_port, run_cli

    bad = run_cli("serve", "--demo", "--redis", "http://x", "--db", str(tmp_path / "x.db"))
    assert bad.returncode == 2 and "--redis must start with" in bad.stderr
    with fresh_database("openlines_noredis") as address:
        first, second = pair(tmp_path, address, "--redis", f"redis://127.0.0.1:{free_port()}/0")
        try:
            answer = rest(first, "server.time")
            assert answer.status_code == 503 and answer.json()["error"] == "SERVICE_UNAVAILABLE"
            assert "Redis is unavailable" in answer.json()["error_description"]
            assert (
                rest(second, "openlines.clock.get").status_code == 200
            )  # the control panel is never limited
        finally:
            first.stop()
            second.stop()


def test_a_counted_fault_fires_count_times_across_both_servers(
    servers: tuple[PgServerProcess, PgServerProcess],
) -> None:
    first, second = servers
    added = rest(first, "openlines.fault.add", METHOD="user.current", ERROR="INTERNAL_SERVER_ERROR", COUNT=3)
    assert added.status_code == 200, added.text
    # Added through the first server, hit through the second first: three hits in all, then none.
    order = [second, second, first, second, first, second]
    statuses = [rest(server, "user.current").status_code for server in order]
    assert statuses == [500, 500, 500, 200, 200, 200], statuses
    for server in servers:  # spent: gone from both
        assert rest(server, "openlines.fault.list").json()["result"] == []

    rest(second, "openlines.fault.add", METHOD="user.current", ERROR="INTERNAL_SERVER_ERROR", PROBABILITY=1)
    listed = rest(first, "openlines.fault.list").json()["result"]
    assert [f["METHOD"] for f in listed] == ["user.current"]
    assert rest(first, "openlines.fault.clear").json()["result"] == 1
    rest(first, "openlines.clock.advance", SECONDS=10)
    assert rest(second, "user.current").status_code == 200  # cleared on one server: gone on both


def test_a_rule_applies_on_the_next_request_before_its_change_notice_arrives(
    servers: tuple[PgServerProcess, PgServerProcess],
) -> None:
    """A change notice can reach a worker a moment after the next request does; the request reads the
    rules' version with the fake time, so it is matched against the new rule anyway. Here the rule is
    stored as fault.add stores it but no notice is sent at all."""
    first, second = servers
    assert rest(second, "user.current").status_code == 200  # the second has read the rules: none

    async def store_rule() -> None:
        store = await open_store(first.address)
        try:
            assert isinstance(store, PostgresStore)
            rule = Fault(id=0, target=REST, method="user.current", error="INTERNAL_SERVER_ERROR", count=1)
            await store.add_fault(shared_spec(rule), rule.count)
        finally:
            await store.close()

    asyncio.run(store_rule())
    assert rest(second, "user.current").status_code == 500
    assert rest(first, "user.current").status_code == 200  # COUNT=1: spent on the second


def welcome_bot(server: PgServerProcess, handler: Handler, name: str, **settings: Any) -> int:
    """An Open Lines bot with its events at ``handler``, made line 1's welcome bot; its id."""
    bot = int(
        rest(
            server,
            "imbot.register",
            CODE=f"{name}_bot",
            TYPE="O",
            OPENLINE="Y",
            EVENT_HANDLER=handler.url(f"/{name}.php"),
            CLIENT_ID=f"{name}-bot",
            PROPERTIES={"NAME": name.title()},
        ).json()["result"]
    )
    params = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot, "WELCOME_BOT_JOIN": "always", **settings}
    assert rest(server, "imopenlines.config.update", CONFIG_ID=1, PARAMS=params).status_code == 200
    return bot


@pytest.fixture()
def quiet_first(tmp_path: Path) -> Iterator[tuple[PgServerProcess, PgServerProcess]]:
    """Two servers of which only the second delivers events and fires timers."""
    with fresh_database("openlines_idle") as address:
        first, second = pair(tmp_path, address, first_delivers=False)
        try:
            yield first, second
        finally:
            first.stop()
            second.stop()


def join_waiting_for_its_retry(server: PgServerProcess, handler: Handler, name: str) -> None:
    """A welcome bot whose handler fails the first ONIMBOTJOINCHAT, and a visitor who writes: the
    join waits 60 s of fake time for its retry."""
    handler.plans = {"ONIMBOTJOINCHAT": [500, 200]}
    welcome_bot(server, handler, name)
    with server.client() as client:
        visitor = client.post("/widget/1/messages", json={"visitor": f"{name}-visitor", "text": "hi"})
    assert visitor.status_code == 200, visitor.text
    handler.wait_for(1, "ONIMBOTJOINCHAT", answered=True)


def test_an_idle_server_follows_a_clock_move_made_elsewhere(
    quiet_first: tuple[PgServerProcess, PgServerProcess], handler: Handler
) -> None:
    """A delivery fails and waits 60 s of fake time for its retry; only the second server delivers.
    The clock is moved through the first server only: the second, which serves no request meanwhile,
    hears of the move and sends the retry."""
    first, second = quiet_first
    join_waiting_for_its_retry(second, handler, "idle")
    assert rest(first, "openlines.clock.advance", SECONDS=120).status_code == 200
    joins = handler.wait_for(2, "ONIMBOTJOINCHAT", answered=True)
    assert joins[0].key == joins[1].key  # the same event, tried again


def test_a_clock_move_missed_while_the_listener_was_cut_off_is_caught_up_on_reconnection(
    quiet_first: tuple[PgServerProcess, PgServerProcess], handler: Handler
) -> None:
    """The listener connections are killed (as a database restart or a network cut would), and the
    clock is moved through the first server before they are back, so its notice reaches nobody. The
    second server, which sends the retry and serves no request meanwhile, reads the time again once
    its listener reconnects and sends the retry anyway."""
    from openlines.store.postgres.listener import APPLICATION_NAME

    first, second = quiet_first
    join_waiting_for_its_retry(second, handler, "cut")

    async def cut_listeners() -> int:
        connection = await asyncpg.connect(first.address)
        try:
            killed = await connection.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = $1",
                APPLICATION_NAME,
            )
            return len(killed)
        finally:
            await connection.close()

    assert asyncio.run(cut_listeners()) == 2  # one per server
    assert rest(first, "openlines.clock.advance", SECONDS=120).status_code == 200  # heard by nobody
    joins = handler.wait_for(2, "ONIMBOTJOINCHAT", answered=True)
    assert joins[0].key == joins[1].key


def test_an_idle_server_fires_the_timers_of_a_clock_move_made_elsewhere(
    quiet_first: tuple[PgServerProcess, PgServerProcess], handler: Handler
) -> None:
    """The welcome bot has 60 s; only the second server runs timers, and the clock is moved through
    the first: the second hands the dialogue to the queue without a request of its own."""
    first, second = quiet_first
    bot = welcome_bot(second, handler, "slow", WELCOME_BOT_TIME=60)
    with second.client() as client:
        chat = client.post("/widget/1/messages", json={"visitor": "timer-visitor", "text": "hi"}).json()[
            "chat_id"
        ]
    owner = rest(first, "openlines.session.get", CHAT_ID=chat).json()["result"]["OWNER"]
    assert owner == {"TYPE": "bot", "ID": bot}
    assert rest(first, "openlines.clock.advance", SECONDS=120).status_code == 200
    for _ in range(500):  # bounded, about 10 s: the second server hears the move and fires the timer
        owner = rest(first, "openlines.session.get", CHAT_ID=chat).json()["result"]["OWNER"]
        if owner["TYPE"] != "bot":
            break
        time.sleep(0.02)
    assert owner["TYPE"] in ("queue", "user"), owner


@pytest.fixture()
def handler() -> Iterator[Handler]:
    h = Handler().start()
    yield h
    h.stop()


def test_a_binding_made_on_one_server_applies_on_the_other_at_once(
    servers: tuple[PgServerProcess, PgServerProcess], handler: Handler
) -> None:
    """The second server has just looked up who is bound (nobody); the app binds OnSessionStart
    through the first; the next session the second opens already goes to the app."""
    first, second = servers

    def visitor_writes(name: str) -> None:
        with second.client() as client:
            assert (
                client.post("/widget/1/messages", json={"visitor": name, "text": "hello"}).status_code == 200
            )

    visitor_writes("before-binding")  # the second server now holds a fresh view: nothing bound
    with first.client() as client:
        token = oauth_tokens(client)["access_token"]
        bound = client.post(
            "/rest/event.bind.json",
            json={"auth": token, "event": "OnSessionStart", "handler": handler.url("/s")},
        )
    assert bound.status_code == 200 and bound.json()["result"] is True, bound.text
    visitor_writes("after-binding")
    (start,) = handler.wait_for(1, "ONSESSIONSTART")
    assert start.fields["data[DATA][0][connector][connector_id]"] == "livechat"


def test_a_clock_move_is_shared_before_its_answer_reaches_the_caller(
    servers: tuple[PgServerProcess, PgServerProcess],
) -> None:
    """The caller that has the answer of an advance on one server asks the other at once: that one
    already reads the new time. (The time used to be published after the answer had gone out, so a
    quick caller could still meet the old time, and a full rate bucket, on the other server.)"""
    first, second = servers
    behind = []
    with first.client() as one, second.client() as other:
        for _ in range(60):
            moved = one.post(f"{DEMO_HOOK}openlines.clock.advance", json={"SECONDS": 1}).json()["result"]
            seen = other.post(f"{DEMO_HOOK}openlines.clock.get").json()["result"]
            if seen["NOW"] < moved["NOW"]:
                behind.append((moved["NOW"], seen["NOW"]))
    assert behind == []
