"""Servers of the drop-in tests: one with the cloud's limits, one for faults (each test leaves its
faults cleared), both on the demo portal with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_HOOK, ServerProcess, start_server


@pytest.fixture(scope="session")
def cloud_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path_factory, "cloud-limits", "--demo", "--fake-clock", "--limits", "cloud")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path_factory, "faults", "--demo", "--fake-clock")
    yield proc
    proc.stop()


class Api:
    """REST calls through the demo administrator's webhook."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def post(self, method: str, params: Any = None) -> httpx.Response:
        return self.http.post(f"{DEMO_HOOK}{method}", json=params or {})

    def ok(self, method: str, params: Any = None) -> Any:
        answer = self.post(method, params)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    def now(self) -> float:
        return float(self.ok("openlines.clock.get")["NOW"])

    def advance(self, seconds: float) -> None:
        self.ok("openlines.clock.advance", {"SECONDS": seconds})


@pytest.fixture()
def cloud(cloud_server: ServerProcess) -> Iterator[Api]:
    with cloud_server.client() as http:
        api = Api(http)
        api.advance(3600)  # every earlier test's buckets drain and its operating window expires
        yield api
        api.ok("openlines.fault.clear")


@pytest.fixture()
def faults(fault_server: ServerProcess) -> Iterator[Api]:
    with fault_server.client() as http:
        api = Api(http)
        yield api
        api.ok("openlines.fault.clear")
