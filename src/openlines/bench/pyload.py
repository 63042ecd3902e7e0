"""The Python load generator: raw asyncio keep-alive connections (uvloop when present), no HTTP library.

Closed loop (``--rate 0``): each connection sends its next request as soon as the previous answer is in.
Open loop (``--rate R``): request i is due at ``start + i / R`` whatever happened before; it goes out on an
idle connection (a new one is opened while fewer than ``--connections`` exist) and its latency counts
from when it was due, so a slow server cannot hide its queueing (no coordinated omission).
With a plan's ``receiver_port`` (W4) it also runs the bot's event handler (on its own loop, or in a
child process with ``receiver_process``) and reports the latency from each message's due time to the
arrival of its ``ONIMBOTMESSAGEADD`` instead.
Prints one JSON line. Run as ``python -m openlines.bench.pyload --plan FILE --port N …``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from array import array
from pathlib import Path
from typing import cast

from openlines.bench import receiver
from openlines.bench.plan import Plan, body

HOST = "127.0.0.1"
TIMEOUT = 10.0


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:head_end]).lower()
        start = head_end + 4
        marker = head.find(b"content-length:")
        if marker >= 0:
            line_end = head.find(b"\r\n", marker)
            length = int(head[marker + 15 : line_end if line_end >= 0 else len(head)])
            if len(self.buffer) < start + length:
                return
            payload = bytes(self.buffer[start : start + length])
            del self.buffer[: start + length]
        elif b"chunked" in head:
            end = self.buffer.find(b"\r\n0\r\n\r\n", start)
            if end < 0:
                return
            payload = bytes(self.buffer[start:end])
            del self.buffer[: end + 7]
        else:
            payload = b""
            del self.buffer[:start]
        status = int(head[9:12]) if head.startswith(b"http/") else 0
        if not self.waiter.done():
            self.waiter.set_result((status, payload))

    async def call(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await asyncio.wait_for(self.waiter, TIMEOUT)


def encode(plan: Plan, i: int, port: int) -> bytes:
    payload, headers = body(plan, i)
    lines = [
        f"{plan.method} {plan.path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        f"Content-Type: {plan.content_type}",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Stats:
    def __init__(self, plan: Plan) -> None:
        self.expect = plan.expect.encode()
        self.latencies = array("d")
        self.socket_errors = 0
        self.bad = 0
        self.sample = ""

    def record(self, status: int, payload: bytes, seconds: float) -> None:
        self.latencies.append(seconds)
        if not 200 <= status <= 299 or (self.expect and self.expect not in payload):
            self.bad += 1
            if not self.sample:
                self.sample = f"{status} {payload[:300].decode(errors='replace')}"


async def connect(port: int) -> Conn:
    loop = asyncio.get_running_loop()
    transport, conn = await loop.create_connection(Conn, HOST, port)
    conn.transport = transport  # uvloop calls connection_made() only after this returns
    return conn


async def closed_loop(plan: Plan, port: int, conns: int, duration: float, limit: int, stats: Stats) -> None:
    deadline = time.perf_counter() + duration
    counter = iter(range(limit if limit > 0 else sys.maxsize))

    async def worker() -> None:
        conn: Conn | None = None
        for i in counter:
            if time.perf_counter() >= deadline:
                return
            try:
                if conn is None or conn.closed:
                    conn = await connect(port)
                request = encode(plan, i, port)
                sent = time.perf_counter()
                status, payload = await conn.call(request)
                stats.record(status, payload, time.perf_counter() - sent)
            except (OSError, ConnectionError, TimeoutError):
                stats.socket_errors += 1
                conn = None

    await asyncio.gather(*(worker() for _ in range(conns)))


async def open_loop(
    plan: Plan, port: int, conns: int, duration: float, limit: int, rate: float, stats: Stats
) -> float:
    """Send on schedule; returns the start, so request i was due at ``start + i / rate``."""
    idle: list[Conn] = []
    opened = 0
    available = asyncio.Condition()
    tasks: set[asyncio.Task[None]] = set()
    total = int(duration * rate)
    if limit > 0:
        total = min(total, limit)

    async def one(i: int, due: float) -> None:
        nonlocal opened
        async with available:
            while not idle and opened >= conns:
                await available.wait()
            conn = idle.pop() if idle else None
            if conn is None:
                opened += 1
        try:
            if conn is None:
                conn = await connect(port)
            status, payload = await conn.call(encode(plan, i, port))
            stats.record(status, payload, time.perf_counter() - due)
        except (OSError, ConnectionError, TimeoutError):
            stats.socket_errors += 1
            conn = None
        async with available:
            if conn is not None and not conn.closed:
                idle.append(conn)
            else:
                opened -= 1
            available.notify()

    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return start


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def latency_fields(values: list[float]) -> dict[str, float]:
    """p50, p90, p99, p99.9 and max in milliseconds of sorted latencies in seconds."""
    return {
        "p50_ms": percentile(values, 50) * 1000,
        "p90_ms": percentile(values, 90) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
        "p999_ms": percentile(values, 99.9) * 1000,
        "max_ms": (values[-1] if values else 0.0) * 1000,
    }


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    plan = Plan.from_json(Path(args.plan).read_text(encoding="utf-8"))
    stats = Stats(plan)
    handler: receiver.Inline | receiver.Child | None = None
    if plan.receiver_port and args.rate > 0:
        handler = receiver.Child() if plan.receiver_process else receiver.Inline()
        await handler.start(plan.receiver_port)
    started = start = time.perf_counter()
    extra: dict[str, float] = {}
    if args.rate > 0:
        start = await open_loop(
            plan, args.port, args.connections, args.duration, args.max_requests, args.rate, stats
        )
        extra["target_rate"] = args.rate
    else:
        await closed_loop(plan, args.port, args.connections, args.duration, args.max_requests, stats)
    seconds = time.perf_counter() - started
    values = sorted(stats.latencies)
    result: dict[str, object] = {
        "requests": len(values),
        "seconds": seconds,
        **latency_fields(values),
        "socket_errors": stats.socket_errors,
        "bad_answers": stats.bad,
        "sample": stats.sample,
        "extra": extra,
    }
    if handler is not None:
        # End to end: from when message i was due to when its event reached the handler. Messages the
        # server accepted must all have their event; wait a bounded time for the last ones.
        expected = len(values) - stats.bad
        arrivals = await handler.collect(expected, args.drain)
        ends = sorted(at - (start + i / args.rate) for i, at in arrivals.at.items())
        missing = max(0, expected - len(ends))
        result.update(latency_fields(ends))
        result["bad_answers"] = stats.bad + missing
        if missing and not stats.sample:
            result["sample"] = (
                f"{missing} accepted messages had no ONIMBOTMESSAGEADD within {args.drain:.0f} s"
            )
        extra.update(
            events=float(len(ends)),
            events_missing=float(missing),
            other_events=float(arrivals.other),
            request_p50_ms=percentile(values, 50) * 1000,
            request_p99_ms=percentile(values, 99) * 1000,
            handler_process=float(plan.receiver_process),
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait for the last events (W4)")
    args = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(main_async(args))
    except ImportError:  # pragma: no cover
        result = asyncio.run(main_async(args))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
