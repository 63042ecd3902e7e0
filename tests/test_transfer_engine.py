"""engine.transfer on a real SQLite file with the real services: the effects of each operation, and
a hypothesis state machine that drives random customer messages, transfers, answers, bot hand-overs
and finishes and checks the ownership invariant after every step."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from openlines.config import ServerConfig, from_dict
from openlines.demo import merge_demo
from openlines.domain import texts
from openlines.domain import transfer_rules as rules
from openlines.domain.delivery import Binding
from openlines.domain.openlines import Bot, Chat, Session, Status, Transfer, user_code
from openlines.domain.users import User
from openlines.engine import app_events, sessions
from openlines.engine import transfer as engine
from openlines.engine.events import bindings_changed
from openlines.portal import bootstrap
from openlines.protocol.errors import RestError
from openlines.services import Services

T = TypeVar("T")
BOT_CLIENT = "transfer-tests"
INACTIVE, CUSTOMER_TARGET = 6, 7  # an inactive employee and a customer, made by the portal


class Portal:
    """The demo portal's services on a SQLite file, a welcome bot on line 1, one loop per portal."""

    def __init__(self, folder: Path, routing: bool = False) -> None:
        self.loop = asyncio.new_event_loop()
        # Routing is on by default; most tests here are about the raw hand-over (a queue keeps what it
        # is given), so they ask for routing=false explicitly. The routed variants pass routing=True.
        server: dict[str, Any] = {"db": str(folder / "transfer.db"), "routing": routing}
        config = from_dict(merge_demo({"server": server}))
        self.services: Services = self.run(lambda: _boot(config))
        self.store = self.services.store
        self.bot = self.run(self._setup)
        self.visitors = 0

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        return self.loop.run_until_complete(work())

    def close(self) -> None:
        self.run(self.store.close)
        self.loop.close()

    async def _setup(self) -> Bot:
        store = self.store
        async with store.atomic():
            await store.upsert_user(User(id=INACTIVE, name="Ina", last_name="Inactive", active=False))
            await store.upsert_user(User(id=CUSTOMER_TARGET, kind="customer", name="Carl"))
            bot_id = await store.create_user(User(id=0, kind="bot", name="Greeter"))
            bot = Bot(id=bot_id, code="greeter", app_id="custom" + BOT_CLIENT, openline=True)
            await store.save_bot(bot)
            line = await store.get_line(1)
            assert line is not None
            line.settings.update(WELCOME_BOT_ENABLE="Y", WELCOME_BOT_ID=bot_id, WELCOME_BOT_JOIN="always")
            await store.save_line(line)
        return bot

    def dialog(self, line_id: int = 1) -> tuple[Chat, Session]:
        """A new visitor's chat with a fresh session (welcome bot on line 1, queue on line 2)."""
        self.visitors += 1
        visitor = f"v{self.visitors}"
        dialogs = _dialogs()
        if dialogs is not None:
            chat, session, _ = self.run(
                lambda: dialogs.customer_message(
                    self.services, line_id, "livechat", visitor, {"name": visitor}, "hi"
                )
            )
            return chat, session
        return self.run(lambda: self._open(line_id, visitor))

    async def _open(self, line_id: int, visitor: str) -> tuple[Chat, Session]:
        store = self.store
        now = self.services.clock.now()
        async with store.atomic():
            customer_id = await store.create_user(User(id=0, kind="customer", name=visitor))
            line = await store.get_line(line_id)
            assert line is not None
            chat = Chat(
                id=0,
                entity_type="LINES",
                entity_id=user_code("livechat", line_id, visitor, customer_id),
                line_id=line_id,
                customer_id=customer_id,
                connector="livechat",
                external_chat_id=visitor,
                date_create=now,
            )
            await store.create_chat(chat)
            await store.add_member(chat.id, customer_id, now)
            session = await sessions.open_session(self.services, chat, line, True)
        return chat, session

    def session(self, chat_id: int) -> Session:
        found = self.run(lambda: self.store.last_session_of_chat(chat_id))
        assert found is not None
        return found

    def members(self, chat_id: int) -> dict[int, str]:
        return self.run(lambda: self.store.member_kinds(chat_id))

    def history(self, session_id: int) -> list[Transfer]:
        rows, _ = self.run(lambda: self.store.list_transfers({"session_id": session_id}, 0, 10_000, False))
        return rows

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.run(lambda: self.store.messages_of(chat_id, limit=1000)) if m.system]

    def events(self, name: str) -> list[dict[str, Any]]:
        rows = self.run(lambda: self.store.pending_events(10_000))
        return [payload for _, event, _, _, payload in rows if event == name]

    def bind(self, event: str) -> None:
        """An app listens to ``event`` (as event.bind would record it)."""

        async def work() -> None:
            async with self.store.atomic():
                await self.store.bind_event(Binding(0, "local.demo.app", event, "http://127.0.0.1:9/app"))
            await bindings_changed(self.services)

        self.run(work)

    def transfer(self, chat_id: int, to_type: str, to_id: int, **options: Any) -> bool:
        options = {
            "mode": "bot",
            "from_type": "bot",
            "from_id": self.bot.id,
            "actor_id": 1,
            "leave": False,
        } | options
        return self.run(lambda: engine.transfer(self.services, chat_id, to_type, to_id, **options))  # type: ignore[arg-type]


