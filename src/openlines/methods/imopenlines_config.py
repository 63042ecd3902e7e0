"""``imopenlines.config.*`` (Open Line settings), ``imopenlines.config.path.get`` and
``imopenlines.revision.get``.

The real server reads ``CONFIG_ID``, ``PARAMS`` and ``OPTIONS`` without folding key case, so these
methods are registered with ``upper_keys=False``. Changing lines needs a portal administrator here
(the real server asks its Open Lines role model; see docs/compat/operators.md).
"""

from __future__ import annotations

from typing import Any

from openlines.domain import line_config as lc
from openlines.domain.openlines import Line
from openlines.engine import connectors
from openlines.methods.imopenlines_params import int_param, scalar
from openlines.methods.registry import Call, Param, Registry
from openlines.protocol.errors import RestError
from openlines.services import Services

SCOPE = "imopenlines"
REVISION = {"rest": 2, "web": 1, "mobile": 1}
PUBLIC_PATH = "/contact_center/"


def config_id_empty() -> RestError:
    return RestError("CONFIG_ID_EMPTY", "Config ID can't be empty", 400)


def permission_denied() -> RestError:
    return RestError("CONFIG_WRONG_USER_PERMISSION", "Permission denied", 403)


def invalid_format(text: str) -> RestError:
    return RestError("INVALID_FORMAT", text, 400)


def _flag_default_yes(call: Call, name: str) -> bool:
    """WITH_QUEUE / SHOW_OFFLINE: anything but an explicit ``N`` means yes (both default to Y)."""
    value = scalar(call, name)
    return not (value == "N" or value is False)


async def _queue_users(services: Services, line: Line) -> list[dict[str, Any]]:
    """One row per queue member: user id, sort and display fields."""
    rows = []
    for user_id, sort, _ in await services.store.queue_activity(line.id):
        user = await services.store.get_user(user_id)
        rows.append(
            {
                "USER_ID": str(user_id),
                "SORT": str(sort),
                "ONLINE": bool(user and user.active),
                "USER_NAME": user.full_name if user else "",
                "USER_WORK_POSITION": user.work_position if user else "",
            }
        )
    return rows


def _user_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "USER_NAME": row["USER_NAME"],
        "USER_WORK_POSITION": row["USER_WORK_POSITION"],
        "USER_AVATAR": "",
        "USER_AVATAR_ID": "0",
    }


async def _check_change(services: Services, line: Line, change: lc.LineChange) -> None:
    """The checks a PARAMS object needs the store for: the welcome bot and the queue members."""
    touched = {"WELCOME_BOT_ENABLE", "WELCOME_BOT_ID"} & set(change.settings)
    enabled = change.settings.get("WELCOME_BOT_ENABLE", line.setting("WELCOME_BOT_ENABLE")) == "Y"
    if touched and enabled:
        bot_id = int(change.settings.get("WELCOME_BOT_ID", line.setting("WELCOME_BOT_ID")) or 0)
        if bot_id <= 0 or await services.store.get_bot(bot_id) is None:
            raise invalid_format(
                "The PARAMS field 'WELCOME_BOT_ID' must name a registered chat bot while WELCOME_BOT_ENABLE is Y"
            )
    for user_id in change.queue or []:
        user = await services.store.get_user(user_id)
        if user is None or not user.can_operate:
            raise invalid_format(
                f"The user {user_id} in the PARAMS field 'QUEUE' is not an active employee of the portal"
            )


def _parse_change(params: Any) -> lc.LineChange:
    try:
        return lc.parse_params(params)
    except lc.ConfigFormatError as exc:
        raise invalid_format(exc.text) from None


