"""W4's event handler: a bare HTTP/1.1 server on loopback that the welcome bot's ``EVENT_MESSAGE_ADD``
points at. It runs either inside the Python load generator, on its event loop (``Inline``), or in a
process of its own started by the generator (``Child``, ``python -m openlines.bench.receiver``), so it
does not compete with the sending for one event loop. Both read arrivals from ``time.perf_counter``,
which on Linux is the system-wide monotonic clock, so an arrival and the due time of the customer
message that caused it are comparable across the two processes. Each event is matched to its message
by the number the generator put in the text (``bench message <i>``); the handler answers ``200 OK``
at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from typing import cast

from openlines.bench.plan import MESSAGE_PREFIX

HOST = "127.0.0.1"
_NUMBER = re.compile(
    rb"(?:^|&)data%5BPARAMS%5D%5BMESSAGE%5D="
    + re.escape(MESSAGE_PREFIX.replace(" ", "+").encode())
    + rb"(\d+)"
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


async def wait_for(arrivals: Arrivals, expected: int, drain: float) -> None:
    """Until ``expected`` numbered events are in, or ``drain`` seconds have passed."""
    deadline = time.perf_counter() + drain
    while len(arrivals.at) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)


class Inline:
    """The handler on the generator's own event loop."""

    def __init__(self) -> None:
        self.arrivals = Arrivals()
        self.server: asyncio.AbstractServer | None = None

    async def start(self, port: int) -> None:
        self.server = await listen(port, self.arrivals)

    async def collect(self, expected: int, drain: float) -> Arrivals:
        await wait_for(self.arrivals, expected, drain)
        if self.server is not None:
            self.server.close()
        return self.arrivals


class Child:
    """The handler in a process of its own. It listens until told how many events to expect (a line
    on its stdin), waits for them at most ``drain`` seconds, prints its arrivals as JSON and exits;
    it also exits when its stdin closes, so it cannot outlive a generator that died."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, port: int) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "openlines.bench.receiver",
            "--port",
            str(port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        if await self.process.stdout.readline() != b"ready\n":
            raise RuntimeError(f"the W4 handler process did not start (exit {await self.process.wait()})")

    async def collect(self, expected: int, drain: float) -> Arrivals:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(f"{expected} {drain}\n".encode())
        out, _ = await self.process.communicate()
        data = json.loads(out)
        arrivals = Arrivals()
        arrivals.at = {int(i): float(at) for i, at in data["at"]}
        arrivals.other = int(data["other"])
        return arrivals


async def _serve(port: int) -> dict[str, object]:
    arrivals = Arrivals()
    server = await listen(port, arrivals)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.strip():
        expected, drain = line.split()
        await wait_for(arrivals, int(expected), float(drain))
    server.close()
    return {"at": sorted(arrivals.at.items()), "other": arrivals.other}


def main() -> None:
    parser = argparse.ArgumentParser(description="W4's event handler in a process of its own")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(_serve(args.port))
    except ImportError:  # pragma: no cover
        result = asyncio.run(_serve(args.port))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
