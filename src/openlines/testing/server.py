"""A real openlines server for a test: a subprocess on a free loopback port with its own temporary
database, the demo portal and a fake clock, plus small clients for what a bot test needs."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from openlines.testing.receiver import EventReceiver

DEMO_WEBHOOK = "/rest/1/demo_webhook_code/"
DEMO_CLIENT_ID = "local.demo.app"
DEMO_CLIENT_SECRET = "demo_client_secret"
START_TIMEOUT = 30.0


class OpenlinesError(Exception):
    """A REST call answered a Bitrix24 error envelope."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class App:
    """The demo OAuth application; :meth:`token` runs the OAuth dance for a user."""

    server: OpenlinesServer
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET

    def tokens(self, user_id: int = 1) -> dict[str, Any]:
        """A fresh grant for ``user_id``: access_token, refresh_token, expires, ... (the token answer)."""
        http = self.server.http
        page = http.post(
            "/oauth/authorize/", data={"client_id": self.client_id, "state": "t", "user_id": str(user_id)}
        )
        match = re.search(r"<th>code</th><td><code>([^<]+)</code>", page.text)
        if page.status_code != 200 or match is None:
            raise RuntimeError(f"OAuth consent failed: {page.status_code} {page.text[:200]}")
        answer = http.get(
            "/oauth/token/",
            params={
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "code": match.group(1),
            },
        )
        answer.raise_for_status()
        tokens: dict[str, Any] = answer.json()
        return tokens

    def token(self, user_id: int = 1) -> str:
        return str(self.tokens(user_id)["access_token"])


class Customer:
    """A visitor of the line's live-chat widget."""

    _numbers = itertools.count(1)

    def __init__(self, server: OpenlinesServer, line: int, name: str = "", visitor: str = "") -> None:
        self.server = server
        self.line = line
        self.name = name
        self.visitor = visitor or f"visitor-{os.getpid()}-{next(self._numbers)}"
        self.token = ""
        self.chat_id = 0
        self.session_id = 0

    def says(self, text: str) -> dict[str, Any]:
        """Send a message; answers chat_id, session_id and message_id."""
        body: dict[str, Any] = {"visitor": self.visitor, "text": text}
        if self.name:
            body["name"] = self.name
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        answer = self.server.http.post(f"/widget/{self.line}/messages", json=body, headers=headers)
        data: dict[str, Any] = answer.json()
        if answer.status_code != 200:
            raise OpenlinesError(answer.status_code, data.get("error", ""), data.get("error_description", ""))
        self.token = data.get("visitor_token") or self.token
        self.chat_id, self.session_id = int(data["chat_id"]), int(data["session_id"])
        return data

    def messages(self) -> list[dict[str, Any]]:
        """What the visitor sees of the dialogue, oldest first."""
        answer = self.server.http.get(
            f"/widget/{self.line}/messages", headers={"Authorization": f"Bearer {self.token}"}
        )
        data = answer.json()
        if answer.status_code != 200:
            raise OpenlinesError(answer.status_code, data.get("error", ""), data.get("error_description", ""))
        found = data.get("messages", data.get("result", data))
        return list(found) if isinstance(found, list) else []


class ServerClock:
    def __init__(self, server: OpenlinesServer) -> None:
        self.server = server

    def now(self) -> float:
        return float(self.server.call("openlines.clock.get")["NOW"])

    def advance(self, seconds: float) -> float:
        """Move the fake clock forward; timers that became due have fired when this returns."""
        return float(self.server.call("openlines.clock.advance", {"SECONDS": seconds})["NOW"])


class Faults:
    def __init__(self, server: OpenlinesServer) -> None:
        self.server = server

    def add(
        self,
        method: str = "*",
        *,
        error: str = "",
        status: int | None = None,
        delay: float = 0.0,
        sleep: bool = False,
        count: int | None = None,
        probability: float | None = None,
        target: str = "rest",
        handler: str = "",
        description: str = "",
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"METHOD": method, "TARGET": target}
        for key, value in (
            ("ERROR", error),
            ("STATUS", status),
            ("DELAY", delay),
            ("SLEEP", "Y" if sleep else ""),
            ("COUNT", count),
            ("PROBABILITY", probability),
            ("HANDLER", handler),
            ("DESCRIPTION", description),
        ):
            if value not in (None, "", 0.0):
                params[key] = value
        result: dict[str, Any] = self.server.call("openlines.fault.add", params)
        return result

    def list(self) -> list[dict[str, Any]]:
        return list(self.server.call("openlines.fault.list"))

    def clear(self) -> int:
        return int(self.server.call("openlines.fault.clear"))


