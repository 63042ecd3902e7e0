"""Shared fixtures: real openlines server processes on free loopback ports with temp SQLite files.

Every black-box test talks HTTP to a real ``openlines serve`` subprocess, the way a user's client
would. The main server (``server``) runs the demo portal with a fake clock, 60 extra employees (so
``user.get`` has more than one page) and two webhooks with narrow scopes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

DEMO_HOOK = "/rest/1/demo_webhook_code/"
DEMO_CLIENT_ID = "local.demo.app"
DEMO_CLIENT_SECRET = "demo_client_secret"
# Webhooks the main server's config adds beside the demo one.
USER_ONLY_HOOK = "/rest/2/user_scope_hook/"  # user 2 (not an admin), scopes: user
IMBOT_ONLY_HOOK = "/rest/3/imbot_scope_hook/"  # user 3, scopes: imbot
EXTRA_USERS = 60  # ids 101..160
SPECIAL_USER_ID = 99  # a name full of characters PHP's json_encode escapes
SPECIAL_NAME = '<b>Tom & "Jerry\'s"</b> a/b'
EMPLOYEES = 5 + EXTRA_USERS + 2  # the demo's five, the extras, the special one and an inactive one
# An OAuth app with a redirect_uri and only the "user" scope, installed by user 2.
REDIRECT_CLIENT_ID = "local.redirect.app"
REDIRECT_CLIENT_SECRET = "redirect_secret"
REDIRECT_URI = "http://127.0.0.1:9/callback?from=openlines"
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def openlines_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "openlines", *args]


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``openlines`` command to completion and capture its output."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        openlines_cmd(*args), capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60, check=False
    )


@dataclass
class ServerProcess:
    """One ``openlines serve`` subprocess."""

    folder: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    scheme: str = "http"
    proc: subprocess.Popen[str] | None = None

    @property
    def db(self) -> Path:
        return self.folder / "openlines.db"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, verify: str | bool = True) -> ServerProcess:
        self.port = self.port or free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        command = openlines_cmd("serve", "--db", str(self.db), "--port", str(self.port), *self.args)
        self.log = (self.folder / "server.log").open("w")
        self.proc = subprocess.Popen(
            command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200", **self.env},
            cwd=self.folder,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"openlines serve exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", verify=verify, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"openlines serve did not come up:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        path = self.folder / "server.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def client(self, **options: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **options)  # type: ignore[arg-type]


def main_config() -> str:
    tables = [
        f'[[users]]\nid = {100 + i}\nname = "User{i:03d}"\nlast_name = "Extra"\nemail = "u{i}@example.test"'
        for i in range(1, EXTRA_USERS + 1)
    ]
    tables.append(
        f'[[users]]\nid = {SPECIAL_USER_ID}\nname = {json.dumps(SPECIAL_NAME)}\nlast_name = "Special"'
    )
    tables.append('[[users]]\nid = 7\nname = "Gone"\nactive = false')
    tables.append('[[webhooks]]\nuser = 7\ncode = "inactive_user_hook"\nscopes = ["user"]')
    tables.append('[[webhooks]]\nuser = 2\ncode = "user_scope_hook"\nscopes = ["user"]')
    tables.append('[[webhooks]]\nuser = 3\ncode = "imbot_scope_hook"\nscopes = ["imbot"]')
    tables.append(
        f'[[apps]]\nclient_id = "{REDIRECT_CLIENT_ID}"\nclient_secret = "{REDIRECT_CLIENT_SECRET}"\n'
        f'scopes = ["user"]\ninstall_user = 2\nredirect_uri = "{REDIRECT_URI}"'
    )
    return "\n\n".join(tables) + "\n"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The demo portal with a fake clock, 60 extra users and two narrow webhooks."""
    folder = tmp_path_factory.mktemp("main-server")
    config = folder / "openlines.toml"
    config.write_text(main_config())
    proc = ServerProcess(folder, ["--demo", "--fake-clock", "--config", str(config)])
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture()
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def start_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, *args: str, **env: str
) -> ServerProcess:
    return ServerProcess(tmp_path_factory.mktemp(name), list(args), dict(env)).start()


@pytest.fixture(scope="session")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The demo portal with require_https = true and a 2 KiB body limit, served over plain HTTP."""
    proc = start_server(
        tmp_path_factory,
        "strict-server",
        "--demo",
        OPENLINES_REQUIRE_HTTPS="true",
        OPENLINES_BODY_LIMIT="2048",
    )
    yield proc
    proc.stop()


def oauth_tokens(
    client: httpx.Client, client_id: str = DEMO_CLIENT_ID, secret: str = DEMO_CLIENT_SECRET, user_id: int = 1
) -> dict[str, Any]:
    """The whole OAuth dance over HTTP: consent on /oauth/authorize/, then the code at /oauth/token/."""
    page = client.post(
        "/oauth/authorize/", data={"client_id": client_id, "state": "s", "user_id": str(user_id)}
    )
    assert page.status_code == 200, page.text
    match = re.search(r"<th>code</th><td><code>([^<]+)</code>", page.text)
    assert match is not None, page.text
    answer = client.get(
        "/oauth/token/",
        params={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": secret,
            "code": match.group(1),
        },
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens
