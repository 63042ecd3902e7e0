"""The built-in demo portal for ``openlines serve --demo``: an admin, three operators, two lines,
a webhook with every scope and one OAuth app. Credentials are fixed so the README can show them;
they are for a local machine only."""

from __future__ import annotations

from typing import Any

from openlines.config import VALID_SCOPES

DEMO_WEBHOOK_CODE = "demo_webhook_code"
DEMO_CLIENT_ID = "local.demo.app"
DEMO_CLIENT_SECRET = "demo_client_secret"


def demo_tables() -> dict[str, Any]:
    return {
        "users": [
            {
                "id": 1,
                "name": "Alex",
                "last_name": "Admin",
                "email": "admin@example.test",
                "admin": True,
                "work_position": "Administrator",
            },
            {
                "id": 2,
                "name": "Olga",
                "last_name": "Operator",
                "email": "olga@example.test",
                "work_position": "Support agent",
                "gender": "F",
            },
            {
                "id": 3,
                "name": "Oscar",
                "last_name": "Operator",
                "email": "oscar@example.test",
                "work_position": "Support agent",
                "gender": "M",
            },
            {
                "id": 4,
                "name": "Sara",
                "last_name": "Sales",
                "email": "sara@example.test",
                "work_position": "Sales manager",
                "gender": "F",
            },
            {"id": 5, "name": "Eve", "last_name": "External", "email": "eve@partner.test", "extranet": True},
        ],
        "lines": [
            {"id": 1, "name": "Support", "queue": [2, 3], "queue_type": "evenly"},
            {"id": 2, "name": "Sales", "queue": [4, 3], "queue_type": "strictly"},
        ],
        "webhooks": [{"user": 1, "code": DEMO_WEBHOOK_CODE, "scopes": list(VALID_SCOPES)}],
        "apps": [
            {
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "scopes": list(VALID_SCOPES),
                "install_user": 1,
                "name": "Demo app",
            }
        ],
    }


def merge_demo(raw: dict[str, Any]) -> dict[str, Any]:
    """Add the demo tables to a configuration; what the file declares itself wins on id clashes."""
    merged = dict(raw)
    demo = demo_tables()
    for table, key in (("users", "id"), ("lines", "id"), ("webhooks", "code"), ("apps", "client_id")):
        own = list(raw.get(table, []))
        taken = {item.get(key) for item in own if isinstance(item, dict)}
        merged[table] = own + [item for item in demo[table] if item[key] not in taken]
    return merged
