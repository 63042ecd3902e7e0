"""The pure transfer rules: destination parsing, LEAVE, texts, and the ownership invariant of every
planned change (hypothesis over sessions, members and targets)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openlines.domain import texts
from openlines.domain import transfer_rules as rules
from openlines.domain.openlines import Line, Session, Status
from openlines.protocol.errors import RestError

# --- destination -----------------------------------------------------------------------------------

ACCEPTED: list[tuple[dict[str, Any], tuple[str, int]]] = [
    ({"USER_ID": 7}, ("user", 7)),
    ({"USER_ID": "7"}, ("user", 7)),
    ({"USER_ID": " 7"}, ("user", 7)),
    ({"USER_ID": "7abc"}, ("user", 7)),
    ({"USER_ID": 7.9}, ("user", 7)),
    ({"USER_ID": "1e3"}, ("user", 1000)),
    ({"USER_ID": True}, ("user", 1)),
    ({"QUEUE_ID": "2"}, ("queue", 2)),
    ({"TRANSFER_ID": "queue5"}, ("queue", 5)),
    ({"TRANSFER_ID": "queue5x"}, ("queue", 5)),
    ({"TRANSFER_ID": "12"}, ("user", 12)),
    ({"TRANSFER_ID": 12}, ("user", 12)),
    ({"TRANSFER_ID": "12abc"}, ("user", 12)),
    # TRANSFER_ID overrides the explicit parameter of its kind...
    ({"TRANSFER_ID": "12", "USER_ID": 3}, ("user", 12)),
    ({"TRANSFER_ID": "queue2", "QUEUE_ID": 1}, ("queue", 2)),
    # ...and USER_ID still wins over a queue
    ({"TRANSFER_ID": "queue5", "USER_ID": 7}, ("user", 7)),
    ({"USER_ID": 7, "QUEUE_ID": 2}, ("user", 7)),
    ({"TRANSFER_ID": None, "QUEUE_ID": 2}, ("queue", 2)),
    ({"USER_ID": 2**80}, ("user", 2**63 - 1)),
]


@pytest.mark.parametrize(("params", "expected"), ACCEPTED)
def test_destinations(params: dict[str, Any], expected: tuple[str, int]) -> None:
    found = rules.parse_destination(params)
    assert (found.type, found.id) == expected


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({}, "TRANSFER_ID_EMPTY"),
    ({"TRANSFER_ID": None}, "TRANSFER_ID_EMPTY"),
    ({"user_id": 5, "queue_id": 1, "transfer_id": "5"}, "TRANSFER_ID_EMPTY"),  # names are case-sensitive
    ({"USER_ID": 0}, "USER_ID_EMPTY"),
    ({"USER_ID": "-3"}, "USER_ID_EMPTY"),
    ({"USER_ID": ""}, "USER_ID_EMPTY"),
    ({"TRANSFER_ID": "Queue5"}, "USER_ID_EMPTY"),
    ({"TRANSFER_ID": "abc"}, "USER_ID_EMPTY"),
    ({"TRANSFER_ID": ""}, "USER_ID_EMPTY"),
    ({"TRANSFER_ID": False}, "USER_ID_EMPTY"),
    ({"QUEUE_ID": 0}, "QUEUE_ID_EMPTY"),
    ({"TRANSFER_ID": "queue"}, "QUEUE_ID_EMPTY"),
    ({"TRANSFER_ID": "queueX"}, "QUEUE_ID_EMPTY"),
    ({"TRANSFER_ID": "queue-1"}, "QUEUE_ID_EMPTY"),
    ({"TRANSFER_ID": [1]}, "ERROR_ARGUMENT"),
    ({"TRANSFER_ID": {"a": "1"}}, "ERROR_ARGUMENT"),
    ({"USER_ID": [5]}, "ERROR_ARGUMENT"),
    ({"QUEUE_ID": {"0": "1"}}, "ERROR_ARGUMENT"),
]


@pytest.mark.parametrize(("params", "code"), REFUSED)
def test_refused_destinations(params: dict[str, Any], code: str) -> None:
    with pytest.raises(RestError) as caught:
        rules.parse_destination(params)
    assert caught.value.code == code and caught.value.status == 400
    texts_by_code = {
        "TRANSFER_ID_EMPTY": "Queue ID or User ID can't be empty",
        "USER_ID_EMPTY": "User ID can't be empty",
        "QUEUE_ID_EMPTY": "QUEUE ID can't be empty",
    }
    if code in texts_by_code:
        assert caught.value.description == texts_by_code[code]
    else:
        assert caught.value.extra["argument"] in ("TRANSFER_ID", "USER_ID", "QUEUE_ID")


def test_operator_side_ignores_a_transfer_id_that_is_not_a_string_or_int() -> None:
    assert rules.parse_destination({"TRANSFER_ID": [1], "USER_ID": 4}, operator_side=True).id == 4
    assert rules.parse_destination({"TRANSFER_ID": 2.5, "QUEUE_ID": 1}, operator_side=True).type == "queue"
    with pytest.raises(RestError):
        rules.parse_destination({"TRANSFER_ID": True}, operator_side=True)


@pytest.mark.parametrize(
    ("value", "leaves"),
    [
        ("Y", True),
        (True, True),
        ("y", False),
        ("true", False),
        ("1", False),
        (1, False),
        ("N", False),
        (None, False),
        (False, False),
        ([], False),
        ("Y ", False),
    ],
)
def test_leave_is_loose_equality_with_y(value: Any, leaves: bool) -> None:
    params = {} if value is None else {"LEAVE": value}
    assert rules.leave_flag(params) is leaves


def test_texts_keep_the_real_wording() -> None:
    assert texts.transfer(7, 2) == "[USER=7][/USER] transfered conversation to [USER=2][/USER]"
    assert texts.transfer_line(7, "Support", "Sales") == (
        '[USER=7][/USER] redirected conversation from queue "[b]Support[/b]" to queue "[b]Sales[/b]"'
    )
    assert texts.skip(7) == "[USER=7][/USER] rejected conversation"
    assert texts.answer(3) == "[USER=3][/USER] picked conversation"
    assert texts.end_bot_session() == "Bot has forwarded conversation to an agent"
    assert texts.returned_to_queue() == "Enquiry has been resubmitted to the queue."
    assert texts.intercept(2, 3, female=True) == "[USER=2][/USER] took conversation from  [USER=3][/USER]"
    assert texts.operator_removed("vacation").endswith("because the agent is on leave")


# --- planned changes keep the invariant ---------------------------------------------------------------

KINDS = ("employee", "bot", "customer")


@st.composite
def situations(draw: st.DrawFn) -> tuple[Session, dict[int, str], Line]:
    members = draw(st.dictionaries(st.integers(1, 12), st.sampled_from(KINDS), max_size=8))
    members[100] = "customer"
    owner = draw(st.sampled_from(["bot", "queue", "user"]))
    status = draw(st.sampled_from([s for s in Status if s < Status.CLOSE]))
    operator = 0
    if owner != "queue":
        kind = "bot" if owner == "bot" else "employee"
        operator = draw(st.integers(20, 30))
        members[operator] = kind
    welcome = draw(st.sampled_from([0, operator, 5]))
    line = Line(
        id=1,
        name="Support",
        settings={
            "WELCOME_BOT_ENABLE": draw(st.sampled_from(["Y", "N"])),
            "WELCOME_BOT_ID": welcome,
            "WELCOME_BOT_LEFT": draw(st.sampled_from(["queue", "close"])),
        },
    )
    session = Session(
        id=9, chat_id=4, line_id=1, customer_id=100, status=status, owner_type=owner, operator_id=operator
    )
    return session, members, line


def apply(members: dict[int, str], change: rules.Change, kind_of: dict[int, str]) -> dict[int, str]:
    after = {uid: kind for uid, kind in members.items() if uid not in change.remove}
    for uid in change.add:
        after[uid] = kind_of[uid]
    return after


@settings(max_examples=300, deadline=None)
@given(situations(), st.integers(1, 30), st.sampled_from(["bot", "user"]), st.integers(1, 30), st.booleans())
def test_user_transfer_leaves_one_member_owner(
    situation: tuple[Session, dict[int, str], Line], target: int, from_type: str, from_id: int, leave: bool
) -> None:
    session, members, line = situation
    kinds = {**members, target: "employee"}
    if members.get(target, "employee") != "employee":
        return  # the engine refuses non-employees before planning
    change = rules.plan_user_transfer(
        session, line, members, target, from_type=from_type, from_id=from_id, mode="bot",  # type: ignore[arg-type]
        actor_id=1, leave=leave, now=50.0,
    )  # fmt: skip
    after = apply(members, change, kinds)
    assert rules.ownership_problems(change.session, after) == []
    assert change.session.owner_type == "user" and change.session.operator_id == target
    assert change.session.status == max(session.status, Status.ANSWER)
    assert change.session.version == session.version + 1
    assert [uid for uid, kind in after.items() if kind == "employee" and uid not in (target, from_id)] == []
    assert change.history is not None and (change.history.to_type, change.history.to_id) == ("user", target)
    assert 100 in after  # the customer never leaves


@settings(max_examples=300, deadline=None)
@given(situations(), st.sampled_from([1, 2]), st.sampled_from(["bot", "user"]), st.integers(1, 30))
def test_queue_transfer_resets_the_owner(
    situation: tuple[Session, dict[int, str], Line], to_line: int, from_type: str, from_id: int
) -> None:
    session, members, line = situation
    target = line if to_line == 1 else Line(id=2, name="Sales")
    change = rules.plan_queue_transfer(
        session, line, target, members, from_type=from_type, from_id=from_id, mode="bot",  # type: ignore[arg-type]
        actor_id=1, now=50.0,
    )  # fmt: skip
    after = apply(members, change, members)
    assert rules.ownership_problems(change.session, after) == []
    assert (change.session.owner_type, change.session.operator_id) == ("queue", 0)
    assert change.session.status == Status.SKIP and change.session.line_id == to_line
    assert all(kind == "customer" or uid == from_id for uid, kind in after.items())
    expected = texts.skip(from_id) if to_line == 1 else texts.transfer_line(from_id, "Support", "Sales")
    assert change.notices == [expected]


@settings(max_examples=300, deadline=None)
@given(situations(), st.integers(1, 30), st.sampled_from(["employee", "bot"]))
def test_answer_makes_the_user_the_one_owner(
    situation: tuple[Session, dict[int, str], Line], user: int, kind: str
) -> None:
    session, members, line = situation
    if members.get(user, kind) != kind:
        return
    change = rules.plan_answer(session, line, members, user, kind, mode="operator", actor_id=user, now=5.0)
    if change is None:
        assert session.operator_id == user and session.status >= Status.ANSWER
        return
    after = apply(members, change, {**members, user: kind})
    assert rules.ownership_problems(change.session, after) == []
    assert change.session.operator_id == user
    assert [uid for uid, k in after.items() if k == "employee" and uid != user] == []
    assert (change.history is None) == (session.operator_id == user and session.owner_type != "queue")


@settings(max_examples=200, deadline=None)
@given(situations())
def test_end_bot_session_only_for_bot_owners(situation: tuple[Session, dict[int, str], Line]) -> None:
    session, members, line = situation
    change = rules.plan_end_bot_session(session, line, members, actor_id=1, now=5.0)
    if session.owner_type != "bot":
        assert change is None
        return
    assert change is not None
    after = apply(members, change, members)
    assert rules.ownership_problems(change.session, after) == []
    assert change.session.status == Status.SKIP and change.notices == [texts.end_bot_session()]
    stays = line.setting("WELCOME_BOT_LEFT") == "close"
    assert (session.operator_id in after) is stays


def test_a_not_welcome_bot_stays_with_leave_while_unanswered() -> None:
    """The real server's quirk (behaviour notes 2.3 step 2)."""
    members = {7: "bot", 100: "customer"}
    session = Session(id=1, chat_id=1, line_id=1, customer_id=100, owner_type="bot", operator_id=7)
    welcome = Line(id=1, settings={"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": 7})
    other = Line(id=1, settings={"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": 8})
    kwargs: dict[str, Any] = {"from_type": "bot", "from_id": 7, "mode": "bot", "actor_id": 1, "now": 1.0}
    assert 7 in rules.plan_user_transfer(session, welcome, members, 2, leave=True, **kwargs).remove
    assert 7 not in rules.plan_user_transfer(session, other, members, 2, leave=True, **kwargs).remove
    assert 7 not in rules.plan_user_transfer(session, welcome, members, 2, leave=False, **kwargs).remove
    answered = Session(
        id=1, chat_id=1, line_id=1, customer_id=100, status=40, owner_type="user", operator_id=3
    )
    assert 7 in rules.plan_user_transfer(answered, other, members, 2, leave=True, **kwargs).remove


