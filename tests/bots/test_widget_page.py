"""The live-chat page in a real browser: Debian's Chromium, headless, driven by Playwright.

A line's welcome bot is a real loopback HTTP handler that receives ONIMBOTMESSAGEADD from the
delivery worker and answers with ``imbot.message.add``; the visitor opens ``/widget/{LINE_ID}``, gives
a name, types a message and sees the bot's reply arrive over the page's EventSource. Playwright is
used only with the system Chromium (``executable_path``); it never downloads a browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.bots.livechat import bot_line, start
from tests.conftest import ServerProcess
from tests.delivery.handler import Handler

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (scripts/setup-debian installs it)"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start(tmp_path_factory.mktemp("widget-page"))
    yield proc
    proc.stop()


@pytest.fixture()
def handler() -> Iterator[Handler]:
    h = Handler().start()
    yield h
    h.stop()


@needs_chromium
def test_visitor_chats_with_the_bot_from_the_page(
    server: ServerProcess, handler: Handler, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    line = bot_line(server, handler, "page")
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 480, "height": 640})
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.goto(f"{server.url}/widget/{line.line_id}")
            expect(page.get_by_role("heading", name="Help desk page")).to_be_visible()

            page.get_by_label("Your name").fill("Alice")
            page.get_by_role("button", name="Start chat").click()
            page.get_by_role("textbox", name="Message").fill("Hello from the browser")
            page.get_by_role("button", name="Send").click()

            conversation = page.get_by_role("log", name="Conversation")
            expect(conversation.locator("li.customer")).to_contain_text(
                "Hello from the browser", timeout=15_000
            )
            expect(conversation.locator("li.agent")).to_contain_text(
                "Bot: Hello from the browser", timeout=15_000
            )

            # the visitor id and token stay in localStorage: a reload shows the dialogue again
            page.reload()
            expect(conversation.locator("li.agent")).to_contain_text(
                "Bot: Hello from the browser", timeout=15_000
            )
            texts = conversation.locator("li").all_inner_texts()
            shot = Path(os.environ.get("OPENLINES_WIDGET_SCREENSHOT", str(tmp_path / "widget.png")))
            page.screenshot(path=str(shot))
            stored = page.evaluate(f"localStorage.getItem('openlines.widget.{line.line_id}')")
        finally:
            browser.close()

    assert shot.stat().st_size > 0
    assert [t.split("\n")[-1] for t in texts] == ["Hello from the browser", "Bot: Hello from the browser"]
    assert '"token":"' in stored and '"visitor":"web-' in stored
    assert problems == []
    # the page loads nothing from elsewhere: its content security policy allows this server only
    policy = httpx.get(f"{server.url}/widget/{line.line_id}").headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy


@pytest.mark.parametrize("line", ["999999", "abc", "\u00b2", "0"])
def test_page_of_an_unknown_line_is_a_plain_404(server: ServerProcess, line: str) -> None:
    answer = httpx.get(f"{server.url}/widget/{line}")
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert "Chat not available" in answer.text
