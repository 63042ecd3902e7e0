"""Line settings on the wire (``imopenlines.config.*``): the field list, how a line is shown, how
PARAMS change a line, and the ``config.list.get`` query (select / order / filter / limit / offset).

Pure rules: no I/O. Checks that need the store (does a bot or user exist) are done by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openlines.domain.openlines import LINE_DEFAULTS, Line
from openlines.protocol import php

QUEUE_TYPES = ("evenly", "strictly", "all")

# Settings beyond LINE_DEFAULTS that the real server returns; values as PHP gives them (strings).
EXTRA_DEFAULTS: dict[str, Any] = {
    "CRM_CREATE": "none",
    "CRM_SOURCE": "create",
    "CRM_TRANSFER_CHANGE": "Y",
    "WATCH_TYPING": "Y",
    "AGREEMENT_MESSAGE": "N",
    "AGREEMENT_ID": 0,
    "CATEGORY_ENABLE": "N",
    "CATEGORY_ID": 0,
    "VOTE_BEFORE_FINISH": "Y",
    "VOTE_CLOSING_DELAY": "N",
    "VOTE_TIME_LIMIT": 0,
    "WORKTIME_ENABLE": "N",
    "WORKTIME_FROM": "9",
    "WORKTIME_TO": "18.30",
    "WORKTIME_TIMEZONE": "",
    "WORKTIME_HOLIDAYS": "",
    "WORKTIME_DAYOFF": "",
    "WORKTIME_DAYOFF_RULE": "text",
    "WORKTIME_DAYOFF_TEXT": "",
    "AUTO_CLOSE_TEXT": "",
    "AUTO_EXPIRE_TIME": 86400,
    "TEMPORARY": "N",
    "XML_ID": "",
    "QUICK_ANSWERS_IBLOCK_ID": 0,
    "SESSION_PRIORITY": 0,
    "OPERATOR_DATA": "profile",
    "DEFAULT_OPERATOR_DATA": "",
    "SEND_NOTIFICATION_EMPTY_QUEUE": "N",
    "USE_WELCOME_FORM": "N",
    "WELCOME_FORM_ID": 0,
    "WELCOME_FORM_DELAY": "Y",
    "SEND_WELCOME_EACH_SESSION": "N",
    "CONFIRM_CLOSE": "Y",
    "IGNORE_WELCOME_FORM_RESPONSIBLE": "N",
}
DEFAULTS: dict[str, Any] = {**LINE_DEFAULTS, **EXTRA_DEFAULTS}

# Fields kept on the Line record itself rather than in its settings.
RECORD_FIELDS = ("ID", "ACTIVE", "LINE_NAME", "QUEUE_TYPE", "DATE_CREATE", "DATE_MODIFY", "MODIFY_USER_ID")
READ_ONLY = frozenset({"ID", "DATE_CREATE", "DATE_MODIFY", "MODIFY_USER_ID"})
FIELDS: tuple[str, ...] = RECORD_FIELDS + tuple(k for k in DEFAULTS if k not in RECORD_FIELDS)
# Extra blocks a caller may ask for; never usable in select / order / filter.
QUEUE_BLOCKS = frozenset({"QUEUE", "QUEUE_USERS_FIELDS", "CONFIG_QUEUE", "QUEUE_FULL", "QUEUE_ONLINE"})

YES_NO_FIELDS = frozenset(k for k, v in DEFAULTS.items() if v in ("Y", "N")) | {"ACTIVE"}
COUNT_FIELDS = frozenset(k for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool))
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "QUEUE_TYPE": QUEUE_TYPES,
    "WELCOME_BOT_JOIN": ("first", "always"),
    "WELCOME_BOT_LEFT": ("queue", "close"),
    "TYPE_MAX_CHAT": ("answered_new", "answered", "closed"),
}


class ConfigFormatError(Exception):
    """A PARAMS / OPTIONS problem, answered as 400 ``INVALID_FORMAT`` with this text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


# --- showing a line ---------------------------------------------------------------------------


