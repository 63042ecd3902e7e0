"""Stored credentials are HMAC-SHA256 digests under the server secret: fast to check on every
request (no slow password hash on the request path), useless to whoever reads the database."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def digest(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def new_token(length: int = 32) -> str:
    """A random token of ``[a-z0-9]``, like the real server's hex-looking tokens."""
    return secrets.token_hex(length // 2)


def new_webhook_code() -> str:
    return secrets.token_hex(8)
