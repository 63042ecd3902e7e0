"""Requirements of bitrix24-clients.md section 4 that no other test pins: method names match in any
case (fast-bitrix24 and the PHP SDK lower-case them, the JS SDK and b24pysdk keep them), directly and
inside batch; the doc's method table lists only methods the server serves."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import DEMO_HOOK
from tests.dropin.compat_table import DOC, documented_methods, registered


@pytest.mark.parametrize(
    "name", ["server.time", "SERVER.TIME", "Server.Time", "imopenlines.Bot.Session.Transfer"]
)
def test_method_names_match_in_any_case(client: httpx.Client, name: str) -> None:
    answer = client.post(f"{DEMO_HOOK}{name}", json={"CHAT_ID": 0})
    assert answer.status_code in (200, 400)
    assert answer.json().get("error") != "ERROR_METHOD_NOT_FOUND"


def test_method_names_match_in_any_case_inside_batch(client: httpx.Client) -> None:
    answer = client.post(f"{DEMO_HOOK}batch", json={"cmd": {"a": "USER.CURRENT", "b": "imbot.BOT.list"}})
    result = answer.json()["result"]
    assert result["result_error"] == [] and result["result"]["a"]["ID"] == "1"


def test_the_compatibility_table_lists_only_served_methods() -> None:
    served = {name for name, _, _ in registered()}
    assert documented_methods(DOC.read_text()) <= served
