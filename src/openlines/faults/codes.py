"""What an injected ``ERROR`` or ``STATUS`` fault answers: the real code, text and status where the
reference gives them (spec 1.11, behaviour 3.2), else 400 for an unknown code."""

from __future__ import annotations

from openlines.protocol.errors import RestError

KNOWN: dict[str, tuple[int, str]] = {
    "QUERY_LIMIT_EXCEEDED": (503, "Too many requests"),
    "OPERATION_TIME_LIMIT": (429, "Method is blocked due to operation time limit."),
    "OVERLOAD_LIMIT": (503, "REST API is blocked due to overload."),
    "INTERNAL_SERVER_ERROR": (500, "Internal server error"),
    "ERROR_UNEXPECTED_ANSWER": (500, "Server returned an unexpected response"),
    "ERROR_CORE": (500, "SQL query error!"),
    "expired_token": (401, "The access token provided has expired"),
    "invalid_token": (401, "Unable to get application by token"),
    "NO_AUTH_FOUND": (401, "Wrong authorization data"),
    "INVALID_CREDENTIALS": (401, "Invalid request credentials"),
    "insufficient_scope": (401, "The request requires higher privileges than provided by the access token"),
    "ACCESS_DENIED": (403, "Access denied!"),
    "WRONG_AUTH_TYPE": (403, "Current authorization type is denied for this method"),
    "ERROR_METHOD_NOT_FOUND": (404, "Method not found!"),
    "PORTAL_DELETED": (403, "Portal was deleted"),
}
BY_STATUS: dict[int, str] = {
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
    502: "BAD_GATEWAY",
    504: "GATEWAY_TIMEOUT",
    429: "TOO_MANY_REQUESTS",
}


def known_code(code: str) -> tuple[int, str] | None:
    """The reference's status and text for ``code`` (exact case first, then any case)."""
    if code in KNOWN:
        return KNOWN[code]
    for known, answer in KNOWN.items():
        if known.lower() == code.lower():
            return answer
    return None


def fault_error(code: str, status: int | None, description: str) -> RestError:
    """The error a fault answers: ``code`` (or one derived from ``status``) with its real status."""
    if not code:
        assert status is not None
        code = BY_STATUS.get(status, "INJECTED_FAULT")
        return RestError(code, description or f"Injected fault: HTTP {status}", status)
    known = known_code(code)
    real_status, real_text = known if known is not None else (400, f"Injected fault: {code}")
    return RestError(code, description or real_text, status or real_status)
