"""The live-chat SSE stream over real HTTP against a real server process: live bot and operator
replies in order with their ids, resuming, SKIP_CONNECTOR notes left out, token errors, the bound on
open streams, and a graceful shutdown that open streams do not hold up."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest

from tests.bots.helpers import error, ok, say
from tests.bots.livechat import BotLine, SseReader, bot_line, events_url, start, wait_until
from tests.conftest import ServerProcess
from tests.delivery.handler import Handler


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start(tmp_path_factory.mktemp("widget-stream"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def handler() -> Iterator[Handler]:
    h = Handler().start()
    yield h
    h.stop()


@pytest.fixture(scope="module")
def line(server: ServerProcess, handler: Handler) -> BotLine:
    return bot_line(server, handler, "stream", note=True)


def test_bot_and_operator_replies_arrive_live_in_order(server: ServerProcess, line: BotLine) -> None:
    with server.client() as api:
        first = say(api, line.line_id, "sse-alice", "where is my order", name="Alice").json()
        token, chat_id = first["visitor_token"], first["chat_id"]
        with SseReader(events_url(server, line.line_id), {"Authorization": f"Bearer {token}"}) as stream:
            assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
            stream.wait_for(
                lambda ev: "Bot: where is my order" in [e.data["text"] for e in ev], "the bot's reply"
            )
            # an operator takes the dialogue and answers with im.message.add
            ok(api, "imopenlines.operator.answer", {"CHAT_ID": chat_id})
            sent = int(
                ok(api, "im.message.add", {"DIALOG_ID": f"chat{chat_id}", "MESSAGE": "An operator here"})
            )
            events = stream.wait_for(
                lambda ev: ev[-1].data["text"] == "An operator here", "the operator's reply"
            )

    shown = [(e.data["text"], e.data["from"]) for e in events if not e.data["system"]]
    assert shown == [
        ("where is my order", "customer"),
        ("Bot: where is my order", "agent"),
        ("An operator here", "agent"),
    ]
    ids = [int(e.id) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(e.event == "message" and int(e.id) == e.data["id"] for e in events)
    assert int(events[0].id) == first["message_id"]
    assert line.replies[0] in ids and sent == ids[-1]
    # the bot's SKIP_CONNECTOR note was written before its reply, and never streamed
    assert line.notes and line.notes[0] not in ids and line.notes[0] < line.replies[0]


def test_resume_gives_only_newer_messages(server: ServerProcess, line: BotLine) -> None:
    with server.client() as api:
        first = say(api, line.line_id, "sse-bob", "one", name="Bob").json()
        token = first["visitor_token"]
        with SseReader(events_url(server, line.line_id, token=token)) as stream:
            events = stream.wait_for(lambda ev: "Bot: one" in [e.data["text"] for e in ev], "the first reply")
            last_id = events[-1].id
        say(api, line.line_id, "sse-bob", "two", token=token)

    resumed = SseReader(events_url(server, line.line_id, token=token), {"Last-Event-ID": last_id})
    with resumed:
        got = resumed.wait_for(lambda ev: "Bot: two" in [e.data["text"] for e in ev], "the second reply")
    assert [e.data["text"] for e in got] == ["two", "Bot: two"]
    assert all(int(e.id) > int(last_id) for e in got)

    # ?after= does the same for a client that keeps its own position
    with SseReader(events_url(server, line.line_id, token=token, after=got[0].id)) as after:
        rest = after.wait_for(lambda ev: len(ev) >= 1, "the message after `after`")
    assert [e.data["text"] for e in rest] == ["Bot: two"]


def test_errors_before_the_stream_starts(server: ServerProcess, line: BotLine) -> None:
    with server.client() as api:
        mine = say(api, line.line_id, "sse-carol", "hi").json()["visitor_token"]
        other_line = say(api, 1, "sse-dave", "hi").json()["visitor_token"]
        base = f"/widget/{line.line_id}/events"
        cases = [
            (api.get(base), (401, "TOKEN_REQUIRED")),
            (api.get(base, params={"token": ""}), (401, "TOKEN_REQUIRED")),
            (api.get(base, params={"token": "not-a-token"}), (401, "INVALID_TOKEN")),
            (api.get(base, headers={"Authorization": "Bearer nope"}), (401, "INVALID_TOKEN")),
            (api.get(base, params={"token": other_line}), (403, "ACCESS_DENIED")),
            (api.get(base, params={"token": mine, "visitor": "sse-dave"}), (403, "ACCESS_DENIED")),
            (api.get("/widget/999999/events", params={"token": mine}), (404, "NOT_ACTIVE_LINE")),
            (api.get("/widget/abc/events", params={"token": mine}), (404, "NOT_ACTIVE_LINE")),
            (api.get(base, params={"token": mine, "after": "-1"}), (400, "ERROR_ARGUMENT")),
            (api.get(base, params={"token": mine}, headers={"Last-Event-ID": "x"}), (400, "ERROR_ARGUMENT")),
            (
                api.get(base, params={"token": mine}, headers={"Last-Event-ID": b"\xb2"}),
                (400, "ERROR_ARGUMENT"),
            ),
            (api.get(base, params={"token": mine, "after": "\u00b2"}), (400, "ERROR_ARGUMENT")),
            (api.get("/widget/\u00b2/events", params={"token": mine}), (404, "NOT_ACTIVE_LINE")),
        ]
        for answer, expected in cases:
            assert answer.headers["content-type"].startswith("application/json"), answer.text
            assert error(answer)[:2] == expected, answer.request.url


def test_open_streams_per_visitor_are_bounded(server: ServerProcess, line: BotLine) -> None:
    with server.client() as api:
        token = say(api, line.line_id, "sse-erin", "hi").json()["visitor_token"]
    url = events_url(server, line.line_id, token=token)
    readers = [SseReader(url) for _ in range(5)]
    try:
        for reader in readers:
            reader.__enter__()
            assert reader.status == 200
        refused = httpx.get(url, timeout=10)
        assert error(refused)[:2] == (429, "TOO_MANY_STREAMS")
    finally:
        for reader in readers:
            reader.__exit__()

    def slot_free() -> bool:  # the server notices the closed streams and frees their slots
        with httpx.stream("GET", url, timeout=10) as answer:
            return answer.status_code == 200

    wait_until(slot_free, "a stream slot to be freed")


def test_server_shutdown_ends_open_streams(tmp_path_factory: pytest.TempPathFactory) -> None:
    proc = start(tmp_path_factory.mktemp("widget-stream-stop"))
    try:
        with proc.client() as api:
            token = say(api, 1, "sse-frank", "hello").json()["visitor_token"]
        with SseReader(events_url(proc, 1, token=token)) as stream:
            stream.wait_for(lambda ev: len(ev) >= 1, "the visitor's message")
            assert proc.proc is not None
            proc.proc.send_signal(signal.SIGTERM)
            assert stream.ended.wait(15), "the stream stayed open after SIGTERM"
            assert stream.error is None, stream.error  # ended cleanly by the server, not cut off
            proc.proc.wait(15)
    finally:
        code = proc.stop()
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
    assert "graceful shutdown exceeded" not in proc.output()
    assert "Traceback" not in proc.output()


def test_important_system_notices_are_streamed(server: ServerProcess, line: BotLine) -> None:
    """A system notice runs no wake hook (author 0): the stream's own poll brings it."""
    with server.client() as api:
        first = say(api, line.line_id, "sse-gina", "hello").json()
        token, chat_id = first["visitor_token"], first["chat_id"]
        with SseReader(events_url(server, line.line_id, token=token)) as stream:
            stream.wait_for(lambda ev: "Bot: hello" in [e.data["text"] for e in ev], "the bot's reply")
            params = {
                "CHAT_ID": chat_id,
                "NAME": "DEFAULT",
                "MESSAGE": "We are here 9-18",
                "CLIENT_ID": line.client_id,
            }
            ok(api, "imopenlines.bot.session.message.send", params)
            events = stream.wait_for(lambda ev: ev[-1].data["text"] == "We are here 9-18", "the notice")
    assert events[-1].data["from"] == "system" and events[-1].data["system"] is True
