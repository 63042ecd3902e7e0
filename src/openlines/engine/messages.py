"""Posting messages into chats. Every message goes through :func:`post`, so the session status
machine and the events a message causes (bot events, connector and app events) live in one place."""

from __future__ import annotations

from typing import Any

from openlines.domain.openlines import Chat, Message
from openlines.services import Services


async def post(
    services: Services,
    chat: Chat,
    author_id: int,
    text: str,
    *,
    system: bool = False,
    params: dict[str, Any] | None = None,
) -> Message:
    """Store a message in ``chat`` (inside the caller's transaction) and return it with its id."""
    now = services.clock.now()
    message = Message(
        id=0, chat_id=chat.id, author_id=author_id, text=text, system=system, params=params or {}, date=now
    )
    await services.store.add_message(message)
    chat.last_message_id = message.id
    return message


async def post_system(services: Services, chat: Chat, text: str, **params: Any) -> Message:
    """A system notice (author 0). Not forwarded to the customer unless ``IMPORTANT_CONNECTOR='Y'``."""
    return await post(services, chat, 0, text, system=True, params=params)
