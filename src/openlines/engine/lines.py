"""Lines from the configuration file: applied at every start, idempotently."""

from __future__ import annotations

from openlines.domain.openlines import Line
from openlines.services import Services


async def apply_config_lines(services: Services) -> None:
    """Upsert each ``[[lines]]`` table. Settings changed over REST survive unless the file sets them."""
    store = services.store
    now = services.clock.now()
    async with store.atomic():
        for declared in services.config.lines:
            existing = await store.get_line(declared.id)
            settings = dict(existing.settings) if existing else {}
            settings.update(declared.settings)
            await store.save_line(
                Line(
                    id=declared.id,
                    name=declared.name,
                    active=declared.active,
                    queue_type=declared.queue_type,
                    settings=settings,
                    queue=list(declared.queue),
                    date_create=existing.date_create if existing else now,
                    date_modify=now,
                    modify_user_id=existing.modify_user_id if existing else 0,
                )
            )
