"""How a customer dialogue starts: a message from a channel (the live-chat widget, a connector) finds
or creates the customer user and the Open Lines chat, opens a session when none is open, and posts
the message. The welcome bot learns that it joined through ONIMBOTJOINCHAT (a session-opened hook).
"""

from __future__ import annotations

from typing import Any

from openlines.domain.openlines import Bot, Chat, Line, Message, Session, user_code
from openlines.domain.users import User
from openlines.engine import events
from openlines.engine.auto_messages import send_auto_message
from openlines.engine.messages import post
from openlines.engine.sessions import open_session
from openlines.protocol.errors import RestError
from openlines.services import Services, add_hooks

ON_SESSION_OPENED = "on_session_opened"
DEFAULT_CUSTOMER_NAME = "Guest"


class LineUnavailable(RestError):
    """The line does not exist or is switched off (the text imconnector.send.messages uses)."""

    def __init__(self, status: int = 400) -> None:
        super().__init__("NOT_ACTIVE_LINE", "The line with this ID is inactive or does not exist", status)


def chat_title(customer: User, line: Line) -> str:
    """The real server names an Open Lines chat "<customer> - <line>"."""
    return f"{customer.full_name} - {line.name}"


def new_customer(fields: dict[str, Any], now: float) -> User:
    """A customer (connector) user from loose fields: name, last_name, email, gender, ..."""

    def text(key: str) -> str:
        value = fields.get(key, "")
        return value.strip() if isinstance(value, str) else ""

    gender = text("gender").upper()[:1]
    return User(
        id=0,
        kind="customer",
        name=text("name") or (DEFAULT_CUSTOMER_NAME if not text("last_name") else ""),
        last_name=text("last_name"),
        email=text("email"),
        gender=gender if gender in ("M", "F") else "",
        date_register=now,
        extra={k: v for k, v in fields.items() if k in ("phone", "url", "picture", "external_id")},
    )


async def customer_message(
    services: Services,
    line_id: int,
    connector: str,
    external_chat_id: str,
    customer: User | dict[str, Any],
    text: str,
    params: dict[str, Any] | None = None,
    *,
    line: Line | None = None,
) -> tuple[Chat, Session, Message]:
    """A customer's message into a line, in one transaction.

    ``customer`` is an existing customer user, or a dict: ``{"id": <existing id>}`` or the fields of
    a new customer. Raises :class:`LineUnavailable` for an unknown or inactive line. ``line`` may
    be passed when the caller has just loaded it (saves a query on the hot path).
    """
    store = services.store
    now = services.clock.now()
    async with store.atomic():
        if line is None or line.id != line_id:
            line = await store.get_line(line_id)
        if line is None or not line.active:
            raise LineUnavailable()
        user = await _customer(services, customer, now)
        code = user_code(connector, line_id, external_chat_id, user.id)
        chat = await store.find_chat_by_entity("LINES", code)
        chat_is_new = chat is None
        if chat is None:
            chat = Chat(
                id=0,
                type="L",
                entity_type="LINES",
                entity_id=code,
                title=chat_title(user, line),
                line_id=line_id,
                customer_id=user.id,
                connector=connector,
                external_chat_id=external_chat_id,
                date_create=now,
            )
            await store.create_chat(chat)
            await store.add_member(chat.id, user.id, now)
        session = await store.open_session_of_chat(chat.id)
        opened = session is None
        if session is None:
            session = await open_session(services, chat, line, chat_is_new)
        message = await post(services, chat, user.id, text, params=params, author=user, session=session)
        if opened and session.owner_type != "bot":
            # the line's welcome text greets a new dialogue (a welcome bot greets on its own)
            await send_auto_message(services, chat.id, "WELCOME", "")
        if session.owner_type == "bot" and message.text == "0":
            # the customer's "0" handed the session over: answer with its state after that
            session = await store.get_session(session.id) or session
    return chat, session, message


async def _customer(services: Services, customer: User | dict[str, Any], now: float) -> User:
    store = services.store
    if isinstance(customer, User):
        if customer.id > 0:
            return customer
        customer = {"name": customer.name, "last_name": customer.last_name, "email": customer.email}
    known = customer.get("id")
    if isinstance(known, int) and not isinstance(known, bool) and known > 0:
        user = await store.get_user(known)
        if user is not None and user.kind == "customer":
            return user
    user = new_customer(customer, now)
    user.id = await store.create_user(user)
    return user


async def welcome_bot_joined(
    services: Services, chat: Chat, session: Session, line: Line, bot: Bot | None
) -> None:
    """``on_session_opened`` hook: ONIMBOTJOINCHAT to the welcome bot that took the session."""
    if bot is None:
        return
    inviter = await services.store.get_user(chat.customer_id) if chat.customer_id else None
    event = events.join_chat(services, bot, chat, session, inviter)
    if event is not None:
        await services.store.add_event(event, services.clock.now())


async def install_hooks(services: Services) -> None:
    """Register this module's hooks on the services (idempotent; run at start by the catalog)."""
    add_hooks(services, {ON_SESSION_OPENED: welcome_bot_joined})
