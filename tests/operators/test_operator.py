"""Operator-side methods over HTTP, each called with the operator's own webhook; ownership effects
are read back through openlines.session.get and the session history."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess, oauth_tokens
from tests.operators.conftest import OPERATOR_HOOKS, Dialogue, Pool, Rest

OPEN_DENIED = "You cannot open this conversation as you do not have sufficient permissions"
REDIRECT_DENIED = "You can not redirect to this operator"


def session_of(admin: Rest, d: Dialogue) -> dict[str, Any]:
    state: dict[str, Any] = admin.ok("openlines.session.get", {"CHAT_ID": d.chat_id})
    return state


def notices(admin: Rest, d: Dialogue) -> list[str]:
    history = admin.ok("imopenlines.session.history.get", {"CHAT_ID": d.chat_id})
    return [m["text"] for m in history["message"].values()] if history["message"] else []


def answered(op: Rest, pool: Pool, line_id: int = 1) -> Dialogue:
    d = pool.take(line_id)
    assert op.ok("imopenlines.operator.answer", {"CHAT_ID": d.chat_id}) is True
    return d


def test_answer_makes_the_operator_the_owner_with_a_history_row(admin: Rest, op2: Rest, pool: Pool) -> None:
    d = pool.take()
    assert op2.ok("imopenlines.operator.answer", {"chat_id": d.chat_id}) is True  # keys are case-folded here
    state = session_of(admin, d)
    assert state["OWNER"] == {"TYPE": "user", "ID": 2} and state["STATUS"] == 10
    last = state["TRANSFERS"][-1]
    assert (last["TO_TYPE"], last["TO_ID"]) == ("user", 2)
    # From the queue (or from whoever routing offered it to); routing's own offer to 2 needs no new row.
    assert (last["FROM_TYPE"], last["MODE"]) in (
        ("queue", "operator"),
        ("user", "operator"),
        ("queue", "routing"),
    )
    assert "[USER=2][/USER] picked conversation" in notices(admin, d)


def test_a_second_answer_is_refused_and_answering_again_changes_nothing(
    admin: Rest, op2: Rest, op3: Rest, pool: Pool
) -> None:
    d = answered(op2, pool)
    op3.error(
        "imopenlines.operator.answer",
        {"CHAT_ID": d.chat_id},
        "ALREADY_ANSWERED",
        "Another operator has already taken this conversation",
    )
    rows = len(session_of(admin, d)["TRANSFERS"])
    assert op2.ok("imopenlines.operator.answer", {"CHAT_ID": d.chat_id}) is True
    state = session_of(admin, d)
    assert state["OWNER"] == {"TYPE": "user", "ID": 2} and len(state["TRANSFERS"]) == rows


@pytest.mark.parametrize(
    "method",
    [
        "imopenlines.operator.answer",
        "imopenlines.operator.skip",
        "imopenlines.operator.spam",
        "imopenlines.operator.finish",
    ],
)
def test_common_errors(op2: Rest, op4: Rest, pool: Pool, method: str) -> None:
    d = pool.take()
    for params in ({}, {"CHAT_ID": 0}, {"CHAT_ID": "abc"}, {"CHAT_ID": 987654}):
        op2.error(method, params, "CHAT_ID", "The specified chat identifier is incorrect")
    op4.error(method, {"CHAT_ID": d.chat_id}, "ACCESS_DENIED", OPEN_DENIED)
    body = op2.error(method, {"CHAT_ID": {"x": 1}}, "ERROR_ARGUMENT")
    assert body["argument"] == "CHAT_ID"


def test_skip_returns_the_dialogue_to_the_queue(admin: Rest, op2: Rest, op3: Rest, pool: Pool) -> None:
    d = answered(op2, pool)
    op3.error(
        "imopenlines.operator.skip",
        {"CHAT_ID": d.chat_id},
        "ACCESS_DENIED_KICK",
        "Insufficient permissions to remove participants from the chat",
    )
    assert op2.ok("imopenlines.operator.skip", {"CHAT_ID": d.chat_id}) is True
    state = session_of(admin, d)
    assert state["OWNER"] != {"TYPE": "user", "ID": 2}
    skip_row = next(r for r in state["TRANSFERS"] if r["TO_TYPE"] == "queue")
    assert (skip_row["FROM_TYPE"], skip_row["FROM_ID"], skip_row["TO_ID"], skip_row["MODE"]) == (
        "user",
        2,
        1,
        "operator",
    )
    assert "[USER=2][/USER] rejected conversation" in notices(admin, d)


def test_finish_own_dialogue_only(admin: Rest, op2: Rest, op3: Rest, pool: Pool) -> None:
    d = answered(op2, pool)
    op3.error("imopenlines.operator.finish", {"CHAT_ID": d.chat_id}, "NOT_SESSION_OPERATOR")
    assert op2.ok("imopenlines.operator.finish", {"CHAT_ID": d.chat_id}) is True
    state = session_of(admin, d)
    assert (state["STATUS"], state["CLOSED"], state["SPAM"]) == (60, True, False)
    assert "[USER=2][/USER] has closed session" in notices(admin, d)
    op2.error(
        "imopenlines.operator.finish",
        {"CHAT_ID": d.chat_id},
        "NO_OPEN_SESSION",
        "The chat has no open session",
    )


def test_another_finish_closes_someone_elses_dialogue(admin: Rest, op2: Rest, op3: Rest, pool: Pool) -> None:
    d = answered(op2, pool)
    # No key case folding in this method: a lower-case name is no CHAT_ID at all.
    op3.error("imopenlines.operator.another.finish", {"chat_id": d.chat_id}, "CHAT_ID")
    assert op3.ok("imopenlines.operator.another.finish", {"CHAT_ID": d.chat_id}) is True
    state = session_of(admin, d)
    assert (state["STATUS"], state["CLOSED"]) == (60, True)


def test_spam_closes_with_status_65(admin: Rest, op2: Rest, op3: Rest, pool: Pool) -> None:
    d = answered(op2, pool)
    assert op3.ok("imopenlines.operator.spam", {"CHAT_ID": d.chat_id}) is True
    state = session_of(admin, d)
    assert (state["STATUS"], state["CLOSED"], state["SPAM"]) == (65, True, True)
    assert "[USER=3][/USER] marked the current conversation as spam" in notices(admin, d)


def test_operator_transfer_to_a_user_and_to_another_line(
    admin: Rest, op2: Rest, op3: Rest, pool: Pool
) -> None:
    d = answered(op2, pool)
    assert op2.ok("imopenlines.operator.transfer", {"CHAT_ID": d.chat_id, "TRANSFER_ID": "3"}) is True
    state = session_of(admin, d)
    assert state["OWNER"] == {"TYPE": "user", "ID": 3}
    row = state["TRANSFERS"][-1]
    assert (row["FROM_TYPE"], row["FROM_ID"], row["TO_TYPE"], row["TO_ID"], row["MODE"]) == (
        "user",
        2,
        "user",
        3,
        "operator",
    )
    assert "[USER=2][/USER] transfered conversation to [USER=3][/USER]" in notices(admin, d)

    assert op3.ok("imopenlines.operator.transfer", {"CHAT_ID": d.chat_id, "QUEUE_ID": 2}) is True
    state = session_of(admin, d)
    assert state["LINE_ID"] == 2
    row = next(r for r in reversed(state["TRANSFERS"]) if r["TO_TYPE"] == "queue")
    assert (row["FROM_ID"], row["TO_ID"], row["MODE"]) == (3, 2, "operator")


@pytest.mark.parametrize(
    ("params", "code", "text"),
    [
        ({"TRANSFER_ID": 3}, "CHAT_ID_EMPTY", "Chat ID can't be empty"),
        ({"CHAT_ID": "0", "USER_ID": 3}, "CHAT_ID_EMPTY", "Chat ID can't be empty"),
        ({"chat_id": 5, "user_id": 3}, "CHAT_ID_EMPTY", "Chat ID can't be empty"),
        ({"CHAT_ID": 5}, "TRANSFER_ID_EMPTY", "Queue ID or User ID can't be empty"),
        (
            {"CHAT_ID": 5, "TRANSFER_ID": ["queue1"]},
            "TRANSFER_ID_EMPTY",
            "Queue ID or User ID can't be empty",
        ),
        ({"CHAT_ID": 5, "TRANSFER_ID": "abc"}, "USER_ID_EMPTY", "User ID can't be empty"),
        ({"CHAT_ID": 5, "TRANSFER_ID": "Queue1"}, "USER_ID_EMPTY", "User ID can't be empty"),
        ({"CHAT_ID": 5, "TRANSFER_ID": "queue"}, "QUEUE_ID_EMPTY", "QUEUE ID can't be empty"),
        ({"CHAT_ID": 5, "QUEUE_ID": "x"}, "QUEUE_ID_EMPTY", "QUEUE ID can't be empty"),
    ],
)
def test_operator_transfer_parameter_errors(op2: Rest, params: dict[str, Any], code: str, text: str) -> None:
    op2.error("imopenlines.operator.transfer", params, code, text)


def test_operator_transfer_refusals_are_operator_wrong(admin: Rest, op2: Rest, op4: Rest, pool: Pool) -> None:
    d = answered(op2, pool)
    before = session_of(admin, d)
    for params in (
        {"CHAT_ID": d.chat_id, "TRANSFER_ID": 2},  # to oneself
        {"CHAT_ID": d.chat_id, "USER_ID": 5},  # extranet
        {"CHAT_ID": d.chat_id, "USER_ID": 424242},  # nobody
        {"CHAT_ID": d.chat_id, "TRANSFER_ID": "queue999"},  # no such line
        {"CHAT_ID": 987654, "USER_ID": 3},  # no such chat
    ):
        op2.error("imopenlines.operator.transfer", params, "OPERATOR_WRONG", REDIRECT_DENIED)
    op4.error(
        "imopenlines.operator.transfer",
        {"CHAT_ID": d.chat_id, "USER_ID": 3},
        "OPERATOR_WRONG",
        REDIRECT_DENIED,
    )
    assert session_of(admin, d) == before


def test_intercept_takes_the_dialogue(admin: Rest, op2: Rest, op3: Rest, op4: Rest, pool: Pool) -> None:
    d = answered(op2, pool)
    assert op3.ok("imopenlines.session.intercept", {"CHAT_ID": d.chat_id}) is True
    state = session_of(admin, d)
    assert state["OWNER"] == {"TYPE": "user", "ID": 3}
    row = state["TRANSFERS"][-1]
    assert (row["FROM_TYPE"], row["FROM_ID"], row["TO_ID"], row["MODE"]) == ("user", 2, 3, "intercept")
    op3.error("imopenlines.session.intercept", {"CHAT_ID": d.chat_id}, "OPERATOR_WRONG", REDIRECT_DENIED)
    op4.error("imopenlines.session.intercept", {"CHAT_ID": d.chat_id}, "OPERATOR_WRONG", REDIRECT_DENIED)
    op3.error("imopenlines.session.intercept", {"CHAT_ID": "x"}, "CHAT_ID_EMPTY", "Chat ID can't be empty")


def test_join_adds_a_participant_without_changing_the_owner(
    admin: Rest, op2: Rest, op3: Rest, pool: Pool
) -> None:
    d = answered(op2, pool)
    assert op3.ok("imopenlines.dialog.get", {"CHAT_ID": d.chat_id})["role"] == "guest"
    assert op3.ok("imopenlines.session.join", {"CHAT_ID": d.chat_id}) is True
    assert op3.ok("imopenlines.dialog.get", {"CHAT_ID": d.chat_id})["role"] == "member"
    assert session_of(admin, d)["OWNER"] == {"TYPE": "user", "ID": 2}


def test_session_start_closes_the_open_session_and_opens_one_held_by_the_caller(
    admin: Rest, op2: Rest, op3: Rest, pool: Pool
) -> None:
    d = answered(op2, pool)
    assert op3.ok("imopenlines.session.start", {"CHAT_ID": d.chat_id}) is True
    old = admin.ok("openlines.session.get", {"SESSION_ID": d.session_id})
    assert old["CLOSED"] is True
    new = session_of(admin, d)
    assert new["ID"] != d.session_id and new["CLOSED"] is False
    assert (new["OWNER"], new["MODE"], new["STATUS"]) == ({"TYPE": "user", "ID": 3}, "output", 10)
    chat = admin.ok("imopenlines.dialog.get", {"CHAT_ID": d.chat_id})
    assert chat["entity_data_1"].split("|")[5] == str(new["ID"])


def test_message_session_start(admin: Rest, op2: Rest, pool: Pool) -> None:
    d = pool.take()
    history = admin.ok("imopenlines.session.history.get", {"CHAT_ID": d.chat_id})
    message_id = int(next(iter(history["message"])))
    params = {"CHAT_ID": d.chat_id, "MESSAGE_ID": message_id}
    assert op2.ok("imopenlines.message.session.start", params) is True
    new = session_of(admin, d)
    assert new["ID"] != d.session_id and new["OWNER"] == {"TYPE": "user", "ID": 2}


def test_pin_and_unpin(admin: Rest, op2: Rest, pool: Pool) -> None:
    d = answered(op2, pool)

    def pinned() -> str:
        return str(admin.ok("imopenlines.dialog.get", {"CHAT_ID": d.chat_id})["entity_data_1"].split("|")[3])

    assert op2.ok("imopenlines.session.mode.pin", {"CHAT_ID": d.chat_id}) is True
    assert pinned() == "Y"
    assert op2.ok("imopenlines.session.mode.pin", {"CHAT_ID": d.chat_id, "ACTIVATE": "N"}) is True
    assert pinned() == "N"
    assert d.session_id in op2.ok("imopenlines.session.mode.pinAll")
    assert pinned() == "Y"
    assert d.session_id in op2.ok("imopenlines.session.mode.unpinAll")
    assert pinned() == "N"
    assert op2.ok("imopenlines.session.mode.unpinAll") == []
    assert op2.ok("imopenlines.session.mode.pin", {"CHAT_ID": d.chat_id, "ACTIVATE": "Y"}) is True
    assert op2.ok("imopenlines.session.mode.unpin", {"CHAT_ID": d.chat_id}) is True
    assert pinned() == "N"


@pytest.mark.parametrize("method", ["imopenlines.session.mode.pin", "imopenlines.session.mode.unpin"])
def test_pin_errors(op2: Rest, method: str) -> None:
    for params in ({}, {"CHAT_ID": "0"}, {"CHAT_ID": ""}, {"chat_id": 5}):
        op2.error(method, params, "CHAT_ID_EMPTY", "Chat ID can't be empty")
    op2.error(method, {"CHAT_ID": "abc"}, "CHAT_ID", "The specified chat identifier is incorrect")


def test_head_vote(admin: Rest, op2: Rest, pool: Pool) -> None:
    d = pool.take()
    admin.error(
        "imopenlines.session.head.vote", {"RATING": 5}, "EMPTY_SESSION_ID", "Session ID can't be empty"
    )
    admin.error(
        "imopenlines.session.head.vote",
        {"SESSION_ID": d.session_id, "RATING": " ", "COMMENT": ""},
        "EMPTY_VOTE_PARAMS",
        "At least one of the parameters RATING or COMMENT must be specified",
    )
    op2.error(
        "imopenlines.session.head.vote",
        {"SESSION_ID": d.session_id, "RATING": 4},
        "ACCESS_DENIED",
        OPEN_DENIED,
    )
    assert (
        admin.ok(
            "imopenlines.session.head.vote", {"SESSION_ID": d.session_id, "RATING": "4", "COMMENT": "ok"}
        )
        is True
    )
    history = admin.ok("imopenlines.session.history.get", {"SESSION_ID": d.session_id})
    assert (history["sessionVoteHead"], history["sessionCommentHead"]) == (4, "ok")
    admin.error(
        "imopenlines.session.head.vote", {"SESSION_ID": 987654, "RATING": 1}, "ACCESS_DENIED", OPEN_DENIED
    )


def test_an_operator_can_act_with_an_oauth_token(admin: Rest, http: httpx.Client, pool: Pool) -> None:
    tokens = oauth_tokens(http, user_id=3)
    d = pool.take()
    answer = http.post(
        "/rest/imopenlines.operator.answer",
        json={"CHAT_ID": d.chat_id},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert answer.status_code == 200, answer.text
    assert session_of(admin, d)["OWNER"] == {"TYPE": "user", "ID": 3}


def test_simultaneous_answers_leave_exactly_one_owner(
    admin: Rest, ops_server: ServerProcess, pool: Pool
) -> None:
    d = pool.take()
    hooks = [OPERATOR_HOOKS[2], OPERATOR_HOOKS[3]] * 8

    def call(hook: str) -> tuple[int, str]:
        with ops_server.client() as c:
            answer = c.post(hook + "imopenlines.operator.answer", json={"CHAT_ID": d.chat_id})
            return answer.status_code, answer.json().get("error", "")

    with ThreadPoolExecutor(len(hooks)) as workers:
        results = list(workers.map(call, hooks))
    state = session_of(admin, d)
    owner = state["OWNER"]["ID"]
    assert state["OWNER"]["TYPE"] == "user" and owner in (2, 3)
    winner_hook = OPERATOR_HOOKS[owner]
    for hook, (status, code) in zip(hooks, results, strict=True):
        # The winner's repeated answers succeed (nothing changes); the other operator is refused.
        assert (status, code) == ((200, "") if hook == winner_hook else (400, "ALREADY_ANSWERED"))
    answers = [r["TO_ID"] for r in state["TRANSFERS"] if r["MODE"] == "operator"]
    offered = [r["TO_ID"] for r in state["TRANSFERS"] if r["MODE"] == "routing"]
    # One recorded answer, unless routing had already offered the dialogue to the winner.
    assert answers == [owner] or (not answers and offered[-1:] == [owner])


def test_a_chat_that_is_not_an_open_line_is_chat_type(op2: Rest, op4: Rest, pool: Pool) -> None:
    for op in (op2, op4):  # a member of the chat, and a stranger to it
        for method in (
            "imopenlines.operator.answer",
            "imopenlines.session.join",
            "imopenlines.session.mode.pin",
        ):
            op.error(
                method,
                {"CHAT_ID": pool.private_chat_id},
                "CHAT_TYPE",
                "The specified chat is not an open line",
            )
    op2.error(
        "imopenlines.dialog.get",
        {"CHAT_ID": pool.private_chat_id},
        "ACCESS_ERROR",
        "You do not have access to the specified dialog",
    )
    op2.error(
        "imopenlines.operator.transfer", {"CHAT_ID": pool.private_chat_id, "USER_ID": 4}, "OPERATOR_WRONG"
    )


def test_the_only_operator_of_a_queue_cannot_reject(admin: Rest, op2: Rest) -> None:
    line_id = admin.ok("imopenlines.config.add", {"PARAMS": {"LINE_NAME": "Solo", "QUEUE": [2]}})
    posted = admin.client.post(f"/widget/{line_id}/messages", json={"visitor": "v-solo", "text": "Hi"})
    assert posted.status_code == 200, posted.text
    d = Dialogue(posted.json()["chat_id"], posted.json()["session_id"], "", line_id)
    assert op2.ok("imopenlines.operator.answer", {"CHAT_ID": d.chat_id}) is True
    rows = len(session_of(admin, d)["TRANSFERS"])
    assert op2.ok("imopenlines.operator.skip", {"CHAT_ID": d.chat_id}) is True
    state = session_of(admin, d)
    assert state["OWNER"] == {"TYPE": "user", "ID": 2} and len(state["TRANSFERS"]) == rows
    alone = "You cannot reject the conversation because you are the only person available in the queue."
    assert alone in notices(admin, d)
    # With a second (employee) operator in the queue the rejection goes through.
    assert admin.ok("imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": {"QUEUE": [2, 3]}}) is True
    assert op2.ok("imopenlines.operator.skip", {"CHAT_ID": d.chat_id}) is True
    assert session_of(admin, d)["TRANSFERS"][rows]["TO_TYPE"] == "queue"
