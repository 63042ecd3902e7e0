"""The delivery worker in-process, against a real SQLite file and a real HTTP handler on loopback.

The fake clock drives retries: a failed event is due again at a clock time, and the test moves the
clock (through the same hook ``openlines.clock.advance`` uses) instead of waiting.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from openlines.delivery import envelope
from openlines.domain.delivery import PENDING, Attempt, Binding
from openlines.domain.openlines import OutboxEvent
from openlines.methods.openlines_events import replay
from tests.delivery.conftest import (
    APP_CLIENT_ID,
    APP_TOKEN,
    BOT_TOKEN,
    add_event,
    advance,
    start_portal,
    status_of,
    stop_portal,
    until,
    worker_of,
)
from tests.delivery.handler import Handler
from tests.store.pg import fresh_database


def test_form_envelope_headers_and_signature(tmp_path: Path, handler: Handler) -> None:
    target = handler.url("/bots/handler.php?CLIENT_ID=abc&x=1")

    async def scenario() -> None:
        services = await start_portal(tmp_path)
        try:
            delivery_id = await add_event(services, "Hello & [world]", target, chat_id=12)
            await until(lambda: len(handler.received) == 1, "the delivery")
            await until(lambda: worker_of(services).in_flight == 0, "the outcome")
            assert await status_of(services, delivery_id) == ("delivered", 1)
            got = handler.received[0]
            # Events go to the URL exactly as registered: path and query kept.
            assert got.path_qs == "/bots/handler.php?CLIENT_ID=abc&x=1"
            assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
            # PHP bracket nesting, every scalar a string.
            assert got.fields["event"] == "ONIMBOTMESSAGEADD"
            assert got.fields["data[PARAMS][MESSAGE]"] == "Hello & [world]"
            assert got.fields["data[PARAMS][DIALOG_ID]"] == "chat12"
            assert got.fields["data[USER][ID]"] == "7"
            assert got.fields["ts"] == str(int(services.clock.now()))
            assert int(got.fields["event_handler_id"]) >= 0
            assert got.posted == got.fields  # aiohttp's form reader (bitrixogram's) sees the same
            nested = got.nested
            assert nested["data"]["PARAMS"]["CHAT_ID"] == "12"
            auth = nested["auth"]
            assert auth["application_token"] == BOT_TOKEN
            assert auth["member_id"] == services.portal.member_id
            assert auth["client_endpoint"] == services.portal.client_endpoint
            assert auth["domain"] == services.portal.domain
            # Our headers: idempotency key and the HMAC of the exact body.
            assert got.key == envelope.delivery_key(services.portal, delivery_id)
            assert envelope.verify(BOT_TOKEN, got.body, got.headers["X-Openlines-Signature"])
            assert not envelope.verify("another-token", got.body, got.headers["X-Openlines-Signature"])
        finally:
            await stop_portal(services)

    asyncio.run(scenario())


def test_500_twice_then_200_retries_in_order_with_one_key(tmp_path: Path, handler: Handler) -> None:
    target = handler.url()
    handler.plans = {"first": [500, 500, 200], "second": [200], "other chat": [200]}

    async def scenario() -> None:
        services = await start_portal(tmp_path)
        try:
            first = await add_event(services, "first", target, chat_id=1)
            second = await add_event(services, "second", target, chat_id=1)
            other = await add_event(services, "other chat", target, chat_id=2)
            # The failing event holds back only the later event of its own chat.
            await until(lambda: len(handler.of("first")) == 1 and len(handler.of("other chat")) == 1, "tries")
            await until(lambda: worker_of(services).in_flight == 0, "outcomes")
            assert handler.of("second") == []
            assert await status_of(services, first) == ("pending", 1)
            assert await status_of(services, other) == ("delivered", 1)
            for tries in (2, 3):
                await advance(services, 2.5 * (tries - 1))  # past the (jittered) backoff
                await until(lambda n=tries: len(handler.of("first")) == n, f"try {tries}")
                await until(lambda: worker_of(services).in_flight == 0, "the outcome")
            await until(lambda: len(handler.of("second")) == 1, "the next event")
            chat_one = [r.label for r in handler.received if r.fields["data[PARAMS][CHAT_ID]"] == "1"]
            assert chat_one == ["first", "first", "first", "second"]
            keys = {r.key for r in handler.of("first")}
            assert len(keys) == 1 and handler.of("second")[0].key not in keys
            await until(lambda: worker_of(services).in_flight == 0, "outcomes")
            assert await status_of(services, first) == ("delivered", 3)
            assert await status_of(services, second) == ("delivered", 1)
            log = await services.store.delivery_attempts(first)
            assert [(a["ATTEMPT"], a["STATUS_CODE"], a["ERROR"]) for a in log] == [
                (1, 500, "HTTP 500"),
                (2, 500, "HTTP 500"),
                (3, 200, ""),
            ]
            assert log[0]["AT"] < log[1]["AT"] < log[2]["AT"]  # clock times: the retries waited
        finally:
            await stop_portal(services)

    asyncio.run(scenario())


def test_dead_letter_after_last_attempt_then_next_event_and_replay(tmp_path: Path, handler: Handler) -> None:
    target = handler.url()
    handler.plans = {"doomed": [500, 503, 500, 200], "after": [200]}

    async def scenario() -> None:
        services = await start_portal(tmp_path, retries=2)
        try:
            doomed = await add_event(services, "doomed", target)
            after = await add_event(services, "after", target)
            assert await status_of(services, after) == ("pending", 0)
            for tries in (1, 2, 3):
                await until(lambda n=tries: len(handler.of("doomed")) == n, f"try {tries}")
                await until(lambda: worker_of(services).in_flight == 0, "the outcome")
                await advance(services, 10)
            await until(lambda: len(handler.of("after")) == 1, "the next event")
            await until(lambda: worker_of(services).in_flight == 0, "the outcome")
            assert handler.labels() == ["doomed", "doomed", "doomed", "after"]
            assert await status_of(services, doomed) == ("dead", 3)
            assert await status_of(services, after) == ("delivered", 1)
            stored = await services.store.get_delivery(doomed)
            assert stored is not None and stored.last_error == "HTTP 500"
            # Replay: queued again, sent again with the same idempotency key.
            again = await replay(services, doomed)
            assert (again.status, again.attempts) == ("pending", 0)
            await until(lambda: len(handler.of("doomed")) == 4, "the replay")
            await until(lambda: worker_of(services).in_flight == 0, "the outcome")
            assert await status_of(services, doomed) == ("delivered", 1)
            assert len({r.key for r in handler.of("doomed")}) == 1
        finally:
            await stop_portal(services)

    asyncio.run(scenario())


def test_retries_zero_is_one_attempt_like_bitrix24(tmp_path: Path, handler: Handler) -> None:
    target = handler.url()
    handler.plans = {"once": [500, 200], "next": [200]}

    async def scenario() -> None:
        services = await start_portal(tmp_path, retries=0)
        try:
            once = await add_event(services, "once", target)
            nxt = await add_event(services, "next", target)
            await until(lambda: len(handler.of("next")) == 1, "the next event")
            await until(lambda: worker_of(services).in_flight == 0, "the outcome")
            await advance(services, 120)
            await asyncio.sleep(0.2)  # a chance for a wrong retry to happen
            assert handler.labels() == ["once", "next"]
            assert await status_of(services, once) == ("dead", 1)
            assert await status_of(services, nxt) == ("delivered", 1)
        finally:
            await stop_portal(services)

    asyncio.run(scenario())


def test_hanging_handler_times_out_and_does_not_hold_other_handlers(
    tmp_path: Path, handler: Handler, second_handler: Handler
) -> None:
    handler.plans = {"slow": ["hang", 200]}

    async def scenario() -> None:
        services = await start_portal(tmp_path, read_timeout=0.5)
        try:
            slow = await add_event(services, "slow", handler.url())
            await until(lambda: len(handler.of("slow")) == 1, "the hanging delivery")
            fast = await add_event(services, "fast", second_handler.url())
            await until(lambda: len(second_handler.of("fast")) == 1, "the other handler's delivery")
            await until(lambda: worker_of(services).in_flight == 0, "the read timeout")
            status, attempts = await status_of(services, slow)
            stored = await services.store.get_delivery(slow)
            assert stored is not None and stored.last_error.startswith("timeout")
            assert (status, attempts) == ("pending", 1)
            await advance(services, 2)
            await until(lambda: len(handler.of("slow")) == 2, "the retry")
            await until(lambda: worker_of(services).in_flight == 0, "the outcome")
            assert await status_of(services, slow) == ("delivered", 2)
            assert await status_of(services, fast) == ("delivered", 1)
        finally:
            handler.release()
            await stop_portal(services)

    asyncio.run(scenario())


def test_unreachable_handler_is_a_failure_not_a_crash(tmp_path: Path, handler: Handler) -> None:
    async def scenario() -> None:
        services = await start_portal(tmp_path, retries=1)
        try:
            dead_port = handler.url().replace(str(handler.port), "9")  # nothing listens on port 9
            gone = await add_event(services, "nowhere", dead_port)
            await until(lambda: worker_of(services).sent == 1, "the first try")
            await until(lambda: worker_of(services).in_flight == 0, "the outcome")
            await advance(services, 5)
            await until(lambda: worker_of(services).sent == 2, "the second try")
            await until(lambda: worker_of(services).in_flight == 0, "the outcome")
            stored = await services.store.get_delivery(gone)
            assert stored is not None and (stored.status, stored.attempts) == ("dead", 2)
            assert "Connect" in stored.last_error
        finally:
            await stop_portal(services)

    asyncio.run(scenario())


def test_broadcast_goes_to_every_binding_with_the_app_token(tmp_path: Path, handler: Handler) -> None:
    async def scenario() -> None:
        services = await start_portal(tmp_path)
        store = services.store
        try:
            now = services.clock.now()
            async with store.atomic():
                online = await store.bind_event(
                    Binding(
                        0,
                        APP_CLIENT_ID,
                        "OnOpenLinesSessionTransfer",
                        handler.url("/app/events"),
                        created=now,
                    )
                )
                await store.bind_event(
                    Binding(0, APP_CLIENT_ID, "ONOPENLINESSESSIONTRANSFER", "", offline=True, created=now)
                )
                payload = {"event": "ONOPENLINESSESSIONTRANSFER", "data": {"MODE": "bot", "CHAT": {"ID": 5}}}
                source = await store.add_event(OutboxEvent("ONOPENLINESSESSIONTRANSFER", payload, "", 5), now)
            await until(lambda: len(handler.received) == 1, "the app's delivery")
            got = handler.received[0]
            assert got.path_qs == "/app/events"
            assert got.fields["event"] == "ONOPENLINESSESSIONTRANSFER"
            assert got.fields["event_handler_id"] == str(online)
            assert got.fields["auth[application_token]"] == APP_TOKEN
            assert got.fields["data[CHAT][ID]"] == "5"
            assert envelope.verify(APP_TOKEN, got.body, got.headers["X-Openlines-Signature"])
            assert await status_of(services, source) == ("expanded", 0)
            queued = await store.offline_events(APP_CLIENT_ID, 10)
            assert [(e["EVENT_NAME"], e["MESSAGE_ID"]) for e in queued] == [
                ("ONOPENLINESSESSIONTRANSFER", source)
            ]
        finally:
            await stop_portal(services)

    asyncio.run(scenario())


def test_a_restart_delivers_what_was_claimed_but_not_confirmed(tmp_path: Path, handler: Handler) -> None:
    handler.plans = {"interrupted": ["hang", 200]}

    async def scenario() -> None:
        services = await start_portal(tmp_path)
        delivery_id = await add_event(services, "interrupted", handler.url())
        await until(lambda: len(handler.of("interrupted")) == 1, "the first try")
        await worker_of(services).stop(drain=0.1)  # the answer never comes: cancelled, still pending
        await stop_portal(services)
        services = await start_portal(tmp_path)
        try:
            handler.release()
            await until(lambda: len(handler.of("interrupted")) == 2, "the delivery after the restart")
            await until(lambda: worker_of(services).in_flight == 0, "the outcome")
            assert (await status_of(services, delivery_id))[0] == "delivered"
            assert len({r.key for r in handler.of("interrupted")}) == 1
        finally:
            await stop_portal(services)

    asyncio.run(scenario())


def test_next_due_is_the_next_retry_not_rows_held_back_or_in_flight(tmp_path: Path, handler: Handler) -> None:
    """The real-clock worker sleeps until ``next_due``: a row blocked behind a retry of its chat, or
    one already on the wire, must not make that time 'now' (the loop would spin)."""

    async def scenario() -> None:
        services = await start_portal(tmp_path, retries=3)
        store = services.store
        worker = worker_of(services)
        await worker.stop()  # drive the store by hand
        try:
            now = services.clock.now()
            first = await add_event(services, "a", handler.url())
            await add_event(services, "b", handler.url())
            claimed = await store.claim_due_events(now, 40.0, 10)
            assert [d.id for d in claimed] == [first]  # b waits behind a
            assert await store.next_due(now) is None  # a is on the wire, b is held back: no timer
            await store.record_attempt(Attempt(first, 1, now, 0.01, 500, "HTTP 500", PENDING, now + 8.0))
            assert await store.next_due(now) == now + 8.0  # a's retry; b stays behind it
            assert await store.claim_due_events(now, 40.0, 10) == []
            assert [d.id for d in await store.claim_due_events(now + 8.0, 40.0, 10)] == [first]
        finally:
            await stop_portal(services)

    asyncio.run(scenario())


def test_old_deliveries_are_purged_and_dead_letters_kept(tmp_path: Path, handler: Handler) -> None:
    handler.plans = {"kept": [500]}

    async def scenario() -> None:
        services = await start_portal(tmp_path, retries=0)
        store = services.store
        try:
            done = await add_event(services, "done", handler.url())
            dead = await add_event(services, "kept", handler.url(), chat_id=2)
            await until(lambda: len(handler.received) == 2, "both tries")
            await until(lambda: worker_of(services).in_flight == 0, "outcomes")
            assert await status_of(services, dead) == ("dead", 1)
            assert len(await store.delivery_attempts(done)) == 1
            assert await store.purge_deliveries(services.clock.now() - 86400) == 0  # too young
            await advance(services, 8 * 86400)
            assert await store.purge_deliveries(services.clock.now() - 7 * 86400) == 1
            assert await store.get_delivery(done) is None and await store.delivery_attempts(done) == []
            assert await status_of(services, dead) == ("dead", 1)
        finally:
            await stop_portal(services)

    asyncio.run(scenario())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_saturated_handler_does_not_hold_back_other_handlers(
    tmp_path: Path, handler: Handler, second_handler: Handler, backend: str
) -> None:
    """Many events for a hanging handler sit before one for another handler; the other one goes
    while the first handler holds all of its slots."""
    handler.default = "hang"

    async def scenario(database: str) -> None:
        services = await start_portal(tmp_path, database, concurrency=4, per_target=2)
        try:
            for chat in range(30):
                await add_event(services, f"stuck {chat}", handler.url(), chat_id=chat + 1)
            await add_event(services, "free", second_handler.url(), chat_id=99)
            await until(lambda: len(second_handler.of("free")) == 1, "the other handler's event")
            assert len(handler.received) <= 2  # its cap, whatever the backlog
        finally:
            handler.release()
            await stop_portal(services)

    if backend == "sqlite":
        asyncio.run(scenario(""))
        return
    with fresh_database("openlines_saturated") as address:
        asyncio.run(scenario(address))


def test_failing_handlers_keep_to_a_quarter_of_the_slots(
    tmp_path: Path, handler: Handler, second_handler: Handler
) -> None:
    """Six handlers that hang, with events for three chats each: once each has failed three times
    in a row it gets one delivery at a time, and together they hold at most a quarter of the slots,
    so another handler's event goes at once."""
    handler.default = "hang"
    dead = [handler.url(f"/dead{k}.php") for k in range(6)]

    async def scenario() -> None:
        services = await start_portal(
            tmp_path, concurrency=8, per_target=4, read_timeout=0.2, retries=30, max_delay=1.0, jitter=0.0
        )
        worker = worker_of(services)
        try:
            for k, url in enumerate(dead):
                for chat in range(3):
                    await add_event(services, f"dead {k}/{chat}", url, chat_id=10 * k + chat + 1)
            await until(lambda: worker.in_flight == 8, "the first attempts fill every slot")
            while not all(worker.health.failing(url) for url in dead):
                await until(lambda: worker.in_flight == 0, "the attempts to time out")
                await advance(services, 5)
                await until(lambda: worker.in_flight > 0, "the retries")
            peaks: list[dict[str, int]] = []

            async def sample() -> None:
                while True:
                    peaks.append({url: n for url, n in worker.in_flight_by_target().items() if url in dead})
                    await asyncio.sleep(0.005)

            sampler = asyncio.create_task(sample())
            for _ in range(3):
                await until(lambda: worker.in_flight == 0, "the attempts to time out")
                await advance(services, 5)
                await until(lambda: worker.in_flight > 0, "the probes")
            free = await add_event(services, "free", second_handler.url(), chat_id=99)
            await until(lambda: len(second_handler.of("free")) == 1, "the healthy handler's event")
            sampler.cancel()
            assert peaks and max(sum(p.values()) for p in peaks) <= worker.health.share == 2
            assert max(max(p.values(), default=0) for p in peaks) == 1
            await until(lambda: worker.in_flight_by_target().get(second_handler.url(), 0) == 0, "the outcome")
            assert await status_of(services, free) == ("delivered", 1)
        finally:
            handler.release()
            await stop_portal(services)

    asyncio.run(scenario())
