"""The minimal live-chat channel: a visitor of a web page writes into an Open Line.

``POST /widget/{LINE_ID}/messages`` with ``{"visitor", "text", "name"}``: the first message of a
visitor creates the customer, the chat and a session and answers a ``visitor_token``; every later
request of that visitor presents it as ``Authorization: Bearer <token>``.
``GET /widget/{LINE_ID}/messages?after=ID`` returns what the visitor may see of the dialogue,
oldest first. Errors use the Bitrix24 envelope. Tokens are stored only as HMAC digests.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openlines.auth import secrets
from openlines.domain.openlines import Chat, Message, Session
from openlines.domain.users import User
from openlines.engine.dialogs import LineUnavailable, customer_message, new_customer
from openlines.protocol import php
from openlines.protocol.envelope import JSON_HEADERS, php_json
from openlines.protocol.errors import RestError
from openlines.protocol.request import bearer_token
from openlines.protocol.rest import error_for
from openlines.services import Services

CONNECTOR = "livechat"
MAX_TEXT = 10_000
MAX_VISITOR = 100
MAX_NAME = 100
PAGE = 50
MAX_PAGE = 200
BODY_LIMIT = 64 * 1024


def _json(status: int, body: Any) -> Response:
    headers = {k.decode(): v.decode() for k, v in JSON_HEADERS}
    return Response(php_json(body), status, headers=headers)


def _fail(code: str, text: str, status: int) -> RestError:
    return RestError(code, text, status)


def line_unavailable() -> RestError:
    return LineUnavailable(404)


def token_required() -> RestError:
    return _fail("TOKEN_REQUIRED", "This visitor has a token: send it as Authorization: Bearer <token>", 401)


def token_invalid() -> RestError:
    return _fail("INVALID_TOKEN", "The visitor token is not valid", 401)


def token_of_other_visitor() -> RestError:
    return _fail("ACCESS_DENIED", "Access denied! The token belongs to another visitor", 403)


def _line_id(request: Request) -> int:
    raw = request.path_params.get("line_id", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else 0


def _visitor(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RestError("ERROR_ARGUMENT", "visitor must be a non-empty string", 400, argument="visitor")
    visitor = value.strip()
    if len(visitor) > MAX_VISITOR or "|" in visitor or any(ord(c) < 32 for c in visitor):
        raise RestError(
            "ERROR_ARGUMENT",
            f"visitor must be at most {MAX_VISITOR} characters, without '|' or control characters",
            400,
            argument="visitor",
        )
    return visitor


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RestError("MESSAGE_EMPTY", "Message can't be empty", 400)
    if len(value) > MAX_TEXT:
        raise RestError("MESSAGE_TOO_LONG", f"Message is longer than {MAX_TEXT} characters", 400)
    return value


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > BODY_LIMIT:
        raise _fail("REQUEST_ENTITY_TOO_LARGE", f"Request body is larger than {BODY_LIMIT} bytes", 413)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise _fail("WRONG_REQUEST", "The request body must be a JSON object", 400)
    return data


async def _token_visitor(services: Services, token: str, line_id: int) -> tuple[str, int, int]:
    """(visitor, customer id, chat id) of a presented token, checked against the line."""
    found = await services.store.visitor_by_token(secrets.digest(services.secret, token))
    if found is None:
        raise token_invalid()
    token_line, visitor, customer_id, chat_id = found
    if token_line != line_id:
        raise token_of_other_visitor()
    return visitor, customer_id, chat_id


async def post_message(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        line_id = _line_id(request)
        data = await _body(request)
        text = _text(data.get("text"))
        token = bearer_token(cast(dict[str, Any], request.scope))
        try:
            chat, session, message, token = await _accept(services, line_id, data, text, token)
        except RestError:
            raise
        except Exception:
            # Two first messages of one visitor at once: on a backend where both transactions run
            # side by side the unique (line, visitor) index stops the second; answer it like a
            # visitor who already has a token.
            visitor = data.get("visitor")
            raced = not token and isinstance(visitor, str) and line_id > 0
            if raced and await services.store.find_visitor(line_id, str(visitor).strip()) is not None:
                raise token_required() from None
            raise
    except Exception as exc:  # every failure answers in the envelope (a store outage as 503)
        error = error_for(exc)
        return _json(error.status, error.body())
    body = {"chat_id": chat.id, "session_id": session.id, "message_id": message.id, "visitor_token": token}
    return _json(200, body)


async def _accept(
    services: Services, line_id: int, data: dict[str, Any], text: str, token: str | None
) -> tuple[Chat, Session, Message, str]:
    """One transaction: check the line and the visitor (a new one gets a customer and a token), then
    the customer's message."""
    store = services.store
    async with store.atomic():
        line = await store.get_line(line_id) if line_id > 0 else None
        if line is None or not line.active:
            raise line_unavailable()
        if token:
            visitor, customer_id, _ = await _token_visitor(services, token, line_id)
            if "visitor" in data and _visitor(data["visitor"]) != visitor:
                raise token_of_other_visitor()
            customer: User | dict[str, Any] = {"id": customer_id}
        else:
            visitor = _visitor(data.get("visitor"))
            if await store.find_visitor(line_id, visitor) is not None:
                raise token_required()
            name = data.get("name")
            fields = {"name": name[:MAX_NAME] if isinstance(name, str) else "", "external_id": visitor}
            customer = new_customer(fields, services.clock.now())
            customer.id = await store.create_user(customer)
            token = secrets.new_token(40)
        chat, session, message = await customer_message(
            services, line_id, CONNECTOR, visitor, customer, text, line=line
        )
        if isinstance(customer, User):
            digest = secrets.digest(services.secret, token)
            await store.save_visitor(digest, line_id, visitor, customer.id, chat.id, services.clock.now())
    return chat, session, message, token