def register(registry: Registry) -> None:
    @registry.method(
        "imopenlines.config.list.get",
        SCOPE,
        Param("PARAMS", "object", False, "select, order, filter, limit (default 50, max 200), offset"),
        Param(
            "OPTIONS",
            "object",
            False,
            "QUEUE (Y/N), CONFIG_QUEUE (Y/N), CHECK_PERMISSION (view/perform/modify)",
        ),
        description="Open Lines with their settings (a plain array; no total/next).",
        upper_keys=False,
    )
    async def list_get(call: Call) -> list[dict[str, Any]]:
        services = call.services
        try:
            query = lc.parse_list_query(call.get("PARAMS"), call.get("OPTIONS"))
        except lc.ConfigFormatError as exc:
            raise invalid_format(exc.text) from None
        lines = await services.store.list_lines()
        if query.permission and not call.caller.admin:
            mine = query.permission != "modify"
            lines = [line for line in lines if mine and call.caller.user_id in line.queue]
        by_id = {line.id: line for line in lines}
        rows = [lc.line_fields(line, services.clock.iso) for line in lines]
        rows = [row for row in rows if lc.matches(row, query.filter)]
        rows = lc.sort_rows(rows, query.order)[query.offset : query.offset + query.limit]
        out = []
        for row in rows:
            line = by_id[int(row["ID"])]
            item = {alias: row[name] for alias, name in query.select} if query.select else dict(row)
            if query.queue:
                queue = await _queue_users(services, line)
                item["QUEUE"] = [q["USER_ID"] for q in queue]
                item["QUEUE_USERS_FIELDS"] = {q["USER_ID"]: _user_fields(q) for q in queue} or []
            if query.config_queue:
                item["CONFIG_QUEUE"] = [{"ENTITY_ID": str(uid), "ENTITY_TYPE": "user"} for uid in line.queue]
            out.append(item)
        return out

    @registry.method(
        "imopenlines.config.get",
        SCOPE,
        Param("CONFIG_ID", "integer", True, "The line id"),
        Param(
            "WITH_QUEUE",
            "string",
            False,
            "Y (default) adds QUEUE, QUEUE_FULL, QUEUE_USERS_FIELDS, QUEUE_ONLINE",
        ),
        Param("SHOW_OFFLINE", "string", False, "Y (default); N lists only operators who are online"),
        description="One line's settings, or false when there is no such line.",
        upper_keys=False,
    )
    async def get(call: Call) -> Any:
        config_id = int_param(call, "CONFIG_ID")
        if config_id <= 0:
            raise config_id_empty()
        services = call.services
        line = await services.store.get_line(config_id)
        if line is None:
            return False
        out = lc.line_fields(line, services.clock.iso)
        if _flag_default_yes(call, "WITH_QUEUE"):
            queue = await _queue_users(services, line)
            if not _flag_default_yes(call, "SHOW_OFFLINE"):
                queue = [q for q in queue if q["ONLINE"]]
            out["QUEUE"] = [q["USER_ID"] for q in queue]
            out["QUEUE_FULL"] = {
                q["USER_ID"]: {
                    "ID": q["USER_ID"],
                    "SORT": q["SORT"],
                    "USER_ID": q["USER_ID"],
                    "DEPARTMENT_ID": "0",
                    **_user_fields(q),
                }
                for q in queue
            } or []
            out["QUEUE_USERS_FIELDS"] = {q["USER_ID"]: _user_fields(q) for q in queue} or []
            out["QUEUE_ONLINE"] = [q["USER_ID"] for q in queue if q["ONLINE"]]
        return out

    @registry.method(
        "imopenlines.config.add",
        SCOPE,
        Param(
            "PARAMS",
            "object",
            False,
            "Line settings: LINE_NAME, ACTIVE, QUEUE, QUEUE_TYPE, WELCOME_BOT_*, ...",
        ),
        description="Create a line (portal administrators); answers its id.",
        upper_keys=False,
    )
    async def add(call: Call) -> int:
        if not call.caller.admin:
            raise permission_denied()
        services = call.services
        change = _parse_change(call.get("PARAMS"))
        now = services.clock.now()
        line = Line(id=0, name="", active=True, queue_type="evenly", date_create=now)
        async with services.store.atomic():
            await _check_change(services, line, change)
            lc.apply_change(line, change, now, call.caller.user_id)
            line_id = await services.store.save_line(line)
            if not line.name:
                line.name = f"Open line {line_id}"
                await services.store.save_line(line)
        return line_id

    @registry.method(
        "imopenlines.config.update",
        SCOPE,
        Param("CONFIG_ID", "integer", True, "The line id"),
        Param(
            "PARAMS",
            "object",
            False,
            "Settings to change (e.g. WELCOME_BOT_ENABLE, WELCOME_BOT_ID, WELCOME_BOT_JOIN)",
        ),
        description="Change a line's settings (portal administrators); false when there is no such line.",
        upper_keys=False,
    )
    async def update(call: Call) -> bool:
        config_id = int_param(call, "CONFIG_ID")
        if config_id <= 0:
            raise config_id_empty()
        if not call.caller.admin:
            raise permission_denied()
        services = call.services
        change = _parse_change(call.get("PARAMS"))
        async with services.store.atomic():
            line = await services.store.get_line(config_id)
            if line is None:
                return False
            await _check_change(services, line, change)
            lc.apply_change(line, change, services.clock.now(), call.caller.user_id)
            await services.store.save_line(line)
        return True

    @registry.method(
        "imopenlines.config.delete",
        SCOPE,
        Param("CONFIG_ID", "integer", True, "The line id"),
        description="Delete a line (portal administrators) that has no open sessions; false when missing.",
        upper_keys=False,
    )
    async def delete(call: Call) -> bool:
        config_id = int_param(call, "CONFIG_ID")
        if config_id <= 0:
            raise config_id_empty()
        if not call.caller.admin:
            raise permission_denied()
        store = call.services.store
        async with store.atomic():
            if await store.get_line(config_id) is None:
                return False
            if await store.open_sessions(line_id=config_id):
                raise RestError(
                    "CONFIG_HAS_OPEN_SESSIONS",
                    "The line has open sessions; finish or transfer them before deleting the line",
                    400,
                )
            await connectors.line_deleted(call.services, config_id)
            return await store.delete_line(config_id)

    @registry.method(
        "imopenlines.config.path.get",
        SCOPE,
        description="Where the contact-center pages live: SERVER_ADDRESS and PUBLIC_PATH.",
        upper_keys=False,
    )
    async def path_get(call: Call) -> dict[str, str]:
        return {"SERVER_ADDRESS": call.services.portal.public_url, "PUBLIC_PATH": PUBLIC_PATH}

    @registry.method("imopenlines.revision.get", SCOPE, description="API revisions: rest, web, mobile.")
    async def revision_get(call: Call) -> dict[str, int]:
        return dict(REVISION)
