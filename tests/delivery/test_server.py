"""Delivery through a real ``openlines serve`` process: the API stays responsive while a handler
hangs, a SIGKILL between commit and delivery loses nothing, apps bind events over REST, and the
admin methods and CLI show and replay deliveries.

Outbox rows are committed into the server's SQLite file through the store from the test process
(what the engine does inside its transactions); the server's worker finds them at its next poll.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openlines.delivery import envelope
from openlines.domain.openlines import OutboxEvent
from openlines.store import open_store
from tests.conftest import DEMO_HOOK, ServerProcess, oauth_tokens, run_cli
from tests.delivery.handler import Handler
from tests.store.pg import PG_ADDRESS, fresh_database

APP_ID = "local.events.app"
APP_SECRET = "events-app-secret"
APP_TOKEN = "events-app-token"
CONFIG = f"""
[delivery]
read_timeout = 1.0
first_retry = 1.0
poll_interval = 0.05

[[apps]]
client_id = "{APP_ID}"
client_secret = "{APP_SECRET}"
scopes = ["imopenlines", "imbot"]
install_user = 1
application_token = "{APP_TOKEN}"
"""


def start(folder: Path, database: str = "", read_timeout: float = 1.0) -> ServerProcess:
    """The demo portal with a fake clock, on SQLite (no ``database``) or on that PostgreSQL address."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "openlines.toml").write_text(
        CONFIG.replace("read_timeout = 1.0", f"read_timeout = {read_timeout}")
    )
    args = ["--demo", "--fake-clock", "--config", str(folder / "openlines.toml")]
    return ServerProcess(folder, [*args, "--db", database] if database else args).start()


def database_of(proc: ServerProcess) -> str:
    """Where the server keeps its data: the PostgreSQL address it was given, else its SQLite file."""
    if "--db" in proc.args:
        return proc.args[proc.args.index("--db") + 1]
    return str(proc.db)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The storage the tests of this module run on; PostgreSQL only where OPENLINES_TEST_PG is set."""
    if request.param == "postgresql" and not PG_ADDRESS:
        pytest.skip("OPENLINES_TEST_PG is not set")
    return str(request.param)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("delivery-server")
    if backend == "sqlite":
        proc = start(folder)
        yield proc
        proc.stop()
        return
    with fresh_database("openlines_delivery") as address:
        proc = start(folder, address)
        yield proc
        proc.stop()


def commit_event(db: str, label: str, target: str, chat_id: int = 1, event: str = "ONIMBOTMESSAGEADD") -> int:
    """Commit an outbox row the way the engine does, into the server's database."""

    async def go() -> int:
        store = await open_store(db)
        try:
            payload = {
                "event": event,
                "data": {
                    "PARAMS": {"MESSAGE": label, "CHAT_ID": str(chat_id), "DIALOG_ID": f"chat{chat_id}"}
                },
                "auth": {"application_token": "bot-token"},
            }
            async with store.atomic():
                return await store.add_event(OutboxEvent(event, payload, target, chat_id), 0.0)
        finally:
            await store.close()

    return asyncio.run(go())


def rest(client: httpx.Client, method: str, **params: Any) -> httpx.Response:
    return client.post(f"{DEMO_HOOK}{method}", json=params)


def delivery(client: httpx.Client, delivery_id: int) -> dict[str, Any]:
    answer = rest(client, "openlines.event.delivery.list", FILTER={"STATUS": ""})
    assert answer.status_code == 200, answer.text
    found = [row for row in answer.json()["result"] if row["ID"] == delivery_id]
    assert found, answer.text
    return found[0]


def wait_status(client: httpx.Client, delivery_id: int, status: str, attempts: int = 2000) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for _ in range(attempts):  # bounded: about 20 s
        row = delivery(client, delivery_id)
        if row["STATUS"] == status:
            return row
        asyncio.run(asyncio.sleep(0.01))
    raise AssertionError(f"delivery {delivery_id} never became {status}: {row}")


def test_hanging_handler_never_blocks_the_api_and_is_retried(live: ServerProcess, handler: Handler) -> None:
    handler.plans = {"hang then ok": ["hang", 200]}
    delivery_id = commit_event(database_of(live), "hang then ok", handler.url("/slow?x=1"))
    handler.wait_for(1, "hang then ok")
    with live.client() as client:
        # The handler holds the delivery open; the REST API answers meanwhile.
        answer = rest(client, "server.time")
        assert answer.status_code == 200 and "result" in answer.json()
        row = delivery(client, delivery_id)
        assert row["STATUS"] == "pending"
        # The read timeout (1 s here) fails the try; the fake clock brings the retry forward.
        for _ in range(500):
            row = delivery(client, delivery_id)
            if row["ATTEMPTS"] == 1:
                break
            asyncio.run(asyncio.sleep(0.02))
        assert row["LAST_ERROR"].startswith("timeout"), row
        assert rest(client, "openlines.clock.advance", SECONDS=5).status_code == 200
        handler.wait_for(2, "hang then ok")
        row = wait_status(client, delivery_id, "delivered")
        assert row["ATTEMPTS"] == 2
    keys = {r.key for r in handler.of("hang then ok")}
    assert keys == {row["KEY"]}
    assert handler.of("hang then ok")[1].path_qs == "/slow?x=1"


