"""The web console in a real browser: Debian's headless Chromium driven by Playwright, against
a real `recalld serve` process with the offline model, as a user would use it.

`.ci/run` installs Chromium and sets RECALLD_TEST_BROWSER to it, so there these tests run or
fail, never skip. With RECALLD_CONSOLE_SHOTS=DIR the journeys also save screenshots of the main
pages at 1280 and 390 pixels wide into DIR (docs/console/ holds the ones in the README)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import BIN, LiveServer

from agent_runtime.core.settings import Settings
from agent_runtime.storage import keys
from agent_runtime.storage.database import make_engine, upgrade

# Read at import: the autouse fixture clears every RECALLD_ variable for the tests themselves.
BROWSER = os.environ.get("RECALLD_TEST_BROWSER") or shutil.which("chromium") or ""
SHOTS = os.environ.get("RECALLD_CONSOLE_SHOTS", "")
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
DESKTOP = {"width": 1280, "height": 900}

if not BROWSER:
    pytest.skip("no Chromium: apt-get install chromium", allow_module_level=True)

from playwright import sync_api  # noqa: E402  (after the skip: it is for browser tests only)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert BROWSER and Path(BROWSER).exists(), f"RECALLD_TEST_BROWSER={BROWSER!r} is no browser"
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("console-home")).start()
    try:
        yield live
    finally:
        live.stop()


@contextlib.contextmanager
def browsing(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context (no cookies); no script may fail on any page."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(20_000)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert problems == [], problems


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    with browsing(browser) as opened:
        yield opened


def shoot(page: Any, name: str) -> None:
    """Save the page at both widths, when asked to (RECALLD_CONSOLE_SHOTS)."""
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{label}.png"), full_page=label == "desktop")
    page.set_viewport_size(size)


def api(server: LiveServer, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, server.url + path, timeout=30, **kwargs)
    assert response.is_success, response.text
    return response.json()


def create(page: Any, server: LiveServer, name: str) -> str:
    page.goto(server.url + "/")
    page.fill("#name", name)
    page.click("form[action='/agents'] button")
    page.wait_for_url("**/agents/agent-*")
    return str(page.url.rsplit("/", 1)[1])


def test_chat_streams_the_reply_and_the_human_block_changes(page: Any, server: LiveServer) -> None:
    create(page, server, "ada")
    page.fill("#content", "My name is Ada and I live in Porto")
    page.keyboard.press("Control+Enter")
    reply = page.locator(".msg-assistant .text:not(.streaming)").last
    sync_api.expect(reply).to_have_text("Got it, I'll remember that.")
    # The reply arrived in pieces (the offline model streams a few words at a time).
    pieces = page.locator(".msg-assistant[data-pieces]").last.get_attribute("data-pieces")
    assert int(pieces) > 1
    sync_api.expect(page.locator("details.tool summary").first).to_contain_text(
        "core_memory_append"
    )
    # The panels follow the turn without a reload: the agent wrote what it learned.
    sync_api.expect(page.locator("#value-human")).to_have_value(
        "My name is Ada and I live in Porto"
    )
    assert page.locator("#chat-error").is_hidden()
    shoot(page, "agent")


def test_a_block_over_its_limit_shows_the_413_message(page: Any, server: LiveServer) -> None:
    agent_id = create(page, server, "limited")
    api(server, "PATCH", f"/v1/agents/{agent_id}/blocks/human", json={"limit": 30})
    page.reload()
    typed = "Ada lives in Porto and sails on weekends"
    page.fill("#value-human", typed)
    page.click("#block-human button")
    refused = page.locator("#block-human .refused")
    sync_api.expect(refused).to_contain_text("30")
    sync_api.expect(page.locator("#value-human")).to_have_value(typed)  # nothing typed is lost
    assert api(server, "GET", f"/v1/agents/{agent_id}/blocks/human")["value"] == ""


def test_archival_search_finds_a_passage(page: Any, server: LiveServer) -> None:
    agent_id = create(page, server, "archivist")
    passage = {"text": "The boat Estrela is moored at Ribeira pier", "tags": ["boat"]}
    api(server, "POST", f"/v1/agents/{agent_id}/archival", json=passage)
    page.select_option("#corpus", "archival")
    page.fill("#search #q", "where is the boat moored")
    page.click("#search button")
    sync_api.expect(page.locator("#results li").first).to_contain_text("Ribeira pier")
    sync_api.expect(page.locator("#result-count")).to_have_text("1 found")


def test_a_job_progresses_to_completion_live(browser: Any, tmp_path: Path) -> None:
    """The job waits (this server runs no workers) until a `recalld worker` starts: its page,
    open all along, follows the job to the end without a reload."""
    live = LiveServer(tmp_path, RECALLD_WORKERS="0").start()
    worker = None
    try:
        with browsing(browser) as page:
            _follow_a_job(page, live)
            worker = subprocess.Popen(
                [str(BIN / "recalld"), "worker"],
                env=live.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _see_it_finish(page)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=20)
        live.stop()


def _follow_a_job(page: Any, live: LiveServer) -> None:
    create(page, live, "worker")
    page.fill("#goal", "Summarise what you know about boats")
    page.click("#jobs button")
    page.wait_for_url(re.compile(r"/jobs/job-"))
    sync_api.expect(page.locator("#job-status")).to_have_text("queued")
    page.evaluate("window.sameDocument = true")


def _see_it_finish(page: Any) -> None:
    sync_api.expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    assert page.evaluate("window.sameDocument") is True  # updated in place, not reloaded
    events = page.locator("#events li")
    sync_api.expect(events.filter(has_text="report_progress")).to_have_count(1)
    sync_api.expect(page.locator("#job-result")).to_contain_text("goal is filed")
    sync_api.expect(page.locator("#cancel-form")).to_have_count(0)
    shoot(page, "job")


def test_agents_are_searched_and_deleted_after_confirmation(page: Any, server: LiveServer) -> None:
    create(page, server, "keeper")
    create(page, server, "goner")
    page.goto(server.url + "/?q=gone")
    sync_api.expect(page.locator("#agent-list li")).to_have_count(1)
    shoot(page, "agents")
    page.click("#agent-list a")
    page.click("text=Delete")
    page.click("button.danger")
    page.wait_for_url(server.url + "/")
    names = page.locator("#agent-list a").all_inner_texts()
    assert "goner" not in names and "keeper" in names


def test_with_keys_a_user_logs_in_and_sees_only_their_tenant(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "keyed"
    engine = make_engine(Settings(home=home).sqlalchemy_url)
    try:
        upgrade(engine)
        acme, globex = keys.create(engine, "acme"), keys.create(engine, "globex")
    finally:
        engine.dispose()
    live = LiveServer(home).start()
    try:
        for key, name in ((acme, "acme helper"), (globex, "globex secret")):
            headers = {"Authorization": f"Bearer {key}"}
            api(live, "POST", "/v1/agents", json={"name": name}, headers=headers)
        with browsing(browser) as page:
            _log_in(page, live, acme)
    finally:
        live.stop()


def _log_in(page: Any, live: LiveServer, acme: str) -> None:
    page.goto(live.url + "/")
    page.wait_for_url(re.compile(r"/login"))
    shoot(page, "login")
    page.fill("#key", "not-a-key")
    page.click("form[action='/login'] button")
    sync_api.expect(page.locator(".refused")).to_contain_text("not valid")
    page.fill("#key", acme)
    page.click("form[action='/login'] button")
    page.wait_for_url(live.url + "/")
    names = page.locator("#agent-list a").all_inner_texts()
    assert names == ["acme helper"]
    # The key stays out of reach of scripts: the cookie is HTTP-only.
    assert page.evaluate("document.cookie") == ""
    page.click("text=Log out")
    page.wait_for_url(re.compile(r"/login"))
