"""The ``openlines`` command: version, init/check-config, webhook and app management, migrate, and
clean failures (one clear line, no traceback) when the port, database or config is wrong."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from openlines import __version__
from tests.conftest import ServerProcess, free_port, run_cli


def assert_one_clear_line(result: object, *needles: str) -> None:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode != 0  # type: ignore[attr-defined]
    assert "Traceback" not in stderr and "Traceback" not in result.stdout  # type: ignore[attr-defined]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0]


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"openlines {__version__}"


def test_init_writes_a_config_that_checks_ok(tmp_path: Path) -> None:
    path = tmp_path / "openlines.toml"
    result = run_cli("init", str(path))
    assert result.returncode == 0 and path.is_file()
    checked = run_cli("check-config", str(path))
    assert checked.returncode == 0, checked.stderr
    assert re.fullmatch(
        rf"{re.escape(str(path))}: ok \(2 users, 1 lines, 1 webhooks, 1 apps.*\)", checked.stdout.strip()
    )
    again = run_cli("init", str(path))  # no silent overwrite
    assert again.returncode == 2 and "already exists" in again.stderr


def test_check_config_lists_every_mistake_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[server]
port = "eighty"
colour = "blue"

[[users]]
id = 1
admin = "yes"

[[lines]]
id = 1
queue = [1, 42]
queue_type = "random"

[[webhooks]]
user = 9
code = "not a valid code!"
scopes = ["imbot", "telepathy"]

[[apps]]
client_id = "x"
scopes = ["user"]

[extras]
"""
    )
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    expected = [
        "server.port: must be a whole number",
        "server.colour: unknown key",
        "users[0].admin: must be true or false",
        "lines[0].queue_type: must be one of evenly, strictly, all",
        "lines[0].queue: user 42 is not in [[users]]",
        "webhooks[0].code: must be 1-64 characters",
        "webhooks[0].scopes: unknown scope 'telepathy'",
        "webhooks[0].user: user 9 is not in [[users]]",
        "apps[0].client_secret: is required",
        "extras: unknown table",
    ]
    lines = result.stderr.splitlines()
    for message in expected:
        matching = [line for line in lines if message in line]
        assert matching, f"{message!r} not reported in:\n{result.stderr}"
        assert matching[0].startswith(f"{path}:")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[server\nport = 1", "not valid TOML"),
        (None, "file not found"),
    ],
)
def test_check_config_unreadable_files(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "c.toml"
    if content is not None:
        path.write_text(content)
    result = run_cli("check-config", str(path))
    assert_one_clear_line(result, str(path), problem)
    assert result.returncode == 2


def test_serve_with_a_bad_config_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 70000\n")
    result = run_cli("serve", "--config", str(path), "--db", str(tmp_path / "x.db"))
    assert_one_clear_line(result, str(path), "server.port: must be between 0 and 65535")
    assert result.returncode == 2


def test_serve_on_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--db", str(tmp_path / "x.db"))
    assert_one_clear_line(result, f"cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("kind", ["missing folder", "a directory", "not a database"])
def test_serve_with_an_unusable_database(tmp_path: Path, kind: str) -> None:
    if kind == "missing folder":
        db = tmp_path / "no" / "such" / "folder" / "x.db"
    elif kind == "a directory":
        db = tmp_path
    else:
        db = tmp_path / "garbage.db"
        db.write_bytes(b"this is not an SQLite file, just text" * 100)
    result = run_cli("serve", "--port", str(free_port()), "--db", str(db))
    assert_one_clear_line(result, str(db))


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    first = run_cli("migrate", "--db", db)
    assert first.returncode == 0, first.stderr
    assert re.search(r"applied \[1(, \d+)*\]", first.stdout)
    second = run_cli("migrate", "--db", db)
    assert second.returncode == 0
    assert second.stdout.strip() == f"{db}: up to date"


def test_webhook_create_prints_a_url_that_works(server: ServerProcess) -> None:
    env = {"OPENLINES_PORT": str(server.port)}
    result = run_cli(
        "webhook", "create", "--user", "4", "--scope", "user,im", "--db", str(server.db), env=env
    )
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert re.fullmatch(rf"http://127\.0\.0\.1:{server.port}/rest/4/[0-9a-f]{{16}}/", url)
    me = httpx.get(url + "user.current")
    assert me.status_code == 200 and me.json()["result"]["ID"] == "4"
    assert httpx.get(url + "scope").json()["result"] == ["im", "user"]
    named = run_cli(
        "webhook",
        "create",
        "--user",
        "4",
        "--scope",
        "imbot",
        "--code",
        "my_bot_hook",
        "--db",
        str(server.db),
        env=env,
    )
    assert named.stdout.strip().endswith("/rest/4/my_bot_hook/")
    limited = httpx.get(named.stdout.strip() + "user.current")
    assert (limited.status_code, limited.json()["error"]) == (401, "insufficient_scope")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--user", "999", "--scope", "user"], "user 999 does not exist"),
        (["--user", "1", "--scope", "user,nope"], "unknown scope(s) nope"),
        (["--user", "1", "--scope", "user", "--code", "bad code"], "--code must be"),
    ],
)
def test_webhook_create_refuses_mistakes(tmp_path: Path, args: list[str], problem: str) -> None:
    result = run_cli("webhook", "create", *args, "--db", str(tmp_path / "w.db"))
    assert_one_clear_line(result, problem)


