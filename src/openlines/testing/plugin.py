"""The pytest plugin: ``openlines_server``, a real openlines server per test.

By default it runs ``openlines serve --demo --fake-clock`` (limits off). Ask for more with a marker::

    @pytest.mark.openlines(limits="cloud", args=["--config", "my.toml"], env={"OPENLINES_TIMEZONE": "+03:00"})
    def test_rate_limit(openlines_server): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openlines.testing.server import OpenlinesServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "openlines(limits=..., args=[...], env={...}): options for the openlines_server fixture"
    )


def _server(options: dict[str, Any], folder: Path) -> OpenlinesServer:
    args = ["--demo", "--fake-clock", *options.get("args", [])]
    if options.get("limits"):
        args += ["--limits", str(options["limits"])]
    folder.mkdir(parents=True, exist_ok=True)
    return OpenlinesServer(*args, folder=folder, env=dict(options.get("env", {}))).start()


@pytest.fixture()
def openlines_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenlinesServer]:
    """A real server on a free loopback port with a temp database, the demo portal and a fake clock."""
    marker = request.node.get_closest_marker("openlines")
    server = _server(dict(marker.kwargs) if marker is not None else {}, tmp_path / "openlines")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _openlines_session_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenlinesServer]:
    server = _server({}, tmp_path_factory.mktemp("openlines-shared"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def openlines_shared_server(_openlines_session_server: OpenlinesServer) -> Iterator[OpenlinesServer]:
    """One server for the whole test session: faster, but tests share its portal, clock and events.
    The faults a test adds are cleared after it."""
    yield _openlines_session_server
    _openlines_session_server.faults.clear()
