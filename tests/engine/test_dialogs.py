"""Engine-level tests of how a customer dialogue starts and what messages cause: a real SQLite file,
the real services, the outbox read back through the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from openlines.auth.caller import Caller
from openlines.config import from_dict
from openlines.demo import merge_demo
from openlines.domain.openlines import Bot, Status
from openlines.domain.users import User
from openlines.engine import dialogs, messages
from openlines.methods.invoke import invoke
from openlines.portal import bootstrap
from openlines.protocol.errors import RestError
from openlines.services import Services
from tests.store.pg import fresh_database

T = TypeVar("T")
HANDLER = "http://127.0.0.1:9/bot"


class Portal:
    """Real services on a store (a SQLite file, or a PostgreSQL database), with one event loop for
    the whole test."""

    def __init__(self, db: str) -> None:
        self.loop = asyncio.new_event_loop()
        config = from_dict(merge_demo({"server": {"db": db}}))
        self.services: Services = self.run(lambda: _boot(config))

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        return self.loop.run_until_complete(work())

    def close(self) -> None:
        self.run(self.services.store.close)
        self.loop.close()

    def events(self) -> list[tuple[str, str, int, dict[str, Any]]]:
        rows = self.run(lambda: self.services.store.pending_events(1000))
        return [(event, target, chat_id, payload) for _, event, target, chat_id, payload in rows]

    def add_bot(
        self, code: str, *, openline: bool = True, client_id: str = "hook1", welcome_line: int = 0
    ) -> Bot:
        async def work() -> Bot:
            store = self.services.store
            async with store.atomic():
                bot_id = await store.create_user(User(id=0, kind="bot", name=code.title()))
                bot = Bot(
                    id=bot_id,
                    code=code,
                    app_id="custom" + client_id,
                    type="B",
                    openline=openline,
                    handlers={
                        "MESSAGE_ADD": HANDLER,
                        "WELCOME_MESSAGE": HANDLER + "?x=1",
                        "BOT_DELETE": HANDLER,
                        "MESSAGE_UPDATE": HANDLER + "/update",
                        "MESSAGE_DELETE": HANDLER + "/delete",
                    },
                    application_token=client_id,
                )
                await store.save_bot(bot)
                if welcome_line:
                    line = await store.get_line(welcome_line)
                    assert line is not None
                    line.settings.update(
                        WELCOME_BOT_ENABLE="Y", WELCOME_BOT_ID=bot_id, WELCOME_BOT_JOIN="always"
                    )
                    await store.save_line(line)
            return bot

        return self.run(work)

    def say(self, visitor: str, text: str, line_id: int = 1, customer: Any = None) -> Any:
        return self.run(
            lambda: dialogs.customer_message(
                self.services, line_id, "livechat", visitor, customer or {"name": visitor.title()}, text
            )
        )


async def _boot(config: Any) -> Services:
    return (await bootstrap(config, fake_clock=True)).services


@pytest.fixture(params=["sqlite", "postgresql"])
def portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Portal]:
    if request.param == "sqlite":
        p = Portal(str(tmp_path / "engine.db"))
        yield p
        p.close()
        return
    with fresh_database("openlines_engine") as address:
        p = Portal(address)
        yield p
        p.close()


def test_first_message_creates_customer_chat_and_queue_session(portal: Portal) -> None:
    chat, session, message = portal.say("alice", "hello")
    store = portal.services.store
    customer = portal.run(lambda: store.get_user(chat.customer_id))
    assert customer is not None and customer.kind == "customer" and customer.name == "Alice"
    assert chat.type == "L" and chat.entity_type == "LINES"
    assert chat.entity_id == f"livechat|1|alice|{customer.id}"
    assert chat.title == "Alice - Support"
    # routing (on by default) gives the new dialogue to line 1's operator idle longest: on a fresh
    # portal the first of the evenly queue [2, 3], who joins the chat and must still answer (status 5)
    assert sorted(portal.run(lambda: store.members(chat.id))) == sorted([2, customer.id])
    assert session.owner_type == "user" and session.operator_id == 2 and session.status == Status.SKIP
    assert session.line_id == 1 and session.chat_id == chat.id and session.user_code == chat.entity_id
    assert message.author_id == customer.id and message.text == "hello"
    assert portal.events() == []  # nobody to tell


def test_second_message_continues_the_chat_and_session(portal: Portal) -> None:
    chat, session, _ = portal.say("bob", "one")
    customer = portal.run(lambda: portal.services.store.get_user(chat.customer_id))
    chat2, session2, _ = portal.say("bob", "two", customer=customer)
    assert (chat2.id, session2.id) == (chat.id, session.id)
    stored = portal.run(lambda: portal.services.store.get_session(session.id))
    assert stored is not None and stored.message_count == 2


def test_unknown_and_inactive_lines_are_refused(portal: Portal) -> None:
    with pytest.raises(dialogs.LineUnavailable) as unknown:
        portal.say("carol", "hi", line_id=77)
    assert unknown.value.code == "NOT_ACTIVE_LINE"

    async def switch_off() -> None:
        line = await portal.services.store.get_line(2)
        assert line is not None
        line.active = False
        await portal.services.store.save_line(line)

    portal.run(switch_off)
    with pytest.raises(dialogs.LineUnavailable):
        portal.say("carol", "hi", line_id=2)


def test_welcome_bot_joins_and_hears_the_customer(portal: Portal) -> None:
    bot = portal.add_bot("greeter", welcome_line=1)
    chat, session, message = portal.say("dave", "hi bot")
    assert session.owner_type == "bot" and session.operator_id == bot.id and session.status == Status.NEW
    assert bot.id in portal.run(lambda: portal.services.store.members(chat.id))
    (join, join_url, join_chat, join_payload), (add, add_url, add_chat, add_payload) = portal.events()

    assert join == "ONIMBOTJOINCHAT" and join_chat == chat.id
    assert join_url == HANDLER + "?x=1&CLIENT_ID=hook1"  # webhook bots get their CLIENT_ID back
    data = join_payload["data"]
    assert data["BOT"][str(bot.id)]["BOT_ID"] == str(bot.id)
    assert data["PARAMS"]["DIALOG_ID"] == f"chat{chat.id}"
    assert data["PARAMS"]["CHAT_ENTITY_TYPE"] == "LINES"
    assert data["PARAMS"]["CHAT_TYPE"] == "L" and data["PARAMS"]["BOT_ID"] == str(bot.id)

    assert add == "ONIMBOTMESSAGEADD" and add_chat == chat.id
    assert add_url == HANDLER + "?CLIENT_ID=hook1"
    assert add_payload["event"] == "ONIMBOTMESSAGEADD"
    params = add_payload["data"]["PARAMS"]
    assert params["MESSAGE"] == "hi bot"
    assert params["MESSAGE_ID"] == str(message.id)
    assert params["DIALOG_ID"] == f"chat{chat.id}"
    assert params["CHAT_ID"] == params["TO_CHAT_ID"] == str(chat.id)
    assert params["CHAT_ENTITY_TYPE"] == "LINES" and params["CHAT_ENTITY_ID"] == chat.entity_id
    assert params["CHAT_ENTITY_DATA_1"].split("|")[5] == str(session.id)
    assert params["MESSAGE_TYPE"] == params["CHAT_TYPE"] == "L"
    assert params["FROM_USER_ID"] == params["AUTHOR_ID"] == str(chat.customer_id)
    assert params["LANGUAGE"] == "en" and params["SYSTEM"] == "N"
    user = add_payload["data"]["USER"]
    assert user["ID"] == str(chat.customer_id) and user["IS_CONNECTOR"] == "Y" and user["IS_BOT"] == "N"
    assert add_payload["auth"]["application_token"] == "hook1"
    assert all(isinstance(v, str) for v in params.values())


def test_only_openline_bots_in_the_chat_hear_lines_messages(portal: Portal) -> None:
    welcome = portal.add_bot("greeter", welcome_line=1)
    plain = portal.add_bot("plain", openline=False, client_id="hook2")
    chat, _, _ = portal.say("erin", "first")

    async def add_plain() -> None:
        await portal.services.store.add_member(chat.id, plain.id, 0)

    portal.run(add_plain)
    customer = portal.run(lambda: portal.services.store.get_user(chat.customer_id))
    portal.say("erin", "second", customer=customer)
    adds = [
        (target, p["data"]["PARAMS"]["MESSAGE"])
        for e, target, _, p in portal.events()
        if e == "ONIMBOTMESSAGEADD"
    ]
    assert adds == [(HANDLER + "?CLIENT_ID=hook1", "first"), (HANDLER + "?CLIENT_ID=hook1", "second")]

    # a bot's own reply is not sent back to it
    portal.run(lambda: messages.post(portal.services, chat, welcome.id, "how can I help?"))
    assert len([e for e in portal.events() if e[0] == "ONIMBOTMESSAGEADD"]) == 2


def _force(portal: Portal, session_id: int, **changes: Any) -> None:
    async def work() -> None:
        store = portal.services.store
        session = await store.get_session(session_id)
        assert session is not None
        for key, value in changes.items():
            setattr(session, key, value)
        await store.save_session(session)

    portal.run(work)


def test_status_machine_on_messages(portal: Portal) -> None:
    chat, session, _ = portal.say("frank", "hello")
    store = portal.services.store
    customer = portal.run(lambda: store.get_user(chat.customer_id))

    def status() -> int:
        current = portal.run(lambda: store.get_session(session.id))
        assert current is not None
        return current.status

    def write(author: int, text: str, system: bool = False) -> None:
        portal.run(lambda: messages.post(portal.services, chat, author, text, system=system))

    # routing assigned it to operator 2, who has not answered yet (5): customer messages change nothing
    assert status() == Status.SKIP
    portal.say("frank", "anyone?", customer=customer)
    assert status() == Status.SKIP

    _force(portal, session.id, owner_type="user", operator_id=2, status=Status.ANSWER, wait_answer=False)
    portal.say("frank", "are you there?", customer=customer)
    assert status() == Status.CLIENT
    write(2, "yes, how can I help?")
    assert status() == Status.OPERATOR
    write(0, "a notice", system=True)
    assert status() == Status.OPERATOR
    portal.say("frank", "my order is late", customer=customer)
    assert status() == Status.CLIENT_AFTER_OPERATOR
    write(2, "checking")
    assert status() == Status.OPERATOR
    _force(portal, session.id, status=Status.WAIT_CLIENT)
    write(2, "anything else?")
    assert status() == Status.WAIT_CLIENT
    final = portal.run(lambda: store.get_session(session.id))
    assert final is not None and final.message_count == 7  # the system notice is not counted


def test_customer_zero_hands_the_bot_session_to_the_queue(portal: Portal) -> None:
    bot = portal.add_bot("greeter", welcome_line=1)
    chat, session, _ = portal.say("gina", "hi")
    assert session.owner_type == "bot"
    customer = portal.run(lambda: portal.services.store.get_user(chat.customer_id))
    _, after, zero = portal.say("gina", "0", customer=customer)
    assert after.id == session.id
    # the hand-over to the queue, then routing gives it to operator 2 (first of the evenly queue),
    # who must still answer (5)
    assert after.owner_type == "user" and after.operator_id == 2 and after.status == Status.SKIP
    rows, _ = portal.run(lambda: portal.services.store.list_transfers({"chat_id": chat.id}, 0, 100, False))
    assert [(r.from_type, r.to_type, r.to_id, r.mode) for r in rows] == [
        ("bot", "queue", 1, "bot"),
        ("queue", "user", 2, "routing"),
    ]
    texts = [m.text for m in portal.run(lambda: portal.services.store.messages_of(chat.id))]
    assert "0" in texts and "Bot has forwarded conversation to an agent" in texts
    assert "Enquiry transferred to [USER=2][/USER] according to queuing rules" in texts
    heard = [p["data"]["PARAMS"]["MESSAGE"] for e, _, _, p in portal.events() if e == "ONIMBOTMESSAGEADD"]
    assert heard == ["hi"]  # the "0" itself is not passed to the bot
    assert zero.text == "0" and bot.id


def test_other_bots_hear_edits_and_deletions(portal: Portal) -> None:
    writer = portal.add_bot("writer", client_id="hw", welcome_line=1)
    listener = portal.add_bot("listener", client_id="hl")
    chat, _, _ = portal.say("hank", "hi")

    async def join() -> None:
        await portal.services.store.add_member(chat.id, listener.id, 0)

    portal.run(join)
    webhook = Caller(user_id=1, auth_type="apauth", scopes=frozenset({"imbot"}), admin=True)

    def rest(method: str, params: dict[str, Any]) -> Any:
        found = portal.services.registry.find(method)
        assert found is not None
        return portal.run(lambda: invoke(portal.services, found, webhook, params))[0]

    message_id = rest("imbot.message.add", {"DIALOG_ID": chat.dialog_id, "MESSAGE": "v1", "CLIENT_ID": "hw"})
    assert (
        rest("imbot.message.update", {"MESSAGE_ID": message_id, "MESSAGE": "v2", "CLIENT_ID": "hw"}) is True
    )
    assert rest("imbot.message.delete", {"MESSAGE_ID": message_id, "CLIENT_ID": "hw"}) is True
    seen = [
        (event, target.split("?")[0], payload["data"]["PARAMS"].get("MESSAGE"))
        for event, target, _, payload in portal.events()
        if payload["data"].get("PARAMS", {}).get("AUTHOR_ID") == str(writer.id)
    ]
    assert seen == [
        ("ONIMBOTMESSAGEADD", HANDLER, "v1"),
        ("ONIMBOTMESSAGEUPDATE", HANDLER + "/update", "v2"),
        ("ONIMBOTMESSAGEDELETE", HANDLER + "/delete", "This message was deleted."),
    ]
    for event, target, _, payload in portal.events():
        if event.startswith("ONIMBOTMESSAGE") and payload["data"]["PARAMS"].get("AUTHOR_ID") == str(
            writer.id
        ):
            assert list(payload["data"]["BOT"]) == [str(listener.id)]  # never the writer itself
            assert target.endswith("CLIENT_ID=hl")
    # a deleted message cannot be edited back
    with pytest.raises(RestError) as refused:
        rest("imbot.message.update", {"MESSAGE_ID": message_id, "MESSAGE": "v3", "CLIENT_ID": "hw"})
    assert (refused.value.code, refused.value.status) == ("CANT_EDIT_MESSAGE", 403)


def test_line_welcome_text_greets_each_new_dialogue_without_a_bot(portal: Portal) -> None:
    async def set_text(line_id: int, text: str) -> None:
        store = portal.services.store
        line = await store.get_line(line_id)
        assert line is not None
        line.settings["WELCOME_MESSAGE_TEXT"] = text
        await store.save_line(line)

    portal.run(lambda: set_text(1, "Hello! An agent will be with you shortly."))
    chat, _, _ = portal.say("ivan", "hi")
    customer = portal.run(lambda: portal.services.store.get_user(chat.customer_id))
    portal.say("ivan", "still there?", customer=customer)
    stored = portal.run(lambda: portal.services.store.messages_of(chat.id))
    assert [(m.text, m.system) for m in stored] == [
        # routing distributes the session as it opens, before the first message is stored
        ("Enquiry transferred to [USER=2][/USER] according to queuing rules", True),
        ("hi", False),
        ("Hello! An agent will be with you shortly.", True),
        ("still there?", False),
    ]
    assert stored[2].params.get("IMPORTANT_CONNECTOR") == "Y"  # the customer sees it

    portal.add_bot("greeter", welcome_line=1)  # a welcome bot greets on its own
    chat2, _, _ = portal.say("judy", "hi")
    assert [m.text for m in portal.run(lambda: portal.services.store.messages_of(chat2.id))] == ["hi"]
