"""The example bot's own tests (examples/handoff_bot) pass: they use the ``openlines_server`` fixture
the installed plugin provides, as a bot developer's project would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "handoff_bot"


def test_the_handoff_bot_example_passes_its_tests() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=EXAMPLE,
        env={k: v for k, v in os.environ.items() if k != "OPENLINES_ROUTING"},  # the default: routing on
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout
