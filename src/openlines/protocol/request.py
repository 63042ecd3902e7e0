"""Reading a REST request: the URL forms, the body with its size limit, and the parameters.

Parameters come from the query string and the body merged the way the real server merges them
(body wins per top-level key). A JSON body that does not parse is ignored, as the real server ignores
it; the method then reports its own error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request

from openlines.protocol import errors
from openlines.protocol.php import parse_str

Scope = dict[str, Any]
Receive = Any


@dataclass(slots=True)
class RestPath:
    method: str
    hook_user: str | None = None
    hook_code: str | None = None


def parse_rest_path(path: str) -> RestPath | None:
    """``/rest/m``, ``/rest/m.json``, ``/rest/1/code/m/``, ``/rest//m``… → the parts; None if not REST.

    Duplicate slashes collapse, a trailing slash is allowed, ``.json`` is stripped. ``.xml`` raises.
    """
    segments = [s for s in path.split("/") if s]
    if not segments or segments[0] != "rest":
        return None
    rest = segments[1:]
    if len(rest) == 1:
        return RestPath(_method_name(rest[0]))
    if len(rest) == 3:
        return RestPath(_method_name(rest[2]), hook_user=rest[0], hook_code=rest[1])
    return RestPath("")


def _method_name(text: str) -> str:
    lowered = text.lower()
    if lowered.endswith(".json"):
        return text[:-5]
    if lowered.endswith(".xml"):
        raise errors.wrong_transport()
    return text


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise errors.body_too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def parse_params(scope: Scope, body: bytes) -> dict[str, Any]:
    """Query string merged with the body (``array_replace``: body keys replace query keys)."""
    query = scope.get("query_string", b"")
    params = parse_str(_decode(query)) if query else {}
    if not body:
        return params
    content_type = (header(scope, b"content-type") or "").lower()
    if "json" in content_type:
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            decoded = None  # the real server silently ignores a malformed JSON body
        if isinstance(decoded, dict):
            params.update(decoded)
        return params
    if content_type.startswith("multipart/form-data"):
        params.update(await _multipart(scope, body))
        return params
    # urlencoded forms and any other raw body go through parse_str, like PHP does
    params.update(parse_str(_decode(body)))
    return params


def _decode(raw: bytes) -> str:
    # Percent-escapes are decoded as UTF-8 later; raw bytes outside ASCII are kept as they are.
    return raw.decode("utf-8", errors="replace")


async def _multipart(scope: Scope, body: bytes) -> dict[str, Any]:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request(scope, replay)
    try:
        form = await request.form(max_files=100, max_fields=10000)
    except Exception:  # a broken multipart body is ignored like a broken JSON body
        return {}
    fields: dict[str, Any] = {}
    pairs: list[str] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            # Files are not stored; a method sees the file's name, as PHP's $_FILES would give it.
            value = value.filename or ""
        pairs.append(_urlencode_pair(key, str(value)))
    await form.close()
    fields.update(parse_str("&".join(pairs)))
    return fields


def _urlencode_pair(key: str, value: str) -> str:
    from urllib.parse import quote_plus

    return f"{quote_plus(key, safe='[]')}={quote_plus(value)}"


def bearer_token(scope: Scope) -> str | None:
    value = header(scope, b"authorization")
    if value and value[:7].lower() == "bearer ":
        token = value[7:].strip()
        return token or None
    return None


def is_https(scope: Scope, trust_forwarded: bool = False) -> bool:
    """Whether the client reached us over TLS (directly, or through a proxy we were told to trust)."""
    if scope.get("scheme") == "https":
        return True
    if not trust_forwarded:
        return False
    forwarded = header(scope, b"x-forwarded-proto")
    return forwarded is not None and forwarded.lower() == "https"
