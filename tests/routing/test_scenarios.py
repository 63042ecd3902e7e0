"""For each queue type, a table of scenarios run on the fake clock in a real portal (real engine,
real SQLite file): operators online, offline, paused, idle or at capacity, timers firing, and the
sequence of operators routing gives each dialogue to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from openlines.domain.openlines import Chat
from tests.routing.harness import RoutingPortal

OFFLINE_ALL = [("status", uid, "offline") for uid in (11, 12, 13)]


@dataclass
class Scenario:
    name: str
    steps: list[tuple[Any, ...]]
    assignees: dict[str, list[int]]  # chat -> every operator routing gave it to, in order
    owners: dict[str, tuple[str, int]] = field(default_factory=dict)  # chat -> final (owner type, id)
    offers: dict[str, list[int]] = field(default_factory=dict)  # chat -> final offers ("all")
    settings: dict[str, Any] = field(default_factory=dict)
    idle_timeout: int = 0


def run(portal: RoutingPortal, scenario: Scenario) -> dict[str, Chat]:
    chats: dict[str, Chat] = {}
    for step in scenario.steps:
        action, *args = step
        if action == "dialog":
            chats[args[0]] = portal.dialog()
        elif action == "advance":
            portal.advance(args[0])
        elif action == "status":
            portal.status(args[0], args[1])
        elif action == "pause":
            portal.pause(args[0], args[1])
        elif action == "answer":
            assert portal.answer(chats[args[0]].id, args[1])
        elif action == "reply":
            portal.reply(chats[args[0]].id, args[1])
        elif action == "finish":
            assert portal.finish(chats[args[0]].id, args[1])
        elif action == "skip":
            assert portal.to_queue(chats[args[0]].id, args[1])
        else:  # pragma: no cover - a typo in a table
            raise AssertionError(f"unknown step {step}")
    return chats


def check(portal: RoutingPortal, scenario: Scenario) -> None:
    chats = run(portal, scenario)
    got = {name: portal.assignees(chat.id) for name, chat in chats.items() if name in scenario.assignees}
    assert got == scenario.assignees
    for name, owner in scenario.owners.items():
        assert portal.owner(chats[name].id) == owner, name
    for name, offers in scenario.offers.items():
        session = portal.session(chats[name].id)
        assert portal.run(lambda s=session: portal.store.offers_of(s.id)) == offers, name


AVAILABLE = {"CHECK_AVAILABLE": "Y", "QUEUE_TIME": 60}

EVENLY = [
    Scenario(
        "nobody answers: every QUEUE_TIME the operator idle longest",
        [("dialog", "a"), ("advance", 60), ("advance", 60), ("advance", 60)],
        {"a": [11, 12, 13, 11]},
        {"a": ("user", 11)},
    ),
    Scenario(
        "a big advance fires each due timer in order",
        [("dialog", "a"), ("advance", 150)],
        {"a": [11, 12, 13]},
    ),
    Scenario(
        "an offline operator is skipped",
        [("status", 12, "offline"), ("dialog", "a"), ("advance", 60)],
        {"a": [11, 13]},
    ),
    Scenario(
        "an answer stops the rotation",
        [("dialog", "a"), ("advance", 60), ("answer", "a", 12), ("advance", 600)],
        {"a": [11, 12]},
        {"a": ("user", 12)},
    ),
    Scenario(
        "idle longest across dialogues",
        [
            ("dialog", "a"),
            ("advance", 1),
            ("dialog", "b"),
            ("advance", 1),
            ("dialog", "c"),
            ("advance", 1),
            ("dialog", "d"),
        ],
        {"a": [11], "b": [12], "c": [13], "d": [11]},
    ),
    Scenario(
        "at capacity: the dialogue waits and takes the first freed slot",
        [("dialog", "a"), ("dialog", "b"), ("dialog", "c"), ("dialog", "d"), ("finish", "b", 12)],
        {"a": [11], "b": [12], "c": [13], "d": [12]},
        {"d": ("user", 12)},
        settings={"MAX_CHAT": 1},
    ),
    Scenario(
        "another operator takes an assigned dialogue: the first one's slot goes to the next waiting",
        [("dialog", "a"), ("dialog", "b"), ("dialog", "c"), ("dialog", "d"), ("answer", "a", 13)],
        {"a": [11], "b": [12], "c": [13], "d": [11]},
        {"a": ("user", 13), "d": ("user", 11)},
        settings={"MAX_CHAT": 1},
    ),
    Scenario(
        "answered_new: a reply frees the slot",
        [
            ("dialog", "a"),
            ("answer", "a", 11),
            ("status", 12, "offline"),
            ("status", 13, "offline"),
            ("dialog", "b"),
            ("reply", "a", 11),
        ],
        {"a": [11], "b": [11]},
        {"b": ("user", 11)},
        settings={"MAX_CHAT": 1, "TYPE_MAX_CHAT": "answered_new"},
    ),
    Scenario(
        "nobody available: waits in the queue, assigned the moment someone comes online",
        [*OFFLINE_ALL, ("dialog", "a"), ("advance", 600), ("status", 13, "online")],
        {"a": [13]},
        {"a": ("user", 13)},
    ),
    Scenario(
        "a pause counts as unavailable; ending it takes the waiting dialogue",
        [
            ("status", 12, "offline"),
            ("status", 13, "offline"),
            ("pause", 11, True),
            ("dialog", "a"),
            ("pause", 11, False),
        ],
        {"a": [11]},
    ),
    Scenario(
        "the assignee goes offline before answering: the next one gets it",
        [("dialog", "a"), ("status", 11, "offline")],
        {"a": [11, 12]},
    ),
    Scenario(
        "the assignee goes offline and nobody is left: back to the queue",
        [("status", 12, "offline"), ("status", 13, "offline"), ("dialog", "a"), ("status", 11, "offline")],
        {"a": [11]},
        {"a": ("queue", 0)},
    ),
    Scenario(
        "an operator silent longer than the idle timeout is skipped",
        [
            ("status", 11, "online"),
            ("advance", 200),
            ("status", 12, "online"),
            ("status", 13, "offline"),
            ("dialog", "a"),
        ],
        {"a": [12]},
        idle_timeout=100,
    ),
]

STRICTLY = [
    Scenario(
        "queue order, then the next untried, then over again",
        [("dialog", "a"), ("advance", 60), ("advance", 60), ("advance", 60)],
        {"a": [11, 12, 13, 11]},
    ),
    Scenario(
        "every new dialogue goes to the first in the queue",
        [("dialog", "a"), ("dialog", "b")],
        {"a": [11], "b": [11]},
    ),
    Scenario(
        "an operator back online is tried after QUEUE_TIME",
        [("status", 11, "offline"), ("dialog", "a"), ("status", 11, "online"), ("advance", 60)],
        {"a": [12, 11]},
    ),
    Scenario(
        "at capacity: the dialogue waits and takes the first freed slot",
        [
            ("dialog", "a"),
            ("dialog", "b"),
            ("dialog", "c"),
            ("dialog", "d"),
            ("advance", 30),
            ("finish", "b", 12),
        ],
        {"a": [11], "b": [12], "c": [13], "d": [12]},
        settings={"MAX_CHAT": 1},
    ),
    Scenario(
        "an operator who rejects is not tried again before the others",
        [("dialog", "a"), ("answer", "a", 11), ("skip", "a", 11), ("advance", 60), ("advance", 60)],
        {"a": [11, 12, 13, 11]},
    ),
]

ALL = [
    Scenario(
        "offered to everyone; the first to answer takes it and the offers disappear",
        [("dialog", "a"), ("answer", "a", 12)],
        {"a": []},
        {"a": ("user", 12)},
        {"a": []},
    ),
    Scenario(
        "offered to the available only, and to whoever comes online",
        [("status", 13, "offline"), ("dialog", "a")],
        {"a": []},
        {"a": ("queue", 0)},
        {"a": [11, 12]},
    ),
    Scenario(
        "an operator coming online gets the offer too",
        [("status", 13, "offline"), ("dialog", "a"), ("status", 13, "online")],
        {"a": []},
        offers={"a": [11, 12, 13]},
    ),
    Scenario(
        "at capacity: no offer",
        [("dialog", "a"), ("answer", "a", 11), ("dialog", "b")],
        {"b": []},
        offers={"b": [12, 13]},
        settings={"MAX_CHAT": 1},
    ),
    Scenario(
        "nobody available: no offers until someone comes online",
        [*OFFLINE_ALL, ("dialog", "a"), ("advance", 7200), ("status", 11, "online")],
        {"a": []},
        {"a": ("queue", 0)},
        {"a": [11]},
    ),
]


@pytest.fixture()
def portal_for(tmp_path: Path) -> Iterator[Any]:
    made: list[RoutingPortal] = []

    def make(queue_type: str, scenario: Scenario) -> RoutingPortal:
        portal = RoutingPortal(
            tmp_path,
            queue_type,
            (11, 12, 13),
            idle_timeout=scenario.idle_timeout,
            **{**AVAILABLE, **scenario.settings},
        )
        made.append(portal)
        return portal

    yield make
    for portal in made:
        portal.close()


@pytest.mark.parametrize("scenario", EVENLY, ids=lambda s: s.name)
def test_evenly(portal_for: Any, scenario: Scenario) -> None:
    check(portal_for("evenly", scenario), scenario)


@pytest.mark.parametrize("scenario", STRICTLY, ids=lambda s: s.name)
def test_strictly(portal_for: Any, scenario: Scenario) -> None:
    check(portal_for("strictly", scenario), scenario)


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.name)
def test_all(portal_for: Any, scenario: Scenario) -> None:
    check(portal_for("all", scenario), scenario)
