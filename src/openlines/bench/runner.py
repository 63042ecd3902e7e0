"""One benchmark session: prepare databases, then for each run, for each workload, start a fresh server,
warm it up, measure, stop it. Runs are interleaved so that drift of a shared machine spreads evenly."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from openlines.bench import harness, loadgen, profile, seed
from openlines.bench.databases import Databases, open_databases
from openlines.bench.harness import HOST, Server
from openlines.bench.loadgen import Load, Measurement
from openlines.bench.seed import Seeded
from openlines.bench.workloads import BY_NAME, Workload, plan_for

Log = Callable[[str], None]


@dataclass
class Options:
    workloads: list[str]
    duration: float = 10.0
    warmup: float = 2.0
    connections: int = 64
    runs: int = 3
    pool: int = 10_000
    warm_pool: int = 2_000
    visitors: int = 1_000
    scale_sessions: int = 1_000_000
    prefer_wrk: bool = True
    db: str = "sqlite"
    keep: bool = False
    drain_wait: float = 60.0  # seconds to let the seeding's bot events be delivered before settling them
    profile: str = ""  # a workload name: sample the server with py-spy during its first run
    profile_dir: Path | None = None
    rate: float = 0.0  # > 0: the open-loop workloads (W4a, W4) at this rate instead of their own
    w4_handler: str = "inline"  # W4's event handler: on the generator's event loop, or a "process"
    workers: int = 1  # openlines serve --workers for the measured servers (PostgreSQL only)


@dataclass
class RunResult:
    workload: str
    run: int
    measurement: Measurement
    connections: int
    server_cpu: float  # CPU seconds of the server / wall seconds of the measurement
    rss_peak_mb: float
    rss_start_mb: float
    db_cpu: float = 0.0  # CPU seconds of the database's PostgreSQL backends / wall seconds


@dataclass
class Session:
    options: Options
    workdir: Path
    log: Log
    skipped: dict[str, str] = field(default_factory=dict)
    databases: Databases | None = None
    templates: dict[str, str] = field(default_factory=dict)
    seeded: dict[str, Seeded] = field(default_factory=dict)
    results: list[RunResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def dbs(session: Session) -> Databases:
    assert session.databases is not None
    return session.databases


def start_openlines(session: Session, db: str, name: str, config: str = "", workers: int = 1) -> Server:
    port = harness.free_port()
    argv = harness.openlines_argv(str(db), port, workers)
    if config:  # routing lane: a workload's own configuration on top of the demo portal (W3)
        path = session.workdir / f"{name}.toml"
        path.write_text(config, encoding="utf-8")
        argv += ["--config", str(path)]
    return harness.start(name, argv, port, session.workdir / f"{name}.log", "/healthz", 60)


def prepare(session: Session, wanted: list[Workload], sink_url: str) -> None:
    """A new demo database (the template of W0/W1), the methods it has, and, when a workload needs
    it, a seeded copy: a welcome bot and the session pool, with the bot events of seeding delivered."""
    opts = session.options
    empty = dbs(session).new("template-empty")
    server = start_openlines(session, empty, "preflight")
    try:
        methods = asyncio.run(seed.available_methods(server.url))
        has_widget = asyncio.run(seed.widget_available(server.url))
    finally:
        harness.stop(server)
    session.templates[""] = empty
    for w in wanted:
        missing = [m for m in w.methods if m.lower() not in methods]
        if w.widget and not has_widget:
            missing.append(f"POST /widget/{seed.LINE_ID}/messages")
        if missing:
            session.skipped[w.name] = "method not available: " + ", ".join(missing)
    if not any(w.seed and w.name not in session.skipped for w in wanted):
        return
    pool_db = dbs(session).copy(empty, "template-pool")
    server = start_openlines(session, pool_db, "seeding")
    try:
        t0 = time.monotonic()
        session.log(f"seeding {opts.pool:,} + {opts.warm_pool:,} sessions through the widget API…")
        made = asyncio.run(
            seed.seed_pool(
                server.url,
                server.port,
                sink_url,
                opts.pool,
                opts.warm_pool,
                opts.visitors,
                # PostgreSQL: 32 concurrent new visitors time out allocating user ids (503); see docs
                concurrency=4 if dbs(session).kind == "postgresql" else 32,
            )
        )
        made.seconds = time.monotonic() - t0
        session.seeded["pool"] = made
        session.log(f"  done in {made.seconds:.1f} s; waiting for the bot events to be delivered…")
        t1 = time.monotonic()
        left = asyncio.run(seed.wait_drained(server.url, opts.drain_wait))
        drained = f"outbox drained in {time.monotonic() - t1:.1f} s"
        if left:
            drained = f"{left} bot events still pending after {time.monotonic() - t1:.0f} s"
        session.notes.append(
            f"seeding: {made.stored_sessions:,} sessions through the widget API in {made.seconds:.1f} s; {drained}"
        )
        session.log("  " + drained)
    finally:
        harness.stop(server)
    if left:
        try:
            settled = asyncio.run(seed.settle_outbox(pool_db))
        except AttributeError as exc:  # the store's delivery API changed
            settled = 0
            session.notes.append(f"could not settle the outbox: {exc}")
        if settled:
            session.notes.append(f"{settled:,} undelivered seeding events marked delivered in the template")
    dbs(session).analyze(pool_db)
    session.templates["pool"] = pool_db
    if any(w.seed == "scale" and w.name not in session.skipped for w in wanted):
        prepare_scale(session, wanted, pool_db)


def prepare_scale(session: Session, wanted: list[Workload], pool_db: str) -> None:
    opts = session.options
    scale_db = dbs(session).copy(pool_db, "template-scale")
    extra = max(0, opts.scale_sessions - session.seeded["pool"].stored_sessions)
    session.log(f"seeding {extra:,} more stored sessions in bulk…")
    t0 = time.monotonic()
    try:
        from openlines.bench import bulk

        asyncio.run(bulk.add_sessions(scale_db, extra))
    except bulk.BulkUnavailable as exc:
        for w in wanted:
            if w.seed == "scale":
                session.skipped[w.name] = str(exc)
        return
    scaled = Seeded(**{**session.seeded["pool"].__dict__})
    scaled.stored_sessions += extra
    scaled.seconds = time.monotonic() - t0
    session.seeded["scale"] = scaled
    dbs(session).analyze(scale_db)
    session.templates["scale"] = scale_db
    session.log(f"  done in {scaled.seconds:.1f} s")
    session.notes.append(f"scale: {extra:,} closed sessions added in bulk in {scaled.seconds:.1f} s")


def connections_for(workload: Workload, seeded: Seeded | None, wanted: int, warmup: bool) -> int:
    """At most half a pass over the chat pool in flight, so no chat is transferred twice at once."""
    if seeded is None or workload.name not in ("W2", "W2-1M", "W3", "W5"):
        return wanted
    pool = len(seeded.warm_chats if warmup else seeded.chats)
    per = 50 if workload.name == "W5" else 1
    return max(1, min(wanted, pool // (2 * per)))


def rate_of(workload: Workload, options: Options) -> float:
    return (options.rate or workload.rate) if workload.rate else 0.0


def measure_once(session: Session, workload: Workload, run: int) -> RunResult:
    opts = session.options
    rate = rate_of(workload, opts)
    seeded = session.seeded.get(workload.seed) if workload.seed else None
    tag = f"{workload.name}-r{run}"
    hung: socket.socket | None = None  # W4d's dead handler
    if workload.server == "bare":
        port = harness.free_port()
        server = harness.start(
            tag, harness.bare_argv(port), port, session.workdir / f"{tag}.log", "/healthz", 60
        )
    else:
        db = dbs(session).copy(session.templates[workload.seed], tag)
        try:
            if workload.dead_backlog:  # W4d: a dead handler's queue is there before the server starts
                hung = harness.hung_listener()
                url = f"http://{HOST}:{hung.getsockname()[1]}/dead.php"
                asyncio.run(seed.add_dead_backlog(db, url, workload.dead_backlog))
            server = start_openlines(session, db, tag, workload.config, opts.workers)
        except BaseException:
            dbs(session).drop(db)
            if hung is not None:
                hung.close()
            raise
    try:
        if opts.warmup > 0:
            warm_plan = plan_for(workload, seeded, warmup=True)
            warm = Load(
                opts.warmup,
                connections_for(workload, seeded, opts.connections, True),
                max_requests=int(opts.warmup * 100_000),
                rate=rate,
            )
            loadgen.run(warm_plan, server.port, warm, session.workdir, tag + "-warm", opts.prefer_wrk)
        conns = connections_for(workload, seeded, opts.connections, False)
        load = Load(opts.duration, conns, max_requests=int(opts.duration * 100_000), rate=rate)
        plan = plan_for(workload, seeded)
        if workload.events and seeded is not None:  # the generator is the bot's handler now
            plan.receiver_port = harness.free_port()
            plan.receiver_process = opts.w4_handler == "process"
            url = f"http://{HOST}:{plan.receiver_port}/w4/bot.php"
            asyncio.run(seed.point_bot_messages(server.url, seeded.bot_id, url))
        rss_start = harness.group_rss_kib(server.pid)
        backends = _backends(session, db) if workload.server != "bare" else []
        db_cpu0 = {pid: harness.cpu_seconds(pid) for pid in backends}
        cpu0, t0 = harness.group_cpu_seconds(server.pid), time.monotonic()
        spy = None
        if run == 1 and opts.profile.lower() == workload.name.lower():
            raw = (opts.profile_dir or Path.cwd()) / f"profile-{workload.name}.raw"
            spy = profile.start(server.pid, opts.duration, raw)
            if spy is None:
                session.log("--profile: py-spy is not installed (pip install py-spy)")
        with harness.RssSampler(server.pid) as rss:
            measurement = loadgen.run(plan, server.port, load, session.workdir, tag, opts.prefer_wrk)
        wall = max(1e-9, time.monotonic() - t0)
        server_cpu = (harness.group_cpu_seconds(server.pid) - cpu0) / wall
        if workload.dead_backlog:  # W4d: the dead handler's queue was there all along
            measurement.extra["dead_pending"] = float(asyncio.run(seed.pending_events(server.url)) or 0)
        # connections a pool opened during the measurement count whole (they started inside it)
        after = _backends(session, db) if workload.server != "bare" else []
        db_cpu = sum(harness.cpu_seconds(pid) - db_cpu0.get(pid, 0.0) for pid in after) / wall
        if spy is not None:
            written = profile.finish(spy, raw)
            session.log(f"profile of {workload.name}: {written}")
    finally:
        harness.stop(server)
        if hung is not None:
            hung.close()
        if workload.server != "bare" and not (opts.keep and dbs(session).kind == "sqlite"):
            dbs(session).drop(db)
    return RunResult(
        workload.name, run, measurement, conns, server_cpu, rss.peak_kib / 1024, rss_start / 1024, db_cpu
    )


def _backends(session: Session, db: str) -> list[int]:
    """The PostgreSQL backends of a run's database (the pool's connections are open by the warm-up)."""
    if dbs(session).kind != "postgresql":
        return []
    return harness.backend_pids(db.rsplit("/", 1)[-1].split("?", 1)[0])


def run_session(options: Options, log: Log) -> Session:
    wanted = [BY_NAME[name.lower()] for name in options.workloads]
    workdir = Path(tempfile.mkdtemp(prefix="openlines-bench-"))
    session = Session(options, workdir, log)
    sink: Server | None = None
    try:
        session.databases = open_databases(options.db, workdir)
        if any(w.seed for w in wanted):
            port = harness.free_port()
            sink = harness.start(
                "sink", harness.bare_argv(port, 600), port, workdir / "sink.log", "/healthz", 60
            )
        prepare(session, wanted, f"http://{HOST}:{sink.port}/bot-events" if sink else "")
        for run in range(1, options.runs + 1):
            for w in wanted:
                if w.name in session.skipped:
                    continue
                result = measure_once(session, w, run)
                m = result.measurement
                log(
                    f"run {run}/{options.runs} {w.name:6} {m.rps:9,.0f} req/s  p99 {m.p99_ms:6.1f} ms  "
                    f"errors {m.errors}  rss {result.rss_peak_mb:5.0f} MB"
                )
                session.results.append(result)
    finally:
        if sink is not None:
            harness.stop(sink)
        if session.databases is not None:
            session.databases.close()
        if options.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return session
