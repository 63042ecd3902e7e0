"""PHP semantics the Bitrix24 server exposes on the wire.

Bitrix24 is a PHP application: its parameters are parsed by ``parse_str`` (bracket nesting), integers
are ``(int)`` casts, and flags are PHP truthiness or loose ``==`` comparisons. Clients depend on these
quirks (see the reference notes), so they live here, once, for every method to use.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import unquote_plus

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

_NUMERIC_PREFIX = re.compile(r"[ \t\n\r\v\f]*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")


def php_int(value: Any) -> int:
    """PHP ``(int)`` cast: leading numeric part of a string, floats truncated, bools 0/1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return max(INT64_MIN, min(INT64_MAX, value))
    if isinstance(value, float):
        return _float_to_int(value)
    if isinstance(value, str):
        match = _NUMERIC_PREFIX.match(value)
        if match is None:
            return 0
        number = match.group(1)
        if any(c in number for c in ".eE"):
            try:
                return _float_to_int(float(number))
            except OverflowError:  # pragma: no cover - float() saturates to inf instead
                return 0
        return max(INT64_MIN, min(INT64_MAX, int(number)))
    if value is None:
        return 0
    if isinstance(value, (dict, list)):
        return 1 if value else 0
    return 0


def _float_to_int(value: float) -> int:
    if math.isnan(value) or math.isinf(value):
        return 0
    if value >= INT64_MAX or value <= INT64_MIN:
        return INT64_MAX if value > 0 else INT64_MIN
    return int(value)


def php_truthy(value: Any) -> bool:
    """PHP truthiness: ``0``, ``"0"``, ``""``, ``false``, ``null`` and empty arrays are false."""
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return value not in ("", "0")
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, (dict, list)):
        return bool(value)
    return True


def php_equals_y(value: Any) -> bool:
    """PHP 8 loose ``$value == 'Y'``: true only for the string ``"Y"`` and the boolean ``true``."""
    return value is True or value == "Y"


def php_str(value: Any) -> str:
    """PHP ``(string)`` cast of a scalar (arrays become ``"Array"`` in PHP; we give ``""``)."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, (dict, list)):
        return ""
    return str(value)


def is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


# --- parse_str -----------------------------------------------------------------------------------

PhpArray = dict[str, Any]
MAX_NESTING = 64  # PHP's max_input_nesting_level: deeper variables are dropped


def parse_str(query: str) -> dict[str, Any]:
    """Parse a query string the way PHP's ``parse_str`` / ``$_GET`` does.

    ``a[b][c]=1`` nests, ``a[]=x`` appends, ``+`` and ``%20`` are spaces, dots and spaces in the
    top-level name become underscores, a key without ``=`` has the value ``""``, a key nested deeper
    than PHP's ``max_input_nesting_level`` (64) is dropped. Arrays whose keys are
    exactly ``0..n-1`` come back as Python lists, like ``json_encode`` would show them.
    """
    result: dict[str, Any] = {}
    if not query:
        return result
    for pair in query.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key = unquote_plus(raw_key)
        if not key:
            continue
        _assign(result, key, unquote_plus(raw_value))
    # Only nested arrays become lists: the top level is always a map of names, even "0=a&1=b".
    return {name: normalize_arrays(value) for name, value in result.items()}


def _split_key(key: str) -> tuple[str, list[str | None]]:
    """Split ``base[a][][b]`` into ``base`` and ``["a", None, "b"]`` (None means append)."""
    bracket = key.find("[")
    if bracket < 0:
        return _clean_base(key), []
    if bracket == 0:
        return "", []  # PHP ignores a variable whose name starts with a bracket
    base = key[:bracket]
    segments: list[str | None] = []
    pos = bracket
    while pos < len(key) and key[pos] == "[":
        close = key.find("]", pos + 1)
        if close < 0:
            if not segments:
                # An unmatched bracket turns into an underscore and the rest stays part of the name.
                return _clean_base(base) + "_" + key[bracket + 1 :], []
            break
        inner = key[pos + 1 : close]
        segments.append(inner if inner != "" else None)
        pos = close + 1
    return _clean_base(base), segments


def _clean_base(base: str) -> str:
    return base.replace(".", "_").replace(" ", "_")


def _assign(target: dict[str, Any], key: str, value: str) -> None:
    base, segments = _split_key(key)
    if not base or len(segments) > MAX_NESTING:
        return
    if not segments:
        target[base] = value
        return
    container = target.get(base)
    if not isinstance(container, dict):
        container = {}
        target[base] = container
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        name = _next_index(container) if segment is None else segment
        if last:
            container[name] = value
        else:
            child = container.get(name)
            if not isinstance(child, dict):
                child = {}
                container[name] = child
            container = child


def _next_index(container: dict[str, Any]) -> str:
    numbers = [int(k) for k in container if _is_php_int_key(k)]
    return str(max(numbers) + 1 if numbers else 0)


def _is_php_int_key(key: Any) -> bool:
    return isinstance(key, str) and (key == "0" or (key[:1] in "123456789-" and key.lstrip("-").isdigit()))


def normalize_arrays(value: Any) -> Any:
    """Turn dicts keyed exactly ``"0".."n-1"`` (in order) into lists, recursively."""
    if isinstance(value, dict):
        converted = {k: normalize_arrays(v) for k, v in value.items()}
        if converted and all(k == str(i) for i, k in enumerate(converted)):
            return list(converted.values())
        return converted
    if isinstance(value, list):
        return [normalize_arrays(v) for v in value]
    return value


def upper_keys(params: dict[str, Any]) -> dict[str, Any]:
    """``array_change_key_case($params, CASE_UPPER)``: top-level keys only, later keys win."""
    return {k.upper() if isinstance(k, str) else k: v for k, v in params.items()}


def as_items(value: Any) -> list[Any]:
    """Values of a PHP array, whether it arrived as a JSON list or as a bracket-form dict."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return []
