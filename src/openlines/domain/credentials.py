"""Records of how callers authenticate: incoming webhooks, OAuth apps and their tokens."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Webhook:
    id: int
    user_id: int
    scopes: frozenset[str]
    title: str = ""


@dataclass(slots=True)
class App:
    id: int
    client_id: str
    secret_hash: str
    scopes: frozenset[str]
    install_user: int
    application_token: str
    redirect_uri: str = ""
    name: str = ""
    active: bool = True


@dataclass(slots=True)
class AccessToken:
    app_id: int
    client_id: str
    user_id: int
    scopes: frozenset[str]
    expires: float


@dataclass(slots=True)
class RefreshGrant:
    app_id: int
    user_id: int
    scopes: frozenset[str]
    expires: float


@dataclass(slots=True)
class AuthCode:
    app_id: int
    user_id: int
    scopes: frozenset[str]
    expires: float
