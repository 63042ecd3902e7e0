"""Routing benchmarks (issue 6), run with ``python -m openlines.bench.routing``.

* **W3 beside W2**: a bot's transfers to a user (W2, two operators alternating) and to a queue whose
  routing picks among 50 operators under MAX_CHAT (W3), each on a fresh copy of the same seeded
  database and the same routing-enabled server configuration, interleaved over the runs. W3 is
  reported as a ratio to W2 of the same run.
* **Assignment cost**: the time of one distribution (load the queue, check operators, assign,
  record) with 10,000 waiting sessions and 500 operators against 100 and 5; medians of interleaved
  runs. Every routing query is an index seek (tests/routing/test_timers.py checks the plans), so the
  ratio should stay near 1.

Figures drift on shared machines: compare ratios of one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from openlines.bench import harness, seed

FIRST_OPERATOR = 1001
SINK = "http://127.0.0.1:9/unused"  # delivery is off in these runs: events stay in the outbox


def server_config(operators: int, max_chat: int) -> str:
    ids = list(range(FIRST_OPERATOR, FIRST_OPERATOR + operators))
    users = "\n".join(f'[[users]]\nid = {uid}\nname = "Op{uid}"\n' for uid in ids)
    return (
        "[server]\nrouting = true\n\n[delivery]\nenabled = false\n\n"
        f'{users}\n[[lines]]\nid = 1\nname = "Support"\nqueue = {ids}\nqueue_type = "evenly"\n'
        f"MAX_CHAT = {max_chat}\nQUEUE_TIME = 3600\n"
    )


# --- W3 beside W2 over HTTP ----------------------------------------------------------------------


@dataclass
class HttpResult:
    workload: str
    run: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _argv(db: Path, port: int, config: Path) -> list[str]:
    return [*harness.openlines_argv(str(db), port), "--config", str(config)]


async def _seed(port: int, pool: int) -> tuple[int, list[int]]:
    import httpx

    async with httpx.AsyncClient(
        base_url=f"http://{harness.HOST}:{port}", timeout=30, trust_env=False
    ) as client:
        bot_id = await seed.register_welcome_bot(client, SINK)
    made = await seed.open_sessions(port, pool, "route-bench-")
    return bot_id, [chat for chat, _, _ in made]


async def _load(port: int, chats: list[int], target: str, duration: float, connections: int) -> HttpResult:
    """Closed loop: each connection owns its own slice of the chats, so no chat moves twice at once."""
    from openlines.bench.pyload import connect

    path = f"{seed.WEBHOOK}imopenlines.bot.session.transfer.json"
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration

    async def worker(slice_: list[int], offset: int) -> None:
        nonlocal errors
        conn = await connect(port)
        k = offset
        try:
            while time.monotonic() < deadline and slice_:
                chat = slice_[k % len(slice_)]
                flip = (k // len(slice_)) % 2
                who = target if target.startswith("QUEUE_ID") else f"USER_ID={FIRST_OPERATOR + flip}"
                body = f"CHAT_ID={chat}&{who}&LEAVE=N&CLIENT_ID={seed.CLIENT_ID}".encode()
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {harness.HOST}:{port}\r\n"
                    f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                t0 = time.perf_counter()
                status, answer = await conn.call(head.encode() + body)
                latencies.append(time.perf_counter() - t0)
                if status != 200 or b'"result":true' not in answer:
                    errors += 1
                k += 1
        finally:
            if conn.transport is not None:
                conn.transport.close()

    slices = [chats[i::connections] for i in range(connections)]
    t0 = time.monotonic()
    await asyncio.gather(*(worker(s, 0) for s in slices))
    seconds = time.monotonic() - t0
    ordered = sorted(latencies) or [0.0]
    return HttpResult(
        "W3" if target.startswith("QUEUE_ID") else "W2",
        0,
        len(latencies),
        seconds,
        errors,
        ordered[len(ordered) // 2] * 1000,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    )


def http_workloads(
    pool: int, duration: float, connections: int, runs: int, log: Any = print
) -> list[HttpResult]:
    workdir = Path(tempfile.mkdtemp(prefix="openlines-routing-bench-"))
    try:
        config = workdir / "openlines.toml"
        config.write_text(server_config(50, max(1, pool // 40)))  # 50 operators, room for 80 % of the pool
        template = workdir / "template.db"
        port = harness.free_port()
        log(f"seeding {pool:,} bot-owned sessions…")
        with harness.running("seed", _argv(template, port, config), port, workdir / "seed.log", "/healthz"):
            _, chats = asyncio.run(_seed(port, pool))
        results: list[HttpResult] = []
        for run in range(1, runs + 1):
            order = ("W2", "W3") if run % 2 else ("W3", "W2")
            for name in order:
                db = workdir / f"{name}-{run}.db"
                for suffix in ("", "-wal", "-shm"):
                    source = Path(str(template) + suffix)
                    if source.exists():
                        shutil.copyfile(source, Path(str(db) + suffix))
                port = harness.free_port()
                argv = _argv(db, port, config)
                with harness.running(name, argv, port, workdir / f"{name}-{run}.log", "/healthz"):
                    target = "QUEUE_ID=1" if name == "W3" else "USER_ID"
                    result = asyncio.run(_load(port, chats, target, duration, connections))
                result.run = run
                results.append(result)
                log(
                    f"  {name} run {run}: {result.rps:,.0f} transfers/s, p50 {result.p50_ms:.2f} ms, errors {result.errors}"
                )
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- assignment cost in-process ---------------------------------------------------------------------


async def _assignment_portal(folder: Path, waiting: int, operators: int) -> Any:
    from openlines.config import from_dict
    from openlines.portal import bootstrap

    ids = list(range(FIRST_OPERATOR, FIRST_OPERATOR + operators))
    raw = {
        "server": {"db": str(folder / f"assign-{waiting}-{operators}.db"), "routing": True},
        "delivery": {"enabled": False},
        "users": [{"id": uid, "name": f"Op{uid}"} for uid in ids],
        "lines": [
            {
                "id": 1,
                "name": "Support",
                "queue": ids,
                "queue_type": "evenly",
                "CHECK_AVAILABLE": "Y",
                "MAX_CHAT": 0,
            }
        ],
    }
    services = (await bootstrap(from_dict(raw), fake_clock=True)).services
    store = services.store
    db = store.db  # type: ignore[attr-defined]  # SQLite: bulk rows straight in
    now = services.clock.now()
    async with store.atomic():
        for uid in ids:
            await store.set_presence(uid, now, status="online")
        first_chat = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM chats").fetchone()[0]) + 1
        db.executemany(
            "INSERT INTO chats(id, type, entity_type, entity_id, line_id, session_id, date_create) "
            "VALUES (?, 'L', 'LINES', ?, 1, ?, ?)",
            [(first_chat + i, f"bench|1|w{i}|0", i + 1, now) for i in range(waiting)],
        )
        db.executemany(
            "INSERT INTO sessions(id, chat_id, line_id, customer_id, status, owner_type, operator_id, date_create, "
            "date_modify) VALUES (?, ?, 1, 0, 5, 'queue', 0, ?, ?)",
            [(i + 1, first_chat + i, now, now) for i in range(waiting)],
        )
    return services


async def _measure_assignments(services: Any, samples: int) -> list[float]:
    from openlines.engine import routing

    store = services.store
    took: list[float] = []
    for _ in range(samples):
        (session_id,) = await store.waiting_session_ids(1, 1)
        t0 = time.perf_counter()
        async with store.atomic():
            session = await store.get_session(session_id)
            chat = await store.lock_chat(session.chat_id)
            await routing.distribute(services, chat, session, "bench")
        took.append(time.perf_counter() - t0)
        async with store.atomic():  # back to the end of the queue, so the waiting count stays the same
            store.db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            store.db.execute(
                "INSERT INTO sessions(id, chat_id, line_id, customer_id, status, owner_type, operator_id) "
                "SELECT MAX(id) + 1, ?, 1, 0, 5, 'queue', 0 FROM sessions",
                (session.chat_id,),
            )
            store.db.execute("DELETE FROM chat_members WHERE chat_id = ?", (session.chat_id,))
    return took


def assignment_cost(
    sizes: tuple[tuple[int, int], ...] = ((10_000, 500), (100, 5)),
    runs: int = 3,
    samples: int = 300,
    log: Any = print,
) -> dict[str, Any]:
    """Median microseconds of one assignment per (waiting, operators), interleaved over ``runs``."""
    folder = Path(tempfile.mkdtemp(prefix="openlines-assign-bench-"))
    medians: dict[str, list[float]] = {f"{w}x{o}": [] for w, o in sizes}
    try:
        loop = asyncio.new_event_loop()
        portals = {f"{w}x{o}": loop.run_until_complete(_assignment_portal(folder, w, o)) for w, o in sizes}
        for run in range(runs):
            keys = list(portals) if run % 2 == 0 else list(reversed(portals))
            for key in keys:
                took = loop.run_until_complete(_measure_assignments(portals[key], samples))
                medians[key].append(statistics.median(took) * 1e6)
                log(f"  assignment {key} run {run + 1}: median {medians[key][-1]:.0f} µs")
        for services in portals.values():
            loop.run_until_complete(services.store.close())
        loop.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    summary = {key: statistics.median(values) for key, values in medians.items()}
    keys = list(summary)
    return {
        "median_us": summary,
        "runs": medians,
        "ratio": summary[keys[0]] / summary[keys[-1]] if summary[keys[-1]] else 0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m openlines.bench.routing", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--pool", type=int, default=2000, help="bot-owned sessions for W2/W3 [2000]")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per HTTP measurement [5]")
    p.add_argument("--connections", type=int, default=16, help="connections of the HTTP load [16]")
    p.add_argument("--runs", type=int, default=3, help="interleaved runs [3]")
    p.add_argument("--samples", type=int, default=300, help="assignments timed per run [300]")
    p.add_argument("--skip-http", action="store_true", help="only the in-process assignment cost")
    p.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = p.parse_args(argv)
    out: dict[str, Any] = {}
    print("assignment cost (10,000 waiting / 500 operators vs 100 / 5):")
    out["assignment"] = assignment_cost(runs=args.runs, samples=args.samples)
    print(f"  medians: {out['assignment']['median_us']}  ratio {out['assignment']['ratio']:.2f}")
    if not args.skip_http:
        print("W3 (transfer to a queue routed to 50 operators under MAX_CHAT) beside W2:")
        results = http_workloads(args.pool, args.duration, args.connections, args.runs)
        w2 = statistics.median(r.rps for r in results if r.workload == "W2")
        w3 = statistics.median(r.rps for r in results if r.workload == "W3")
        out["http"] = {"runs": [asdict(r) | {"rps": r.rps} for r in results], "w2_rps": w2, "w3_rps": w3}
        out["http"]["w3_over_w2"] = w3 / w2 if w2 else 0.0
        print(f"  medians: W2 {w2:,.0f}/s  W3 {w3:,.0f}/s  W3/W2 {out['http']['w3_over_w2']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
