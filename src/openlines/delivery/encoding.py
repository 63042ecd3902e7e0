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
from typing import Any
from urllib.parse import quote_plus


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
    for key, item in value.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        yield from _item(name, item)


def _item(name: str, item: Any) -> Iterator[tuple[str, str]]:
    if item is None:
        return
    if isinstance(item, Mapping):
        yield from fields(item, name)
    elif isinstance(item, (list, tuple)):
        for index, element in enumerate(item):
            yield from _item(f"{name}[{index}]", element)
    else:
        yield name, scalar(item)


def encode(value: Mapping[str, Any]) -> str:
    """The form body: ``event=ONIMBOTMESSAGEADD&data%5BPARAMS%5D%5BMESSAGE%5D=Hello&…``."""
    return "&".join(f"{quote_plus(name)}={quote_plus(text)}" for name, text in fields(value))