def _dialogs() -> Any:
    """Engineer D's customer entry point when it exists (it posts through the message engine)."""
    try:
        module = importlib.import_module("openlines.engine.dialogs")
    except ImportError:
        return None
    return module if hasattr(module, "customer_message") else None


async def _boot(config: Any) -> Services:
    return (await bootstrap(config, fake_clock=True)).services


@pytest.fixture()
def portal(tmp_path: Path) -> Iterator[Portal]:
    p = Portal(tmp_path)
    yield p
    p.close()


# --- effects ------------------------------------------------------------------------------------


def test_transfer_to_a_user_makes_them_the_operator(portal: Portal) -> None:
    portal.bind(engine.TRANSFER_EVENT)
    chat, session = portal.dialog()
    assert (session.owner_type, session.operator_id, session.status) == ("bot", portal.bot.id, Status.NEW)
    assert portal.transfer(chat.id, "user", 2, leave=False)
    after = portal.session(chat.id)
    assert (after.owner_type, after.operator_id, after.status) == ("user", 2, Status.ANSWER)
    assert after.version == session.version + 1 and not after.wait_answer
    members = portal.members(chat.id)
    assert members[2] == "employee" and portal.bot.id in members  # LEAVE=N: the bot stays
    stored_chat = portal.run(lambda: portal.store.get_chat(chat.id))
    assert stored_chat is not None and stored_chat.author_id == 2
    assert (
        portal.texts(chat.id)[-1]
        == f"[USER={portal.bot.id}][/USER] transfered conversation to [USER=2][/USER]"
    )
    (row,) = portal.history(session.id)
    assert (row.from_type, row.from_id, row.to_type, row.to_id, row.mode) == (
        "bot",
        portal.bot.id,
        "user",
        2,
        "bot",
    )
    (event,) = portal.events(engine.TRANSFER_EVENT)
    assert event["data"]["TO"] == {"TYPE": "user", "ID": 2} and event["data"]["TRANSFER_ID"] == row.id
    assert event["data"]["FROM"] == {"TYPE": "bot", "ID": portal.bot.id} and event["data"]["MODE"] == "bot"

    # to another user with LEAVE=Y: the first operator and the bot leave, status stays >= 10
    assert portal.transfer(chat.id, "user", 3, leave=True)
    members = portal.members(chat.id)
    assert 2 not in members and portal.bot.id not in members and members[3] == "employee"
    assert portal.session(chat.id).status == Status.ANSWER


def test_no_transfer_event_is_written_when_no_app_listens(portal: Portal) -> None:
    chat, _ = portal.dialog()
    assert portal.transfer(chat.id, "user", 2)
    assert portal.events(engine.TRANSFER_EVENT) == []
    portal.bind(engine.TRANSFER_EVENT)
    assert portal.transfer(chat.id, "queue", 2)
    (event,) = portal.events(engine.TRANSFER_EVENT)
    assert event["data"]["TO"] == {"TYPE": "queue", "ID": 2}


def test_an_answered_status_is_kept(portal: Portal) -> None:
    chat, session = portal.dialog()

    async def replied() -> None:
        session.status = Status.OPERATOR
        await portal.store.save_session(session)

    portal.run(replied)
    assert portal.transfer(chat.id, "user", 4)
    assert portal.session(chat.id).status == Status.OPERATOR


