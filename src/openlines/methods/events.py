"""``event.*``: an application's event subscriptions (scope ``basic``, application context only).

* ``event.bind`` (EVENT, HANDLER, AUTH_TYPE, EVENT_TYPE online|offline) → ``true``;
* ``event.unbind`` (EVENT, HANDLER, AUTH_TYPE, EVENT_TYPE) → ``{"count": N}``;
* ``event.get`` → ``[{event, handler, auth_type, offline}]`` (the app's bindings, bot handlers
  included once they have had an event);
* ``event.offline.get`` (FILTER, LIMIT, CLEAR, PROCESS_ID, ERROR) → ``{process_id, events}``;
* ``event.offline.list`` (read only) and ``event.offline.clear`` (PROCESS_ID, ID[]).

Incoming webhooks have no application, so they get 403 ``WRONG_AUTH_TYPE`` "Current authorization
type is denied for this method Application context required", as the real server answers.
Binding and unbinding need a portal administrator (403 ``ACCESS_DENIED``).
"""

from __future__ import annotations

import secrets
from typing import Any

from openlines.domain.delivery import Binding, is_http_url
from openlines.engine.events import bindings_changed
from openlines.methods.registry import GLOBAL_SCOPE, Call, Param, Registry
from openlines.protocol import errors, php
from openlines.protocol.errors import RestError

OFFLINE_LIMIT = 50
OFFLINE_MAX = 1000

# Events an app may bind (upper case). Bot events come from imbot.register handler URLs instead.
BINDABLE = frozenset(
    {
        "ONAPPINSTALL",
        "ONAPPUNINSTALL",
        "ONAPPUPDATE",
        "ONSESSIONSTART",
        "ONSESSIONFINISH",
        "ONOPENLINEMESSAGEADD",
        "ONOPENLINEMESSAGEUPDATE",
        "ONOPENLINEMESSAGEDELETE",
        "ONIMCONNECTORMESSAGEADD",
        "ONIMCONNECTORMESSAGEUPDATE",
        "ONIMCONNECTORMESSAGEDELETE",
        "ONIMCONNECTORDIALOGSTART",
        "ONIMCONNECTORDIALOGFINISH",
        "ONIMCONNECTORLINEDELETE",
        "ONIMCONNECTORSTATUSDELETE",
        "ONOPENLINESSESSIONTRANSFER",  # openlines' own: every owner change of a session
        "ONOFFLINEEVENT",
    }
)


def event_not_found() -> RestError:
    return RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)


def already_bound() -> RestError:
    return RestError("ERROR_CORE", "Handler already binded", 400)


def wrong_handler() -> RestError:
    return RestError("ERROR_HANDLER_URL", "Wrong handler URL", 400)


def _event_name(call: Call) -> str:
    name = call.str("EVENT").strip().upper()
    if not name:
        raise errors.argument_error("EVENT", "Argument 'EVENT' is null or empty")
    return name


def _offline(call: Call) -> bool:
    kind = call.str("EVENT_TYPE", "online").strip().lower()
    return kind == "offline"


def _handler_url(call: Call) -> str:
    handler = call.str("HANDLER").strip()
    if not handler:
        raise errors.argument_error("HANDLER", "Argument 'HANDLER' is null or empty")
    if not is_http_url(handler):
        raise wrong_handler()
    return handler


def _app_id(call: Call) -> str:
    return call.caller.client_id or ""


def _ids(value: Any) -> list[int] | None:
    if value is None:
        return None
    items = php.as_items(value) if isinstance(value, (list, dict)) else [value]
    return [php.php_int(i) for i in items if php.php_int(i) > 0]


