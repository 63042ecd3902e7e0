"""A hypothesis state machine over routing, operator actions, presence changes and clock advances on
a real portal: after every step each open session has exactly one owner who is a chat member, no
operator holds more than MAX_CHAT sessions, an unanswered assignment is always to an available
operator, and every session waiting in the queue has a timer that will look at it again."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from openlines.domain import routing as rules
from openlines.domain.openlines import Chat
from openlines.domain.transfer_rules import ownership_problems
from tests.routing.harness import LINE, RoutingPortal

OPERATORS = (11, 12, 13)
MAX_CHAT = 2
ops = st.sampled_from(OPERATORS)


class Routing(RuleBasedStateMachine):
    portal: RoutingPortal | None = None

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="routing-sm-"))
        self.chats: list[Chat] = []

    @initialize(kind=st.sampled_from(["evenly", "strictly", "all"]))
    def start(self, kind: str) -> None:
        # TYPE_MAX_CHAT=closed: every open session counts, so the cap is a hard invariant
        self.portal = RoutingPortal(
            self.folder,
            kind,
            OPERATORS,
            QUEUE_TIME=60,
            MAX_CHAT=MAX_CHAT,
            TYPE_MAX_CHAT="closed",
            CHECK_AVAILABLE="Y",
            AUTO_CLOSE_TIME=500,
        )
        self.kind = kind

    def teardown(self) -> None:
        if self.portal is not None:
            self.portal.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def p(self) -> RoutingPortal:
        assert self.portal is not None
        return self.portal

    def _open(self) -> list[Chat]:
        return [c for c in self.chats if not self.p.session(c.id).closed]

    @precondition(lambda self: len(self.chats) < 12)
    @rule()
    def customer_writes(self) -> None:
        self.chats.append(self.p.dialog())

    @rule(data=st.data())
    def owner_answers(self, data: st.DataObject) -> None:
        chats = [c for c in self._open() if self.p.owner(c.id)[0] == "user"]
        if chats:
            chat = data.draw(st.sampled_from(chats))
            self.p.answer(chat.id, self.p.owner(chat.id)[1])

    @rule(data=st.data())
    def offered_operator_answers(self, data: st.DataObject) -> None:
        """'all': whoever holds an offer takes it, if it is within their MAX_CHAT."""
        for chat in self._open():
            session = self.p.session(chat.id)
            offers = self.p.run(lambda s=session: self.p.store.offers_of(s.id))
            free = [u for u in offers if self.p.load(u, 50) < MAX_CHAT]
            if session.owner_type == "queue" and free:
                self.p.answer(chat.id, data.draw(st.sampled_from(free)))
                return

    @rule(data=st.data())
    def another_operator_takes_it(self, data: st.DataObject) -> None:
        """An operator with a free slot answers a dialogue routing gave someone else."""
        chats = [
            c for c in self._open() if self.p.owner(c.id)[0] == "user" and self.p.session(c.id).status < 10
        ]
        if chats:
            chat = data.draw(st.sampled_from(chats))
            free = [u for u in OPERATORS if u != self.p.owner(chat.id)[1] and self.p.load(u, 50) < MAX_CHAT]
            if free:
                self.p.answer(chat.id, data.draw(st.sampled_from(free)))

    @rule(data=st.data())
    def owner_replies(self, data: st.DataObject) -> None:
        chats = [c for c in self._open() if self.p.owner(c.id)[0] == "user"]
        if chats:
            chat = data.draw(st.sampled_from(chats))
            self.p.reply(chat.id, self.p.owner(chat.id)[1])

    @rule(data=st.data())
    def customer_writes_again(self, data: st.DataObject) -> None:
        chats = self._open()
        if chats:
            self.p.customer_says(data.draw(st.sampled_from(chats)))

    @rule(data=st.data())
    def owner_finishes(self, data: st.DataObject) -> None:
        chats = [c for c in self._open() if self.p.owner(c.id)[0] == "user"]
        if chats:
            chat = data.draw(st.sampled_from(chats))
            assert self.p.finish(chat.id, self.p.owner(chat.id)[1])

    @rule(data=st.data())
    def owner_rejects(self, data: st.DataObject) -> None:
        chats = [c for c in self._open() if self.p.owner(c.id)[0] == "user"]
        if chats:
            chat = data.draw(st.sampled_from(chats))
            assert self.p.to_queue(chat.id, self.p.owner(chat.id)[1])

    @rule(user=ops, status=st.sampled_from(["online", "away", "offline"]))
    def presence(self, user: int, status: str) -> None:
        self.p.status(user, status)

    @rule(user=ops, paused=st.booleans())
    def pause(self, user: int, paused: bool) -> None:
        self.p.pause(user, paused)

    @rule(seconds=st.sampled_from([1, 30, 59, 60, 61, 150, 600]))
    def time_passes(self, seconds: int) -> None:
        self.p.advance(seconds)

    # --- invariants ---------------------------------------------------------------------------------

    @invariant()
    def one_owner_who_is_a_member(self) -> None:
        if self.portal is None:
            return
        for chat in self._open():
            session = self.p.session(chat.id)
            members = self.p.run(lambda c=chat: self.p.store.member_kinds(c.id))
            assert ownership_problems(session, members) == []

    @invariant()
    def max_chat_is_never_exceeded(self) -> None:
        if self.portal is None:
            return
        for uid in OPERATORS:
            assert self.p.load(uid, 50) <= MAX_CHAT, uid

    @invariant()
    def unanswered_assignments_are_to_available_operators(self) -> None:
        if self.portal is None:
            return
        for chat in self._open():
            session = self.p.session(chat.id)
            if session.owner_type == "user" and rules.is_waiting_for_answer(session):
                state = self.p.run(lambda s=session: self.p.store.get_presence(s.operator_id))
                assert state.status == "online" and not state.paused, (session, state)

    @invariant()
    def waiting_sessions_are_looked_at_again(self) -> None:
        if self.portal is None:
            return
        for chat in self._open():
            session = self.p.session(chat.id)
            if rules.is_waiting_for_answer(session) and session.line_id == LINE:
                kinds = [t.kind for t in self.p.run(lambda s=session: self.p.store.timers_of(s.id))]
                assert "queue" in kinds, (session, kinds)


Routing.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
test_routing_state_machine = Routing.TestCase
