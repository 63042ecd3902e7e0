"""Pure rules of the bots-and-customers lane: the status a message leaves behind, and the parsing of
DIALOG_ID, ATTACH, KEYBOARD and MENU."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openlines.domain.message_status import status_after_message
from openlines.domain.openlines import CLOSED_STATUSES, Status
from openlines.methods import message_params as mp
from openlines.protocol.errors import RestError

ROLES = ("customer", "operator", "bot", "system")


@pytest.mark.parametrize(
    ("status", "wait_answer", "role", "after"),
    [
        (Status.NEW, True, "customer", Status.NEW),  # with the welcome bot or in the queue
        (Status.SKIP, True, "customer", Status.SKIP),
        (Status.ANSWER, False, "customer", Status.CLIENT),
        (Status.CLIENT, False, "customer", Status.CLIENT),
        (Status.CLIENT_AFTER_OPERATOR, False, "customer", Status.CLIENT_AFTER_OPERATOR),
        (Status.OPERATOR, False, "customer", Status.CLIENT_AFTER_OPERATOR),
        (Status.WAIT_CLIENT, False, "customer", Status.CLIENT_AFTER_OPERATOR),
        (Status.ANSWER, False, "operator", Status.OPERATOR),
        (Status.CLIENT, False, "operator", Status.OPERATOR),
        (Status.CLIENT_AFTER_OPERATOR, False, "operator", Status.OPERATOR),
        (Status.WAIT_CLIENT, False, "operator", Status.WAIT_CLIENT),
        (Status.SKIP, True, "operator", Status.SKIP),
        (Status.NEW, True, "bot", Status.NEW),
        (Status.CLIENT, False, "bot", Status.CLIENT),
        (Status.OPERATOR, False, "system", Status.OPERATOR),
        (Status.CLOSE, False, "customer", Status.CLOSE),
        (Status.SPAM, False, "operator", Status.SPAM),
    ],
)
def test_status_table(status: int, wait_answer: bool, role: Any, after: int) -> None:
    assert status_after_message(status, wait_answer, role) == after


@given(st.sampled_from(list(Status)), st.booleans(), st.sampled_from(ROLES))
def test_status_rules_hold_for_every_state(status: Status, wait_answer: bool, role: Any) -> None:
    after = status_after_message(status, wait_answer, role)
    assert after in set(Status)
    if status in CLOSED_STATUSES or role in ("bot", "system") or wait_answer:
        assert after == status  # nothing reopens, bots and notices never answer, queues stay queues
    elif role == "customer":
        replied = status >= Status.OPERATOR or status == Status.CLIENT_AFTER_OPERATOR
        assert after == (Status.CLIENT_AFTER_OPERATOR if replied else Status.CLIENT)
    else:
        assert after == (status if status == Status.WAIT_CLIENT else Status.OPERATOR)
    # a second message by the same role changes nothing more
    assert status_after_message(after, wait_answer, role) == after


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("chat12", ("chat", 12)),
        ("12", ("user", 12)),
        (12, ("user", 12)),
        (" chat7 ", ("chat", 7)),
        ("chat", ("", 0)),
        ("chat0", ("", 0)),
        ("chat-3", ("", 0)),
        ("Chat5", ("", 0)),
        ("0", ("", 0)),
        ("-4", ("", 0)),
        ("9" * 30, ("", 0)),
        ("chat" + "9" * 30, ("", 0)),
        (["chat1"], ("", 0)),
        (None, ("", 0)),
    ],
)
def test_parse_dialog(value: Any, parsed: tuple[str, int]) -> None:
    assert mp.parse_dialog(value) == parsed


BUTTONS = [{"TEXT": "Yes", "COMMAND": "yes"}, {"TYPE": "NEWLINE"}, {"TEXT": "Site", "LINK": "https://x.test"}]


@pytest.mark.parametrize(
    "value",
    [
        BUTTONS,
        json.dumps(BUTTONS),
        {"BUTTONS": BUTTONS},
        {"0": BUTTONS[0], "1": BUTTONS[1], "2": BUTTONS[2]},  # a bracket form PHP did not turn into a list
        [{"text": "Yes", "command": "yes"}, {"type": "NEWLINE"}, {"Text": "Site", "Link": "https://x.test"}],
        [*BUTTONS, {"TEXT": "no action"}, "junk", 5],  # unusable entries are dropped
    ],
)
def test_keyboard_forms(value: Any) -> None:
    assert mp.parse_buttons("KEYBOARD", value) == BUTTONS


@pytest.mark.parametrize("value", ["", "N", None, [], {}])
def test_empty_keyboard_means_none(value: Any) -> None:
    assert mp.parse_buttons("KEYBOARD", value) is None
    assert mp.parse_attach(value) is None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ([{"TYPE": "NEWLINE"}], "KEYBOARD_ERROR"),
        ("not json", "KEYBOARD_ERROR"),
        (17, "KEYBOARD_ERROR"),
        ([{"TEXT": "x" * 40_000, "COMMAND": "c"}], "KEYBOARD_OVERSIZE"),
    ],
)
def test_keyboard_errors(value: Any, code: str) -> None:
    with pytest.raises(RestError) as caught:
        mp.parse_buttons("KEYBOARD", value)
    assert caught.value.code == code and caught.value.status == 400


def test_menu_uses_its_own_codes() -> None:
    with pytest.raises(RestError) as caught:
        mp.parse_buttons("MENU", "{")
    assert (caught.value.code, caught.value.description) == ("MENU_ERROR", "Incorrect menu params")


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        ([{"MESSAGE": "hi"}], [{"MESSAGE": "hi"}]),
        ('{"ID": 1, "BLOCKS": [{"MESSAGE": "hi"}]}', {"ID": 1, "BLOCKS": [{"MESSAGE": "hi"}]}),
        ("{oops", "ATTACH_ERROR"),
        (42, "ATTACH_ERROR"),
        ({"BLOCKS": "text"}, "ATTACH_ERROR"),
        ([{"MESSAGE": "z" * 40_000}], "ATTACH_OVERSIZE"),
    ],
)
def test_attach(value: Any, outcome: Any) -> None:
    if isinstance(outcome, str):
        with pytest.raises(RestError) as caught:
            mp.parse_attach(value)
        assert caught.value.code == outcome
    else:
        assert mp.parse_attach(value) == outcome


def test_flags() -> None:
    assert mp.message_flags({"URL_PREVIEW": "N", "SKIP_CONNECTOR": "y"}) == {
        "URL_PREVIEW": "N",
        "SKIP_CONNECTOR": "Y",
    }
    assert mp.message_flags({"URL_PREVIEW": "n", "SKIP_CONNECTOR": ["Y"]}) == {}
