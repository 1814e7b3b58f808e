"""In a real browser (headless Chromium): a page of another site cannot change the focuser's
settings, nor can a site whose name was pointed at the server (DNS rebinding), while the server's
own pages can; with a password, the pages open only for a browser that gives it.

Another site is a second HTTP server on another loopback port; the rebinding site is a made-up
name that Chromium is told resolves to 127.0.0.1 (no DNS query leaves the machine)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from browser_support import CHROMIUM, CHROMIUM_ARGS, _missing
from server_support import RunningServer, running_server

from alpaca_focuser.passwords import MIN_ITERATIONS, hash_password

REBINDING_NAME = "focus-prize.example"
PASSWORD = "focus-at-dusk"

# What a hostile page does: a PUT of the settings action, as the server's own pages send it.
# Its answer: the HTTP status, or "failed" when the browser itself would not send it.
ATTACK = """<!DOCTYPE html><html><body><script>
window.attack = async (url) => {
  try {
    const reply = await fetch(url, {method: "PUT",
      headers: {"Content-Type": "application/x-www-form-urlencoded"},
      body: "Action=SetBacklash&Parameters=" + encodeURIComponent('{"steps": 999, "direction": "in"}')});
    return reply.status;
  } catch (error) { return "failed"; }
};
</script></body></html>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install -e '.[test]')")
    import os

    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} is not installed (Debian package chromium)")
    with sync_playwright() as playwright:
        args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBINDING_NAME} 127.0.0.1"]
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


@pytest.fixture(scope="module")
def other_site() -> Iterator[str]:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            body = ATTACK.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()


def backlash(running: RunningServer) -> dict[str, Any]:
    return json.loads(requests.put(running.api("action"), data={"Action": "GetBacklash"}).json()["Value"])


def test_another_sites_page_cannot_change_settings(browser: Any, running: RunningServer, other_site: str) -> None:
    before = backlash(running)
    context = browser.new_context()
    page = context.new_page()
    page.goto(other_site)
    # Chromium asks first (OPTIONS); the server's answer grants no other site, so the PUT is never sent.
    assert page.evaluate("url => window.attack(url)", running.api("action")) == "failed"
    context.close()
    assert backlash(running) == before


def test_a_rebound_site_name_cannot_change_settings(browser: Any, running: RunningServer) -> None:
    before = backlash(running)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"http://{REBINDING_NAME}:{running.port}/setup")  # the server's own page, under the attacker's name
    page.set_content(ATTACK)
    # For the browser this is the site's own server, so the PUT goes out: the server refuses it.
    assert page.evaluate("url => window.attack(url)", f"http://{REBINDING_NAME}:{running.port}/api/v1/focuser/0/action") == 403
    context.close()
    assert backlash(running) == before


def test_the_servers_own_page_can_change_settings(browser: Any, running: RunningServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{running.url}/setup")
    page.set_content(ATTACK)  # the same script, now running on the server's own origin
    assert page.evaluate("url => window.attack(url)", running.api("action")) == 200
    context.close()
    assert backlash(running) == {"steps": 999, "direction": "in"}
    requests.put(running.api("action"), data={"Action": "SetBacklash", "Parameters": '{"steps": 0, "direction": "none"}'})


def test_with_a_password_the_pages_open_only_for_a_browser_that_gives_it(browser: Any) -> None:
    with running_server(password_hash=hash_password(PASSWORD, iterations=MIN_ITERATIONS)) as locked:
        assert opened(browser, f"{locked.url}/setup", None) in (401, "refused")
        assert opened(browser, f"{locked.url}/setup", "guess") in (401, "refused")
        assert opened(browser, f"{locked.url}/setup", PASSWORD) == 200


def test_with_a_password_the_control_page_still_changes_settings_for_its_user(browser: Any) -> None:
    with running_server(password_hash=hash_password(PASSWORD, iterations=MIN_ITERATIONS)) as locked:
        context = browser.new_context(http_credentials={"username": "me", "password": PASSWORD})
        page = context.new_page()
        page.goto(f"{locked.url}/control/v1/focuser/0/")
        page.add_script_tag(content=ATTACK.split("<script>")[1].split("</script>")[0])
        assert page.evaluate("url => window.attack(url)", locked.api("action")) == 200
        context.close()
        assert backlash(locked) == {"steps": 999, "direction": "in"}


def opened(browser: Any, url: str, password: str | None) -> int | str:
    """The status a browser gets for ``url``, given ``password`` when it asks; "refused" when the
    browser itself gives up because the server keeps refusing the password it was given."""
    from playwright.sync_api import Error

    context = browser.new_context(http_credentials={"username": "me", "password": password}) if password else browser.new_context()
    try:
        reply = context.new_page().goto(url)
        assert reply is not None
        return reply.status
    except Error as error:
        assert "ERR_INVALID_AUTH_CREDENTIALS" in str(error)
        return "refused"
    finally:
        context.close()
