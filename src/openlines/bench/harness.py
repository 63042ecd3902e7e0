"""Processes under test: start a server in its own process group, wait until it answers, sample its
memory and CPU from ``/proc``, and always stop it (the whole group) afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class HarnessError(Exception):
    pass


def hung_listener() -> socket.socket:
    """A handler that never answers: the kernel completes each connection and takes the request, and
    nobody ever reads it. Close it to end the connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    sock.listen(128)
    return sock


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def group_pids(pgid: int) -> list[int]:
    """Every live process of a process group (a server with --workers: the supervisor and its workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[2]) == pgid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found or [pgid]


def backend_pids(database: str) -> list[int]:
    """PostgreSQL backends serving ``database`` on this machine (their title names the database)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    title = fh.read().decode("utf-8", "replace")
            except OSError:
                continue
            if title.startswith("postgres: ") and f" {database} " in title:
                found.append(int(entry))
    return found


def rss_kib(pid: int) -> int:
    """Resident set size of one process (``VmRSS`` in ``/proc/<pid>/status``), 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return 0.0


def group_rss_kib(pgid: int) -> int:
    return sum(rss_kib(pid) for pid in group_pids(pgid))


def group_cpu_seconds(pgid: int) -> float:
    return sum(cpu_seconds(pid) for pid in group_pids(pgid))


class RssSampler:
    """Samples the summed RSS of a process group every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak_kib = max(self.peak_kib, group_rss_kib(self.pid))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, group_rss_kib(self.pid))


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    base_rss_kib: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """A minimal HTTP/1.1 GET over loopback (no dependency, no proxy settings)."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def wait_ready(server: Server, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise HarnessError(
                f"{server.name} exited with {server.process.returncode}; see {server.log_path}"
            )
        with contextlib.suppress(OSError, ValueError, IndexError):
            if http_get(server.port, path)[0] == 200:
                return
        time.sleep(0.05)
    raise HarnessError(f"{server.name} did not answer {path} within {timeout:.0f} s; see {server.log_path}")


def start(
    name: str, argv: Sequence[str], port: int, log_path: Path, ready_path: str, timeout: float
) -> Server:
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the child's lifetime; the fd is inherited
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
    finally:
        log.close()
    server = Server(name, port, process, log_path)
    try:
        wait_ready(server, ready_path, timeout)
    except BaseException:
        stop(server)
        raise
    server.base_rss_kib = rss_kib(server.pid)
    return server


def stop(server: Server, grace: float = 10.0) -> None:
    """SIGTERM to the server's process group, then SIGKILL if it has not gone after ``grace``."""
    process = server.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    else:  # the leader is gone; make sure nothing it started is left behind
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(
    name: str, argv: Sequence[str], port: int, log_path: Path, ready_path: str, timeout: float = 60.0
) -> Iterator[Server]:
    server = start(name, argv, port, log_path, ready_path, timeout)
    try:
        yield server
    finally:
        stop(server)


def openlines_argv(db: str, port: int, workers: int = 1) -> list[str]:
    """The server under test: the demo portal on a given database, no access log."""
    more = ["--workers", str(workers)] if workers != 1 else []
    return [
        sys.executable,
        "-m",
        "openlines",
        "serve",
        "--demo",
        "--db",
        db,
        "--host",
        HOST,
        "--port",
        str(port),
        *more,
    ]


def bare_argv(port: int, keep_alive: int = 5) -> list[str]:
    """The bare Starlette app; as the bot-event sink it keeps idle connections open longer than the
    server's HTTP client does, so no delivery races a closing connection."""
    argv = [sys.executable, "-m", "openlines.bench.bare_app", "--port", str(port)]
    return [*argv, "--keep-alive", str(keep_alive)]
