"""End to end in a real headless Chromium: the real ``llmgine web`` on the offline demo model.

Debian's ``chromium`` is driven by Playwright with the system browser
(``executable_path``; nothing is downloaded). Without it the test is
skipped, except in CI (``CI`` set), where ``.ci/run`` installs it and a
missing browser fails. Every step waits on a condition of the page, with
generous time limits; nothing sleeps.

The screenshot is kept in ``$LLMGINE_ARTIFACTS/web/`` (default: ``artifacts/``
at the project's root, which git ignores).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_process import ROOT, WebServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("LLMGINE_ARTIFACTS") or ROOT / "artifacts") / "web"
WAIT = 30_000  # ms: generous, on a busy 2-core machine

if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError(
            "CI needs Debian's chromium for the browser test: apt-get install chromium"
        )
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

expect.set_options(timeout=WAIT)  # every expectation, not only the ones that say so

TOOLS = '''\
"""Tools of the browser test: one that asks first, a slow one, an echo."""

import asyncio

from llmgine import tool


@tool(requires_approval=True)
def delete_note(name: str) -> str:
    """Delete a note by its name.

    Args:
        name: The note's name.
    """
    return f"deleted the note {name}"


@tool
async def slow_report(topic: str) -> str:
    """Write a long report (it takes minutes).

    Args:
        topic: What the report is about.
    """
    await asyncio.sleep(600)
    return f"report on {topic}"


@tool
def echo_text(text: str) -> str:
    """Repeat a text back.

    Args:
        text: The text.
    """
    return text
'''
XSS = "<script>window.pwned=1</script> <img src=x onerror=window.pwned=2> **bold**"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    tools = tmp_path / "e2e_tools.py"
    tools.write_text(TOOLS)
    args = ["--tools", "tools/weather.py", "--tools", str(tools)]
    args += ["--log-dir", str(tmp_path / "logs"), "--approval-timeout", "120"]
    with WebServer(args, ROOT) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def ask(page: Page, text: str) -> Any:
    """Type ``text``, press Enter; the new turn's locator."""
    turns = page.locator(".turn")
    before = turns.count()
    page.fill("#prompt", text)
    page.press("#prompt", "Enter")
    expect(turns).to_have_count(before + 1, timeout=WAIT)
    return turns.nth(before)


def test_the_page_in_a_real_browser(server: WebServer, browser: Browser, tmp_path: Path) -> None:
    # Without the token the page refuses.
    stranger = browser.new_context()
    refused = stranger.new_page().goto(server.base + "/")
    assert refused is not None and refused.status == 403
    assert "Access token needed" in refused.text()
    stranger.close()

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server.url)
    assert page.url == server.base + "/"  # the token went into a cookie, out of the address bar
    page.wait_for_selector("body[data-connection=open]")
    expect(page.locator("#banner")).to_contain_text("offline demo model")

    # The weather: the tool panel, then the streamed answer.
    turn = ask(page, "What's the weather in Perth?")
    panel = turn.locator(".tool-panel[data-tool=get_weather]")
    expect(panel).to_have_attribute("data-state", "done", timeout=WAIT)
    expect(panel.locator(".tool-arguments")).to_contain_text('"city": "Perth"')
    expect(panel.locator(".tool-result")).to_contain_text("Perth: ")
    expect(turn).to_have_attribute("data-state", "finished", timeout=WAIT)
    answer = turn.locator(".answer[data-streamed=yes]")
    expect(answer).to_contain_text("[offline demo] get_weather says: Perth: ")

    # An answer holding HTML is shown as text, never run; Markdown is rendered.
    turn = ask(page, f'echo_text "{XSS}"')
    expect(turn).to_have_attribute("data-state", "finished", timeout=WAIT)
    answer = turn.locator(".answer").last
    expect(answer).to_contain_text("<script>window.pwned=1</script>")
    expect(answer).to_contain_text("<img src=x onerror=window.pwned=2>")
    expect(answer.locator("strong")).to_have_text("bold")
    assert page.locator("#messages script, #messages img").count() == 0
    assert page.evaluate("window.pwned") is None

    # A tool that needs approval, approved in the page.
    turn = ask(page, 'delete_note "groceries"')
    approval = turn.locator(".approval[data-tool=delete_note]")
    expect(approval).to_contain_text("Approve running delete_note?")
    expect(approval.locator(".countdown")).to_contain_text("denied in")
    approval.locator("button.allow").click()
    expect(approval).to_have_attribute("data-state", "allowed", timeout=WAIT)
    result = turn.locator(".tool-panel[data-tool=delete_note] .tool-result")
    expect(result).to_have_text("deleted the note groceries", timeout=WAIT)
    expect(turn).to_have_attribute("data-state", "finished", timeout=WAIT)

    # Stop during a slow turn.
    turn = ask(page, "slow_report on the quarter")
    expect(turn.locator(".tool-panel[data-tool=slow_report]")).to_have_attribute(
        "data-state", "running", timeout=WAIT
    )
    expect(page.locator("#stop")).to_be_enabled()
    page.click("#stop")
    expect(turn).to_have_attribute("data-state", "cancelled", timeout=WAIT)
    expect(turn.locator(".turn-footer")).to_contain_text("Stopped")
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#stop")).to_be_disabled()

    # The controls: the cost, the system prompt.
    page.click("#cost")
    expect(page.locator(".notice").last).to_contain_text("Session: ")
    page.click("#system-toggle")
    page.fill("#system-input", "Answer in one line.")
    page.click("#system-form button[type=submit]")
    expect(page.locator(".notice").last).to_have_text("System prompt set.")

    # The trace view: the live trees, then a log file read-only.
    page.click("#trace-toggle")
    live = page.locator("#trace-live")
    expect(live.locator(".node[data-kind=tool][data-status=ok]").first).to_be_visible()
    expect(live.locator(".node[data-kind=model]").first).to_contain_text("demo")
    expect(live.locator(".node[data-kind=tool][data-status=cancelled]")).to_contain_text(
        "slow_report"
    )
    expect(live.locator(".node[data-kind=command] .totals").first).to_contain_text("tool call")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "web-e2e.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The server writes its log within a second of an event: the list is read once it has.
    logs = tmp_path / "logs"  # the server fixture's --log-dir
    deadline = time.monotonic() + WAIT / 1000
    while not any(path.stat().st_size for path in logs.glob("*.jsonl")):
        assert time.monotonic() < deadline, "the server wrote no log"
        time.sleep(0.05)  # polling a file another process writes
    page.click(".tabs button[data-tab=logs]")
    page.locator(".log-run").first.click()
    view = page.locator("#log-view")
    expect(view.locator(".badge")).to_have_text("read-only")
    expect(view.locator(".node[data-kind=tool]").first).to_contain_text("get_weather")
    page.screenshot(path=str(ARTIFACTS / "web-e2e-log.png"), full_page=True)

    # A reload finds the same conversation; another tab is a conversation of its own.
    turns = page.locator(".turn").count()
    session = page.locator("body").get_attribute("data-session")
    page.reload()
    page.wait_for_selector("body[data-connection=open]")
    expect(page.locator(".turn")).to_have_count(turns, timeout=WAIT)
    assert page.locator("body").get_attribute("data-session") == session
    other = context.new_page()
    other.goto(server.base + "/")
    other.wait_for_selector("body[data-connection=open]", timeout=WAIT)
    assert other.locator("body").get_attribute("data-session") not in (None, session)
    assert other.locator(".turn").count() == 0
    assert errors == []
    context.close()


