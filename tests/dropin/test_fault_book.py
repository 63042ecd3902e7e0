"""The fault book as a plain object: which fault fires, counts, probabilities, clearing."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from openlines.faults.book import DELIVERY, REST, Fault, FaultBook
from openlines.faults.codes import fault_error


def fault(
    method: str,
    count: int | None = 1,
    probability: float | None = None,
    target: str = REST,
    handler: str = "",
) -> Fault:
    return Fault(0, target, method, status=500, count=count, probability=probability, handler=handler)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=40))
def test_a_counted_fault_fires_exactly_count_times(count: int, calls: int) -> None:
    book = FaultBook()
    book.add(fault("server.time", count))
    fired = sum(book.pick(REST, "server.time") is not None for _ in range(calls))
    assert fired == min(count, calls)
    assert (book.faults == []) == (calls >= count)


def test_the_first_matching_fault_fires_and_others_wait() -> None:
    book = FaultBook()
    first = book.add(fault("*", 1))
    second = book.add(fault("server.time", 1))
    assert book.pick(REST, "server.time") is first
    assert book.pick(REST, "server.time") is second
    assert book.pick(REST, "server.time") is None


def test_targets_wildcards_and_handlers() -> None:
    book = FaultBook()
    book.add(fault("*", None, 1.0))
    assert book.pick(REST, "openlines.fault.clear") is None  # never locks the test out
    assert book.pick(DELIVERY, "onimbotjoinchat") is None  # a REST fault does not touch deliveries
    book.clear()
    book.add(fault("onimbotjoinchat", 5, target=DELIVERY, handler="http://bot/"))
    assert book.pick(DELIVERY, "onimbotjoinchat", "http://other/") is None
    assert book.pick(DELIVERY, "onimbotjoinchat", "http://bot/events") is not None


def test_probability_follows_the_seed() -> None:
    book = FaultBook(rng=random.Random(3))
    book.add(fault("m", None, 0.3))
    runs = [book.pick(REST, "m") is not None for _ in range(1000)]
    assert 200 < sum(runs) < 400  # about 30 % of 1000 with this seed


def test_clear_by_id_and_target() -> None:
    book = FaultBook()
    a = book.add(fault("a"))
    book.add(fault("b", target=DELIVERY))
    assert book.clear(fault_id=a.id) == 1 and book.clear(target=REST) == 0
    assert book.clear(target=DELIVERY) == 1 and book.faults == []


def test_error_codes_and_statuses() -> None:
    assert fault_error("query_limit_exceeded", None, "").status == 503  # any case finds the real code
    assert fault_error("QUERY_LIMIT_EXCEEDED", None, "").code == "QUERY_LIMIT_EXCEEDED"
    assert fault_error("MY_CODE", None, "").status == 400
    assert fault_error("", 502, "").code == "BAD_GATEWAY"
    assert fault_error("", 451, "").body() == {
        "error": "INJECTED_FAULT",
        "error_description": "Injected fault: HTTP 451",
    }
