"""The ``/rest/...`` endpoint: URL → method → credentials → call → envelope.

Order follows the real server (reference 1.12): the method is looked up before authentication, so an
unknown method is a 404 whatever the credentials; then authentication and scope; then the handler.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from openlines.auth.authenticate import Credentials, authenticate
from openlines.methods.invoke import invoke
from openlines.protocol import errors
from openlines.protocol.envelope import JSON_HEADERS, Timing, php_json, success_body
from openlines.protocol.errors import RestError
from openlines.protocol.request import (
    bearer_token,
    header,
    is_https,
    parse_params,
    parse_rest_path,
    read_body,
)
from openlines.services import Services
from openlines.store.base import LockConflict, StoreUnavailable

log = logging.getLogger("openlines.rest")

Send = Any


async def send_json(
    send: Send, status: int, body: bytes, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    if extra_headers:
        headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: RestError) -> None:
    await send_json(send, error.status, php_json(error.body()))


def error_for(exc: BaseException) -> RestError:
    """Map any failure to a wire error; only genuine bugs become 500, and they are logged."""
    if isinstance(exc, RestError):
        return exc
    if isinstance(exc, StoreUnavailable):
        return errors.service_unavailable(f"Storage is unavailable: {exc}")
    if isinstance(exc, LockConflict):  # PostgreSQL: a row another worker holds, or a deadlock: refused
        return RestError("OPERATOR_WRONG", "You can not redirect to this operator", 400)
    log.exception("unhandled error while serving a REST call", exc_info=exc)
    return errors.internal_error()


async def handle_rest(services: Services, scope: dict[str, Any], receive: Any, send: Send) -> None:
    if scope["method"] == "OPTIONS":  # CORS preflight
        await send_json(send, 200, b"")
        return
    clock = services.clock
    started = clock.now()
    began = time.perf_counter()
    try:
        path = parse_rest_path(scope["path"])
        if path is None:
            raise errors.method_not_found()
        method = services.registry.find(path.method) if path.method else None
        if method is None:
            raise errors.method_not_found()
        body = await read_body(scope, receive, services.config.server.body_limit)
        params = await parse_params(scope, body)
        creds = Credentials(
            hook_user=path.hook_user,
            hook_code=path.hook_code,
            bearer=bearer_token(scope),
            params=params,
            csrf_header=header(scope, b"x-bitrix-csrf-token"),
            https=is_https(scope, services.config.server.trust_forwarded),
        )
        caller = await authenticate(services, creds)
        limits = services.extras.get("limits")
        if limits is not None:
            await limits.before_call(method, caller, scope)
        result, processing = await invoke(services, method, caller, params)
        elapsed = time.perf_counter() - began
        timing = Timing(started, started + elapsed, processing, operating=0.0)
        if limits is not None:
            await limits.after_call(method, caller, elapsed, timing)
        payload = php_json(success_body(result, timing.block(clock)))
    except Exception as exc:  # every failure answers in the envelope, never as a traceback
        await send_error(send, error_for(exc))
        return
    await send_json(send, 200, payload)