def test_sigkill_between_commit_and_delivery_loses_nothing(
    tmp_path: Path, handler: Handler, backend: str
) -> None:
    if backend == "sqlite":
        sigkill_scenario(tmp_path, handler, "")
        return
    with fresh_database("openlines_sigkill") as address:
        sigkill_scenario(tmp_path, handler, address)


def sigkill_scenario(tmp_path: Path, handler: Handler, database: str) -> None:
    handler.plans = {"survivor": ["hang", 200]}
    proc = start(tmp_path / "server", database)
    try:
        delivery_id = commit_event(database_of(proc), "survivor", handler.url())
        handler.wait_for(1, "survivor")  # on the wire, not yet answered
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGKILL)
        proc.proc.wait(10)
        proc.log.close()
        handler.release()
        proc = ServerProcess(proc.folder, proc.args).start()
        with proc.client() as client:
            if database:
                # Several workers may share PostgreSQL, so a restart does not forget claims: the dead
                # worker's claim lapses after connect + read timeout + 10 s of (here fake) time.
                assert rest(client, "openlines.clock.advance", SECONDS=30).status_code == 200
            handler.wait_for(2, "survivor")
            row = wait_status(client, delivery_id, "delivered")
        assert len({r.key for r in handler.of("survivor")}) == 1
        assert row["KEY"] == handler.of("survivor")[0].key
    finally:
        proc.stop()


@pytest.mark.skipif(not PG_ADDRESS, reason="OPENLINES_TEST_PG is not set")
def test_a_graceful_stop_hands_its_deliveries_to_another_server_at_once(
    tmp_path: Path, handler: Handler
) -> None:
    """Two servers share PostgreSQL. One stops (SIGTERM) while its delivery hangs: it gives the claim
    back, so the other sends the event without waiting for the lease. The shared clock is fake and
    never moves here, so a claim left to lapse would hold the event for good."""
    handler.plans = {"handover": ["hang", 200]}
    with fresh_database("openlines_handover") as address:
        first = start(tmp_path / "first", address, read_timeout=30)
        second = None
        try:
            delivery_id = commit_event(address, "handover", handler.url())
            handler.wait_for(1, "handover")  # on the wire at the first server, no answer yet
            first.stop()  # SIGTERM: a graceful stop
            second = start(tmp_path / "second", address, read_timeout=30)
            handler.wait_for(2, "handover")
            with second.client() as client:
                row = wait_status(client, delivery_id, "delivered")
            assert row["ATTEMPTS"] == 1  # the cut attempt was never counted as a failure
            assert len({r.key for r in handler.of("handover")}) == 1
        finally:
            handler.release()
            first.stop()
            if second is not None:
                second.stop()


def test_app_binds_events_and_receives_broadcasts_signed(live: ServerProcess, handler: Handler) -> None:
    with live.client() as client:
        tokens = oauth_tokens(client, APP_ID, APP_SECRET)
        auth = {"auth": tokens["access_token"]}
        url = handler.url("/app/events.php?portal=1")
        bind = client.post(
            "/rest/event.bind.json", data={**auth, "event": "OnOpenLinesSessionTransfer", "handler": url}
        )
        assert bind.status_code == 200 and bind.json()["result"] is True, bind.text
        again = client.post(
            "/rest/event.bind.json", data={**auth, "event": "OnOpenLinesSessionTransfer", "handler": url}
        )
        assert again.status_code == 400 and again.json()["error"] == "ERROR_CORE"
        unknown = client.post("/rest/event.bind.json", data={**auth, "event": "OnNothing", "handler": url})
        assert unknown.json()["error"] == "ERROR_EVENT_NOT_FOUND"
        offline = client.post(
            "/rest/event.bind.json",
            data={**auth, "event": "OnOpenLinesSessionTransfer", "event_type": "offline"},
        )
        assert offline.json()["result"] is True, offline.text
        listed = client.post("/rest/event.get.json", data=auth).json()["result"]
        assert {
            "event": "ONOPENLINESSESSIONTRANSFER",
            "handler": url,
            "auth_type": "0",
            "offline": 0,
        } in listed
        # Webhooks have no application: the real server's answer.
        hooked = rest(client, "event.bind", event="OnSessionStart", handler=url)
        assert hooked.status_code == 403 and hooked.json()["error"] == "WRONG_AUTH_TYPE"

        source = commit_event(
            database_of(live), "transfer", "", chat_id=7, event="ONOPENLINESSESSIONTRANSFER"
        )
        got = handler.wait_for(1, "transfer")[0]
        assert got.path_qs == "/app/events.php?portal=1"
        assert got.fields["auth[application_token]"] == APP_TOKEN
        assert got.fields["data[PARAMS][CHAT_ID]"] == "7"
        assert envelope.verify(APP_TOKEN, got.body, got.headers["X-Openlines-Signature"])
        assert wait_status(client, source, "expanded")["ORIGIN_ID"] == 0

        polled = client.post("/rest/event.offline.get.json", data=auth).json()["result"]
        assert [e["EVENT_NAME"] for e in polled["events"]] == ["ONOPENLINESSESSIONTRANSFER"]
        assert polled["events"][0]["EVENT_DATA"]["PARAMS"]["CHAT_ID"] == "7"
        assert client.post("/rest/event.offline.get.json", data=auth).json()["result"]["events"] == []

        # clear=0 reserves under a process_id; others do not see reserved events; clear removes them.
        commit_event(database_of(live), "transfer 2", "", chat_id=8, event="ONOPENLINESSESSIONTRANSFER")
        handler.wait_for(1, "transfer 2")
        reserved = client.post("/rest/event.offline.get.json", data={**auth, "clear": "0"}).json()["result"]
        assert reserved["process_id"] and len(reserved["events"]) == 1
        assert client.post("/rest/event.offline.get.json", data=auth).json()["result"]["events"] == []
        queue = client.post("/rest/event.offline.list.json", data=auth).json()["result"]
        assert [e["PROCESS_ID"] for e in queue] == [reserved["process_id"]]
        cleared = client.post(
            "/rest/event.offline.clear.json", data={**auth, "process_id": reserved["process_id"]}
        )
        assert cleared.json()["result"] is True
        assert client.post("/rest/event.offline.list.json", data=auth).json()["result"] == []

        gone = client.post(
            "/rest/event.unbind.json", data={**auth, "event": "OnOpenLinesSessionTransfer", "handler": url}
        )
        assert gone.json()["result"] == {"count": 1}


