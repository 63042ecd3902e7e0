"""``batch``: up to 50 calls in one request, with references to earlier results.

Semantics from the reference (spec 1.9, behaviour 3.6): ``cmd`` is a map or a list of
``"method?query"`` strings parsed like PHP ``parse_str``; ``halt`` is PHP-truthy; calls past the 50th
get ``ERROR_BATCH_LENGTH_EXCEEDED``; ``batch``/``download``/``upload`` inside are refused; every
sub-call goes through the same access checks as a direct call; the answer is always HTTP 200.
"""

from __future__ import annotations

import re
import time
from typing import Any

from openlines.methods.invoke import invoke
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol import errors, php
from openlines.protocol.envelope import ListPage, Timing, php_shape
from openlines.protocol.errors import RestError
from openlines.store.base import StoreUnavailable

MAX_COMMANDS = 50
NOT_IN_BATCH = frozenset({"batch", "download", "upload"})
_REFERENCE = re.compile(r"\$(result|error|total|next|time)((?:\[[^\[\]]*\])+)")


class _Results:
    """What earlier sub-calls produced, addressable by ``$result[key]...`` references."""

    def __init__(self) -> None:
        self.result: dict[str, Any] = {}
        self.error: dict[str, Any] = {}
        self.total: dict[str, Any] = {}
        self.next: dict[str, Any] = {}
        self.time: dict[str, Any] = {}

    def lookup(self, kind: str, path: str) -> Any:
        keys = re.findall(r"\[([^\[\]]*)\]", path)
        value: Any = getattr(self, kind)
        for key in keys:
            if isinstance(value, dict) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                break  # a missing key stops the descent, as on the real server
        return value

    def substitute(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                self.substitute(k) if isinstance(k, str) else k: self.substitute(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if not isinstance(value, str) or "$" not in value:
            return value
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return self.lookup(whole.group(1), whole.group(2))

        def inline(match: re.Match[str]) -> str:
            found = self.lookup(match.group(1), match.group(2))
            return php.php_str(found) if php.is_scalar(found) else match.group(0)

        return _REFERENCE.sub(inline, value)


def _commands(raw: Any) -> list[tuple[str, Any]]:
    if isinstance(raw, dict):
        return [(str(k), v) for k, v in raw.items()]
    if isinstance(raw, list):
        return [(str(i), v) for i, v in enumerate(raw)]
    return []


def register(registry: Registry) -> None:
    @registry.method(
        "batch",
        "basic",
        Param("cmd", "object", True, 'Map (or list) of "method?query" strings, at most 50'),
        Param("halt", "boolean", False, "Stop at the first failing command (PHP truthiness)"),
        description="Run up to 50 methods in one request.",
        batchable=False,
    )
    async def batch(call: Call) -> dict[str, Any]:
        services = call.services
        clock = services.clock
        halt = php.php_truthy(call.get("HALT"))
        done = _Results()
        for position, (key, command) in enumerate(_commands(call.get("CMD")), start=1):
            if position > MAX_COMMANDS:
                done.error[key] = errors.batch_length_exceeded().body()
                if halt:
                    break
                continue
            if not isinstance(command, str):
                continue  # the real server skips non-string commands silently
            started = clock.now()
            began = time.perf_counter()
            try:
                result, processing = await _run(call, command, done)
            except (RestError, StoreUnavailable) as exc:
                failure = exc if isinstance(exc, RestError) else errors.service_unavailable(str(exc))
                done.error[key] = {"error": failure.code, "error_description": failure.description}
                if halt:
                    break
                continue
            timing = Timing(started, started + (time.perf_counter() - began), processing)
            done.time[key] = timing.block(clock)
            if isinstance(result, ListPage):
                done.result[key] = result.items
                if result.total is not None:
                    done.total[key] = result.total
                if result.next is not None:
                    done.next[key] = result.next
            else:
                done.result[key] = result
        return {
            "result": php_shape(done.result),
            "result_error": php_shape(done.error),
            "result_total": php_shape(done.total),
            "result_next": php_shape(done.next),
            "result_time": php_shape(done.time),
        }


async def _run(call: Call, command: str, done: _Results) -> tuple[Any, float]:
    name, _, query = command.partition("?")
    name = name.strip()
    if name.lower().endswith(".json"):
        name = name[:-5]
    if name.lower() in NOT_IN_BATCH:
        raise errors.batch_method_not_allowed()
    method = call.services.registry.find(name)
    if method is None:
        raise errors.method_not_found()
    params = done.substitute(php.parse_str(query))
    if not isinstance(params, dict):
        params = {}
    return await invoke(call.services, method, call.caller, params, in_batch=True)
