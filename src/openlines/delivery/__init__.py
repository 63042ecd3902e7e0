"""Event delivery: the outbox rows the engine writes are POSTed to bot and app handlers.

:func:`install` wires a :class:`~openlines.delivery.worker.DeliveryWorker` into a portal's
services: started by the ASGI lifespan, woken when a row is added or the fake clock moves,
drained and stopped at shutdown. See docs/events.md.
"""

from __future__ import annotations

from openlines.services import Services

WORKER = "delivery_worker"  # services.extras key of the running worker
WAKE = "outbox_wake"  # services.extras key: call it after committing outbox rows


def install(services: Services) -> None:
    """Attach the delivery worker to ``services`` (once)."""
    from openlines.delivery.worker import DeliveryWorker
    from openlines.methods.openlines_clock import ON_CLOCK_ADVANCED, ClockHook

    if WORKER in services.extras or not services.config.delivery.enabled:
        return
    worker = DeliveryWorker(services)
    services.extras[WORKER] = worker
    services.extras[WAKE] = worker.wake
    store = services.store
    if hasattr(store, "on_event_added"):  # the SQLite store calls it from add_event
        setattr(store, "on_event_added", worker.wake)  # noqa: B010
    previous: ClockHook | None = services.extras.get(ON_CLOCK_ADVANCED)

    async def on_clock_advanced(now: float) -> None:
        if previous is not None:
            await previous(now)
        worker.wake()

    services.extras[ON_CLOCK_ADVANCED] = on_clock_advanced
    services.startup.append(worker.start)
    services.shutdown.append(worker.stop)