def _wire(value: Any) -> Any:
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (int, float)):
        return php.php_str(value)
    return value if isinstance(value, str) else ""


def line_fields(line: Line, iso: Callable[[float], str]) -> dict[str, Any]:
    """Every field of a line, as strings in the real server's order of importance."""
    out: dict[str, Any] = {
        "ID": str(line.id),
        "ACTIVE": "Y" if line.active else "N",
        "LINE_NAME": line.name,
        "QUEUE_TYPE": line.queue_type,
        "DATE_CREATE": iso(line.date_create) if line.date_create else "",
        "DATE_MODIFY": iso(line.date_modify) if line.date_modify else "",
        "MODIFY_USER_ID": str(line.modify_user_id),
    }
    for key in FIELDS[len(RECORD_FIELDS) :]:
        out[key] = _wire(line.settings.get(key, DEFAULTS[key]))
    return out


# --- changing a line ---------------------------------------------------------------------------


@dataclass(slots=True)
class LineChange:
    """What a PARAMS object asks to change (already validated for format)."""

    record: dict[str, Any] = field(default_factory=dict)  # active, name, queue_type
    settings: dict[str, Any] = field(default_factory=dict)
    queue: list[int] | None = None


def _bad_value(key: str, expected: str) -> ConfigFormatError:
    return ConfigFormatError(f"A wrong value is passed in the PARAMS field '{key}': {expected} is expected")


def _yes_no(key: str, value: Any) -> str:
    if value is True or value == "Y":
        return "Y"
    if value is False or value == "N":
        return "N"
    raise _bad_value(key, "Y or N")


