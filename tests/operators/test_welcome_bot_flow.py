"""A line set up over REST (config.add / config.update with a welcome bot), a visitor writing through
the live-chat widget, and operators taking over: config, dialog and operator methods together."""

from __future__ import annotations

from typing import Any

from tests.operators.conftest import Rest

HANDLER = "http://127.0.0.1:9/bot"  # nothing listens: events simply stay undelivered


def test_welcome_bot_line_then_operators(admin: Rest, op2: Rest, op3: Rest) -> None:
    bot_id = admin.ok(
        "imbot.register",
        {
            "CODE": "lane_e_greeter",
            "TYPE": "O",
            "CLIENT_ID": "lane-e-greeter",
            "EVENT_MESSAGE_ADD": HANDLER,
            "EVENT_WELCOME_MESSAGE": HANDLER,
            "EVENT_BOT_DELETE": HANDLER,
            "PROPERTIES": {"NAME": "Greeter"},
        },
    )
    line_id = admin.ok("imopenlines.config.add", {"PARAMS": {"LINE_NAME": "Flow", "QUEUE": [2, 3]}})
    settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id, "WELCOME_BOT_JOIN": "always"}
    assert admin.ok("imopenlines.config.update", {"CONFIG_ID": line_id, "PARAMS": settings}) is True
    line = admin.ok("imopenlines.config.get", {"CONFIG_ID": line_id, "WITH_QUEUE": "N"})
    assert (line["WELCOME_BOT_ENABLE"], line["WELCOME_BOT_ID"]) == ("Y", str(bot_id))

    posted = admin.client.post(f"/widget/{line_id}/messages", json={"visitor": "v-flow", "text": "Hi"})
    assert posted.status_code == 200, posted.text
    chat_id, session_id = posted.json()["chat_id"], posted.json()["session_id"]

    def state() -> dict[str, Any]:
        found: dict[str, Any] = admin.ok("openlines.session.get", {"CHAT_ID": chat_id})
        return found

    assert state()["OWNER"] == {"TYPE": "bot", "ID": bot_id}
    chat = op2.ok("imopenlines.dialog.get", {"DIALOG_ID": f"chat{chat_id}"})
    assert chat["entity_data_1"].split("|")[5] == str(session_id)

    assert op2.ok("imopenlines.operator.answer", {"CHAT_ID": chat_id}) is True
    row = state()["TRANSFERS"][-1]
    assert (row["FROM_TYPE"], row["FROM_ID"], row["TO_ID"], row["MODE"]) == ("bot", bot_id, 2, "operator")

    admin.error("imopenlines.config.delete", {"CONFIG_ID": line_id}, "CONFIG_HAS_OPEN_SESSIONS")
    assert op2.ok("imopenlines.operator.transfer", {"CHAT_ID": chat_id, "TRANSFER_ID": 3}) is True
    assert op3.ok("imopenlines.operator.finish", {"CHAT_ID": chat_id}) is True
    final = state()
    assert (final["STATUS"], final["CLOSED"], final["OWNER"]) == (60, True, {"TYPE": "user", "ID": 3})
    modes = [(r["FROM_TYPE"], r["TO_TYPE"], r["MODE"]) for r in final["TRANSFERS"]]
    assert modes == [("bot", "user", "operator"), ("user", "user", "operator")]

    # A line with open sessions cannot be deleted; once they are closed it can.
    assert admin.ok("imopenlines.config.delete", {"CONFIG_ID": line_id}) is True
