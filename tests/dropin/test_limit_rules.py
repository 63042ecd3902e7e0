"""The two limiters as plain objects: the leaky bucket and the operating-time meter, with property
tests over random request timings (small budgets)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openlines.config import from_dict
from openlines.limits.operating import OperatingMeter
from openlines.limits.rate import LeakyBuckets

gaps = st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None)
@given(gaps)
def test_the_bucket_admits_no_more_than_burst_plus_what_drained(steps: list[float]) -> None:
    bucket = LeakyBuckets(drain=2.0, burst=50.0)
    now, admitted = 1000.0, 0
    for gap in steps:
        now += gap
        admitted += bucket.take("ip:1", now)
        assert admitted <= 50 + 2.0 * (now - 1000.0) + 1e-9
    assert 0.0 <= bucket.level("ip:1", now) <= 50.0


@settings(max_examples=60, deadline=None)
@given(gaps)
def test_a_request_is_refused_only_when_the_bucket_is_full(steps: list[float]) -> None:
    bucket = LeakyBuckets(drain=2.0, burst=50.0)
    now = 0.0
    for gap in steps:
        now += gap
        before = bucket.level("k", now)
        assert bucket.take("k", now) == (before + 1 <= 50.0)


def test_keys_have_separate_buckets() -> None:
    bucket = LeakyBuckets(drain=1.0, burst=2.0)
    assert [bucket.take("a", 0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take("b", 0.0)
    assert bucket.take("a", 1.0) and not bucket.take("a", 1.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=120, allow_nan=False), st.floats(min_value=0, max_value=300)
        ),
        min_size=1,
        max_size=60,
    )
)
def test_operating_is_the_sum_of_counted_calls_in_live_buckets(calls: list[tuple[float, float]]) -> None:
    meter = OperatingMeter(limit=480.0)
    now = 0.0
    counted: list[tuple[float, float, float]] = []  # (bucket start slot, first call in it, seconds)
    for gap, seconds in calls:
        now += gap
        meter.add("k", seconds, now)
        if seconds >= 0.1:
            slot = now // 60
            first = next((f for s, f, _ in counted if s == slot and f + 600 > now), now)
            counted.append((slot, first, seconds))
        live = sum(sec for _, first, sec in counted if first + 600 > now)
        assert abs(meter.operating("k", now) - live) < 1e-6
        assert meter.blocked("k", now) == (live > 480.0)


def test_reset_at_is_when_the_oldest_bucket_expires() -> None:
    meter = OperatingMeter(limit=480.0)
    meter.add("k", 0.05, 10.0)  # too short to count
    assert meter.reset_at("k", 10.0) is None and meter.operating("k", 10.0) == 0
    meter.add("k", 300.0, 70.5)
    meter.add("k", 200.0, 200.0)
    assert meter.blocked("k", 200.0) and meter.reset_at("k", 200.0) == 671
    assert not meter.blocked("k", 671.0) and meter.reset_at("k", 671.0) == 800
    assert meter.operating("k", 800.0) == 0 and meter.reset_at("k", 800.0) is None


def test_limits_table_presets_and_overrides() -> None:
    assert not from_dict({}).limits.enabled
    cloud = from_dict({"limits": {"preset": "cloud"}}).limits
    assert (cloud.value("rate_drain"), cloud.value("rate_burst"), cloud.value("operating_limit")) == (
        2,
        50,
        480,
    )
    mixed = from_dict(
        {"limits": {"preset": "enterprise", "rate_burst": 10}}, env={"OPENLINES_LIMITS_OPERATING_LIMIT": "60"}
    ).limits
    assert (mixed.value("rate_drain"), mixed.value("rate_burst"), mixed.value("operating_limit")) == (
        5,
        10,
        60,
    )
    rate_only = from_dict({"limits": {"rate_drain": 1, "rate_burst": 3}}).limits
    assert rate_only.rate_on and not rate_only.operating_on
    env = from_dict({}, env={"OPENLINES_LIMITS": "cloud"}).limits
    assert env.preset == "cloud" and env.enabled


def test_bad_limits_tables_are_config_errors() -> None:
    import pytest

    from openlines.config import ConfigError

    for table in (
        {"preset": "turbo"},
        {"rate_key": "user"},
        {"rate_burst": -1},
        {"burst": 5},
        {"rate_drain": "fast"},
    ):
        with pytest.raises(ConfigError) as caught:
            from_dict({"limits": table})
        assert all(p.startswith("limits.") for p in caught.value.problems)
