"""``--profile WORKLOAD``: sample the server with py-spy while that workload is measured (first run
only) and write the hottest functions, inclusive and self, as a text file beside the raw samples."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, raw_path: Path) -> subprocess.Popen[bytes] | None:
    tool = py_spy()
    if tool is None:
        return None
    argv = [tool, "record", "-p", str(pid), "-d", str(max(1, round(seconds))), "-r", "500"]
    argv += ["-f", "raw", "-o", str(raw_path), "--nonblocking"]
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def finish(process: subprocess.Popen[bytes] | None, raw_path: Path, top: int = 40) -> Path | None:
    if process is None:
        return None
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if not raw_path.exists():
        return None
    text_path = raw_path.with_suffix(".txt")
    text_path.write_text(summarise(raw_path.read_text(encoding="utf-8"), top), encoding="utf-8")
    return text_path


def summarise(raw: str, top: int = 40) -> str:
    """Aggregate py-spy's collapsed stacks (``frame;frame;frame count``) by function."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return "no samples\n"
    out = [f"{total} samples of the server's main thread", "", "inclusive:"]
    out += [f"{100 * n / total:5.1f} %  {f}" for f, n in inclusive.most_common(top)]
    out += ["", "self:"]
    out += [f"{100 * n / total:5.1f} %  {f}" for f, n in own.most_common(top)]
    return "\n".join(out) + "\n"


def _short(frame: str) -> str:
    for marker in ("site-packages/", "src/"):
        if marker in frame:
            head, _, tail = frame.partition("(")
            return f"{head}({tail.split(marker, 1)[1]}"
    return frame