def test_app_create_and_token_give_a_working_token(server: ServerProcess) -> None:
    db = str(server.db)
    created = run_cli(
        "app", "create", "--scope", "user", "--client-id", "local.cli.app", "--user", "3", "--db", db
    )
    assert created.returncode == 0, created.stderr
    fields = dict(line.split(": ", 1) for line in created.stdout.strip().splitlines())
    assert fields["client_id"] == "local.cli.app" and len(fields["client_secret"]) >= 24
    issued = run_cli("app", "token", "local.cli.app", "--db", db)
    assert issued.returncode == 0, issued.stderr
    tokens = json.loads(issued.stdout)
    me = httpx.get(f"{server.url}/rest/user.current", params={"auth": tokens["access_token"]})
    assert me.json()["result"]["ID"] == "3"
    # the printed secret is the app's real secret: the refresh grant accepts it
    refreshed = httpx.post(
        f"{server.url}/oauth/token/",
        data={
            "grant_type": "refresh_token",
            "client_id": "local.cli.app",
            "client_secret": fields["client_secret"],
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text


def test_sigterm_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, ["--demo"]).start()
    body = b"FILTER%5BID%5D=3&pad=" + b"x" * 200
    head = (
        "POST /rest/1/demo_webhook_code/user.get HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    assert proc.proc is not None
    with socket.create_connection(("127.0.0.1", proc.port), timeout=20) as sock:
        sock.sendall(head + body[:50])  # the request is now in flight, waiting for the rest
        time.sleep(0.3)
        proc.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        sock.sendall(body[50:])
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and data.endswith(b"}"):
                break
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    payload = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert [u["ID"] for u in payload["result"]] == ["3"]
    assert proc.proc.wait(20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
    proc.stop()


def test_port_zero_prints_the_real_port_and_logs_are_json_lines(tmp_path: Path) -> None:
    """A pipe gets the banner at once (with the port the OS picked); --access-log writes JSON lines."""
    import os
    import subprocess

    from tests.conftest import openlines_cmd

    err = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen(
        openlines_cmd("serve", "--demo", "--port", "0", "--access-log", "--db", str(tmp_path / "x.db")),
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"serving http://127\.0\.0\.1:(\d+)", first)
        assert match, first
        port = int(match.group(1))
        assert port != 0
        webhook = proc.stdout.readline() + proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/rest/1/demo_webhook_code/" in webhook
        response = httpx.get(
            f"http://127.0.0.1:{port}/rest/1/demo_webhook_code/user.current", params={"q": '"x"'}
        )
        assert response.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        err.close()
    entries = [
        json.loads(line) for line in (tmp_path / "stderr.txt").read_text().splitlines() if line.strip()
    ]
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    assert len(access) == 1
    assert '"GET /rest/1/demo_webhook_code/user.current?q=' in access[0]["message"]
    assert set(access[0]) == {"time", "level", "logger", "message"}


def test_app_token_refuses_unknown_apps_and_users(server: ServerProcess) -> None:
    unknown_app = run_cli("app", "token", "no.such.app", "--db", str(server.db))
    assert_one_clear_line(unknown_app, "no app with client_id 'no.such.app'")
    unknown_user = run_cli("app", "token", "local.demo.app", "--user", "999", "--db", str(server.db))
    assert_one_clear_line(unknown_user, "user 999 does not exist")


def test_restart_keeps_credentials_and_applies_the_config_idempotently(tmp_path: Path) -> None:
    from tests.conftest import oauth_tokens

    first = ServerProcess(tmp_path, ["--demo"]).start()
    try:
        with first.client() as client:
            tokens = oauth_tokens(client)
            total = client.get("/rest/1/demo_webhook_code/user.get").json()["total"]
    finally:
        first.stop()
    second = ServerProcess(tmp_path, ["--demo"]).start()
    try:
        with second.client() as client:
            assert client.get("/rest/1/demo_webhook_code/user.get").json()["total"] == total
            # the server secret survived, so the stored token digests still match
            me = client.get("/rest/user.current", params={"auth": tokens["access_token"]})
            assert me.json()["result"]["ID"] == "1"
    finally:
        second.stop()
