"""``openlines.fault.add``, ``openlines.fault.list`` and ``openlines.fault.clear``: fault injection for
tests, over REST so a bot in any language can use it. openlines' own methods, admin-only.

Examples: the next 2 transfers answer ``QUERY_LIMIT_EXCEEDED`` (503)::

    openlines.fault.add  METHOD=imopenlines.bot.session.transfer  ERROR=QUERY_LIMIT_EXCEEDED  COUNT=2

the next 3 event deliveries to the bot fail::

    openlines.fault.add  TARGET=delivery  METHOD=*  STATUS=500  COUNT=3
"""

from __future__ import annotations

import math
import random
from typing import Any

from openlines import faults
from openlines.faults.book import DELIVERY, REST, TARGETS, Fault
from openlines.methods.registry import GLOBAL_SCOPE, Call, Param, Registry
from openlines.protocol import errors, php
from openlines.protocol.envelope import ListPage

MAX_DELAY = 86400.0  # a day of fake time per call is plenty; a real clock sleeps at most 60 s
MAX_COUNT = 1_000_000
MAX_FAULTS = 1000  # armed at once; every call walks the list


def _number(call: Call, name: str, low: float, high: float) -> float | None:
    raw = call.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw) if isinstance(raw, (int, float, str)) and not isinstance(raw, bool) else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise errors.argument_error(name, f"{name} must be a number from {low:g} to {high:g}")
    return value


def _fault(call: Call) -> Fault:
    target = call.str("TARGET", REST).strip().lower() or REST
    if target not in TARGETS:
        raise errors.argument_error("TARGET", f"TARGET must be one of: {', '.join(TARGETS)}")
    method = call.str("METHOD").strip().lower()
    if not method:
        raise errors.argument_error("METHOD", "METHOD is required: a REST method (or event) name, or *")
    if target == REST and method != "*" and call.services.registry.find(method) is None:
        raise errors.argument_error("METHOD", f"METHOD {method!r} is not a method of this server")
    error = call.str("ERROR").strip()
    if len(error) > 100:
        raise errors.argument_error("ERROR", "ERROR must be at most 100 characters")
    status = _number(call, "STATUS", 400, 599)
    if status is not None and status != int(status):
        raise errors.argument_error("STATUS", "STATUS must be a whole HTTP status from 400 to 599")
    delay = _number(call, "DELAY", 0, MAX_DELAY) or 0.0
    if not error and status is None and not delay:
        raise errors.argument_error(
            "ERROR", "Give ERROR (a code), STATUS (an HTTP status) or DELAY (seconds)"
        )
    count = _number(call, "COUNT", 1, MAX_COUNT)
    probability = _number(call, "PROBABILITY", 0, 1)
    if count is not None and probability is not None:
        raise errors.argument_error("COUNT", "Give COUNT or PROBABILITY, not both")
    if count is not None and count != int(count):
        raise errors.argument_error("COUNT", "COUNT must be a whole number")
    return Fault(
        id=0,
        target=target,
        method=method,
        error=error,
        status=int(status) if status is not None else None,
        delay=delay,
        sleep=php.php_truthy(call.get("SLEEP")) and call.str("SLEEP").upper() != "N",
        description=call.str("DESCRIPTION")[:500],
        count=None if probability is not None else int(count or 1),
        probability=probability,
        handler=call.str("HANDLER").strip() if target == DELIVERY else "",
        created=call.services.clock.now(),
    )


def register(registry: Registry) -> None:
    @registry.method(
        "openlines.fault.add",
        GLOBAL_SCOPE,
        Param("METHOD", "string", True, "REST method name (TARGET=rest) or event name (delivery), or *"),
        Param("ERROR", "string", False, "Answer this error code, with the status the real server gives it"),
        Param("STATUS", "integer", False, "Answer this HTTP status (400-599), or override ERROR's status"),
        Param("DELAY", "any", False, "Seconds to wait first; a fake clock is moved forward instead"),
        Param(
            "SLEEP", "boolean", False, "Y: DELAY sleeps in real time even on a fake clock (client timeouts)"
        ),
        Param("COUNT", "integer", False, "Fire on the next COUNT matches (default 1)"),
        Param("PROBABILITY", "any", False, "Or fire on each match with this probability (0-1)"),
        Param("TARGET", "string", False, "rest (default) or delivery (event deliveries to handlers)"),
        Param("HANDLER", "string", False, "delivery: only handler URLs starting with this"),
        Param("DESCRIPTION", "string", False, "error_description to answer instead of the real text"),
        Param("SEED", "integer", False, "Seed the random choices of PROBABILITY faults (reproducible runs)"),
        description="Inject a fault: the next matching REST calls or event deliveries fail or run slow.",
        admin_only=True,
    )
    async def fault_add(call: Call) -> dict[str, Any]:
        book = faults.book(call.services)
        fault = _fault(call)
        if len(await book.armed()) >= MAX_FAULTS:
            raise errors.argument_error(
                "METHOD", f"At most {MAX_FAULTS} faults can be armed; clear some first"
            )
        if call.has("SEED"):
            book.rng = random.Random(php.php_int(call.get("SEED")))
        return (await book.arm(fault)).summary()

    @registry.method(
        "openlines.fault.list",
        GLOBAL_SCOPE,
        description="The faults still armed, oldest first.",
        admin_only=True,
        list_method=True,
    )
    async def fault_list(call: Call) -> ListPage:
        book = call.services.extras.get(faults.FAULTS)
        items = [f.summary() for f in await book.armed()] if book is not None else []
        return ListPage(items, total=len(items))

    @registry.method(
        "openlines.fault.clear",
        GLOBAL_SCOPE,
        Param("ID", "integer", False, "Only this fault"),
        Param("TARGET", "string", False, "Only faults of this target (rest or delivery)"),
        description="Remove armed faults (all of them without ID or TARGET); answers how many.",
        admin_only=True,
    )
    async def fault_clear(call: Call) -> int:
        book = call.services.extras.get(faults.FAULTS)
        target = call.str("TARGET").strip().lower() or None
        if target is not None and target not in TARGETS:
            raise errors.argument_error("TARGET", f"TARGET must be one of: {', '.join(TARGETS)}")
        fault_id = php.php_int(call.get("ID")) if call.has("ID") else None
        return await book.disarm(fault_id, target) if book is not None else 0
