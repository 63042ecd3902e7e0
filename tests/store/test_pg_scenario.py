"""The whole bot → operators → queues → finish story over HTTP against a server on PostgreSQL (the
same test as tests/test_scenario_handoff.py, on a fresh PostgreSQL database)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.pg_server import PgServerProcess, pg_server
from tests.test_scenario_handoff import CONFIG, test_bot_to_operators_to_queues_to_finish

__all__ = ["test_bot_to_operators_to_queues_to_finish"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServerProcess]:
    folder = tmp_path_factory.mktemp("pg-scenario-config")
    (folder / "openlines.toml").write_text(CONFIG)
    with pg_server(
        tmp_path_factory,
        "pg-scenario-server",
        "--demo",
        "--fake-clock",
        "--config",
        str(folder / "openlines.toml"),
    ) as proc:
        yield proc