def test_transfer_to_queues(portal: Portal) -> None:
    chat, session = portal.dialog()
    assert portal.transfer(chat.id, "user", 2)
    assert portal.transfer(chat.id, "queue", 1, from_type="user", from_id=2, mode="operator")
    after = portal.session(chat.id)
    assert (after.owner_type, after.operator_id, after.status, after.line_id) == ("queue", 0, Status.SKIP, 1)
    assert 2 not in portal.members(chat.id)
    assert portal.texts(chat.id)[-1] == "[USER=2][/USER] rejected conversation"
    # to another line: the session moves, the notice names both lines
    assert portal.transfer(chat.id, "queue", 2)
    after = portal.session(chat.id)
    assert (after.line_id, after.status) == (2, Status.SKIP)
    stored_chat = portal.run(lambda: portal.store.get_chat(chat.id))
    assert stored_chat is not None and stored_chat.line_id == 2 and stored_chat.author_id == 0
    assert portal.texts(chat.id)[-1] == texts.transfer_line(portal.bot.id, "Support", "Sales")
    assert portal.bot.id not in portal.members(chat.id)  # the operator's queue transfer removed it
    assert [(r.to_type, r.to_id) for r in portal.history(session.id)] == [
        ("user", 2),
        ("queue", 1),
        ("queue", 2),
    ]


def test_a_bot_source_stays_in_the_chat_whatever_leave_says(portal: Portal) -> None:
    chat, _ = portal.dialog()
    assert portal.transfer(chat.id, "queue", 2, leave=True)
    assert portal.bot.id in portal.members(chat.id)


@pytest.mark.parametrize(
    ("to_type", "to_id"),
    [("user", 5), ("user", INACTIVE), ("user", CUSTOMER_TARGET), ("user", 999), ("user", -1), ("queue", 77)],
)
def test_refusals_change_nothing(portal: Portal, to_type: str, to_id: int) -> None:
    portal.bind(engine.TRANSFER_EVENT)
    chat, session = portal.dialog()
    assert not portal.transfer(chat.id, to_type, to_id)
    assert portal.session(chat.id) == session
    assert portal.history(session.id) == [] and portal.events(engine.TRANSFER_EVENT) == []


def test_refusals_for_the_chat(portal: Portal) -> None:
    assert not portal.transfer(12345, "user", 2)
    bot_target = portal.bot.id
    chat, _ = portal.dialog()
    assert not portal.transfer(chat.id, "user", bot_target)

    async def group_chat() -> int:
        async with portal.store.atomic():
            return await portal.store.create_chat(Chat(id=0, type="C", title="not a line"))

    assert not portal.transfer(portal.run(group_chat), "user", 2)
    assert portal.run(lambda: engine.finish(portal.services, chat.id, 2))
    assert not portal.transfer(chat.id, "user", 2)  # no open session


def test_queue_hooks_run_inside_the_transaction_before_the_notice(portal: Portal) -> None:
    seen: list[tuple[int, str, int]] = []

    async def routing(services: Services, chat: Chat, session: Session) -> None:
        seen.append((chat.id, session.owner_type, len(await services.store.messages_of(chat.id, limit=1000))))

    portal.services.extras[engine.ON_QUEUED] = [routing]
    chat, _ = portal.dialog()
    before = len(portal.run(lambda: portal.store.messages_of(chat.id, limit=1000)))
    assert portal.transfer(chat.id, "queue", 2)
    assert seen == [(chat.id, "queue", before)]
    assert portal.run(lambda: engine.end_bot_session(portal.services, chat.id, 1)) is False


def test_end_bot_session(portal: Portal) -> None:
    chat, session = portal.dialog()
    assert portal.run(lambda: engine.end_bot_session(portal.services, chat.id, 1))
    after = portal.session(chat.id)
    assert (after.owner_type, after.operator_id, after.status) == ("queue", 0, Status.SKIP)
    assert portal.bot.id not in portal.members(chat.id)
    assert portal.texts(chat.id)[-1] == "Bot has forwarded conversation to an agent"
    (row,) = portal.history(session.id)
    assert (row.from_type, row.from_id, row.to_type, row.to_id) == ("bot", portal.bot.id, "queue", 1)
    assert not portal.run(lambda: engine.end_bot_session(portal.services, chat.id, 1))  # no bot any more


def test_answer_and_finish(portal: Portal) -> None:
    portal.bind(app_events.SESSION_FINISH)
    chat, session = portal.dialog(line_id=2)
    assert session.owner_type == "queue"
    assert portal.run(lambda: engine.answer(portal.services, chat.id, 4))
    after = portal.session(chat.id)
    assert (after.owner_type, after.operator_id, after.status) == ("user", 4, Status.ANSWER)
    assert portal.texts(chat.id)[-1] == "[USER=4][/USER] picked conversation"
    assert len(portal.history(session.id)) == 1
    assert portal.run(lambda: engine.answer(portal.services, chat.id, 4))  # again: nothing changes
    assert len(portal.history(session.id)) == 1
    assert not portal.run(lambda: engine.answer(portal.services, chat.id, 5))  # extranet
    assert portal.run(lambda: engine.finish(portal.services, chat.id, 4))
    closed = portal.session(chat.id)
    assert closed.closed and closed.status == Status.CLOSE and closed.operator_id == 4
    assert portal.texts(chat.id)[-1] == "[USER=4][/USER] has closed session"
    (finish_event,) = portal.events(app_events.SESSION_FINISH)
    assert finish_event["data"]["DATA"][0]["session"] == {
        "id": str(session.id),
        "closed": "Y",
        "parent_id": "0",
        "close_term": "0",
    }
    assert not portal.run(lambda: engine.finish(portal.services, chat.id, 4))


