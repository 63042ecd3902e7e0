"""Scale-out over real processes: ``serve --workers`` refusals, a database that cannot be reached,
migrations under the advisory lock, the shared fake clock, and hundreds of concurrent transfers,
answers and finishes over few chats and operators against two workers on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from openlines.store import open_store
from openlines.store.base import StoreUnavailable
from tests.conftest import DEMO_HOOK, free_port, run_cli
from tests.store.pg import fresh_database
from tests.store.pg_server import PgServerProcess, pg_server

CLIENT = "load-bot"
OPERATORS = {2: "/rest/2/op2_hook/", 3: "/rest/3/op3_hook/"}
CONFIG = """
[[webhooks]]
user = 2
code = "op2_hook"
scopes = ["imopenlines", "im"]

[[webhooks]]
user = 3
code = "op3_hook"
scopes = ["imopenlines", "im"]
"""
MAX_CHAT = 2


def test_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    done = run_cli("serve", "--workers", "2", "--db", str(tmp_path / "x.db"), "--port", str(free_port()))
    assert done.returncode != 0
    assert "needs PostgreSQL" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    address = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    for args in (("serve", "--port", str(free_port())), ("migrate",)):
        done = run_cli(*args, "--db", address, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert "cannot connect to PostgreSQL" in done.stderr
        assert "Traceback" not in done.stderr + done.stdout


def test_migrate_cli_and_concurrent_migrations_apply_once() -> None:
    with fresh_database() as address:

        async def together() -> list[list[int]]:
            stores = [await open_store(address) for _ in range(4)]
            try:
                return list(await asyncio.gather(*(s.migrate() for s in stores)))
            finally:
                for s in stores:
                    await s.close()

        results = asyncio.run(together())
        applied = [r for r in results if r]
        assert len(applied) == 1 and applied[0][0] == 1 and results.count([]) == 3
        done = run_cli("migrate", "--db", address)
        assert done.returncode == 0 and "up to date" in done.stdout


def test_a_store_that_lost_its_database_answers_store_unavailable() -> None:
    with fresh_database() as address:

        async def go() -> None:
            store = await open_store(address)
            await store.migrate()
            killer = await asyncpg.connect(address)
            try:
                await killer.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid != pg_backend_pid()"
                )
            finally:
                await killer.close()
            # the pool drops the dead connection, reconnects and carries on
            outcomes: list[str] = []
            for _ in range(3):
                try:
                    await store.set_meta("k", "v")
                    outcomes.append("ok")
                except StoreUnavailable:
                    outcomes.append("unavailable")
            assert outcomes[-1] == "ok" and set(outcomes) <= {"ok", "unavailable"}
            assert await store.get_meta("k") == "v"
            await store.close()

        asyncio.run(go())


# --- two workers ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServerProcess]:
    folder = tmp_path_factory.mktemp("workers-config")
    (folder / "openlines.toml").write_text(CONFIG)
    with pg_server(
        tmp_path_factory,
        "workers-server",
        "--demo",
        "--fake-clock",
        "--workers",
        "2",
        "--config",
        str(folder / "openlines.toml"),
    ) as proc:
        yield proc


def call(http: httpx.Client, method: str, params: dict[str, Any], hook: str = DEMO_HOOK) -> Any:
    answer = http.post(f"{hook}{method}", json=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def test_the_fake_clock_moves_for_every_worker(workers: PgServerProcess) -> None:
    with workers.client() as http:
        start = call(http, "openlines.clock.get", {})["NOW"]
        moved = call(http, "openlines.clock.advance", {"SECONDS": 3600})["NOW"]
        assert moved == pytest.approx(start + 3600)
    for _ in range(6):  # a new connection each time: the kernel spreads them over both workers
        with workers.client() as http:
            assert call(http, "openlines.clock.get", {})["NOW"] == pytest.approx(moved)


def test_concurrent_transfers_answers_and_finishes_on_two_workers(workers: PgServerProcess) -> None:
    with workers.client() as http:
        bot = call(
            http,
            "imbot.register",
            {
                "CODE": "loadbot",
                "TYPE": "O",
                "EVENT_HANDLER": "http://127.0.0.1:9/bot",
                "PROPERTIES": {"NAME": "L"},
                "CLIENT_ID": CLIENT,
            },
        )
        settings = {
            "WELCOME_BOT_ENABLE": "Y",
            "WELCOME_BOT_ID": bot,
            "WELCOME_BOT_JOIN": "always",
            "MAX_CHAT": MAX_CHAT,
        }
        assert call(http, "imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": settings}) is True
        chats = []
        for i in range(8):
            answer = http.post("/widget/1/messages", json={"visitor": f"load-{i}", "text": "hi", "name": "V"})
            assert answer.status_code == 200, answer.text
            chats.append(int(answer.json()["chat_id"]))

    rng = random.Random(9)
    plan: list[tuple[str, int, dict[str, Any], str]] = []
    for _ in range(320):
        chat = rng.choice(chats)
        roll = rng.random()
        if roll < 0.6:
            target = rng.choice([{"USER_ID": 2}, {"USER_ID": 3}, {"USER_ID": 4}, {"QUEUE_ID": 1}])
            plan.append(
                ("imopenlines.bot.session.transfer", chat, {"CLIENT_ID": CLIENT, **target}, DEMO_HOOK)
            )
        elif roll < 0.85:
            user = rng.choice(list(OPERATORS))
            plan.append(("imopenlines.operator.answer", chat, {}, OPERATORS[user]))
        else:
            plan.append(("imopenlines.bot.session.finish", chat, {"CLIENT_ID": CLIENT}, DEMO_HOOK))

    async def fire() -> list[httpx.Response]:
        gate = asyncio.Semaphore(48)
        limits = httpx.Limits(max_connections=48, max_keepalive_connections=0)  # spread over workers
        async with httpx.AsyncClient(base_url=workers.url, timeout=60, limits=limits) as client:

            async def one(method: str, chat: int, params: dict[str, Any], hook: str) -> httpx.Response:
                async with gate:
                    return await client.post(f"{hook}{method}", json={"CHAT_ID": chat, **params})

            return await asyncio.gather(*(one(*step) for step in plan))

    answers = asyncio.run(fire())
    accepted: dict[int, Counter[tuple[str, int]]] = defaultdict(Counter)
    for (method, chat, params, _), answer in zip(plan, answers, strict=True):
        assert answer.status_code in (200, 400, 403), answer.text  # never a 5xx
        if answer.status_code != 200:
            assert "error" in answer.json()
            continue
        if method.endswith("transfer"):
            kind = "user" if "USER_ID" in params else "queue"
            accepted[chat][(kind, int(params.get("USER_ID", params.get("QUEUE_ID", 0))))] += 1
    assert sum(sum(c.values()) for c in accepted.values()) > 20

    async def read() -> tuple[list[asyncpg.Record], list[asyncpg.Record], list[asyncpg.Record]]:
        db = await asyncpg.connect(workers.db)
        try:
            sessions = await db.fetch(
                "SELECT * FROM sessions WHERE chat_id = ANY($1::bigint[]) ORDER BY id", chats
            )
            transfers = await db.fetch(
                "SELECT * FROM transfers WHERE chat_id = ANY($1::bigint[]) ORDER BY id", chats
            )
            members = await db.fetch(
                "SELECT chat_id, user_id FROM chat_members WHERE chat_id = ANY($1::bigint[])", chats
            )
            return sessions, transfers, members
        finally:
            await db.close()

    sessions, transfers, members = asyncio.run(read())
    humans: dict[int, set[int]] = defaultdict(set)
    for row in members:
        if row["user_id"] in (2, 3, 4):
            humans[row["chat_id"]].add(row["user_id"])
    history: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for row in transfers:
        history[row["session_id"]].append(row)
    open_per_chat = Counter(s["chat_id"] for s in sessions if not s["closed"])
    assert all(count == 1 for count in open_per_chat.values())  # one open session per chat
    load: Counter[int] = Counter()
    for session in sessions:
        rows = history[session["id"]]
        if session["closed"]:
            continue
        assert rows, session
        last = rows[-1]
        owner = (
            session["owner_type"],
            session["operator_id"] if session["owner_type"] == "user" else session["line_id"],
        )
        assert owner == (last["to_type"], last["to_id"]), (dict(session), [dict(r) for r in rows])
        if session["owner_type"] == "user":
            assert humans[session["chat_id"]] == {session["operator_id"]}  # one chat, one operator
            if last["mode"] == "routing" and session["status"] < 40:
                load[session["operator_id"]] += 1
    for chat in chats:  # every accepted bot transfer is in the history (finish: the bot's own rows)
        recorded = Counter(
            (r["to_type"], r["to_id"])
            for r in transfers
            if r["chat_id"] == chat and r["mode"] == "bot" and r["to_id"] != bot
        )
        assert recorded == accepted[chat], chat
    assert all(count <= MAX_CHAT for count in load.values()), load


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def test_a_killed_worker_loses_nothing_committed_and_is_started_again(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with pg_server(tmp_path_factory, "kill-server", "--demo", "--workers", "2") as server:
        assert server.proc is not None
        workers_before = children_of(server.proc.pid)
        assert len(workers_before) == 2
        with server.client() as http:
            bot = call(
                http,
                "imbot.register",
                {
                    "CODE": "killbot",
                    "TYPE": "O",
                    "EVENT_HANDLER": "http://127.0.0.1:9/bot",
                    "PROPERTIES": {"NAME": "K"},
                    "CLIENT_ID": CLIENT,
                },
            )
            settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot, "WELCOME_BOT_JOIN": "always"}
            assert call(http, "imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": settings}) is True
            chats = []
            for i in range(6):
                answer = http.post(
                    "/widget/1/messages", json={"visitor": f"kill-{i}", "text": "hi", "name": "K"}
                )
                assert answer.status_code == 200, answer.text
                chats.append(int(answer.json()["chat_id"]))
        victim = min(workers_before)
        targets = [{"USER_ID": 2}, {"USER_ID": 3}, {"QUEUE_ID": 1}]

        started: list[int] = []

        async def fire() -> list[tuple[int, dict[str, Any], int]]:
            limits = httpx.Limits(max_connections=24, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:

                async def one(i: int) -> tuple[int, dict[str, Any], int]:
                    chat, target = chats[i % len(chats)], targets[i % len(targets)]
                    started.append(i)
                    if len(started) == 80:
                        os.kill(victim, signal.SIGKILL)  # in the middle of the load
                    try:
                        answer = await client.post(
                            f"{DEMO_HOOK}imopenlines.bot.session.transfer",
                            json={"CHAT_ID": chat, "CLIENT_ID": CLIENT, **target},
                        )
                    except httpx.TransportError:
                        return chat, target, 0  # the connection died with the worker: not accepted
                    return chat, target, answer.status_code

                results: list[tuple[int, dict[str, Any], int]] = []
                for start in range(0, 240, 40):  # in waves, so the kill lands between finished calls
                    results += await asyncio.gather(*(one(i) for i in range(start, start + 40)))
                return results

        outcomes = asyncio.run(fire())
        assert all(status in (0, 200, 400) for _, _, status in outcomes)
        accepted: dict[int, Counter[tuple[str, int]]] = defaultdict(Counter)
        for chat, target, status in outcomes:
            if status == 200:
                kind = "user" if "USER_ID" in target else "queue"
                accepted[chat][(kind, int(target.get("USER_ID", target.get("QUEUE_ID", 0))))] += 1

        async def recorded() -> list[asyncpg.Record]:
            db = await asyncpg.connect(server.db)
            try:
                return list(
                    await db.fetch(
                        "SELECT chat_id, to_type, to_id FROM transfers WHERE mode = 'bot' AND to_id != $1",
                        bot,
                    )
                )
            finally:
                await db.close()

        history: dict[int, Counter[tuple[str, int]]] = defaultdict(Counter)
        for row in asyncio.run(recorded()):
            history[row["chat_id"]][(row["to_type"], row["to_id"])] += 1
        for chat in chats:  # every answered 200 is committed (a call cut off by the kill may be too)
            assert not accepted[chat] - history[chat], chat
        # the supervisor started a new worker, and the server answers on
        deadline = time.monotonic() + 30
        while len(children_of(server.proc.pid) - {victim}) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(children_of(server.proc.pid) - {victim}) == 2
        with server.client() as http:
            for _ in range(4):
                assert call(http, "user.get", {"ID": 1})[0]["ID"] == "1"


def test_servers_starting_together_share_one_secret() -> None:
    """Several servers bootstrapping at once on a fresh database (workers, or machines) end with
    the same portal secret, so a webhook works on every one of them."""
    from openlines.config import from_dict
    from openlines.demo import merge_demo
    from openlines.portal import bootstrap

    with fresh_database() as address:

        async def together() -> list[bytes]:
            migrated = await open_store(address)  # `openlines migrate` ran before: no secret yet
            await migrated.migrate()
            await migrated.close()
            boots = await asyncio.gather(
                *(bootstrap(from_dict(merge_demo({"server": {"db": address}}))) for _ in range(4))
            )
            try:
                return [b.services.secret for b in boots]
            finally:
                for b in boots:
                    await b.services.store.close()

        secrets = asyncio.run(together())
        assert len(set(secrets)) == 1


def test_the_startup_lock_lets_one_server_start_at_a_time() -> None:
    with fresh_database() as address:

        async def go() -> list[str]:
            first, second = await open_store(address), await open_store(address)
            order: list[str] = []
            inside = asyncio.Event()

            async def one() -> None:
                async with first.startup_lock():
                    order.append("first in")
                    inside.set()
                    await asyncio.sleep(0.3)  # a window for the second server to (wrongly) get in
                    order.append("first out")

            async def two() -> None:
                await inside.wait()
                async with second.startup_lock():
                    order.append("second in")

            try:
                await asyncio.gather(one(), two())
            finally:
                await first.close()
                await second.close()
            return order

        assert asyncio.run(go()) == ["first in", "first out", "second in"]


def sockets_to(pid: int, port: int) -> int:
    """How many TCP connections process ``pid`` holds to ``port`` on the loopback interface."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in (Path("/proc") / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                    count += 1
    return count


