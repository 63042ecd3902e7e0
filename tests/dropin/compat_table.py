"""Generates the method table of docs/compatibility.md from the registry (the single source of the
methods served), with a short note per method. Rewrite the table in place with

    python -m tests.dropin.compat_table

Methods without a note here are listed with "see the lane notes" so a new method is never missing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from openlines.methods import catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"
BEGIN, END = "<!-- methods:begin -->", "<!-- methods:end -->"
UNSERVED_BEGIN, UNSERVED_END = "<!-- unserved:begin -->", "<!-- unserved:end -->"
NAMESPACES = "imbot|imopenlines|imconnector|im|user|event|app|server|profile|scope|methods|batch"

SAME = "identical"
DIFF = "differs"
OWN = "openlines only"

# method -> (status, note, lane notes file)
NOTES: dict[str, tuple[str, str, str]] = {
    "app.info": (SAME, "webhooks get the local-app shape; license `selfhosted`", "rest"),
    "batch": (SAME, "50 commands, references, `halt` PHP-truthy, five result maps", "rest"),
    "methods": (SAME, "", "rest"),
    "profile": (SAME, "", "rest"),
    "scope": (SAME, "", "rest"),
    "server.time": (SAME, "", "rest"),
    "user.current": (SAME, "", "rest"),
    "user.get": (SAME, "filters, sorting, pages of 50", "rest"),
    "user.search": (SAME, "", "rest"),
    "event.bind": (DIFF, "application context and an administrator; errors named in the notes", "delivery"),
    "event.unbind": (SAME, "answers `{count}`", "delivery"),
    "event.get": (DIFF, "also lists bot handler URLs once they had an event", "delivery"),
    "event.offline.get": (DIFF, "`filter`/`order`/`auth_connector` ignored", "delivery"),
    "event.offline.list": (SAME, "", "delivery"),
    "event.offline.clear": (SAME, "", "delivery"),
    "im.chat.get": (SAME, "", "bots-customers"),
    "im.dialog.messages.get": (SAME, "", "bots-customers"),
    "im.dialog.read": (DIFF, "stores no read marks; counter 0", "bots-customers"),
    "im.message.add": (SAME, "", "bots-customers"),
    "imbot.register": (
        DIFF,
        "any http(s) handler URL (loopback too); check order UNCONFIRMED",
        "bots-customers",
    ),
    "imbot.unregister": (
        DIFF,
        "bot user kept inactive; its open sessions go to the queue first",
        "bots-customers",
    ),
    "imbot.update": (SAME, "", "bots-customers"),
    "imbot.bot.list": (SAME, "", "bots-customers"),
    "imbot.message.add": (DIFF, "`FROM_USER_ID`/`TO_USER_ID` system form not supported", "bots-customers"),
    "imbot.message.update": (SAME, "own messages, up to 3 days", "bots-customers"),
    "imbot.message.delete": (SAME, "", "bots-customers"),
    "imbot.chat.get": (SAME, "", "bots-customers"),
    "imbot.chat.leave": (DIFF, "a bot-owned session goes to the queue first", "bots-customers"),
    "imbot.chat.sendTyping": (SAME, "nothing to see here", "bots-customers"),
    "imbot.chat.user.list": (SAME, "", "bots-customers"),
    "imbot.chat.add": (DIFF, "group chats only; `ENTITY_TYPE` LINES refused", "bots-customers"),
    "imbot.chat.user.add": (
        DIFF,
        "refused on Open Lines chats (members change by hand-over)",
        "bots-customers",
    ),
    "imbot.chat.user.delete": (DIFF, "refused on Open Lines chats", "bots-customers"),
    "imbot.message.like": (SAME, "likes kept as `params.LIKE`", "bots-customers"),
    "imbot.dialog.get": (SAME, "`chat<N>` dialogs only", "bots-customers"),
    "imbot.command.register": (SAME, "", "bots-customers"),
    "imbot.command.unregister": (SAME, "", "bots-customers"),
    "imbot.command.update": (SAME, "", "bots-customers"),
    "imbot.command.answer": (SAME, "", "bots-customers"),
    "imopenlines.bot.session.transfer": (
        DIFF,
        "every documented error, order and LEAVE quirk kept; array ids are 400 `ERROR_ARGUMENT`, not a 500",
        "transfer",
    ),
    "imopenlines.bot.session.operator": (SAME, "", "transfer"),
    "imopenlines.bot.session.finish": (DIFF, "closes at once (no vote, no `WAIT_CLIENT`)", "transfer"),
    "imopenlines.bot.session.message.send": (SAME, "", "transfer"),
    "imopenlines.bot.session.send.message": (SAME, "hidden legacy alias", "transfer"),
    "imopenlines.config.add": (
        DIFF,
        "administrators only; values validated (400 `INVALID_FORMAT`)",
        "operators",
    ),
    "imopenlines.config.update": (DIFF, "administrators only; values validated", "operators"),
    "imopenlines.config.delete": (DIFF, "refuses a line with open sessions", "operators"),
    "imopenlines.config.get": (SAME, "every queue member counts as online", "operators"),
    "imopenlines.config.list.get": (SAME, "", "operators"),
    "imopenlines.config.path.get": (SAME, "", "operators"),
    "imopenlines.revision.get": (SAME, "", "operators"),
    "imopenlines.dialog.get": (DIFF, "no counters or read lists", "operators"),
    "imopenlines.crm.chat.get": (DIFF, "no CRM: `[]` until a binding exists", "operators"),
    "imopenlines.crm.chat.getLastId": (DIFF, "no CRM", "operators"),
    "imopenlines.session.open": (SAME, "", "operators"),
    "imopenlines.session.history.get": (SAME, "", "operators"),
    "imopenlines.session.intercept": (SAME, "", "operators"),
    "imopenlines.session.join": (SAME, "", "operators"),
    "imopenlines.session.start": (SAME, "", "operators"),
    "imopenlines.session.mode.pin": (SAME, "", "operators"),
    "imopenlines.session.mode.unpin": (SAME, "", "operators"),
    "imopenlines.session.mode.pinAll": (SAME, "", "operators"),
    "imopenlines.session.mode.unpinAll": (SAME, "", "operators"),
    "imopenlines.session.head.vote": (DIFF, "administrators only (no role model)", "operators"),
    "imopenlines.message.session.start": (SAME, "", "operators"),
    "imopenlines.operator.answer": (
        DIFF,
        "another operator's answered session: 400 `ALREADY_ANSWERED`",
        "operators",
    ),
    "imopenlines.operator.skip": (SAME, "", "operators"),
    "imopenlines.operator.spam": (SAME, "", "operators"),
    "imopenlines.operator.finish": (
        DIFF,
        "another operator's dialogue: 400 `NOT_SESSION_OPERATOR`",
        "operators",
    ),
    "imopenlines.operator.another.finish": (DIFF, "anyone with chat access (no role model)", "operators"),
    "imopenlines.operator.transfer": (
        DIFF,
        "a refused transfer answers `OPERATOR_WRONG` instead of `true`",
        "operators",
    ),
    "imopenlines.operator.pause.start": (SAME, "wire shape UNCONFIRMED (undocumented)", "routing"),
    "imopenlines.operator.pause.stop": (SAME, "wire shape UNCONFIRMED (undocumented)", "routing"),
    "imopenlines.operator.pause.get": (SAME, "wire shape UNCONFIRMED (undocumented)", "routing"),
    "openlines.clock.get": (OWN, "fake clock", "rest"),
    "openlines.clock.advance": (OWN, "fake clock; due timers fire before it answers", "rest"),
    "openlines.fault.add": (OWN, "fault injection", "dropin"),
    "openlines.fault.list": (OWN, "fault injection", "dropin"),
    "openlines.fault.clear": (OWN, "fault injection", "dropin"),
    "openlines.transfer.list": (OWN, "the transfer audit", "transfer"),
    "openlines.session.get": (OWN, "a session with owner, status and transfers", "transfer"),
    "openlines.event.delivery.list": (OWN, "the delivery log", "delivery"),
    "openlines.event.delivery.get": (OWN, "one delivery with its attempts", "delivery"),
    "openlines.event.delivery.replay": (OWN, "send an event again", "delivery"),
    "openlines.routing.explain": (OWN, "why a session is where it is", "routing"),
    "openlines.operator.status.get": (OWN, "operator availability", "routing"),
    "openlines.operator.status.set": (OWN, "operator availability", "routing"),
    # connectors lane
    "imconnector.register": (SAME, "errors with HTTP 200 inside `result`; texts ours", "connectors"),
    "imconnector.unregister": (SAME, "", "connectors"),
    "imconnector.activate": (SAME, "", "connectors"),
    "imconnector.status": (SAME, "`ERROR` always false", "connectors"),
    "imconnector.list": (SAME, "`livechat` plus registered connectors", "connectors"),
    "imconnector.connector.data.set": (SAME, "", "connectors"),
    "imconnector.send.messages": (DIFF, "files become text lines; answer shape UNCONFIRMED", "connectors"),
    "imconnector.update.messages": (SAME, "", "connectors"),
    "imconnector.delete.messages": (SAME, "", "connectors"),
    "imconnector.send.status.delivery": (DIFF, "checked, nothing stored", "connectors"),
    "imconnector.send.status.reading": (DIFF, "checked, nothing stored", "connectors"),
    "imconnector.chat.name.set": (DIFF, "needs `USER_ID`", "connectors"),
}

LANE_LINKS = {
    "rest": "[rest](rest.md)",
    "delivery": "[delivery](compat/delivery.md)",
    "bots-customers": "[bots](compat/bots-customers.md)",
    "transfer": "[transfer](compat/transfer.md)",
    "operators": "[operators](compat/operators.md)",
    "routing": "[routing](compat/routing.md)",
    "dropin": "[drop-in](compat/dropin.md)",
    "connectors": "[connectors](compat/connectors.md)",
}


def registered() -> list[tuple[str, str, bool]]:
    """(name, scope, hidden) of every method the server serves, sorted by name."""
    methods = catalog.build().methods.values()
    return sorted(((m.name, m.scope, m.hidden) for m in methods), key=lambda t: t[0].lower())


def table() -> str:
    rows = ["| method | scope | compared with Bitrix24 | note | details |", "|---|---|---|---|---|"]
    for name, scope, hidden in registered():
        status, note, lane = NOTES.get(name, ("see the lane notes", "", ""))
        if hidden and not note:
            note = "hidden"
        rows.append(f"| `{name}` | {scope} | {status} | {note} | {LANE_LINKS.get(lane, '')} |")
    return "\n".join(rows)


def unserved() -> str:
    """Methods the reference notes name that the server does not serve (empty without the notes)."""
    found: set[str] = set()
    for name in ("bitrix24-rest-spec.md", "bitrix24-behaviour.md"):
        path = REFERENCE / name
        if path.exists():
            found |= set(re.findall(rf"`((?:{NAMESPACES})(?:\.[A-Za-z0-9_]+)+)`", path.read_text()))
    served = {n.lower() for n, _, _ in registered()}
    missing = sorted(n for n in found if n.lower() not in served)
    return ", ".join(f"`{n}`" for n in missing) if missing else "none"


def _replace(text: str, begin: str, end: str, body: str) -> str:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def documented_methods(text: str) -> set[str]:
    inside = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return {line.split("`")[1] for line in inside.splitlines() if line.startswith("| `")}


def rewrite() -> None:
    text = _replace(DOC.read_text(), BEGIN, END, table())
    if REFERENCE.exists():
        text = _replace(text, UNSERVED_BEGIN, UNSERVED_END, unserved())
    DOC.write_text(text)


if __name__ == "__main__":
    rewrite()
    sys.stdout.write(f"docs/{DOC.name}: {len(registered())} methods\n")
