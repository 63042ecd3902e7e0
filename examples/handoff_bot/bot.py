"""A small Open Lines bot: it greets a customer, answers, and hands the dialogue to the operator
queue when the customer asks for a human. It talks plain Bitrix24 REST through a webhook, so it runs
the same against a Bitrix24 portal and against openlines.

Run it:  BOT_WEBHOOK=https://your.portal/rest/1/code/ uvicorn bot:app --port 8080
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

GREETING = "Hello! I am the support bot. Ask me anything, or write 'human' to talk to an operator."
HANDING_OVER = "Connecting you to an operator..."
NO_OPERATOR = "Sorry, I could not reach an operator. Please try again in a minute."
HUMAN = re.compile(r"\b(human|operator|person)\b", re.IGNORECASE)
RETRIES = 3  # tries of a call refused with QUERY_LIMIT_EXCEEDED (the portal's rate limit)


class RestError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.status, self.code = status, code


def form_to_dict(body: str) -> dict[str, Any]:
    """Bitrix24 posts events as PHP-style form fields: ``data[PARAMS][MESSAGE]=hi``."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts:
            node[parts[-1]] = value
    return root


class Bot:
    def __init__(self, webhook: str, client_id: str, queue_id: int = 1) -> None:
        self.webhook = webhook.rstrip("/") + "/"
        self.client_id = client_id
        self.queue_id = queue_id
        self.http = httpx.AsyncClient(timeout=30)

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        for attempt in range(RETRIES):
            answer = await self.http.post(
                f"{self.webhook}{method}", json={**params, "CLIENT_ID": self.client_id}
            )
            body = answer.json()
            if "error" not in body:
                return body["result"]
            error = RestError(answer.status_code, body["error"], body.get("error_description", ""))
            if error.code != "QUERY_LIMIT_EXCEEDED" or attempt == RETRIES - 1:
                raise error
            await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    async def say(self, bot_id: str, dialog_id: str, text: str) -> None:
        await self.call("imbot.message.add", {"BOT_ID": bot_id, "DIALOG_ID": dialog_id, "MESSAGE": text})

    async def handle(self, event: dict[str, Any]) -> None:
        data = event.get("data", {})
        params = data.get("PARAMS", {})
        bot_id = next(iter(data.get("BOT", {})), "")
        dialog_id = params.get("DIALOG_ID", "")
        if event.get("event") == "ONIMBOTJOINCHAT":
            await self.say(bot_id, dialog_id, GREETING)
        elif event.get("event") == "ONIMBOTMESSAGEADD":
            text = params.get("MESSAGE", "")
            if not HUMAN.search(text):
                await self.say(bot_id, dialog_id, f"You wrote: {text}. Write 'human' for an operator.")
                return
            await self.say(bot_id, dialog_id, HANDING_OVER)
            transfer = {
                "CHAT_ID": params.get("CHAT_ID"),
                "TRANSFER_ID": f"queue{self.queue_id}",
                "LEAVE": "N",
            }
            try:
                await self.call("imopenlines.bot.session.transfer", transfer)
            except RestError:
                await self.say(bot_id, dialog_id, NO_OPERATOR)


def create_app(webhook: str, client_id: str, queue_id: int = 1) -> Starlette:
    bot = Bot(webhook, client_id, queue_id)

    async def events(request: Request) -> PlainTextResponse:
        await bot.handle(form_to_dict((await request.body()).decode("utf-8")))
        return PlainTextResponse("OK")

    return Starlette(routes=[Route("/", events, methods=["POST"])])


if "BOT_WEBHOOK" in os.environ:
    app = create_app(os.environ["BOT_WEBHOOK"], os.environ.get("BOT_CLIENT_ID", "handoff-bot"))