def register(registry: Registry) -> None:
    app_only = {"app_context_only": True}

    @registry.method(
        "event.bind",
        GLOBAL_SCOPE,
        Param("event", "string", True, "Event name, e.g. OnSessionStart"),
        Param("handler", "string", False, "Handler URL (required for online events)"),
        Param("auth_type", "integer", False, "User whose tokens the event carries (0: the one who acted)"),
        Param("event_type", "string", False, "online (POSTed to the handler, default) or offline (queued)"),
        description="Subscribe the calling application to an event.",
        **app_only,
    )
    async def bind(call: Call) -> bool:
        services = call.services
        if not call.caller.admin:
            raise errors.access_denied()
        event = _event_name(call)
        offline = _offline(call)
        handler = "" if offline else _handler_url(call)
        if event not in BINDABLE:
            raise event_not_found()
        binding = Binding(
            id=0,
            app_id=_app_id(call),
            event=event,
            handler=handler,
            auth_type=max(call.int("AUTH_TYPE"), 0),
            offline=offline,
            created=services.clock.now(),
        )
        async with services.store.atomic():
            made = await services.store.bind_event(binding)
        await bindings_changed(services)
        if made is None:
            raise already_bound()
        return True

    @registry.method(
        "event.unbind",
        GLOBAL_SCOPE,
        Param("event", "string", True, "Event name"),
        Param("handler", "string", False, "Only this handler URL (default: every handler of the event)"),
        Param("auth_type", "integer", False, "Only bindings with this auth_type"),
        Param("event_type", "string", False, "online (default) or offline"),
        description="Remove the calling application's bindings of an event; answers how many went.",
        **app_only,
    )
    async def unbind(call: Call) -> dict[str, int]:
        if not call.caller.admin:
            raise errors.access_denied()
        event = _event_name(call)
        offline = _offline(call)
        handler = None if offline or not call.has("HANDLER") else call.str("HANDLER").strip()
        auth_type = call.int("AUTH_TYPE") if call.has("AUTH_TYPE") else None
        async with call.services.store.atomic():
            count = await call.services.store.unbind_event(_app_id(call), event, handler, auth_type, offline)
        await bindings_changed(call.services)
        return {"count": count}

    @registry.method(
        "event.get", GLOBAL_SCOPE, description="The calling application's event handlers.", **app_only
    )
    async def get(call: Call) -> list[dict[str, Any]]:
        bindings = await call.services.store.list_bindings(_app_id(call))
        return [
            {
                "event": b.event,
                "handler": b.handler,
                "auth_type": str(b.auth_type),
                "offline": 1 if b.offline else 0,
            }
            for b in bindings
        ]

    @registry.method(
        "event.offline.get",
        GLOBAL_SCOPE,
        Param("limit", "integer", False, f"How many events (default {OFFLINE_LIMIT}, at most {OFFLINE_MAX})"),
        Param(
            "clear", "integer", False, "1 (default): remove what is returned; 0: reserve it under PROCESS_ID"
        ),
        Param("process_id", "string", False, "Continue a reservation"),
        Param("error", "integer", False, "1: include events marked as failed"),
        description="Take queued offline events of the calling application (oldest first).",
        **app_only,
    )
    async def offline_get(call: Call) -> dict[str, Any]:
        store = call.services.store
        limit = call.int("LIMIT") if call.has("LIMIT") else OFFLINE_LIMIT
        limit = min(max(limit, 1), OFFLINE_MAX)
        clear = php.php_truthy(call.get("CLEAR", "1"))
        process_id = call.str("PROCESS_ID") or None
        app_id = _app_id(call)
        async with store.atomic():
            events = await store.offline_events(
                app_id, limit, php.php_truthy(call.get("ERROR")), process_id if process_id else None
            )
            if not process_id and not clear:
                process_id = secrets.token_hex(16)
            ids = [e["ID"] for e in events]
            if clear:
                await store.clear_offline_events(app_id, ids, None)
            elif process_id:
                await store.reserve_offline_events(ids, process_id)
        clock = call.services.clock
        return {
            "process_id": None if clear else process_id,
            "events": [
                _offline_row(e, clock.iso(e["CREATED"]), None if clear else process_id) for e in events
            ],
        }

    @registry.method(
        "event.offline.list",
        GLOBAL_SCOPE,
        description="Read the calling application's offline queue without changing it.",
        **app_only,
    )
    async def offline_list(call: Call) -> list[dict[str, Any]]:
        events = await call.services.store.offline_events(
            _app_id(call), OFFLINE_MAX, with_errors=True, everything=True
        )
        clock = call.services.clock
        return [_offline_row(e, clock.iso(e["CREATED"]), e["PROCESS_ID"] or None) for e in events]

    @registry.method(
        "event.offline.clear",
        GLOBAL_SCOPE,
        Param("process_id", "string", True, "The reservation made by event.offline.get with clear=0"),
        Param("id", "array", False, "Only these event ids"),
        description="Remove reserved offline events.",
        **app_only,
    )
    async def offline_clear(call: Call) -> bool:
        process_id = call.str("PROCESS_ID")
        if not process_id:
            raise errors.argument_error("PROCESS_ID", "Argument 'PROCESS_ID' is null or empty")
        async with call.services.store.atomic():
            await call.services.store.clear_offline_events(_app_id(call), _ids(call.get("ID")), process_id)
        return True


def _offline_row(event: dict[str, Any], when: str, process_id: str | None) -> dict[str, Any]:
    return {
        "ID": str(event["ID"]),
        "TIMESTAMP_X": when,
        "EVENT_NAME": event["EVENT_NAME"],
        "EVENT_DATA": event["EVENT_DATA"],
        "EVENT_ADDITIONAL": event["EVENT_ADDITIONAL"],
        "MESSAGE_ID": str(event["MESSAGE_ID"]),
        "PROCESS_ID": process_id,
        "ERROR": str(event["ERROR"]),
    }
