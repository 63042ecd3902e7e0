"""Reading ``imconnector.*`` arguments: the required-argument errors and the MESSAGES structure,
with the texts the real server answers (spec 8.2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openlines.domain.connectors import normalise_id
from openlines.methods.registry import Call
from openlines.protocol import errors, php
from openlines.protocol.errors import RestError

NOT_ARRAY = "The value of an argument 'MESSAGES' must be of type array"
NOT_MESSAGES = "The MESSAGES parameter must be an array of messages (arrays)"
BAD_STRUCTURE = "The incorrect structure of a message inside MESSAGES parameter"


def required(call: Call, name: str) -> Any:
    """The argument, or 400 ERROR_ARGUMENT "Argument 'X' is null or empty"."""
    value = call.get(name)
    if value is None or value == "" or value == [] or value == {}:
        raise errors.argument_error(name, f"Argument '{name}' is null or empty")
    return value


def connector_id(call: Call, name: str = "CONNECTOR") -> str:
    value = required(call, name)
    return normalise_id(php.php_str(value)) if php.is_scalar(value) else ""


def line_id(call: Call) -> int:
    required(call, "LINE")
    return call.int("LINE")


def text_of(value: Any) -> str:
    return php.php_str(value).strip() if php.is_scalar(value) else ""


def as_block(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return None


@dataclass(slots=True)
class IncomingMessage:
    """One entry of MESSAGES: who wrote (external user), the message and the external chat."""

    user: dict[str, Any]
    message: dict[str, Any]
    chat: dict[str, Any]
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return text_of(self.user.get("id"))

    @property
    def chat_id(self) -> str:
        return text_of(self.chat.get("id"))

    @property
    def message_id(self) -> str:
        return text_of(self.message.get("id"))

    @property
    def text(self) -> str:
        value = self.message.get("text")
        return php.php_str(value) if php.is_scalar(value) else ""

    @property
    def date(self) -> str:
        return text_of(self.message.get("date"))

    def text_or_files(self) -> str:
        """The text a chat shows: the message text, else one line per attached file."""
        if self.text.strip():
            return self.text
        return "\n".join(text_of(f.get("url")) or text_of(f.get("name")) for f in self.files)


def _files(message: dict[str, Any]) -> list[dict[str, Any]]:
    raw = message.get("files")
    if raw is None or raw == "":
        return []
    return [f for f in (as_block(item) for item in php.as_items(raw)) if f is not None]


def messages(call: Call, *, need_text: bool = True) -> list[IncomingMessage]:
    """MESSAGES as a list, each with ``user.id`` and ``chat.id`` (and a text or files unless
    ``need_text`` is false, for delete and status calls)."""
    raw = required(call, "MESSAGES")
    if not isinstance(raw, (list, dict)):
        raise errors.argument_error("MESSAGES", NOT_ARRAY)
    found: list[IncomingMessage] = []
    for item in php.as_items(raw):
        entry = as_block(item)
        if entry is None:
            raise errors.argument_error("MESSAGES", NOT_MESSAGES)
        user, message, chat = (as_block(entry.get(k)) for k in ("user", "message", "chat"))
        if user is None or message is None or chat is None:
            raise errors.argument_error("MESSAGES", BAD_STRUCTURE)
        incoming = IncomingMessage(user, message, chat, _files(message))
        if not incoming.user_id or not incoming.chat_id:
            raise errors.argument_error("MESSAGES", BAD_STRUCTURE)
        if need_text and not incoming.text_or_files().strip():
            raise errors.argument_error("MESSAGES", BAD_STRUCTURE)
        found.append(incoming)
    return found


def registration_error(code: str, description: str) -> dict[str, Any]:
    """register/unregister answer their own errors with HTTP 200 inside ``result``."""
    return {"result": False, "error": code, "error_description": description}


def not_registered(connector: str) -> RestError:
    return errors.argument_error("CONNECTOR", f"Connector '{connector}' is not registered")
