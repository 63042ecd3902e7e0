"""``openlines events list|show|replay``: what the delivery worker did, from the command line.

The commands open the database directly (SQLite lets them run beside a live server). A replayed
event is picked up by the running server's worker at its next poll (``[delivery] poll_interval``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

events_app = typer.Typer(help="Event deliveries: list, show and replay outbox rows.", no_args_is_help=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.")]
DbOption = Annotated[str | None, typer.Option("--db", help="SQLite file.")]


def _services(config: Path | None, db: str | None) -> Any:
    from openlines import cli_support as cli

    return cli.open_services(cli.load_config(config, db=db))


@events_app.command("list")
def events_list(
    status: Annotated[str | None, typer.Option(help="pending, delivered, dead or expanded.")] = None,
    event: Annotated[str | None, typer.Option(help="Only this event, e.g. ONIMBOTMESSAGEADD.")] = None,
    target: Annotated[str | None, typer.Option(help="Only this handler URL.")] = None,
    limit: Annotated[int, typer.Option(help="How many rows (newest first).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Recent deliveries, newest first."""
    from openlines import cli_support as cli
    from openlines.methods.openlines_events import delivery_fields

    async def go() -> list[dict[str, Any]]:
        services = await _services(config, db)
        try:
            filters = {"status": status or "", "event": event or "", "target": target or ""}
            rows, _ = await services.store.list_deliveries(filters, 0, max(limit, 1), False)
            return [delivery_fields(services, row) for row in rows]
        finally:
            await services.store.close()

    rows = cli.with_store_errors(go())
    if as_json:
        for row in rows:
            cli.console.print(orjson.dumps(row).decode(), markup=False)
        return
    table = Table("ID", "EVENT", "STATUS", "ATTEMPTS", "CHAT", "TARGET", "LAST ERROR")
    for row in rows:
        table.add_row(
            str(row["ID"]),
            row["EVENT"],
            row["STATUS"],
            str(row["ATTEMPTS"]),
            str(row["CHAT_ID"]),
            row["TARGET"] or "(every bound handler)",
            row["LAST_ERROR"],
        )
    cli.console.print(table)


@events_app.command("show")
def events_show(
    delivery_id: Annotated[int, typer.Argument(help="The delivery (outbox row) id.")],
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """One delivery with its data and every attempt, as JSON."""
    from openlines import cli_support as cli
    from openlines.methods.openlines_events import delivery_details

    async def go() -> dict[str, Any] | None:
        services = await _services(config, db)
        try:
            found = await services.store.get_delivery(delivery_id)
            return None if found is None else await delivery_details(services, found)
        finally:
            await services.store.close()

    row = cli.with_store_errors(go())
    if row is None:
        cli.fail(f"no delivery with id {delivery_id}", 2)
    cli.console.print(orjson.dumps(row, option=orjson.OPT_INDENT_2).decode(), markup=False)


@events_app.command("replay")
def events_replay(
    delivery_id: Annotated[int, typer.Argument(help="A delivered or dead delivery's id.")],
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Queue a delivered or dead event again (same idempotency key, attempts from zero)."""
    from openlines import cli_support as cli
    from openlines.methods.openlines_events import replay
    from openlines.protocol.errors import RestError

    async def go() -> str:
        services = await _services(config, db)
        try:
            again = await replay(services, delivery_id, due=0.0)  # the server's clock may be fake
            return f"delivery {again.id} ({again.event}) queued again for {again.target or 'every bound handler'}"
        except RestError as exc:
            return "error: " + exc.description
        finally:
            await services.store.close()

    message = cli.with_store_errors(go())
    if message.startswith("error: "):
        cli.fail(message[7:], 2)
    cli.console.print(message, markup=False)
