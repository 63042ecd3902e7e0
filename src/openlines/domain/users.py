"""Users of the portal: employees (operators), chat bots and customers (connector users)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

UserKind = Literal["employee", "bot", "customer"]


@dataclass(slots=True)
class User:
    id: int
    kind: UserKind = "employee"
    name: str = ""
    last_name: str = ""
    email: str = ""
    work_position: str = ""
    gender: str = ""
    active: bool = True
    extranet: bool = False
    admin: bool = False
    date_register: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.name, self.last_name) if part) or f"User {self.id}"

    @property
    def is_employee(self) -> bool:
        return self.kind == "employee"

    @property
    def can_operate(self) -> bool:
        """Whether a dialogue may be handed to this user (the real server's refusal list)."""
        return self.kind == "employee" and self.active and not self.extranet
