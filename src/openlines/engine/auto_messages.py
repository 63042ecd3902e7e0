"""``imopenlines.bot.session.message.send``: automatic messages a bot asks the line to send.

Both kinds reach the customer: they are system messages flagged ``IMPORTANT_CONNECTOR=Y``.
"""

from __future__ import annotations

from openlines.engine import messages
from openlines.protocol import php
from openlines.services import Services


async def send_auto_message(services: Services, chat_id: int, name: str, text: str) -> bool:
    """``WELCOME`` posts the line's welcome text (when WELCOME_MESSAGE=Y), ``DEFAULT`` posts ``text``.

    Anything else, an empty text, or a chat that is not an Open Lines chat posts nothing; the
    result says whether a message was posted (the REST method answers true either way).
    """
    if name not in ("WELCOME", "DEFAULT"):
        return False
    store = services.store
    async with store.atomic():
        chat = await store.get_chat(chat_id)
        if chat is None or not chat.is_lines:
            return False
        if name == "WELCOME":
            line = await store.get_line(chat.line_id)
            if line is None or line.setting("WELCOME_MESSAGE") != "Y":
                return False
            text = php.php_str(line.setting("WELCOME_MESSAGE_TEXT"))
        if not text.strip():
            return False
        await messages.post_system(services, chat, text, IMPORTANT_CONNECTOR="Y")
        await store.save_chat(chat)
        return True