def test_events_claimed_by_a_killed_worker_are_delivered_by_another(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.delivery.handler import Handler

    handler = Handler().start()
    handler.default = "hang"  # every delivery stays in flight until released
    folder = tmp_path_factory.mktemp("takeover-config")
    (folder / "openlines.toml").write_text("[delivery]\nconnect_timeout = 1\nread_timeout = 2\nretries = 3\n")
    try:
        with pg_server(
            tmp_path_factory,
            "takeover-server",
            "--demo",
            "--workers",
            "2",
            "--config",
            str(folder / "openlines.toml"),
        ) as server:
            assert server.proc is not None
            with server.client() as http:
                bot = call(
                    http,
                    "imbot.register",
                    {
                        "CODE": "tk",
                        "TYPE": "O",
                        "EVENT_HANDLER": handler.url(),
                        "PROPERTIES": {"NAME": "T"},
                        "CLIENT_ID": CLIENT,
                    },
                )
                settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot, "WELCOME_BOT_JOIN": "always"}
                assert call(http, "imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": settings}) is True
            for i in range(12):  # each on a new connection, so both workers take some
                with server.client() as http:
                    answer = http.post(
                        "/widget/1/messages", json={"visitor": f"tk-{i}", "text": f"m{i}", "name": "T"}
                    )
                    assert answer.status_code == 200, answer.text
            handler.wait_for(4)
            deadline = time.monotonic() + 20
            victim = 0
            while not victim and time.monotonic() < deadline:
                holding = [pid for pid in children_of(server.proc.pid) if sockets_to(pid, handler.port)]
                victim = holding[0] if holding else 0
                time.sleep(0.05)
            assert victim, "no worker holds a delivery in flight"
            os.kill(victim, signal.SIGKILL)  # its claims stay behind in the outbox
            handler.release()

            async def outbox() -> list[asyncpg.Record]:
                db = await asyncpg.connect(server.db)
                try:
                    return list(
                        await db.fetch(
                            "SELECT id, status FROM outbox WHERE target != ''"
                        )  # all to our handler
                    )
                finally:
                    await db.close()

            deadline = time.monotonic() + 60  # the dead worker's claims lapse after their lease (13 s here)
            rows = asyncio.run(outbox())
            while any(r["status"] == "pending" for r in rows) and time.monotonic() < deadline:
                time.sleep(0.25)
                rows = asyncio.run(outbox())
            assert rows and all(r["status"] == "delivered" for r in rows), [dict(r) for r in rows]
            keys = {r.key.rsplit("-", 1)[1] for r in handler.received}
            assert {str(r["id"]) for r in rows} <= keys  # every event reached the handler
    finally:
        handler.stop()
