"""Every error the wire can carry, as one exception type with the Bitrix24 code, text and status.

The texts are the real server's (see the reference notes): clients compare codes, and people
compare texts, so both are kept byte for byte.
"""

from __future__ import annotations

from typing import Any


class RestError(Exception):
    """An error answered with the Bitrix24 envelope ``{"error", "error_description", ...extra}``."""

    def __init__(self, code: str, description: str, status: int = 400, **extra: Any) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description, **self.extra}


# --- protocol-level errors (raised by the REST layer itself) ---------------------------------------


def method_not_found() -> RestError:
    return RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


def batch_method_not_allowed() -> RestError:
    return RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)


def batch_length_exceeded() -> RestError:
    return RestError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400)


def body_too_large(limit: int) -> RestError:
    return RestError(
        "REQUEST_ENTITY_TOO_LARGE", f"Request body is larger than the server limit of {limit} bytes", 413
    )


def wrong_transport() -> RestError:
    # The real server answers 500 for an unknown transport; openlines never answers 500 for input.
    return RestError(
        "INTERNAL_WRONG_TRANSPORT", "Wrong transport! openlines serves the JSON transport only", 400
    )


def argument_error(argument: str, description: str) -> RestError:
    return RestError("ERROR_ARGUMENT", description, 400, argument=argument)


def internal_error() -> RestError:
    return RestError("INTERNAL_SERVER_ERROR", "Internal server error", 500)


# --- authentication (all 401 as the real server raises them; behaviour notes 3.7) ----------------


def no_auth_found() -> RestError:
    return RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)


def invalid_credentials() -> RestError:
    return RestError("INVALID_CREDENTIALS", "Invalid request credentials", 401)


def https_required() -> RestError:
    return RestError("INVALID_REQUEST", "Https required.", 401)


def webhook_insufficient_scope() -> RestError:
    return RestError(
        "insufficient_scope", "The request requires higher privileges than provided by the webhook token", 401
    )


def token_insufficient_scope() -> RestError:
    return RestError(
        "insufficient_scope", "The request requires higher privileges than provided by the access token", 401
    )


def expired_token() -> RestError:
    return RestError("expired_token", "The access token provided has expired", 401)


def invalid_token() -> RestError:
    return RestError("invalid_token", "Unable to get application by token", 401)


def application_not_found() -> RestError:
    return RestError("APPLICATION_NOT_FOUND", "Application not found", 401)


def authorization_error() -> RestError:
    return RestError("authorization_error", "Unable to authorize user", 401)


def session_not_authorized(sessid: str) -> RestError:
    return RestError(
        "access_denied", "User not authorized", 401, sessid=sessid, extended_error="user_not_authorized"
    )


def session_auth_forbidden() -> RestError:
    return RestError("WRONG_AUTH_TYPE", "Access for this method not allowed by session authorization.", 403)


def application_context_required() -> RestError:
    return RestError(
        "WRONG_AUTH_TYPE",
        "Current authorization type is denied for this method Application context required",
        403,
    )


def access_denied(detail: str = "") -> RestError:
    text = "Access denied!" + (" " + detail if detail else "")
    return RestError("ACCESS_DENIED", text, 403)


# --- limits ------------------------------------------------------------------------------------


def query_limit_exceeded() -> RestError:
    return RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)


def operation_time_limit() -> RestError:
    return RestError("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429)


def service_unavailable(detail: str) -> RestError:
    return RestError("SERVICE_UNAVAILABLE", detail, 503)
