"""``user.current``, ``user.get`` and ``user.search`` with the real filter prefix operators."""

from __future__ import annotations

import re
from typing import Any

from openlines.clock import Clock
from openlines.domain.users import User
from openlines.methods.registry import Call, Param, Registry, page_bounds
from openlines.protocol import php
from openlines.protocol.envelope import ListPage

PAGE = 50

# Prefixes longest first, so ``>=`` is not read as ``>``.
_OPERATORS = ("!=%", "!%=", "=%", "%=", "!%", "!@", "!=", ">=", "<=", "@", "%", ">", "<", "!", "=")


def user_fields(user: User, clock: Clock) -> dict[str, Any]:
    """A user as the real ``user.get`` shows one (ids as strings, ACTIVE a boolean)."""
    registered = clock.iso(user.date_register) if user.date_register else ""
    return {
        "ID": str(user.id),
        "XML_ID": "",
        "ACTIVE": user.active,
        "NAME": user.name,
        "LAST_NAME": user.last_name,
        "SECOND_NAME": "",
        "EMAIL": user.email,
        "LAST_LOGIN": registered,
        "DATE_REGISTER": registered,
        "TIME_ZONE": "",
        "IS_ONLINE": "Y" if user.extra.get("online") else "N",
        "TIMESTAMP_X": registered,
        "LAST_ACTIVITY_DATE": registered,
        "PERSONAL_GENDER": user.gender,
        "PERSONAL_WWW": "",
        "PERSONAL_BIRTHDAY": "",
        "PERSONAL_MOBILE": "",
        "PERSONAL_CITY": "",
        "WORK_PHONE": "",
        "WORK_POSITION": user.work_position,
        "UF_EMPLOYMENT_DATE": "",
        "UF_DEPARTMENT": [1],
        "USER_TYPE": "extranet" if user.extranet else "employee",
    }


def _split_operator(key: str) -> tuple[str, str]:
    for op in _OPERATORS:
        if key.startswith(op):
            return op, key[len(op) :]
    return "=", key


def _like(needle: str, haystack: str) -> bool:
    if "%" in needle or "_" in needle:
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in needle)
        return re.fullmatch(pattern, haystack, re.IGNORECASE | re.DOTALL) is not None
    return needle.lower() in haystack.lower()


def _compare(value: Any, wanted: Any) -> int:
    """Compare as numbers when both look numeric, else as case-insensitive strings."""
    try:
        a, b = float(value), float(wanted)
    except (TypeError, ValueError):
        a_s, b_s = str(value).lower(), str(wanted).lower()
        return (a_s > b_s) - (a_s < b_s)
    return (a > b) - (a < b)


def _matches(op: str, value: Any, wanted: Any) -> bool:
    if isinstance(value, bool):
        value = "Y" if value else "N"
        if isinstance(wanted, bool):
            wanted = "Y" if wanted else "N"
        elif str(wanted).lower() in ("true", "1"):
            wanted = "Y"
        elif str(wanted).lower() in ("false", "0"):
            wanted = "N"
    if isinstance(value, list):
        values = [str(v) for v in value]
        wanted_list = [str(w) for w in php.as_items(wanted)] or [str(wanted)]
        hit = any(w in values for w in wanted_list)
        return not hit if op.startswith("!") else hit
    if op in ("@", "!@") or isinstance(wanted, (list, dict)):
        options = [str(w).lower() for w in php.as_items(wanted)]
        hit = str(value).lower() in options
        return not hit if op.startswith("!") else hit
    text = php.php_str(wanted)
    if op in ("%", "=%", "%="):
        return _like(text, str(value))
    if op in ("!%", "!=%", "!%="):
        return not _like(text, str(value))
    if op in ("!", "!="):
        return _compare(value, text) != 0
    if op == ">":
        return _compare(value, text) > 0
    if op == ">=":
        return _compare(value, text) >= 0
    if op == "<":
        return _compare(value, text) < 0
    if op == "<=":
        return _compare(value, text) <= 0
    return _compare(value, text) == 0


def _filter_from(call: Call, fields_known: set[str]) -> list[tuple[str, str, Any]]:
    raw = call.get("FILTER")
    conditions: list[tuple[str, str, Any]] = []
    source: dict[str, Any] = raw if isinstance(raw, dict) else {}
    # Field keys may also be given at the top level (user.get's older form).
    for key, value in call.params.items():
        _, field = _split_operator(str(key))
        if field.upper() in fields_known:
            source = {**source, key: value} if key not in source else source
    for key, value in source.items():
        op, field = _split_operator(str(key))
        conditions.append((op, field.upper(), value))
    return conditions