def test_the_consortium_in_a_real_browser(tmp_path: Path, browser: Browser) -> None:
    args = ["--engine", "consortium", "--log-dir", str(tmp_path / "logs"), "--seed", "3"]
    with WebServer(args, ROOT) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT)
        page.goto(server.url)
        page.wait_for_selector("body[data-connection=open]")
        expect(page.locator("#title")).to_contain_text("ConsortiumEngine")
        expect(page.locator("#banner")).to_contain_text("offline demo members")
        expect(page.locator("#model-switch")).to_be_disabled()  # no /model for a consortium
        turn = ask(page, "How should I learn Rust?")
        expect(turn).to_have_attribute("data-state", "finished", timeout=WAIT)
        cards = turn.locator(".member[data-state=answered]")
        expect(cards).to_have_count(2)
        expect(cards.first).to_contain_text("How should I learn Rust?")
        expect(turn.locator(".round .confidence").first).to_have_text("90%")
        expect(turn.locator(".final-title")).to_have_text("Final answer")
        expect(turn.locator(".answer.final")).to_contain_text("A fuller answer")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-e2e-consortium.png"))
        page.close()


def test_stored_conversations_in_a_real_browser(tmp_path: Path, browser: Browser) -> None:
    """A tab's conversation goes in its URL; New starts another; a fresh tab continues one."""
    db = tmp_path / "conversations.db"
    args = ["--tools", "tools/weather.py", "--db", str(db), "--log-dir", str(tmp_path / "logs")]
    with WebServer(args, ROOT) as server:
        first = browser.new_context().new_page()
        first.set_default_timeout(WAIT)
        first.goto(server.url)
        first.wait_for_selector("body[data-connection=open]")
        turn = ask(first, "What's the weather in Perth?")
        expect(turn).to_have_attribute("data-state", "finished", timeout=WAIT)
        first.wait_for_url("**/?conversation=*")
        conversation_id = first.url.rpartition("conversation=")[2]
        expect(first.locator("#conversation")).to_have_text(f"conversation {conversation_id[:8]}")

        first.click("#new")
        expect(first.locator(".divider").last).to_have_text("new conversation")
        first.wait_for_url(server.base + "/")
        first.click("#conversations-toggle")
        listed = first.locator(f"#conversation-list li[data-id='{conversation_id}'] a")
        expect(listed).to_have_text("What's the weather in Perth?")

        # A fresh tab opens it by its URL: what was said, then a new turn in it.
        second = browser.new_context().new_page()
        second.set_default_timeout(WAIT)
        second.goto(f"{server.url}&conversation={conversation_id}")
        second.wait_for_selector("body[data-connection=open]")
        past = second.locator(".turn.past")
        expect(past.first.locator(".user-message")).to_have_text("What's the weather in Perth?")
        expect(past.first).to_contain_text("→ get_weather(")
        expect(second.locator(".divider").last).to_have_text(
            f"continuing conversation {conversation_id}"
        )
        turn = ask(second, "And in Oslo?")
        expect(turn).to_have_attribute("data-state", "finished", timeout=WAIT)
        expect(second.locator("#conversation")).to_have_text(f"conversation {conversation_id[:8]}")

        # Opened in the first tab again, it moves there; the second starts a new one, and
        # does not take it back.
        first.goto(f"{server.base}/?conversation={conversation_id}")
        first.wait_for_selector("body[data-connection=open]")
        expect(second.locator("#connection")).to_have_text("open in another tab")
        second.get_by_role("button", name="Start a new conversation here").click()
        second.wait_for_selector("body[data-connection=open]")
        second.wait_for_url(server.base + "/")
        expect(second.locator("#conversation")).not_to_have_text(
            f"conversation {conversation_id[:8]}"
        )
        expect(first.locator("#connection")).to_have_text("connected")
        expect(first.locator("#conversation")).to_have_text(f"conversation {conversation_id[:8]}")
