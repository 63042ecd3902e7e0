"""``openlines.event.delivery.list`` and ``.replay``: what the delivery worker did, and sending again.

openlines' own admin methods (Bitrix24 has none like them). ``list`` pages by 50 with ``start``
(newest first) and filters by ``STATUS`` (pending, delivered, dead, expanded), ``EVENT``, ``TARGET``
and ``CHAT_ID``; ``replay`` puts a delivered or dead event back in the queue, due now, with its
attempts counted from zero and the same idempotency key.
"""

from __future__ import annotations

from typing import Any

from openlines.delivery.envelope import delivery_key
from openlines.domain.delivery import STATUSES, Delivery
from openlines.methods.registry import GLOBAL_SCOPE, Call, Param, Registry, page_bounds
from openlines.protocol import errors, php
from openlines.protocol.envelope import ListPage
from openlines.protocol.errors import RestError
from openlines.services import Services

PAGE = 50


def delivery_not_found() -> RestError:
    return RestError("DELIVERY_NOT_FOUND", "Event delivery not found", 404)


def not_replayable(status: str) -> RestError:
    return RestError(
        "DELIVERY_NOT_REPLAYABLE", f"Only delivered or dead events can be replayed; this one is {status}", 400
    )


def delivery_fields(services: Services, delivery: Delivery, with_payload: bool = False) -> dict[str, Any]:
    found = delivery.summary()
    found["KEY"] = delivery_key(services.portal, delivery.id)
    found["CREATED"] = services.clock.iso(delivery.created)
    found["DUE"] = services.clock.iso(delivery.due) if delivery.due else None
    found["DELIVERED"] = services.clock.iso(delivery.delivered) if delivery.delivered else None
    if with_payload:
        found["DATA"] = delivery.payload
    return found


async def delivery_details(services: Services, delivery: Delivery) -> dict[str, Any]:
    """A delivery with its data and attempt log (the REST ``get`` and ``openlines events show``)."""
    found = delivery_fields(services, delivery, with_payload=True)
    attempts = await services.store.delivery_attempts(delivery.id)
    for attempt in attempts:
        attempt["AT"] = services.clock.iso(attempt["AT"])
        attempt["DURATION"] = round(attempt["DURATION"], 4)
    found["HISTORY"] = attempts
    return found


async def replay(services: Services, delivery_id: int, due: float | None = None) -> Delivery:
    """Queue a delivered or dead event again (shared by the REST method and the CLI).

    ``due`` defaults to this process's clock. The CLI passes 0 ("at once"): it runs beside a server
    whose clock may be a fake one it cannot see.
    """
    store = services.store
    async with store.atomic():
        found = await store.get_delivery(delivery_id)
        if found is None:
            raise delivery_not_found()
        if not await store.replay_delivery(delivery_id, services.clock.now() if due is None else due):
            raise not_replayable(found.status)
    wake = services.extras.get("outbox_wake")
    if wake is not None:
        wake()
    again = await store.get_delivery(delivery_id)
    assert again is not None
    return again


def register(registry: Registry) -> None:
    @registry.method(
        "openlines.event.delivery.list",
        GLOBAL_SCOPE,
        Param("FILTER", "object", False, "STATUS, EVENT, TARGET, CHAT_ID"),
        Param("WITH_DATA", "string", False, "Y: include each event's data"),
        description="Event deliveries, newest first, 50 a page (admin only).",
        admin_only=True,
        list_method=True,
    )
    async def delivery_list(call: Call) -> ListPage:
        raw = call.get("FILTER")
        given = {str(k).upper(): v for k, v in raw.items()} if isinstance(raw, dict) else {}
        status = str(given.get("STATUS", "")).lower()
        if status and status not in STATUSES:
            raise errors.argument_error("FILTER", f"STATUS must be one of {', '.join(STATUSES)}")
        filters = {
            "status": status,
            "event": given.get("EVENT", ""),
            "target": given.get("TARGET", ""),
            "chat_id": php.php_int(given.get("CHAT_ID", 0)),
        }
        offset, count = page_bounds(call)
        rows, total = await call.services.store.list_deliveries(filters, offset, PAGE, count)
        with_data = call.str("WITH_DATA") == "Y"
        items = [delivery_fields(call.services, d, with_data) for d in rows]
        if not count:
            return ListPage(items, total=0)
        next_offset = offset + len(items) if offset + len(items) < total else None
        return ListPage(items, total=total, next=next_offset)

    @registry.method(
        "openlines.event.delivery.get",
        GLOBAL_SCOPE,
        Param("ID", "integer", True, "The delivery (outbox row) id"),
        description="One delivery with its data and every attempt (admin only).",
        admin_only=True,
    )
    async def delivery_get(call: Call) -> dict[str, Any]:
        delivery_id = call.int("ID")
        if delivery_id <= 0:
            raise errors.argument_error("ID", "Argument 'ID' is null or empty")
        found = await call.services.store.get_delivery(delivery_id)
        if found is None:
            raise delivery_not_found()
        return await delivery_details(call.services, found)

    @registry.method(
        "openlines.event.delivery.replay",
        GLOBAL_SCOPE,
        Param("ID", "integer", True, "The delivery (outbox row) id"),
        description="Send a delivered or dead event again (admin only).",
        admin_only=True,
    )
    async def delivery_replay(call: Call) -> dict[str, Any]:
        delivery_id = call.int("ID")
        if delivery_id <= 0:
            raise errors.argument_error("ID", "Argument 'ID' is null or empty")
        return delivery_fields(call.services, await replay(call.services, delivery_id))
