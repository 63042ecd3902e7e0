"""An OpenAPI 3 document generated from the registry, so the whole API can be read and fuzzed."""

from __future__ import annotations

from typing import Any

from openlines import __version__
from openlines.methods.registry import Method, Registry

_TYPES: dict[str, dict[str, Any]] = {
    "integer": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
    "string": {"type": "string"},
    "boolean": {"oneOf": [{"type": "boolean"}, {"type": "string"}]},
    "object": {"type": "object"},
    "array": {"type": "array"},
    "any": {},
}

_ERROR = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}


def _operation(method: Method) -> dict[str, Any]:
    properties = {p.name: {**_TYPES[p.type], "description": p.description} for p in method.params}
    required = [p.name for p in method.params if p.required]
    body_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        body_schema["required"] = required
    responses: dict[str, Any] = {
        "200": {
            "description": "Success envelope",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["result", "time"],
                        "properties": {
                            "result": {},
                            "total": {"type": "integer"},
                            "next": {"type": "integer"},
                            "time": {"type": "object"},
                        },
                    }
                }
            },
        }
    }
    for status in ("400", "401", "403", "404", "413", "429", "503"):
        responses[status] = {
            "description": "Error envelope",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return {
        "operationId": method.name,
        "summary": method.description.strip().splitlines()[0] if method.description.strip() else method.name,
        "tags": [method.scope],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {"schema": body_schema},
                "application/x-www-form-urlencoded": {"schema": body_schema},
            },
        },
        "responses": responses,
        "security": [{"webhook": []}, {"bearer": []}],
    }


def document(registry: Registry, server_url: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method in sorted(registry.methods.values(), key=lambda m: m.name):
        if method.hidden:
            continue
        paths[f"/rest/{method.name}"] = {"post": _operation(method)}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "openlines REST API",
            "version": __version__,
            "description": "Bitrix24-compatible Open Lines and chat-bot methods. Every method also answers "
            "GET, the /rest/USER_ID/CODE/METHOD webhook form and the .json suffix.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "webhook": {"type": "apiKey", "in": "query", "name": "auth"},
            }
        },
    }