class OpenlinesServer:
    """``openlines serve --demo --fake-clock`` in a subprocess; :meth:`stop` ends it."""

    def __init__(self, *args: str, folder: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.env = env or {}
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="openlines-test-"))
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(timeout=60)
        self.app = App(self)
        self.clock = ServerClock(self)
        self.faults = Faults(self)
        self.events = EventReceiver()

    # --- life ------------------------------------------------------------------------------------

    def start(self) -> OpenlinesServer:
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "openlines",
            "serve",
            "--db",
            str(self.folder / "openlines.db"),
            "--port",
            str(self.port),
            *self.args,
        ]
        self._log = (self.folder / "server.log").open("wb")
        self.proc = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
            env={**os.environ, **self.env},
        )
        self.http.base_url = httpx.URL(self.url)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"openlines serve exited early:\n{self.output()}")
            try:
                if self.http.get("/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"openlines serve did not come up:\n{self.output()}")
            time.sleep(0.05)
        self.events.start()
        return self

    def stop(self) -> None:
        self.events.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self._log.close()
        self.http.close()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> OpenlinesServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def output(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- addresses -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        """The demo administrator's webhook (every scope): ``{url}/rest/1/demo_webhook_code/``."""
        return f"{self.url}{DEMO_WEBHOOK}"

    @property
    def rest_url(self) -> str:
        """The OAuth REST root (``auth`` goes in the parameters)."""
        return f"{self.url}/rest/"

    # --- REST ------------------------------------------------------------------------------------

    def request(self, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(f"{DEMO_WEBHOOK}{method}", json=params or {})

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call a method through the admin webhook; its ``result``, or :class:`OpenlinesError`."""
        answer = self.request(method, params)
        body = answer.json()
        if answer.status_code != 200 or "error" in body:
            raise OpenlinesError(answer.status_code, body.get("error", ""), body.get("error_description", ""))
        return body["result"]

    def customer(self, line: int = 1, name: str = "", visitor: str = "") -> Customer:
        return Customer(self, line, name, visitor)

    def transfers(self, **filters: Any) -> list[dict[str, Any]]:
        """The transfer audit (``openlines.transfer.list``), every page, oldest first."""
        rows: list[dict[str, Any]] = []
        start = 0
        while True:
            answer = self.request("openlines.transfer.list", {**filters, "start": start})
            body = answer.json()
            if answer.status_code != 200:
                raise OpenlinesError(
                    answer.status_code, body.get("error", ""), body.get("error_description", "")
                )
            rows.extend(body["result"])
            if "next" not in body:
                return rows
            start = int(body["next"])

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        """Event deliveries (``openlines.event.delivery.list``): EVENT, STATUS, ATTEMPTS, LAST_ERROR..."""
        return list(self.call("openlines.event.delivery.list", {"FILTER": filters}))

    def wait_until(self, condition: Callable[[], Any], timeout: float = 20.0) -> Any:
        """Poll ``condition`` until it returns something truthy (events are delivered asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            found = condition()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"condition still false after {timeout} s")
            time.sleep(0.05)

    def register_bot(self, code: str = "testbot", client_id: str = "test-bot", **fields: Any) -> int:
        """``imbot.register`` a bot whose events go to :attr:`events`; answers the bot id."""
        params = {
            "CODE": code,
            "TYPE": "O",
            "EVENT_HANDLER": self.events.url,
            "CLIENT_ID": client_id,
            "PROPERTIES": {"NAME": code.title()},
            **fields,
        }
        return int(self.call("imbot.register", params))

    def make_welcome_bot(self, bot_id: int, line: int = 1) -> None:
        """Let ``bot_id`` meet every new dialogue of ``line`` first."""
        settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id, "WELCOME_BOT_JOIN": "always"}
        self.call("imopenlines.config.update", {"CONFIG_ID": line, "PARAMS": settings})