async def _active_line(services: Services, line_id: int) -> bool:
    line = await services.store.get_line(line_id)
    return line is not None and line.active


def visible_to_customer(message: Message) -> bool:
    """What a channel shows the customer: no SKIP_CONNECTOR messages, and system notices only when
    flagged IMPORTANT_CONNECTOR (behaviour notes 2.5)."""
    params = message.params
    if str(params.get("SKIP_CONNECTOR", "")).upper() == "Y":
        return False
    if message.system or message.author_id == 0:
        return params.get("IMPORTANT_CONNECTOR") == "Y"
    return True


def message_item(services: Services, m: Message, customer_id: int) -> dict[str, Any]:
    """One message as the visitor sees it (the GET answer and the SSE stream share this shape)."""
    return {
        "id": m.id,
        "author_id": m.author_id,
        "from": "customer" if m.author_id == customer_id else ("system" if m.author_id == 0 else "agent"),
        "text": m.text,
        "date": services.clock.iso(m.date),
        "system": m.system,
        "deleted": m.deleted,
        "params": {
            k: v for k, v in m.params.items() if k in ("ATTACH", "KEYBOARD", "IS_DELETED", "IS_EDITED")
        },
    }


async def get_messages(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        line_id = _line_id(request)
        if line_id <= 0 or not await _active_line(services, line_id):
            raise line_unavailable()
        token = bearer_token(cast(dict[str, Any], request.scope))
        if not token:
            raise _fail("TOKEN_REQUIRED", "Send the visitor token as Authorization: Bearer <token>", 401)
        _, customer_id, chat_id = await _token_visitor(services, token, line_id)
        after = _query_int(request, "after", 0)
        limit = min(max(_query_int(request, "limit", PAGE), 1), MAX_PAGE)
        messages = await services.store.messages_of(chat_id, after_id=after, limit=limit * 2 + 10)
    except Exception as exc:  # every failure answers in the envelope (a store outage as 503)
        error = error_for(exc)
        return _json(error.status, error.body())
    shown = [m for m in messages if visible_to_customer(m)][:limit]
    items = [message_item(services, m, customer_id) for m in shown]
    last = messages[-1].id if messages else after
    return _json(200, {"chat_id": chat_id, "messages": items, "last_id": items[-1]["id"] if items else last})


def _query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise RestError("ERROR_ARGUMENT", f"{name} must be a non-negative integer", 400, argument=name)
    return php.php_int(raw)


def routes() -> list[Route]:
    from openlines.web import widget_page, widget_stream

    return [
        Route("/widget/{line_id}/messages", post_message, methods=["POST"]),
        Route("/widget/{line_id}/messages", get_messages, methods=["GET"]),
        Route("/widget/{line_id}/events", widget_stream.events, methods=["GET"]),
        Route("/widget/{line_id}", widget_page.page, methods=["GET"]),
    ]
