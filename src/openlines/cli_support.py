"""What the ``openlines`` commands share: the consoles, one-line failures, configuration loading
and running a coroutine against the store with its errors turned into one clear line."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from openlines import config as config_mod
from openlines.config import Config, ConfigError

console = Console(highlight=False, soft_wrap=True)  # never break a URL across lines
errors_console = Console(stderr=True, highlight=False, soft_wrap=True)

T = TypeVar("T")


def fail(message: str, code: int = 1) -> None:
    errors_console.print(f"[bold red]openlines:[/] {escape(message)}")
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.")]
DbOption = Annotated[str | None, typer.Option("--db", help="SQLite file (or :memory:).")]


def load_config(path: Path | None, demo: bool = False, db: str | None = None) -> Config:
    """File < OPENLINES_* environment < command-line options; every problem listed at once."""
    try:
        raw: dict[str, Any] = {}
        source = "<defaults>"
        if path is not None:
            raw = config_mod.read_toml(path)
            source = str(path)
        if demo:
            # The demo tables are merged before validation, so a file may refer to demo users.
            from openlines.demo import merge_demo

            raw = merge_demo(raw)
        config = config_mod.from_dict(raw, source, dict(os.environ))
    except ConfigError as exc:
        for problem in exc.problems:
            errors_console.print(f"[bold red]openlines:[/] {escape(exc.source)}: {escape(problem)}")
        raise typer.Exit(2) from None
    if db is not None:
        config.server.db = db
    return config


def with_store_errors(coro: Coroutine[Any, Any, T]) -> T:
    from openlines.store.base import StoreUnavailable

    try:
        return run(coro)
    except StoreUnavailable as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits


async def open_services(cfg: Config) -> Any:
    from openlines.portal import bootstrap

    return (await bootstrap(cfg)).services
