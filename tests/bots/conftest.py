"""One real server for the bots-and-customers tests: the demo portal with a fake clock (the tests
move it to age messages, so it is not shared with other suites). The suite runs on SQLite, and a
second time on PostgreSQL where ``OPENLINES_TEST_PG`` is set."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerProcess, start_server
from tests.store.pg import fresh_database


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def bots_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    if request.param == "sqlite":
        proc = start_server(tmp_path_factory, "bots-server", "--demo", "--fake-clock")
        yield proc
        proc.stop()
        return
    with fresh_database("openlines_bots") as address:
        proc = start_server(tmp_path_factory, "bots-server-pg", "--demo", "--fake-clock", "--db", address)
        yield proc
        proc.stop()


@pytest.fixture()
def api(bots_server: ServerProcess) -> Iterator[httpx.Client]:
    with bots_server.client() as c:
        yield c
