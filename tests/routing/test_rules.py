"""The pure distribution rules: tables of cases per queue type, and properties over random queues."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openlines.domain import routing as rules
from openlines.domain.openlines import Line, Session, Status

C = rules.Candidate


def verdicts(decision: rules.Decision) -> list[tuple[int, str, str]]:
    return [(v.user_id, v.verdict, v.reason) for v in decision.verdicts]


def test_evenly_takes_the_operator_idle_longest() -> None:
    queue = [C(1, sort=0, last_activity=50), C(2, sort=10, last_activity=10), C(3, sort=20, last_activity=30)]
    decision = rules.decide("evenly", queue, check_available=False, limit=5)
    assert (decision.result, decision.operator_id) == ("assigned", 2)
    assert verdicts(decision) == [(2, "chosen", "")]  # the others were not needed


def test_evenly_skips_operators_already_tried_too() -> None:
    queue = [C(1, sort=0, last_activity=5), C(2, sort=10, last_activity=5)]
    decision = rules.decide("evenly", queue, check_available=False, limit=5, history=[1], current_operator=1)
    assert (decision.result, decision.operator_id, decision.queue_history) == ("assigned", 2, [1, 2])


def test_evenly_ties_fall_back_to_queue_order() -> None:
    queue = [C(3, sort=20), C(1, sort=0), C(2, sort=10)]
    assert rules.decide("evenly", queue, check_available=False, limit=5).operator_id == 1


def test_strictly_skips_operators_already_tried() -> None:
    queue = [C(1, sort=0), C(2, sort=10), C(3, sort=20)]
    decision = rules.decide("strictly", queue, check_available=False, limit=5, history=[1])
    assert decision.operator_id == 2 and decision.queue_history == [1, 2]
    assert verdicts(decision) == [(1, "skipped", "already_tried"), (2, "chosen", "")]


def test_strictly_starts_over_when_everyone_was_tried() -> None:
    queue = [C(1, sort=0, presence="offline"), C(2, sort=10), C(3, sort=20)]
    decision = rules.decide("strictly", queue, check_available=True, limit=5, history=[2, 3])
    assert decision.operator_id == 2 and decision.queue_history == [2]
    assert verdicts(decision) == [
        (1, "skipped", "offline"),
        (2, "chosen", "history reset"),
        (3, "skipped", "already_tried"),
    ]


def test_all_offers_to_every_available_operator() -> None:
    queue = [C(1), C(2, presence="away"), C(3, load=2), C(4, sort=30, paused=True)]
    decision = rules.decide("all", queue, check_available=True, limit=2)
    assert decision.result == "offered" and decision.offered == [1] and decision.operator_id == 0
    assert verdicts(decision) == [
        (1, "offered", ""),
        (2, "skipped", "away"),
        (3, "skipped", "at_capacity"),
        (4, "skipped", "paused"),
    ]


@pytest.mark.parametrize(
    ("facts", "check", "reason"),
    [
        ({"active": False}, False, "dismissed"),
        ({"presence": "offline"}, False, None),  # CHECK_AVAILABLE=N: only the active-user test
        ({"presence": "offline"}, True, "offline"),
        ({"presence": "away"}, True, "away"),
        ({"paused": True}, True, "paused"),
        ({"idle": True}, True, "idle"),
        ({"load": 3}, False, "at_capacity"),
        ({"load": 2}, False, None),
    ],
)
def test_skip_reasons(facts: dict[str, Any], check: bool, reason: str | None) -> None:
    assert rules.skip_reason(C(7, **facts), check_available=check, limit=3, current_operator=0) == reason


def test_the_current_operator_needs_no_free_slot_but_must_be_available() -> None:
    full = C(7, load=9)
    assert rules.skip_reason(full, check_available=True, limit=3, current_operator=7) is None
    offline = C(7, load=9, presence="offline")
    assert rules.skip_reason(offline, check_available=True, limit=3, current_operator=7) == "offline"


def test_kept_when_the_current_operator_is_still_the_choice() -> None:
    decision = rules.decide(
        "evenly", [C(5), C(6, presence="offline")], check_available=True, limit=1, current_operator=5
    )
    assert (decision.result, decision.operator_id) == ("kept", 5)


@pytest.mark.parametrize(
    ("settings_", "limit", "stop", "queue_time"),
    [
        ({}, rules.UNLIMITED, Status.OPERATOR, 60.0),
        ({"MAX_CHAT": 3, "TYPE_MAX_CHAT": "answered_new", "QUEUE_TIME": 0}, 3, 25, 3600.0),
        ({"MAX_CHAT": "2", "TYPE_MAX_CHAT": "closed", "QUEUE_TIME": -5}, 2, 50, 3600.0),
        ({"MAX_CHAT": 5000, "QUEUE_TIME": 120}, rules.UNLIMITED, Status.OPERATOR, 120.0),
    ],
)
def test_line_settings(settings_: dict[str, Any], limit: int, stop: int, queue_time: float) -> None:
    line = Line(1, settings=settings_)
    assert (rules.max_chat(line), rules.stop_status(line), rules.queue_time(line)) == (
        limit,
        stop,
        queue_time,
    )
    assert rules.queue_time(Line(1, queue_type="all", settings=settings_)) == rules.ALL_RECHECK


def test_an_assignment_keeps_the_session_waiting_for_the_answer() -> None:
    session = Session(1, chat_id=9, line_id=1, customer_id=50, status=Status.NEW, version=3)
    members = {50: "customer", 11: "employee"}
    change = rules.plan_assignment(session, members, 12, [12], now=100.0)
    s = change.session
    assert (s.owner_type, s.operator_id, s.status, s.wait_answer, s.version) == (
        "user",
        12,
        Status.SKIP,
        True,
        4,
    )
    assert change.add == [12] and change.remove == [11]
    assert change.history is not None and (change.history.mode, change.history.from_type) == (
        "routing",
        "queue",
    )
    assert change.notices == ["Enquiry transferred to [USER=12][/USER] according to queuing rules"]
    back = rules.plan_return_to_queue(s, {50: "customer", 12: "employee"}, [12], now=200.0)
    assert (back.session.owner_type, back.session.operator_id) == ("queue", 0) and back.remove == [12]
    assert back.history is not None and (back.history.from_type, back.history.from_id) == ("user", 12)
    assert back.notices == ["Enquiry has been resubmitted to the queue because there are no agents available"]


candidates = st.lists(
    st.builds(
        C,
        user_id=st.integers(1, 40),
        sort=st.integers(0, 5),
        last_activity=st.floats(0, 100),
        active=st.booleans(),
        presence=st.sampled_from(["online", "away", "offline"]),
        paused=st.booleans(),
        idle=st.booleans(),
        load=st.integers(0, 4),
    ),
    max_size=8,
    unique_by=lambda c: c.user_id,
)


@settings(max_examples=200, deadline=None)
@given(
    queue=candidates,
    kind=st.sampled_from(["evenly", "strictly", "all"]),
    check=st.booleans(),
    limit=st.integers(1, 4),
    history=st.lists(st.integers(1, 40), max_size=5),
)
def test_a_decision_only_ever_picks_someone_who_may_take_it(
    queue: list[rules.Candidate], kind: rules.QueueType, check: bool, limit: int, history: list[int]
) -> None:
    decision = rules.decide(kind, queue, check_available=check, limit=limit, history=history)
    allowed = {
        c.user_id
        for c in queue
        if rules.skip_reason(c, check_available=check, limit=limit, current_operator=0) is None
    }
    if kind == "all":
        assert set(decision.offered) == allowed and decision.operator_id == 0
        assert decision.result == ("offered" if allowed else "waiting")
        return
    assert decision.offered == []
    if not allowed:
        assert decision.result == "waiting" and decision.operator_id == 0
        return
    assert decision.result == "assigned" and decision.operator_id in allowed
    assert decision.queue_history[-1] == decision.operator_id
    ordered = [c.user_id for c in rules.order(kind, queue) if c.user_id in allowed]
    untried = [uid for uid in ordered if uid not in history]
    assert decision.operator_id == (untried[0] if untried else ordered[0])
    # every verdict before the choice says why that operator was passed over
    for verdict in decision.verdicts:
        assert verdict.verdict == "chosen" or verdict.reason
