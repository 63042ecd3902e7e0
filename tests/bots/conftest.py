"""One real server for the bots-and-customers tests: the demo portal with a fake clock (the tests
move it to age messages, so it is not shared with other suites)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerProcess, start_server


@pytest.fixture(scope="session")
def bots_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path_factory, "bots-server", "--demo", "--fake-clock")
    yield proc
    proc.stop()


@pytest.fixture()
def api(bots_server: ServerProcess) -> Iterator[httpx.Client]:
    with bots_server.client() as c:
        yield c
