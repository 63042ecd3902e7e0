"""The shared-state store methods on PostgreSQL (a SQLite server keeps both in memory, so the store
fixture's SQLite half has nothing to check): the rate bucket statement and the Redis script give the
answers of the in-memory :class:`LeakyBuckets` step for step; fault hits are counted exactly when
many connections race for them."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openlines.limits.rate import LeakyBuckets
from openlines.limits.shared import RedisBuckets
from openlines.store import open_store
from openlines.store.base import StoreUnavailable
from openlines.store.postgres import PostgresStore
from tests.store.conftest import Harness
from tests.store.pg import reset

REDIS = "redis://127.0.0.1:6379/0"
STEPS = st.lists(st.sampled_from([0.0, 0.0, 0.1, 0.25, 0.5, 1.0, 3.0]), min_size=1, max_size=25)
SHAPES = st.sampled_from([(1.0, 2.0), (2.0, 5.0), (0.5, 1.0), (10.0, 3.0)])


@pytest.fixture()
def pg(pg_address: str) -> Iterator[Harness]:
    asyncio.run(reset(pg_address))
    harness = Harness(pg_address)
    assert isinstance(harness.store, PostgresStore)
    yield harness
    harness.close()


def shared(harness: Harness) -> PostgresStore:
    assert isinstance(harness.store, PostgresStore)
    return harness.store


async def stores(address: str, n: int) -> list[PostgresStore]:
    """``n`` stores of their own on the database: as many workers."""
    opened = [await open_store(address) for _ in range(n)]
    assert all(isinstance(s, PostgresStore) for s in opened)
    return opened  # type: ignore[return-value]  # checked just above


def expected(drain: float, burst: float, gaps: list[float], start: float) -> list[bool]:
    memory, now, answers = LeakyBuckets(drain, burst), start, []
    for gap in gaps:
        now += gap
        answers.append(memory.take("k", now))
    return answers


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=SHAPES, gaps=STEPS)
def test_the_postgresql_bucket_answers_as_the_memory_one(
    pg: Harness, shape: tuple[float, float], gaps: list[float]
) -> None:
    drain, burst = shape
    key, start = f"k-{secrets.token_hex(4)}", 1_700_000_000.0  # a unix time: its digits matter

    async def go() -> list[bool]:
        now, answers = start, []
        for gap in gaps:
            now += gap
            answers.append(await shared(pg).take_rate(key, now, drain, burst))
        return answers

    assert pg.run(go()) == expected(drain, burst, gaps, start)


def test_concurrent_takes_admit_exactly_the_burst(pg: Harness) -> None:
    """Twenty connections take at the same instant from a bucket of 7: seven get in."""

    async def go() -> list[bool]:
        workers = await stores(pg.address, 4)
        try:
            takes = [s.take_rate("ip:race", 100.0, 1.0, 7.0) for s in workers for _ in range(5)]
            return list(await asyncio.gather(*takes))
        finally:
            for s in workers:
                await s.close()

    assert sum(pg.run(go())) == 7


def test_purge_forgets_only_drained_buckets(pg: Harness) -> None:
    s = shared(pg)

    async def go() -> tuple[int, list[bool]]:
        await s.take_rate("old", 0.0, 1.0, 2.0)
        await s.take_rate("new", 9.5, 1.0, 2.0)
        await s.take_rate("new", 9.5, 1.0, 2.0)
        purged = await s.purge_rate(10.0, 1.0)
        # "new" kept its level (1.0 at 10.5; forgotten it would be 0): one more fits, a second does not
        return purged, [await s.take_rate("new", 10.5, 1.0, 2.0), await s.take_rate("new", 10.5, 1.0, 2.0)]

    assert pg.run(go()) == (1, [True, False])


def test_fault_rules_are_kept_listed_hit_and_deleted(pg: Harness) -> None:
    s = shared(pg)

    async def go() -> None:
        assert await s.test_state("fake_clock_now") == (None, 0)
        counted = await s.add_fault('{"target": "rest", "name": "user.current"}', 2)
        endless = await s.add_fault('{"target": "event", "name": "ONIMBOTMESSAGEADD"}', None)
        assert [row[0] for row in await s.list_faults()] == [counted, endless]
        assert await s.hit_fault(counted) == (1, 1)
        assert await s.hit_fault(counted) == (0, 2)
        assert await s.hit_fault(counted) is None  # spent, and gone
        assert await s.hit_fault(endless) == (None, 1)
        assert [row[0] for row in await s.list_faults()] == [endless]
        assert await s.delete_faults(target="rest") == 0
        assert await s.delete_faults(target="event") == 1
        await s.add_fault('{"target": "rest", "name": "a"}', 1)
        await s.add_fault('{"target": "rest", "name": "b"}', 1)
        assert await s.delete_faults() == 2
        assert await s.list_faults() == []
        # every add and delete moved the version (a spent COUNT did not): 4 adds, 3 deletes
        assert await s.faults_version() == 7
        await s.set_meta("fake_clock_now", "123.5")
        assert await s.test_state("fake_clock_now") == ("123.5", 7)

    pg.run(go())


def test_racing_hits_spend_a_count_exactly(pg: Harness) -> None:
    """Five connections race for a rule with COUNT=3: exactly three hits are counted."""

    async def go() -> list[object]:
        fault = await shared(pg).add_fault('{"target": "rest", "name": "x"}', 3)
        workers = await stores(pg.address, 5)
        try:
            hits = [s.hit_fault(fault) for s in workers for _ in range(2)]
            return list(await asyncio.gather(*hits))
        finally:
            for s in workers:
                await s.close()

    answers = pg.run(go())
    assert sorted(a[1] for a in answers if a is not None) == [1, 2, 3]  # type: ignore[index]
    assert sum(a is None for a in answers) == 7


@settings(max_examples=15, deadline=None)
@given(shape=SHAPES, gaps=STEPS)
def test_the_redis_bucket_answers_as_the_memory_one(shape: tuple[float, float], gaps: list[float]) -> None:
    pytest.importorskip("redis")
    drain, burst = shape
    prefix, start = f"openlines-test-{secrets.token_hex(6)}:", 1_700_000_000.0

    async def go() -> list[bool]:
        buckets = RedisBuckets(REDIS, drain, burst, prefix)
        now, answers = start, []
        try:
            for gap in gaps:
                now += gap
                answers.append(await buckets.admit("k", now))
        finally:
            await buckets.client.delete(prefix + "k")
            await buckets.close()
        return answers

    assert asyncio.run(go()) == expected(drain, burst, gaps, start)


def test_a_redis_that_refuses_is_unavailable_like_a_dead_one() -> None:
    """Redis answers an error (here: no such database) instead of a bucket: the request gets the same
    503 as when Redis is down (StoreUnavailable), not a 500."""
    pytest.importorskip("redis")

    async def go() -> None:
        buckets = RedisBuckets(
            "redis://127.0.0.1:6379/999", 1.0, 2.0, f"openlines-test-{secrets.token_hex(6)}:"
        )
        try:
            with pytest.raises(StoreUnavailable, match="Redis is unavailable"):
                await buckets.admit("k", 1.0)
        finally:
            await buckets.close()

    asyncio.run(go())
