"""The raw asyncpg transfer ceiling script runs, moves dialogues and leaves no database behind."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import asyncpg
import pytest

from tests.store.pg import PG_ADDRESS


def databases() -> set[str]:
    async def names() -> set[str]:
        con = await asyncpg.connect(PG_ADDRESS)
        try:
            return {r[0] for r in await con.fetch("SELECT datname FROM pg_database")}
        finally:
            await con.close()

    return asyncio.run(names())


def test_the_ceiling_script_measures_transfers() -> None:
    if not PG_ADDRESS:
        pytest.skip("OPENLINES_TEST_PG is not set")
    before = databases()
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "openlines.bench.pg_ceiling",
            "--db",
            PG_ADDRESS,
            "--seconds",
            "0.5",
            "--warmup",
            "0",
            "--connections",
            "4",
            "--pool",
            "2",
            "--chats",
            "40",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["transactions"] > 0 and result["round_trips_per_transfer"] == 9
    assert {d for d in databases() - before if d.startswith("openlines_ceiling_")} == set()
