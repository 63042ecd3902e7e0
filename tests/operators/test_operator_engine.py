"""engine.operator against a real SQLite file: random sequences of operator actions (answer, skip,
spam, finish, transfer, intercept, join, start, pin) and customer messages keep the ownership
invariant after every step, each accepted owner change leaves exactly one history row of its own
(followed by routing's row when it hands the dialogue to a queue: routing is on by default), and
each open session's history replays to its owner."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openlines.cli import load_config
from openlines.domain.openlines import Transfer
from openlines.domain.transfer_rules import ownership_problems
from openlines.engine import operator
from openlines.engine.dialogs import customer_message
from openlines.portal import bootstrap
from openlines.protocol.errors import RestError
from openlines.services import Services

CHATS = 3
USERS = (1, 2, 3, 4, 5)  # admin, queue operators 2/3 (line 1), 4 (line 2), extranet 5
ADMIN = 1

actions = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "answer",
                "skip",
                "spam",
                "finish",
                "another",
                "transfer_user",
                "transfer_queue",
                "intercept",
                "join",
                "start",
                "pin",
                "customer",
            ]
        ),
        st.integers(0, CHATS - 1),
        st.sampled_from(USERS),
        st.sampled_from([2, 3, 4, 5, 1, 424242]),  # transfer target user, or line id for a queue (1, 2, 5...)
    ),
    max_size=25,
)


async def _invariant(services: Services, chat_ids: list[int]) -> None:
    store = services.store
    for chat_id in chat_ids:
        session = await store.open_session_of_chat(chat_id)
        if session is None:
            continue
        members = await store.member_kinds(chat_id)
        assert ownership_problems(session, members) == [], (session, members)
        chat = await store.get_chat(chat_id)
        assert chat is not None and chat.session_id == session.id
        # the history replays to the owner: its last row names the owner (no row: queue or bot)
        rows, _ = await store.list_transfers({"session_id": session.id}, 0, 10_000, False)
        if rows:
            last = rows[-1]
            if session.owner_type == "user":
                assert (last.to_type, last.to_id) == ("user", session.operator_id), (session, rows)
            else:
                assert (last.to_type, last.to_id) == (session.owner_type, session.line_id), (session, rows)
        else:
            assert session.owner_type in ("queue", "bot"), session


async def _owner_rows(services: Services, chat_id: int) -> list[Transfer]:
    rows, _ = await services.store.list_transfers({"chat_id": chat_id}, 0, 10_000, False)
    return rows


async def _step(services: Services, chat_ids: list[int], step: tuple[str, int, int, int]) -> None:
    action, index, user, target = step
    chat_id = chat_ids[index]
    admin = user == ADMIN
    store = services.store
    before = await store.open_session_of_chat(chat_id)
    rows_before = await _owner_rows(services, chat_id)
    changed = True
    try:
        if action == "answer":
            await operator.answer(services, chat_id, user, admin)
        elif action == "skip":
            await operator.skip(services, chat_id, user, admin)
        elif action in ("spam", "finish", "another"):
            await operator.finish(
                services, chat_id, user, admin, spam=action == "spam", other=action == "another"
            )
        elif action == "transfer_user":
            changed = await operator.transfer(services, chat_id, user, admin, "user", target)
        elif action == "transfer_queue":
            changed = await operator.transfer(services, chat_id, user, admin, "queue", target)
        elif action == "intercept":
            changed = await operator.intercept(services, chat_id, user, admin)
        elif action == "join":
            await operator.join(services, chat_id, user, admin)
        elif action == "start":
            await operator.start(services, chat_id, user, admin)
        elif action == "pin":
            await operator.set_pin(services, chat_id, user, admin, True)
        else:
            await customer_message(services, 1, "livechat", f"ext-{index}", {"name": "C"}, "again")
    except RestError:
        changed = False
    after = await store.open_session_of_chat(chat_id)
    rows_after = await _owner_rows(services, chat_id)
    new = rows_after[len(rows_before) :]
    assert rows_after[: len(rows_before)] == rows_before  # the history is only ever appended to
    if not changed:
        # A refusal changes nothing about ownership.
        assert new == []
        assert (before and (before.id, before.owner_type, before.operator_id)) == (
            after and (after.id, after.owner_type, after.operator_id)
        )
    elif action in ("transfer_user", "intercept"):
        assert [row.mode for row in new] == ["intercept" if action == "intercept" else "operator"]
        assert after is not None and (new[0].to_type, new[0].to_id) == (
            "user",
            target if action == "transfer_user" else user,
        )
    elif action == "transfer_queue":
        # the hand-over row, then routing hands the dialogue to one of that line's operators (every
        # demo line has an available operator with a free slot)
        assert [(row.mode, row.to_type) for row in new] == [("operator", "queue"), ("routing", "user")]
        assert (new[1].from_type, new[1].from_id) == ("queue", new[0].to_id) == ("queue", target)
    elif action == "skip":
        # Rejected to the queue and routed on (two rows), or kept because nobody else is in the
        # queue (no row).
        if new:
            assert [(row.mode, row.to_type) for row in new] == [("operator", "queue"), ("routing", "user")]
            assert (new[0].from_type, new[0].from_id) == ("user", user)
        else:
            assert after is not None and after.operator_id == user
    await _invariant(services, chat_ids)


async def _run(db: Path, steps: list[tuple[str, int, int, int]]) -> None:
    services = (await bootstrap(load_config(None, demo=True, db=str(db)), fake_clock=True)).services
    try:
        chat_ids = []
        for i in range(CHATS):
            chat, _, _ = await customer_message(
                services, 1, "livechat", f"ext-{i}", {"name": f"C{i}"}, "Hello"
            )
            chat_ids.append(chat.id)
        await _invariant(services, chat_ids)
        for step in steps:
            await _step(services, chat_ids, step)
    finally:
        await services.store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_random_operator_actions_keep_one_owner(steps: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_run(Path(folder) / "openlines.db", steps))