def test_admin_list_replay_and_cli(live: ServerProcess, handler: Handler) -> None:
    handler.plans = {"replayed": [200, 200]}
    delivery_id = commit_event(database_of(live), "replayed", handler.url(), chat_id=3)
    handler.wait_for(1, "replayed")
    with live.client() as client:
        wait_status(client, delivery_id, "delivered")
        page = rest(client, "openlines.event.delivery.list", FILTER={"STATUS": "delivered"}).json()
        assert page["total"] >= 1 and all(row["STATUS"] == "delivered" for row in page["result"])
        bad = rest(client, "openlines.event.delivery.list", FILTER={"STATUS": "lost"})
        assert bad.status_code == 400
        assert rest(client, "openlines.event.delivery.replay", ID=999999).status_code == 404
        replayed = rest(client, "openlines.event.delivery.replay", ID=delivery_id).json()["result"]
        assert replayed["STATUS"] == "pending" and replayed["ATTEMPTS"] == 0
        handler.wait_for(2, "replayed")
        wait_status(client, delivery_id, "delivered")
        # Pages of 50, newest first, filtered by target.
        paged = handler.url("/paged")
        made = [commit_event(database_of(live), f"page {i}", paged, chat_id=100 + i) for i in range(51)]
        handler.wait_for(53, None)  # the two "replayed" deliveries and these 51
        first = rest(client, "openlines.event.delivery.list", FILTER={"TARGET": paged}).json()
        assert (first["total"], first["next"], len(first["result"])) == (51, 50, 50)
        assert first["result"][0]["ID"] == made[-1]
        second = client.post(
            f"{DEMO_HOOK}openlines.event.delivery.list", json={"FILTER": {"TARGET": paged}, "start": 50}
        ).json()
        assert [row["ID"] for row in second["result"]] == [made[0]] and "next" not in second
        got = rest(client, "openlines.event.delivery.get", ID=delivery_id).json()["result"]
        assert got["DATA"]["data"]["PARAMS"]["MESSAGE"] == "replayed" and len(got["HISTORY"]) == 2
        # A non-admin webhook may not look.
        assert rest_as(client, "/rest/2/user_scope_hook/", "openlines.event.delivery.list").status_code in (
            401,
            403,
        )

    shown = run_cli("events", "show", str(delivery_id), "--db", database_of(live))
    assert shown.returncode == 0, shown.stderr
    shown_row = json.loads(shown.stdout)
    assert shown_row["DATA"]["data"]["PARAMS"]["MESSAGE"] == "replayed"
    assert [a["STATUS_CODE"] for a in shown_row["HISTORY"]] == [200, 200]
    listed = run_cli(
        "events",
        "list",
        "--json",
        "--status",
        "delivered",
        "--target",
        handler.url(),
        "--db",
        database_of(live),
    )
    assert listed.returncode == 0, listed.stderr
    assert delivery_id in [json.loads(line)["ID"] for line in listed.stdout.splitlines()]
    again = run_cli("events", "replay", str(delivery_id), "--db", database_of(live))
    assert again.returncode == 0, again.stderr
    handler.wait_for(3, "replayed")  # the live server's worker picks it up at its next poll
    missing = run_cli("events", "replay", "999999", "--db", database_of(live))
    assert missing.returncode == 2 and "not found" in missing.stderr


def rest_as(client: httpx.Client, hook: str, method: str) -> httpx.Response:
    return client.post(f"{hook}{method}", json={})
