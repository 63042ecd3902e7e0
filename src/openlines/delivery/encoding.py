"""PHP's ``http_build_query``: nested dicts and lists as ``data[PARAMS][MESSAGE]=…`` form fields.

Bitrix24 POSTs events as ``application/x-www-form-urlencoded`` bodies built this way, and PHP
handlers read them back with ``$_POST['data']['PARAMS']['MESSAGE']``. The rules kept here:

* every scalar is sent as a string; ``True`` is ``1`` and ``False`` is ``0`` (PHP's casts);
* ``None`` and empty arrays are left out (PHP sends nothing for them);
* list items are numbered from 0: ``FILES[0][NAME]=…``;
* names and values are percent-encoded with ``+`` for spaces, brackets included (``%5B``/``%5D``),
  exactly as ``urlencode`` does; every form parser decodes them back to ``[`` and ``]``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

CACHED = 256  # characters: longer names and values (a message text) are quoted each time, not kept


def scalar(value: Any) -> str:
    """A scalar the way PHP turns it into a form value."""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def fields(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """The flat ``(name, value)`` pairs of a nested mapping, in order."""
    out: list[tuple[str, str]] = []
    _walk(value, prefix, out)
    return iter(out)


def _walk(value: Mapping[str, Any], prefix: str, out: list[tuple[str, str]]) -> None:
    for key, item in value.items():
        _add(f"{prefix}[{key}]" if prefix else str(key), item, out)


def _add(name: str, item: Any, out: list[tuple[str, str]]) -> None:
    if item is None:
        return
    if type(item) is str:  # the common case first: isinstance() of the Mapping ABC is slow
        out.append((name, item))
    elif isinstance(item, Mapping):
        _walk(item, name, out)
    elif isinstance(item, (list, tuple)):
        for index, element in enumerate(item):
            _add(f"{name}[{index}]", element, out)
    else:
        out.append((name, scalar(item)))


def encode(value: Mapping[str, Any]) -> str:
    """The form body: ``event=ONIMBOTMESSAGEADD&data%5BPARAMS%5D%5BMESSAGE%5D=Hello&…``."""
    return "&".join(f"{_quote(name)}={_quote(text)}" for name, text in fields(value))


def _quote(text: str) -> str:
    return _quote_short(text) if len(text) <= CACHED else quote_plus(text)


@lru_cache(maxsize=8192)
def _quote_short(text: str) -> str:
    """``quote_plus``, remembered: the field names and most values of an event (portal URLs, tokens,
    ids) repeat from one event to the next, and ``quote_plus`` walks a name with brackets character
    by character in Python (a few µs a field, the largest part of a delivery's cost in W4)."""
    return quote_plus(text)
