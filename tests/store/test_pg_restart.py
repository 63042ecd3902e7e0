"""PostgreSQL restarted under a running server: requests answer a clear 503 error envelope while
it is down and succeed again once it is back, without restarting openlines. Runs on a private
cluster this test makes itself (initdb into a temporary folder, a free port), never the shared one."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEMO_HOOK, free_port
from tests.store.pg_server import PgServerProcess

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*command: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


class Cluster:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="openlines-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        made = _as_postgres(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        if made.returncode != 0:
            shutil.rmtree(self.folder, ignore_errors=True)
            pytest.skip(f"initdb failed: {made.stderr.strip()[:200]}")

    @property
    def address(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = _as_postgres(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "log"),
            "-w",
            "start",
        )
        assert done.returncode == 0, done.stderr + done.stdout

    def stop(self) -> None:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture()
def cluster() -> Iterator[Cluster]:
    if not (BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries are not installed")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("no postgres user to run a private cluster as")
    made = Cluster()
    try:
        made.start()
        yield made
    finally:
        made.remove()


def user_get(http: httpx.Client) -> httpx.Response:
    return http.post(f"{DEMO_HOOK}user.get", json={"ID": 1})


def test_requests_answer_503_while_postgresql_is_down_and_recover(cluster: Cluster, tmp_path: Path) -> None:
    server = PgServerProcess(tmp_path / "server", ["--demo"], address=cluster.address)
    server.start()
    try:
        with server.client() as http:
            assert user_get(http).status_code == 200
            cluster.stop()
            down = user_get(http)
            assert down.status_code == 503, down.text
            body = down.json()
            assert body["error"] and "Traceback" not in down.text
            assert http.get("/healthz").status_code == 503
            token = http.get(  # a page outside /rest answers the same envelope
                "/oauth/token/",
                params={"grant_type": "refresh_token", "client_id": "local.demo.app", "refresh_token": "x"},
            )
            assert token.status_code == 503 and token.json()["error"], token.text
            cluster.start()
            deadline = time.monotonic() + 60
            statuses: list[int] = []
            while time.monotonic() < deadline:
                statuses.append(user_get(http).status_code)
                if statuses[-1] == 200:
                    break
                time.sleep(0.2)
            assert statuses[-1] == 200, statuses
            assert set(statuses) <= {200, 503}
        assert server.proc is not None and server.proc.poll() is None  # the same process throughout
    finally:
        server.stop()
