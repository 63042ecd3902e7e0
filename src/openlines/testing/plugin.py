"""The pytest plugin: ``openlines_server``, a real openlines server per test.

By default it runs ``openlines serve --demo --fake-clock`` (limits off). Ask for more with a marker::

    @pytest.mark.openlines(limits="cloud", args=["--config", "my.toml"], env={"OPENLINES_TIMEZONE": "+03:00"})
    def test_rate_limit(openlines_server): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openlines.testing.server import OpenlinesServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "openlines(limits=..., args=[...], env={...}): options for the openlines_server fixture"
    )


@pytest.fixture()
def openlines_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenlinesServer]:
    """A real server on a free loopback port with a temp database, the demo portal and a fake clock."""
    marker = request.node.get_closest_marker("openlines")
    options = dict(marker.kwargs) if marker is not None else {}
    args = ["--demo", "--fake-clock", *options.get("args", [])]
    if options.get("limits"):
        args += ["--limits", str(options["limits"])]
    server = OpenlinesServer(*args, folder=tmp_path / "openlines", env=dict(options.get("env", {})))
    server.folder.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()