def _active_wanted(wanted: Any) -> bool:
    """ACTIVE accepts true/false, Y/N, 1/0 (true means: leave dismissed users out)."""
    if isinstance(wanted, str):
        return wanted.strip().lower() not in ("n", "false", "0", "")
    return php.php_truthy(wanted)


def _apply(users: list[dict[str, Any]], conditions: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    out = []
    for user in users:
        ok = True
        for op, field, wanted in conditions:
            if field == "ACTIVE":
                ok = user["ACTIVE"] == _active_wanted(wanted)
                ok = not ok if op.startswith("!") else ok
            elif field in user:
                ok = _matches(op, user[field], wanted)
            # unknown filter fields are ignored, as the real server ignores them
            if not ok:
                break
        if ok:
            out.append(user)
    return out


def _sort(users: list[dict[str, Any]], call: Call) -> list[dict[str, Any]]:
    field = call.str("SORT").upper() or "ID"
    descending = call.str("ORDER").upper() == "DESC"
    if users and field not in users[0]:
        field = "ID"

    def key(user: dict[str, Any]) -> tuple[int, float, str]:
        value = user.get(field)
        try:
            return (0, float(value), "")  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return (1, 0.0, str(value).lower())

    return sorted(users, key=key, reverse=descending)


def _page(users: list[dict[str, Any]], call: Call) -> ListPage:
    offset, count = page_bounds(call)
    items = users[offset : offset + PAGE]
    if not count:
        return ListPage(items, total=0)
    total = len(users)
    next_offset = offset + len(items) if offset + len(items) < total else None
    return ListPage(items, total=total, next=next_offset)


def register(registry: Registry) -> None:
    @registry.method("user.current", "user", description="The calling user.")
    async def current(call: Call) -> Any:
        user = await call.services.store.get_user(call.caller.user_id)
        return user_fields(user, call.services.clock) if user is not None else []

    @registry.method(
        "user.get",
        "user",
        Param(
            "FILTER",
            "object",
            False,
            "Field conditions; keys may carry >=, >, <=, <, @, !@, %, !%, =, != prefixes",
        ),
        Param("sort", "string", False, "Field to sort by"),
        Param("order", "string", False, "ASC or DESC"),
        Param("start", "integer", False, "Offset; pages of 50; -1 skips the count"),
        description="Employees matching a filter, 50 a page.",
        list_method=True,
    )
    async def get(call: Call) -> ListPage:
        clock = call.services.clock
        users = [user_fields(u, clock) for u in await call.services.store.list_users()]
        known = set(users[0]) if users else set(user_fields(User(0), clock))
        conditions = _filter_from(call, known | {"USER_TYPE", "NAME_SEARCH"})
        search = [c for c in conditions if c[1] == "NAME_SEARCH"]
        conditions = [c for c in conditions if c[1] != "NAME_SEARCH"]
        found = _apply(users, conditions)
        for _, _, text in search:
            found = [u for u in found if _name_search(u, php.php_str(text))]
        return _page(_sort(found, call), call)

    @registry.method(
        "user.search",
        "user",
        Param("FILTER", "object", False, "NAME, LAST_NAME, WORK_POSITION, USER_TYPE, or FIND alone"),
        Param("sort", "string", False, "Field to sort by"),
        Param("order", "string", False, "ASC or DESC"),
        Param("start", "integer", False, "Offset; pages of 50"),
        description="Find employees by name, position or free text.",
        list_method=True,
    )
    async def search(call: Call) -> ListPage:
        clock = call.services.clock
        users = [user_fields(u, clock) for u in await call.services.store.list_users()]
        raw = call.get("FILTER")
        flt: dict[str, Any] = {str(k).upper(): v for k, v in raw.items()} if isinstance(raw, dict) else {}
        for key in ("FIND", "NAME", "LAST_NAME", "WORK_POSITION", "USER_TYPE"):
            if key in call.params and key not in flt:
                flt[key] = call.params[key]
        if "FIND" in flt:
            text = php.php_str(flt["FIND"])
            found = [u for u in users if _name_search(u, text)]
        else:
            conditions = [("%", k, v) for k, v in flt.items() if k in ("NAME", "LAST_NAME", "WORK_POSITION")]
            conditions += [("=", k, v) for k, v in flt.items() if k == "USER_TYPE"]
            found = _apply(users, conditions)
        return _page(_sort(found, call), call)


def _name_search(user: dict[str, Any], text: str) -> bool:
    haystack = " ".join(str(user[k]) for k in ("NAME", "LAST_NAME", "EMAIL", "WORK_POSITION")).lower()
    return all(word in haystack for word in text.lower().split())
