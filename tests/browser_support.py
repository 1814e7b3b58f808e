"""Headless Chromium for the page tests, through Playwright for Python, and their shared helpers.

Debian's own Chromium (/usr/bin/chromium) is driven; Playwright never downloads a browser here.
One browser per test module keeps the tests fast: import the fixtures into the test module
(``from browser_support import chromium_fixture, desktop_page_fixture  # noqa: F401``) and ask
for ``chromium``, ``desktop_page`` or ``phone_page``. Each page gets a fresh context (no shared
storage, so night mode and the like start from scratch). Outside CI the tests are skipped when
Chromium or Playwright is missing; in CI (CI=true) that is a failure, because .ci/run installs both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from conftest import IN_CI

try:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # make test runs modules side by side on two cores: pages may answer slowly
except ImportError:  # launched_browser skips (or fails in CI) with the reason
    expect = None

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TEST_CLIENT = 4242  # the ClientID of the tests' own API calls: another client beside the page
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(message + "; .ci/run must install it")
    pytest.skip(message)


@contextmanager
def launched_browser() -> Iterator[Any]:
    """Chromium, for a module-scoped fixture of the test module."""
    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} is not installed (Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def opened_page(browser: Any, viewport: dict[str, int] = DESKTOP) -> Iterator[Any]:
    """A page in a fresh context; a phone-sized viewport gets touch and mobile emulation too."""
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, has_touch=phone, is_mobile=phone)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module", name="chromium")
def chromium_fixture() -> Iterator[Any]:
    with launched_browser() as browser:
        yield browser


@pytest.fixture(name="desktop_page")
def desktop_page_fixture(chromium: Any) -> Iterator[Any]:
    with opened_page(chromium) as page:
        yield page


@pytest.fixture(name="phone_page")
def phone_page_fixture(chromium: Any) -> Iterator[Any]:
    with opened_page(chromium, PHONE) as page:
        yield page


def action(url: str, name: str, parameters: str = "", client: int = TEST_CLIENT) -> Any:
    """Run a vendor Action on focuser 0 as another Alpaca client would, and decode its result."""
    answer = requests.put(f"{url}/api/v1/focuser/0/action", data={"Action": name, "Parameters": parameters, "ClientID": client}, timeout=5)
    body = answer.json()
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return json.loads(body["Value"])