def test_intercept_says_who_took_the_dialogue_from_whom() -> None:
    held = Session(
        id=1, chat_id=1, line_id=1, customer_id=100, status=Status.OPERATOR, owner_type="user", operator_id=2
    )
    members = {100: "customer", 2: "employee"}
    common: dict[str, Any] = {"from_type": "user", "from_id": 3, "actor_id": 3, "leave": False, "now": 5.0}
    taken = rules.plan_user_transfer(held, Line(id=1), members, 3, mode="intercept", **common)
    assert (
        taken.notices == [texts.intercept(3, 2)] == ["[USER=3][/USER] took conversation from [USER=2][/USER]"]
    )
    handed = rules.plan_user_transfer(held, Line(id=1), members, 3, mode="operator", **common)
    assert handed.notices == [texts.transfer(3, 3)]


def test_finishing_to_start_anew_says_so() -> None:
    held = Session(
        id=1, chat_id=1, line_id=1, customer_id=100, status=Status.OPERATOR, owner_type="user", operator_id=2
    )
    restart = rules.plan_finish(held, Line(id=1), actor_id=2, spam=False, now=5.0, restart=True)
    assert restart.notices == ["[USER=2][/USER] closed the current conversation and started a new one"]
    plain = rules.plan_finish(held, Line(id=1), actor_id=2, spam=False, now=5.0)
    assert plain.notices == [texts.session_closed(2)]
