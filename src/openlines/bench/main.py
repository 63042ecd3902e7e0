"""Command line of ``openlines bench`` / ``python -m openlines.bench``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from rich.console import Console

from openlines.bench import loadgen, report, runner
from openlines.bench.workloads import ALL, BY_NAME, QUICK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="openlines bench",
        description="Measure the server against the ceiling of the same run: each workload runs on a fresh "
        "server process (SQLite file, demo portal, no access log), interleaved over --runs repetitions. "
        f"Workloads: {', '.join(w.name for w in ALL)}.",
    )
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds (for the test suite)")
    p.add_argument("--duration", type=float, help="seconds per measurement [10; quick 1]")
    p.add_argument("--warmup", type=float, help="seconds of warm-up before each measurement [2; quick 0]")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections [64]")
    p.add_argument("--runs", type=int, help="interleaved repetitions [3; quick 1]")
    p.add_argument("--workloads", help="comma-separated list [all; quick: all but the 1M scale check]")
    p.add_argument("--json", type=Path, help="write the results as JSON to this file")
    p.add_argument(
        "--db", default="sqlite", help="store to measure: sqlite, or a postgresql:// address [sqlite]"
    )
    p.add_argument("--pool", type=int, help="open sessions in the transfer pool [10000; quick 400]")
    p.add_argument("--scale-sessions", type=int, default=1_000_000, help="stored sessions for W2-1M")
    p.add_argument("--python-generator", action="store_true", help="use the Python generator, not wrk")
    p.add_argument(
        "--profile", default="", metavar="WORKLOAD", help="sample the server with py-spy during it"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes of the measured servers [1; >1 needs --db postgresql://]",
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder (databases, logs, scripts)")
    p.add_argument(
        "--rate", type=float, default=0.0, help="messages/s of the open-loop workloads W4a and W4 [500]"
    )
    p.add_argument(
        "--w4-handler",
        choices=("inline", "process"),
        default="inline",
        help="W4's event handler on the generator's event loop, or in a process of its own [inline]",
    )
    return p


def options_from(args: argparse.Namespace) -> runner.Options:
    quick = bool(args.quick)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()] if args.workloads else None
    if names is None:
        names = QUICK if quick else [w.name for w in ALL]
    unknown = [n for n in names if n.lower() not in BY_NAME]
    if unknown:
        raise SystemExit(f"openlines bench: unknown workload(s) {', '.join(unknown)}")
    names = [BY_NAME[n.lower()].name for n in names]
    pool = args.pool if args.pool is not None else (400 if quick else 10_000)
    return runner.Options(
        workloads=names,
        duration=args.duration if args.duration is not None else (1.0 if quick else 10.0),
        warmup=args.warmup if args.warmup is not None else (0.0 if quick else 2.0),
        connections=args.connections,
        runs=args.runs if args.runs is not None else (1 if quick else 3),
        pool=pool,
        warm_pool=max(200, pool // 5),
        visitors=min(1_000, pool),
        scale_sessions=args.scale_sessions,
        prefer_wrk=not args.python_generator,
        drain_wait=0.0 if quick else 60.0,
        db=args.db,
        keep=args.keep,
        profile=args.profile,
        workers=args.workers,
        profile_dir=args.json.parent if args.json else None,
        rate=max(0.0, args.rate),
        w4_handler=args.w4_handler,
    )


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    options = options_from(args)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    if options.prefer_wrk and loadgen.wrk_path() is None:
        console.print(
            "[yellow]wrk is not installed (scripts/setup-debian installs it); "
            "using the Python generator — see its CPU column for its own ceiling[/]"
        )
    command = "openlines bench " + shlex.join(argv)
    machine = report.machine()
    session = runner.run_session(options, lambda text: console.print(text, style="dim"))
    summary = report.summarise(session, command, machine)
    report.print_summary(console, summary)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
