"""SQLite repositories the bots-and-customers lane needs beyond the core Open Lines tables: the bots
that are members of a chat (for message events) and bot slash commands."""

from __future__ import annotations

import json
from typing import Any

from openlines.domain.bot_commands import BotCommand
from openlines.domain.openlines import Bot
from openlines.store.sqlite_base import SqliteBase

_BOT_SELECT = (
    "SELECT b.id, b.code, b.app_id, b.type, b.openline, b.handlers, b.application_token, b.date_create "
    "FROM bots b JOIN chat_members m ON m.user_id = b.id WHERE m.chat_id = ? ORDER BY b.id"
)
_COMMAND_COLS = "id, bot_id, app_id, command, common, hidden, extranet_support, handler, lang"


def _bot(row: tuple[Any, ...]) -> Bot:
    return Bot(
        id=row[0],
        code=row[1],
        app_id=row[2],
        type=row[3],
        openline=bool(row[4]),
        handlers=json.loads(row[5]) if row[5] else {},
        application_token=row[6],
        date_create=row[7],
    )


def _command(row: tuple[Any, ...]) -> BotCommand:
    return BotCommand(
        id=row[0],
        bot_id=row[1],
        app_id=row[2],
        command=row[3],
        common=bool(row[4]),
        hidden=bool(row[5]),
        extranet_support=bool(row[6]),
        handler=row[7],
        lang=json.loads(row[8]) if row[8] else [],
    )


class SqliteBotsAndDialogs(SqliteBase):
    async def bots_in_chat(self, chat_id: int) -> list[Bot]:
        return [_bot(r) for r in self.db.execute(_BOT_SELECT, (chat_id,)).fetchall()]

    async def save_command(self, command: BotCommand) -> int:
        values = (
            command.bot_id,
            command.app_id,
            command.command,
            int(command.common),
            int(command.hidden),
            int(command.extranet_support),
            command.handler,
            json.dumps(command.lang, separators=(",", ":")),
        )
        if command.id:
            self.db.execute(
                "UPDATE bot_commands SET bot_id=?, app_id=?, command=?, common=?, hidden=?, "
                "extranet_support=?, handler=?, lang=? WHERE id=?",
                (*values, command.id),
            )
        else:
            cursor = self.db.execute(
                f"INSERT INTO bot_commands({_COMMAND_COLS.split(', ', 1)[1]}) VALUES (?,?,?,?,?,?,?,?)",
                values,
            )
            command.id = int(cursor.lastrowid or 0)
        return command.id

    async def get_command(self, command_id: int) -> BotCommand | None:
        row = self.db.execute(
            f"SELECT {_COMMAND_COLS} FROM bot_commands WHERE id = ?", (command_id,)
        ).fetchone()
        return None if row is None else _command(row)

    async def find_command(self, bot_id: int, command: str) -> BotCommand | None:
        row = self.db.execute(
            f"SELECT {_COMMAND_COLS} FROM bot_commands WHERE bot_id = ? AND command = ? ORDER BY id LIMIT 1",
            (bot_id, command),
        ).fetchone()
        return None if row is None else _command(row)

    async def commands_for_chat(self, chat_id: int, command: str) -> list[BotCommand]:
        """Commands named ``command`` of the bots in a chat, plus common ones of any bot."""
        rows = self.db.execute(
            f"SELECT {_COMMAND_COLS} FROM bot_commands WHERE command = ? AND (common = 1 OR bot_id IN "
            "(SELECT user_id FROM chat_members WHERE chat_id = ?)) ORDER BY id",
            (command, chat_id),
        ).fetchall()
        return [_command(r) for r in rows]

    async def delete_command(self, command_id: int) -> None:
        self.db.execute("DELETE FROM bot_commands WHERE id = ?", (command_id,))
