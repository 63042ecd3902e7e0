"""Parameter readers shared by the ``imopenlines.*`` operator, session, dialog and config methods.

PHP would cast an array to 1 or crash on it; we answer a non-scalar id with 400 ``ERROR_ARGUMENT``
naming the argument, so no input can produce a 500.
"""

from __future__ import annotations

from typing import Any

from openlines.methods.registry import Call
from openlines.protocol import errors, php


def scalar(call: Call, name: str) -> Any:
    value = call.get(name)
    if value is not None and not php.is_scalar(value):
        raise errors.argument_error(name, f"The value of an argument '{name}' has an invalid type")
    return value


def int_param(call: Call, name: str) -> int:
    """PHP ``(int)`` of a scalar parameter (absent → 0)."""
    return php.php_int(scalar(call, name))


def str_param(call: Call, name: str) -> str:
    value = scalar(call, name)
    return "" if value is None else php.php_str(value)
