"""W4's event handler: a bare HTTP/1.1 server on loopback that the welcome bot's ``EVENT_MESSAGE_ADD``
points at. It runs inside the Python load generator, on its event loop, so the arrival of each
``ONIMBOTMESSAGEADD`` and the due time of the customer message that caused it are read from the same
clock (``time.perf_counter``). Each event is matched to its message by the number the generator put
in the text (``bench message <i>``); the handler answers ``200 OK`` at once.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import cast

from openlines.bench.plan import MESSAGE_PREFIX

HOST = "127.0.0.1"
_NUMBER = re.compile(
    rb"(?:^|&)data%5BPARAMS%5D%5BMESSAGE%5D=" + re.escape(MESSAGE_PREFIX.replace(" ", "+").encode()) + rb"(\d+)"
)
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK"


def message_number(body: bytes) -> int | None:
    """The ``i`` of ``data[PARAMS][MESSAGE]=bench message <i>`` in a form-encoded event, or None."""
    found = _NUMBER.search(body)
    return int(found.group(1)) if found else None


class Arrivals:
    """When each message's event arrived (first delivery only; a retry is not a second arrival)."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}
        self.other = 0  # events that are not ONIMBOTMESSAGEADD of a numbered message (joins, warm-up)

    def record(self, body: bytes) -> None:
        number = message_number(body)
        if number is None or not body.startswith(b"event=ONIMBOTMESSAGEADD&"):
            self.other += 1
        elif number not in self.at:
            self.at[number] = time.perf_counter()


class _Handler(asyncio.Protocol):
    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:  # keep-alive: several requests may follow one another on a connection
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self.buffer[:head_end]).lower()
            marker = head.find(b"content-length:")
            length = 0
            if marker >= 0:
                line_end = head.find(b"\r\n", marker)
                length = int(head[marker + 15 : line_end if line_end >= 0 else len(head)])
            start = head_end + 4
            if len(self.buffer) < start + length:
                return
            self.arrivals.record(bytes(self.buffer[start : start + length]))
            del self.buffer[: start + length]
            assert self.transport is not None
            self.transport.write(_ANSWER)


async def listen(port: int, arrivals: Arrivals) -> asyncio.AbstractServer:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Handler(arrivals), HOST, port, backlog=1024)
