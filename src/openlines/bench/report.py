"""Summaries: medians with min–max over interleaved runs, ratios against W0 and W0s of the same run,
the machine, a rich table for the terminal and a JSON document."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from openlines.bench.runner import RunResult, Session, rate_of
from openlines.bench.workloads import BATCH_SIZE, BY_NAME

FIELDS = (
    "rps",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "rss_peak_mb",
    "server_cpu",
    "db_cpu",
    "generator_cpu",
)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    memory_gib = 0.0
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            memory_gib = int(fh.readline().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10, check=False)
        wrk_version = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory_gib, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version,
        "loadavg_at_start": list(os.getloadavg()),
    }


def value(result: RunResult, name: str) -> float:
    m = result.measurement
    return {
        "rps": m.rps,
        "p50_ms": m.p50_ms,
        "p90_ms": m.p90_ms,
        "p99_ms": m.p99_ms,
        "p999_ms": m.p999_ms,
        "max_ms": m.max_ms,
        "rss_peak_mb": result.rss_peak_mb,
        "server_cpu": result.server_cpu,
        "db_cpu": result.db_cpu,
        "generator_cpu": m.generator_cpu,
    }[name]


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def ratio(session: Session, name: str, anchor: str) -> dict[str, float] | None:
    """Median over runs of (workload req/s ÷ anchor req/s in the same run)."""
    by_run = {r.run: r.measurement.rps for r in session.results if r.workload == anchor}
    values = [
        r.measurement.rps / by_run[r.run] for r in session.results if r.workload == name and by_run.get(r.run)
    ]
    return spread(values) if values else None


def summarise(session: Session, command: str, machine_info: dict[str, Any]) -> dict[str, Any]:
    opts = session.options
    workloads: dict[str, Any] = {}
    for name in opts.workloads:
        w = BY_NAME[name.lower()]
        entry: dict[str, Any] = {"title": w.title}
        if w.name in session.skipped:
            entry.update(status="skipped", reason=session.skipped[w.name])
            workloads[w.name] = entry
            continue
        runs = [r for r in session.results if r.workload == w.name]
        if not runs:
            entry.update(status="skipped", reason="not run")
            workloads[w.name] = entry
            continue
        entry["status"] = "ok"
        entry["generator"] = runs[0].measurement.generator
        entry["connections"] = runs[0].connections
        if w.rate:
            entry["target_rate"] = rate_of(w, opts)
        for field in FIELDS:
            entry[field] = spread([value(r, field) for r in runs])
        entry["requests"] = sum(r.measurement.requests for r in runs)
        entry["errors"] = sum(r.measurement.errors for r in runs)
        entry["socket_errors"] = sum(r.measurement.socket_errors for r in runs)
        entry["bad_answers"] = sum(r.measurement.bad_answers for r in runs)
        entry["first_bad_answer"] = next((r.measurement.sample for r in runs if r.measurement.sample), "")
        entry["vs_W0"] = ratio(session, w.name, "W0")
        entry["vs_W0s"] = ratio(session, w.name, "W0s")
        if w.name == "W5":  # each request is a batch of transfers
            entry["transfers_per_s"] = spread([r.measurement.rps * BATCH_SIZE for r in runs])
        if w.events:  # events at the handler; one not received within the wait is an error
            entry["events"] = sum(int(r.measurement.extra.get("events", 0)) for r in runs)
            entry["events_missing"] = sum(int(r.measurement.extra.get("events_missing", 0)) for r in runs)
        if w.name in ("W2-1M", "W3"):  # W3: routing lane, a queue transfer against W2 of the same run
            entry["vs_W2"] = ratio(session, w.name, "W2")
        entry["runs"] = [
            {
                "run": r.run,
                **{f: round(value(r, f), 3) for f in FIELDS},
                "requests": r.measurement.requests,
                "errors": r.measurement.errors,
                "extra": r.measurement.extra,
            }
            for r in runs
        ]
        workloads[w.name] = entry
    return {
        "command": command,
        "machine": machine_info,
        "options": asdict(opts),
        "seeded": {
            key: {"stored_sessions": s.stored_sessions, "pool": len(s.chats), "seconds": round(s.seconds, 1)}
            for key, s in session.seeded.items()
        },
        "workloads": workloads,
        "targets": targets(workloads),
        "notes": session.notes,
    }


def targets(workloads: dict[str, Any]) -> list[dict[str, Any]]:
    """The goals of the benchmark issue, each with the measured value and whether it holds."""

    def ok(name: str) -> dict[str, Any] | None:
        entry = workloads.get(name)
        return entry if entry and entry.get("status") == "ok" else None

    out: list[dict[str, Any]] = []

    def add(goal: str, entry: dict[str, Any] | None, measured: float | None, holds: bool, unit: str) -> None:
        out.append(
            {
                "goal": goal,
                "measured": None if entry is None or measured is None else round(measured, 3),
                "unit": unit,
                "holds": None if entry is None or measured is None else holds,
            }
        )

    def at_500(name: str) -> dict[str, Any] | None:  # the open-loop targets are stated at 500 msg/s
        entry = ok(name)
        return entry if entry and entry.get("target_rate") == 500 else None

    w1, w2, w4a, scale = ok("W1"), ok("W2"), at_500("W4a"), ok("W2-1M")
    r = w1["vs_W0s"]["median"] if w1 and w1.get("vs_W0s") else None
    add("W1 >= 70 % of W0s req/s", w1, r, r is not None and r >= 0.70, "ratio")
    r = w2["vs_W0s"]["median"] if w2 and w2.get("vs_W0s") else None
    add("W2 >= 40 % of W0s req/s", w2, r, r is not None and r >= 0.40, "ratio")
    p = w2["p99_ms"]["median"] if w2 else None
    add("W2 p99 <= 25 ms", w2, p, p is not None and p <= 25, "ms")
    r = scale["vs_W2"]["median"] if scale and scale.get("vs_W2") else None
    add(
        "W2 at 1,000,000 stored sessions within 15 % of W2 at 10,000",
        scale,
        r,
        r is not None and r >= 0.85,
        "ratio",
    )
    p = w4a["p99_ms"]["median"] if w4a else None
    add("W4a p99 <= 25 ms at 500 msg/s", w4a, p, p is not None and p <= 25, "ms")
    for name, goal in (
        ("W4", "W4 p99 < 50 ms at 500 msg/s, end to end, no event lost"),
        (
            "W4d",
            "W4d p99 < 50 ms at 500 msg/s beside a dead handler with 20,000 queued events, no event lost",
        ),
    ):
        w4 = at_500(name)
        p = w4["p99_ms"]["median"] if w4 else None
        lost = w4["errors"] if w4 else 0  # includes the events not received
        add(goal, w4, p, p is not None and p < 50 and not lost, "ms")
    m = max(w2["rss_peak_mb"]["max"], scale["rss_peak_mb"]["max"] if scale else 0) if w2 else None
    add("server RSS <= 200 MB during W2", w2, m, m is not None and m <= 200, "MB")
    return out


def _fmt(entry: dict[str, Any] | None, key: str = "median", digits: int = 0, pct: bool = False) -> str:
    if not entry:
        return "–"
    if pct:
        return f"{entry[key] * 100:.0f} %"
    return f"{entry[key]:,.{digits}f}"


def table(summary: dict[str, Any]) -> Table:
    t = Table(title="openlines bench: medians (min–max) over interleaved runs", title_justify="left")
    for column in (
        "workload",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "errors",
        "RSS MB",
        "vs W0",
        "vs W0s",
    ):
        t.add_column(column, justify="left" if column == "workload" else "right")
    t.add_column("CPU server / db / generator", justify="right")
    for name, e in summary["workloads"].items():
        if e["status"] != "ok":
            t.add_row(name, "[yellow]skipped[/]", *[""] * 9)
            continue
        rps = e["rps"]
        t.add_row(
            name,
            f"{rps['median']:,.0f} ({rps['min']:,.0f}–{rps['max']:,.0f})",
            _fmt(e["p50_ms"], digits=2),
            _fmt(e["p90_ms"], digits=1),
            f"{e['p99_ms']['median']:.1f} ({e['p99_ms']['min']:.1f}–{e['p99_ms']['max']:.1f})",
            _fmt(e["p999_ms"], digits=1),
            str(e["errors"]) if e["errors"] == 0 else f"[red]{e['errors']}[/]",
            _fmt(e["rss_peak_mb"]),
            _fmt(e["vs_W0"], pct=True),
            _fmt(e["vs_W0s"], pct=True),
            f"{e['server_cpu']['median']:.2f} / {e['db_cpu']['median']:.2f} / "
            f"{e['generator_cpu']['median']:.2f} ({e['generator']})",
        )
    return t


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    m = summary["machine"]
    console.print(
        f"machine: {m['nproc']} CPU ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}, "
        f"SQLite {m['sqlite']}, load average at start {m['loadavg_at_start'][0]:.2f}"
    )
    console.print(table(summary))
    for name, e in summary["workloads"].items():
        if e["status"] != "ok":
            console.print(f"[yellow]{name} skipped:[/] {e['reason']}")
        if e.get("first_bad_answer"):
            console.print(f"[red]{name} first bad answer:[/] {e['first_bad_answer']}")
    w5 = summary["workloads"].get("W5", {})
    if w5.get("transfers_per_s"):
        t = w5["transfers_per_s"]
        console.print(
            f"W5 carries {BATCH_SIZE} transfers per request: {t['median']:,.0f} transfers/s ({t['min']:,.0f}–{t['max']:,.0f})"
        )
    for name in ("W4", "W4d"):
        w4 = summary["workloads"].get(name, {})
        if "events" not in w4:
            continue
        missing = w4["events_missing"]
        console.print(
            f"{name}: {w4['events']:,} ONIMBOTMESSAGEADD received at the handler for {w4['requests']:,} "
            f"messages at {w4['target_rate']:,.0f}/s; not received within the wait: "
            + (f"[red]{missing:,}[/] (counted as errors)" if missing else "0")
            + f"; latency max {w4['max_ms']['median']:,.1f} ms ({w4['max_ms']['min']:,.1f}–{w4['max_ms']['max']:,.1f})"
        )
    for note in summary["notes"]:
        console.print(f"note: {note}", style="dim")
    for goal in summary["targets"]:
        mark = {True: "[green]holds[/]", False: "[red]misses[/]", None: "[yellow]not measured[/]"}[
            goal["holds"]
        ]
        measured = "" if goal["measured"] is None else f" (measured {goal['measured']} {goal['unit']})"
        console.print(f"target: {goal['goal']}: {mark}{measured}")
    console.print(
        "CPU columns: seconds of CPU per wall second (1.00 = one full core). A server near 1.00 is the "
        "bottleneck; a generator well below 1.00 is not."
    )