def _count(key: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise _bad_value(key, "a non-negative integer")
    if number < 0 or number > php.INT64_MAX:
        raise _bad_value(key, "a non-negative integer")
    return number


def _queue(value: Any) -> list[int]:
    """QUEUE as ``[{ENTITY_TYPE: user, ENTITY_ID: N}]`` or plain user ids."""
    if not isinstance(value, (list, dict)):
        raise _bad_value("QUEUE", "a list of users")
    ids: list[int] = []
    for item in php.as_items(value):
        if isinstance(item, dict):
            entity = {str(k).upper(): v for k, v in item.items()}
            kind = php.php_str(entity.get("ENTITY_TYPE", "user")).lower()
            if kind != "user":
                raise ConfigFormatError(
                    "Only users can be queue members here; "
                    f"the ENTITY_TYPE '{kind}' in the PARAMS field 'QUEUE' is not supported"
                )
            raw = entity.get("ENTITY_ID")
        else:
            raw = item
        if not php.is_scalar(raw) or php.php_int(raw) <= 0:
            raise _bad_value("QUEUE", "a list of user ids")
        ids.append(php.php_int(raw))
    return list(dict.fromkeys(ids))


def parse_params(params: Any) -> LineChange:
    """Validate the format of a PARAMS object; unknown and read-only keys are ignored."""
    if params is None or params == "" or params == []:
        return LineChange()
    if not isinstance(params, dict):
        raise ConfigFormatError("A wrong format for the field 'PARAMS' is passed")
    change = LineChange()
    for raw_key, value in params.items():
        key = str(raw_key).upper()
        if key == "QUEUE":
            change.queue = _queue(value)
            continue
        if key in READ_ONLY or key not in FIELDS:
            continue
        if isinstance(value, (dict, list)) or value is None:
            raise _bad_value(key, "a plain value")
        if key in YES_NO_FIELDS:
            flag = _yes_no(key, value)
            if key == "ACTIVE":
                change.record["active"] = flag == "Y"
            else:
                change.settings[key] = flag
        elif key in COUNT_FIELDS:
            change.settings[key] = _count(key, value)
        elif key in ENUM_FIELDS:
            text = php.php_str(value)
            if text not in ENUM_FIELDS[key]:
                raise _bad_value(key, " or ".join(ENUM_FIELDS[key]))
            if key == "QUEUE_TYPE":
                change.record["queue_type"] = text
            else:
                change.settings[key] = text
        elif key == "LINE_NAME":
            change.record["name"] = php.php_str(value).strip()
        else:
            change.settings[key] = php.php_str(value)
    return change


def apply_change(line: Line, change: LineChange, now: float, user_id: int) -> None:
    if "active" in change.record:
        line.active = change.record["active"]
    if change.record.get("name"):
        line.name = change.record["name"]
    if "queue_type" in change.record:
        line.queue_type = change.record["queue_type"]
    line.settings.update(change.settings)
    if line.setting("WELCOME_BOT_ENABLE") != "Y":
        line.settings["WELCOME_BOT_ID"] = 0  # the real server forces 0 while the bot is disabled
    if change.queue is not None:
        line.queue = list(change.queue)
    line.date_modify = now
    line.modify_user_id = user_id


# --- config.list.get ----------------------------------------------------------------------------

PARAMS_KEYS = ("select", "order", "filter", "limit", "offset")
OPTIONS_KEYS = ("QUEUE", "CONFIG_QUEUE", "CHECK_PERMISSION")
PERMISSION_ACTIONS = ("view", "perform", "modify")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_FILTER_OPS = ("!=", ">=", "<=", "!", "=", ">", "<", "%")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(slots=True)
class ListQuery:
    select: list[tuple[str, str]] = field(default_factory=list)  # (output name, field)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    filter: list[tuple[str, str, Any]] = field(default_factory=list)  # (op, field, value)
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    queue: bool = False
    config_queue: bool = False
    permission: str = ""


def _known(name: str, part: str) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigFormatError(f"A wrong field name is passed in the PARAMS field '{part}'")
    upper = name.upper()
    if upper not in FIELDS:
        raise ConfigFormatError(f"An unknown field '{name}' is passed in the PARAMS field '{part}'")
    return upper


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _select(value: Any) -> list[tuple[str, str]]:
    if _is_empty(value):
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, dict)):
        raise ConfigFormatError("A wrong format for the PARAMS field 'select' is passed")
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    out: list[tuple[str, str]] = []
    for key, name in items:
        if name == "*":
            out.extend((f, f) for f in FIELDS)
            continue
        target = _known(name, "select")
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            out.append((target, target))
            continue
        if not _ALIAS.fullmatch(key):
            raise ConfigFormatError(f"A wrong field alias '{key}' is passed in the PARAMS field 'select'")
        if key.upper() in FIELDS or key.upper() in QUEUE_BLOCKS:
            raise ConfigFormatError(
                f"The alias '{key}' matches an existing field in the PARAMS field 'select'"
            )
        out.append((key, target))
    return out


def _order(value: Any) -> list[tuple[str, bool]]:
    if _is_empty(value):
        return []
    if isinstance(value, list):
        value = (
            {name: "ASC" for name in value if isinstance(name, str)}
            if all(isinstance(name, str) for name in value)
            else None
        )
    if not isinstance(value, dict):
        raise ConfigFormatError("A wrong format for the PARAMS field 'order' is passed")
    out: list[tuple[str, bool]] = []
    for name, direction in value.items():
        target = _known(name, "order")
        text = direction.upper() if isinstance(direction, str) else ""
        if text not in ("ASC", "DESC"):
            raise ConfigFormatError("A wrong sorting direction is passed in the PARAMS field 'order'")
        out.append((target, text == "DESC"))
    return out


def _filter(value: Any) -> list[tuple[str, str, Any]]:
    if _is_empty(value):
        return []
    if not isinstance(value, dict):
        raise ConfigFormatError("A wrong format for the PARAMS field 'filter' is passed")
    out: list[tuple[str, str, Any]] = []
    for key, wanted in value.items():
        op = next((o for o in _FILTER_OPS if str(key).startswith(o)), "=")
        name = str(key)[len(op) :] if str(key).startswith(op) else str(key)
        target = _known(name, "filter")
        if isinstance(wanted, dict):
            wanted = list(wanted.values())
        if isinstance(wanted, list) and not all(php.is_scalar(w) for w in wanted):
            raise ConfigFormatError("A wrong format for the PARAMS field 'filter' is passed")
        out.append((op, target, wanted))
    return out


