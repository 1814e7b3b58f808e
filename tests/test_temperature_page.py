"""The temperature page in headless Chromium: the focus log plotted with its outlier, the fitted
coefficient applied and saved from its button, points dropped and the log cleared."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import launched_browser, opened_page
from temperature_support import SLOPE, Setup, configured_server


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launched_browser() as browser:
        yield browser


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with configured_server(tmp_path) as running:
        yield running


@pytest.fixture
def page(chromium: Any, setup: Setup) -> Iterator[Any]:
    with opened_page(chromium) as page:
        page.goto(f"{setup.running.url}/web/temperature.html?focuser=0")
        page.wait_for_function("document.querySelectorAll('#plot circle').length === 24")
        yield page


def test_the_log_is_plotted_with_its_outlier_and_the_fitted_line(page: Any) -> None:
    assert page.locator("#plot circle.outlier").count() == 1
    assert page.locator("#plot line.fit").count() == 1
    assert "9.25 °C" in page.locator("#celsius").inner_text()
    assert "set aside as outliers" in page.locator("#fit-message").inner_text()
    assert page.locator("#points tbody tr").count() == 24


def test_apply_saves_the_fitted_coefficient(page: Any, setup: Setup) -> None:
    button = page.locator("#apply")
    assert button.is_enabled()
    button.click()
    page.wait_for_function("document.getElementById('message').textContent.includes('saved in the configuration file')")
    saved = tomllib.loads(setup.config.read_text())["focuser"][0]["tempcomp_steps_per_c"]
    assert saved == pytest.approx(SLOPE, abs=1.0)
    page.wait_for_function("document.getElementById('coefficient').textContent.includes('steps per °C')")


def test_points_are_dropped_and_the_log_cleared(page: Any, setup: Setup) -> None:
    page.locator('#points input[value="6"]').check()
    page.locator("#drop").click()
    page.wait_for_function("document.querySelectorAll('#plot circle').length === 23")
    assert page.locator("#plot circle.outlier").count() == 0
    assert len(setup.log.read_text().splitlines()) == 23
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#clear").click()
    page.wait_for_function("document.getElementById('plot').textContent.includes('No points yet')")
    assert page.locator("#apply").is_disabled()
    assert "Too little data" in page.locator("#fit-message").inner_text()
