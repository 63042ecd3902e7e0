"""The body and headers of one event POST.

Body (form-encoded, see :mod:`openlines.delivery.encoding`)::

    event=ONIMBOTMESSAGEADD            upper-case event code
    event_handler_id=12                the binding that asked for it
    data[...]                          the event's data, as the outbox row holds it
    ts=1771928985                      unix time of this attempt
    auth[domain], auth[client_endpoint], auth[server_endpoint], auth[member_id],
    auth[application_token]

``auth`` carries what the real server sends to every handler; tokens for an OAuth app's bots are
added to the delivery before it is encoded (:mod:`openlines.delivery.tokens`).

Headers beside Bitrix24's:

* ``X-Openlines-Delivery``: the idempotency key, the same on every retry of the event;
* ``X-Openlines-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body, keyed by the
  ``application_token`` the body carries (an app's token, or the CLIENT_ID of a webhook bot).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from openlines.delivery import encoding
from openlines.domain.delivery import Delivery, split_payload
from openlines.services import Portal

DELIVERY_HEADER = "X-Openlines-Delivery"
SIGNATURE_HEADER = "X-Openlines-Signature"
EVENT_HEADER = "X-Openlines-Event"
CONTENT_TYPE = "application/x-www-form-urlencoded"


def auth_block(portal: Portal, application_token: str) -> dict[str, str]:
    return {
        "domain": portal.domain,
        "client_endpoint": portal.client_endpoint,
        "server_endpoint": portal.server_endpoint,
        "member_id": portal.member_id,
        "application_token": application_token,
    }


def split(payload: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``(data, auth)`` of an outbox payload (see :func:`openlines.domain.delivery.split_payload`)."""
    return split_payload(payload)


def application_token(delivery: Delivery) -> str:
    """The row's own token (an app binding's), else the one its producer put in ``auth``."""
    if delivery.app_token:
        return delivery.app_token
    return str(split(delivery.payload)[1].get("application_token", ""))


def envelope(delivery: Delivery, portal: Portal, ts: float) -> dict[str, Any]:
    data, auth = split(delivery.payload)
    return {
        "event": delivery.event.upper(),
        "event_handler_id": str(delivery.handler_id),
        "data": data,
        "ts": str(int(ts)),
        "auth": {**auth, **auth_block(portal, application_token(delivery))},
    }


def body(delivery: Delivery, portal: Portal, ts: float) -> bytes:
    return encoding.encode(envelope(delivery, portal, ts)).encode("ascii")


def delivery_key(portal: Portal, delivery_id: int) -> str:
    """Unique per portal and event; a handler that stores it can drop repeated deliveries."""
    return f"{portal.member_id[:12]}-{delivery_id}"


def signature(key: str, payload: bytes) -> str:
    return "sha256=" + hmac.new(key.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def verify(key: str, payload: bytes, header: str) -> bool:
    """What a handler does with the signature header (also used by the tests and the docs)."""
    return hmac.compare_digest(signature(key, payload), header)


def headers(delivery: Delivery, portal: Portal, payload: bytes) -> dict[str, str]:
    found = {
        "Content-Type": CONTENT_TYPE,
        DELIVERY_HEADER: delivery_key(portal, delivery.id),
        EVENT_HEADER: delivery.event.upper(),
    }
    key = application_token(delivery)
    if key:
        found[SIGNATURE_HEADER] = signature(key, payload)
    return found
