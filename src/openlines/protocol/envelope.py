"""The Bitrix24 response envelopes and their JSON encoding.

Success: ``{"result", ["next"], ["total"], "time"}``; error: ``{"error", "error_description", ...}``
without ``time``. JSON is written like PHP's ``json_encode`` with the flags Bitrix24 uses: ``< > & '``
and quotes inside strings as ``\\u`` escapes, slashes escaped, Unicode kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from openlines.clock import Clock

JSON_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"application/json; charset=utf-8"),
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-headers", b"origin, content-type, accept"),
    (b"x-content-type-options", b"nosniff"),
]

_PHP_ESCAPES = (
    (b"/", b"\\/"),
    (b"<", b"\\u003C"),
    (b">", b"\\u003E"),
    (b"&", b"\\u0026"),
    (b"'", b"\\u0027"),
)
_ESCAPED_QUOTE = re.compile(rb'\\\\|\\"')


def _quote_escape(match: re.Match[bytes]) -> bytes:
    return b"\\u0022" if match.group(0) == b'\\"' else match.group(0)


def php_json(value: Any) -> bytes:
    """Encode like PHP ``json_encode`` with HEX_TAG|HEX_AMP|HEX_APOS|HEX_QUOT|UNESCAPED_UNICODE."""
    out = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    # These characters can only occur inside JSON strings, so plain replacement is exact.
    for raw, escaped in _PHP_ESCAPES:
        if raw in out:
            out = out.replace(raw, escaped)
    if b'\\"' in out:
        out = _ESCAPED_QUOTE.sub(_quote_escape, out)
    return out


def php_shape(value: Mapping[str, Any]) -> Any:
    """A keyed map as PHP would encode it: ``[]`` when empty, a list when keyed ``0..n-1``."""
    if not value:
        return []
    if all(k == str(i) for i, k in enumerate(value)):
        return list(value.values())
    return dict(value)


@dataclass(slots=True)
class Timing:
    """The ``time`` block. ``start`` comes from the server clock; durations from a monotonic counter."""

    start: float
    finish: float
    processing: float
    operating: float | None = None
    operating_reset_at: int | None = None

    def block(self, clock: Clock) -> dict[str, Any]:
        block: dict[str, Any] = {
            "start": round(self.start, 6),
            "finish": round(self.finish, 6),
            "duration": round(self.finish - self.start, 6),
            "processing": round(self.processing, 6),
            "date_start": clock.iso(self.start),
            "date_finish": clock.iso(self.finish),
        }
        if self.operating is not None:
            if self.operating_reset_at is not None:
                block["operating_reset_at"] = self.operating_reset_at
            block["operating"] = round(self.operating, 6)
        return block


@dataclass(slots=True)
class ListPage:
    """A page of a list method: the protocol lifts ``total`` and ``next`` to the top level."""

    items: list[Any]
    total: int | None = None
    next: int | None = None


def success_body(result: Any, time_block: dict[str, Any]) -> dict[str, Any]:
    if isinstance(result, ListPage):
        body: dict[str, Any] = {"result": result.items}
        if result.next is not None:
            body["next"] = result.next
        if result.total is not None:
            body["total"] = result.total
    else:
        body = {"result": result}
    body["time"] = time_block
    return body
