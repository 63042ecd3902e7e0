"""Bulk seeding for the scale workload: many stored sessions added offline through the store API,
in large transactions (one customer, one live-chat chat and one closed session each, like the
history a long-running portal accumulates)."""

from __future__ import annotations

import time
from collections.abc import Callable

from openlines.domain.openlines import Chat, Session, Status, user_code
from openlines.domain.users import User

CHUNK = 20_000
CONNECTOR = "livechat"


class BulkUnavailable(Exception):
    pass


async def add_sessions(
    db_path: str, count: int, line_id: int = 1, progress: Callable[[int], None] | None = None
) -> int:
    """Add ``count`` closed sessions to the SQLite database at ``db_path``; returns how many were added."""
    from openlines.store import open_store

    store = await open_store(db_path)
    try:
        await store.migrate()
        now = time.time()
        done = 0
        while done < count:
            size = min(CHUNK, count - done)
            async with store.atomic():
                for i in range(done, done + size):
                    customer = await store.create_user(
                        User(0, kind="customer", name=f"Visitor {i}", date_register=now)
                    )
                    external = f"bulk-{i}"
                    code = user_code(CONNECTOR, line_id, external, customer)
                    chat = Chat(
                        0,
                        type="L",
                        entity_type="LINES",
                        entity_id=code,
                        title=f"Visitor {i}",
                        line_id=line_id,
                        customer_id=customer,
                        connector=CONNECTOR,
                        external_chat_id=external,
                        date_create=now,
                    )
                    chat.id = await store.create_chat(chat)
                    session = Session(
                        0,
                        chat_id=chat.id,
                        line_id=line_id,
                        customer_id=customer,
                        user_code=code,
                        source=CONNECTOR,
                        status=Status.CLOSE,
                        owner_type="queue",
                        closed=True,
                        wait_answer=False,
                        date_create=now,
                        date_modify=now,
                        date_close=now,
                    )
                    await store.create_session(session)
                    chat.session_id = session.id
                    await store.save_chat(chat)
                    await store.add_member(chat.id, customer, now)
            done += size
            if progress is not None:
                progress(done)
        return done
    except AttributeError as exc:  # the store API this relies on has changed
        raise BulkUnavailable(f"bulk seeding needs a store method that is missing: {exc}") from exc
    finally:
        await store.close()