def _non_negative(value: Any, part: str, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ConfigFormatError(f"A non-negative integer is expected in the PARAMS field '{part}'")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ConfigFormatError(f"A non-negative integer is expected in the PARAMS field '{part}'")
    if number < 0:
        raise ConfigFormatError(f"A non-negative integer is expected in the PARAMS field '{part}'")
    return number


def _flag_option(value: Any, name: str) -> bool:
    if value is True or value == "Y":
        return True
    if value is None or value is False or value in ("N", ""):
        return False
    raise ConfigFormatError(f"A wrong format for the OPTIONS field '{name}' is passed")


def parse_list_query(params: Any, options: Any) -> ListQuery:
    """PARAMS and OPTIONS of ``imopenlines.config.list.get``, with the real INVALID_FORMAT texts."""
    query = ListQuery()
    if not _is_empty(params):
        if not isinstance(params, dict):
            raise ConfigFormatError("A wrong format for the field 'PARAMS' is passed")
        unknown = [str(k) for k in params if k not in PARAMS_KEYS]
        if unknown:
            raise ConfigFormatError(f"Unsupported PARAMS fields are passed: {', '.join(unknown)}")
        query.select = _select(params.get("select"))
        query.order = _order(params.get("order"))
        query.filter = _filter(params.get("filter"))
        query.limit = min(
            _non_negative(params.get("limit"), "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT
        )
        query.offset = _non_negative(params.get("offset"), "offset", 0)
    if not _is_empty(options):
        if not isinstance(options, dict):
            raise ConfigFormatError("A wrong format for the field 'OPTIONS' is passed")
        unknown = [str(k) for k in options if k not in OPTIONS_KEYS]
        if unknown:
            raise ConfigFormatError(f"Unsupported OPTIONS fields are passed: {', '.join(unknown)}")
        query.queue = _flag_option(options.get("QUEUE"), "QUEUE")
        query.config_queue = _flag_option(options.get("CONFIG_QUEUE"), "CONFIG_QUEUE")
        permission = options.get("CHECK_PERMISSION")
        if not _is_empty(permission):
            if not isinstance(permission, str) or permission.lower() not in PERMISSION_ACTIONS:
                raise ConfigFormatError("An unknown value for the OPTIONS field 'CHECK_PERMISSION' is passed")
            query.permission = permission.lower()
    return query


def _compare(value: str, wanted: Any) -> int:
    text = ("Y" if wanted else "N") if isinstance(wanted, bool) else php.php_str(wanted)
    try:
        a, b = float(value), float(text)
    except ValueError:
        a_s, b_s = value.lower(), text.lower()
        return (a_s > b_s) - (a_s < b_s)
    return (a > b) - (a < b)


def matches(row: dict[str, Any], conditions: list[tuple[str, str, Any]]) -> bool:
    for op, name, wanted in conditions:
        value = str(row.get(name, ""))
        if isinstance(wanted, list):
            hit = any(_compare(value, w) == 0 for w in wanted)
            ok = not hit if op.startswith("!") else hit
        elif op == "%":
            ok = php.php_str(wanted).lower() in value.lower()
        else:
            diff = _compare(value, wanted)
            ok = {
                "=": diff == 0,
                "!": diff != 0,
                "!=": diff != 0,
                ">": diff > 0,
                ">=": diff >= 0,
                "<": diff < 0,
                "<=": diff <= 0,
            }[op]
        if not ok:
            return False
    return True


def sort_rows(rows: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort; numbers compare as numbers."""

    def key_of(name: str) -> Callable[[dict[str, Any]], tuple[int, float, str]]:
        def key(row: dict[str, Any]) -> tuple[int, float, str]:
            value = str(row.get(name, ""))
            try:
                return (0, float(value), "")
            except ValueError:
                return (1, 0.0, value.lower())

        return key

    out = sorted(rows, key=key_of("ID"))
    for name, descending in reversed(order):
        out.sort(key=key_of(name), reverse=descending)
    return out