def test_spam_finish_and_closing_text(portal: Portal) -> None:
    async def closing_text() -> None:
        line = await portal.store.get_line(2)
        assert line is not None
        line.settings.update(CLOSE_RULE="text", CLOSE_TEXT="Thanks, bye")
        await portal.store.save_line(line)

    portal.run(closing_text)
    chat, _ = portal.dialog(line_id=2)
    assert portal.run(lambda: engine.finish(portal.services, chat.id, 3))
    last = portal.run(lambda: portal.store.messages_of(chat.id, limit=1000))[-1]
    assert (last.text, last.system, last.params) == ("Thanks, bye", True, {"IMPORTANT_CONNECTOR": "Y"})
    chat2, _ = portal.dialog(line_id=2)
    assert portal.run(lambda: engine.finish(portal.services, chat2.id, 3, spam=True))
    assert portal.session(chat2.id).status == Status.SPAM
    assert portal.texts(chat2.id)[-1] == "[USER=3][/USER] marked the current conversation as spam"


# --- the state machine ---------------------------------------------------------------------------

TARGET_USERS = (2, 3, 4, 5, INACTIVE, CUSTOMER_TARGET, 999)
OPERABLE = {2, 3, 4}


class OwnershipMachine(RuleBasedStateMachine):
    routing = False  # True: the routing lane's distribution runs in the same transactions

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="openlines-transfer-"))
        self.portal = Portal(self.folder, routing=self.routing)
        self.chats: list[int] = []
        self.initial: dict[int, tuple[str, int]] = {}  # session id -> owner when it opened

    def teardown(self) -> None:
        self.portal.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _seen(self, session: Session, line_id: int) -> None:
        if session.id not in self.initial:
            # routing may have handed a queue session on (with a history row) before we see it
            self.initial[session.id] = ("bot", self.portal.bot.id) if line_id == 1 else ("queue", 0)

    def _queued(self, chat_id: int, line_id: int) -> None:
        """After a hand-over to a line: its queue owns the session, or routing gave it to one of the
        line's operators at once."""
        after = self.portal.session(chat_id)
        assert after.line_id == line_id
        if self.routing and after.owner_type == "user":
            assert after.operator_id in {1: (2, 3), 2: (4, 3)}[line_id]
        else:
            assert (after.owner_type, after.operator_id, after.status) == ("queue", 0, Status.SKIP)

    def _open(self, chat_id: int) -> Session | None:
        found = self.portal.run(lambda: self.portal.store.open_session_of_chat(chat_id))
        return found

    @rule(line_id=st.sampled_from([1, 2]))
    def new_dialog(self, line_id: int) -> None:
        chat, session = self.portal.dialog(line_id)
        self.chats.append(chat.id)
        self._seen(session, line_id)

    @precondition(lambda self: bool(self.chats) and _dialogs() is not None)
    @rule(data=st.data(), text=st.sampled_from(["0", "hello", "0 "]))
    def customer_writes(self, data: st.DataObject, text: str) -> None:
        chat_id = data.draw(st.sampled_from(self.chats))
        chat = self.portal.run(lambda: self.portal.store.get_chat(chat_id))
        assert chat is not None
        line_id = int(chat.entity_id.split("|")[1])
        before = self._open(chat_id)
        dialogs = _dialogs()
        self.portal.run(
            lambda: dialogs.customer_message(
                self.portal.services,
                line_id,
                "livechat",
                chat.external_chat_id,
                {"id": chat.customer_id},
                text,
            )
        )
        if before is None:
            self._seen(self.portal.session(chat_id), line_id)
        elif text == "0" and before.owner_type == "bot":
            self._queued(chat_id, before.line_id)

    @precondition(lambda self: bool(self.chats))
    @rule(data=st.data(), to_user=st.sampled_from(TARGET_USERS), leave=st.booleans(), human=st.booleans())
    def transfer_to_user(self, data: st.DataObject, to_user: int, leave: bool, human: bool) -> None:
        chat_id = data.draw(st.sampled_from(self.chats))
        open_before = self._open(chat_id) is not None
        source = {"from_type": "user", "from_id": 3, "mode": "operator"} if human else {}
        done = self.portal.transfer(chat_id, "user", to_user, leave=leave, **source)
        assert done == (open_before and to_user in OPERABLE)
        if done:
            after = self.portal.session(chat_id)
            assert (after.owner_type, after.operator_id) == (
                "user",
                to_user,
            ) and after.status >= Status.ANSWER

    @precondition(lambda self: bool(self.chats))
    @rule(data=st.data(), line_id=st.sampled_from([1, 2, 77]))
    def transfer_to_queue(self, data: st.DataObject, line_id: int) -> None:
        chat_id = data.draw(st.sampled_from(self.chats))
        open_before = self._open(chat_id) is not None
        done = self.portal.transfer(chat_id, "queue", line_id)
        assert done == (open_before and line_id in (1, 2))
        if done:
            self._queued(chat_id, line_id)

    @precondition(lambda self: bool(self.chats))
    @rule(data=st.data(), user=st.sampled_from([2, 3, 4, 5]))
    def answer(self, data: st.DataObject, user: int) -> None:
        chat_id = data.draw(st.sampled_from(self.chats))
        open_before = self._open(chat_id) is not None
        done = self.portal.run(lambda: engine.answer(self.portal.services, chat_id, user))
        assert done == (open_before and user in OPERABLE)

    @precondition(lambda self: bool(self.chats))
    @rule(data=st.data(), user=st.sampled_from([2, 3, 4]))
    def operator_skips(self, data: st.DataObject, user: int) -> None:
        """imopenlines.operator.skip's engine (operators lane): back to the line's queue."""
        chat_id = data.draw(st.sampled_from(self.chats))
        before = self._open(chat_id)
        operator = importlib.import_module("openlines.engine.operator")
        try:
            self.portal.run(lambda: operator.skip(self.portal.services, chat_id, user, False))
            done = True
        except RestError:
            done = False
        assert done == (before is not None and (before.owner_type, before.operator_id) == ("user", user))
        if done:
            assert before is not None
            self._queued(chat_id, before.line_id)

    @precondition(lambda self: bool(self.chats))
    @rule(data=st.data())
    def bot_hands_over(self, data: st.DataObject) -> None:
        chat_id = data.draw(st.sampled_from(self.chats))
        before = self._open(chat_id)
        done = self.portal.run(lambda: engine.end_bot_session(self.portal.services, chat_id, 1))
        assert done == (before is not None and before.owner_type == "bot")
        if done:
            assert before is not None
            self._queued(chat_id, before.line_id)

    @precondition(lambda self: bool(self.chats))
    @rule(data=st.data(), spam=st.booleans())
    def finish(self, data: st.DataObject, spam: bool) -> None:
        chat_id = data.draw(st.sampled_from(self.chats))
        open_before = self._open(chat_id) is not None
        assert (
            self.portal.run(lambda: engine.finish(self.portal.services, chat_id, 2, spam=spam)) == open_before
        )
        assert self._open(chat_id) is None

    @invariant()
    def one_owner_each(self) -> None:
        bot_id = self.portal.bot.id
        for chat_id in self.chats:
            members = self.portal.members(chat_id)
            sessions_of_chat = self.portal.run(lambda: self.portal.store.open_sessions())
            open_here = [s for s in sessions_of_chat if s.chat_id == chat_id]
            assert len(open_here) <= 1
            for session in open_here:
                assert rules.ownership_problems(session, members) == []
                assert session.status < Status.CLOSE
            last = self.portal.session(chat_id)
            owner = self.initial[last.id]
            for row in self.portal.history(last.id):  # the history replays to the owner
                owner = (
                    ("queue", 0)
                    if row.to_type == "queue"
                    else ("bot" if row.to_id == bot_id else "user", row.to_id)
                )
            assert owner == (last.owner_type, last.operator_id)


OwnershipMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)
test_ownership_machine = OwnershipMachine.TestCase


class RoutedOwnershipMachine(OwnershipMachine):
    routing = True


ROUTING_AVAILABLE = any(f.name == "routing" for f in dataclasses.fields(ServerConfig))
RoutedOwnershipMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)
test_routed_ownership_machine = pytest.mark.skipif(
    not ROUTING_AVAILABLE, reason="the routing lane's [server] routing option is not there yet"
)(RoutedOwnershipMachine.TestCase)
