"""PostgreSQL twin of ``sqlite_bots``: the bots that are members of a chat and bot slash commands."""

from __future__ import annotations

import json

from openlines.domain.bot_commands import BotCommand
from openlines.domain.openlines import Bot
from openlines.store.postgres.base import PgBase
from openlines.store.sqlite_bots import _BOT_SELECT, _COMMAND_COLS, _bot, _command


class PgBotsAndDialogs(PgBase):
    async def bots_in_chat(self, chat_id: int) -> list[Bot]:
        return [_bot(tuple(r)) for r in await self.fetch(_BOT_SELECT, chat_id)]

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
            await self.execute(
                "UPDATE bot_commands SET bot_id=?, app_id=?, command=?, common=?, hidden=?, "
                "extranet_support=?, handler=?, lang=? WHERE id=?",
                *values,
                command.id,
            )
        else:
            command.id = int(
                await self.fetchval(
                    f"INSERT INTO bot_commands({_COMMAND_COLS.split(', ', 1)[1]}) VALUES (?,?,?,?,?,?,?,?) "
                    "RETURNING id",
                    *values,
                )
            )
        return command.id

    async def get_command(self, command_id: int) -> BotCommand | None:
        row = await self.fetchrow(f"SELECT {_COMMAND_COLS} FROM bot_commands WHERE id = ?", command_id)
        return None if row is None else _command(tuple(row))

    async def find_command(self, bot_id: int, command: str) -> BotCommand | None:
        row = await self.fetchrow(
            f"SELECT {_COMMAND_COLS} FROM bot_commands WHERE bot_id = ? AND command = ? ORDER BY id LIMIT 1",
            bot_id,
            command,
        )
        return None if row is None else _command(tuple(row))

    async def commands_for_chat(self, chat_id: int, command: str) -> list[BotCommand]:
        """Commands named ``command`` of the bots in a chat, plus common ones of any bot."""
        rows = await self.fetch(
            f"SELECT {_COMMAND_COLS} FROM bot_commands WHERE command = ? AND (common = 1 OR bot_id IN "
            "(SELECT user_id FROM chat_members WHERE chat_id = ?)) ORDER BY id",
            command,
            chat_id,
        )
        return [_command(tuple(r)) for r in rows]

    async def delete_command(self, command_id: int) -> None:
        await self.execute("DELETE FROM bot_commands WHERE id = ?", command_id)
