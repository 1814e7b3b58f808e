"""Night mode is red-only by the colours themselves: on every page, every visible element's
computed colours (text, background, borders, outline, SVG fill and stroke, the placeholder of
every field, gradients) are a red whose green and blue are at most a quarter of its red, or black,
and no filter is laid over the page. Native checkboxes, selects and progress bars draw grey parts
whatever the page says, so at night they must be drawn by the page itself. Read in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import PHONE, chromium_fixture, expect, opened_page  # noqa: F401
from server_support import running_server, sim_port
from temperature_support import configured_server

from alpaca_focuser.settings import FocuserSettings

NIGHT = "window.localStorage.setItem('alpaca-focuser-night', '1')"

NOT_RED = """() => {
  const parse = (text) => {
    const found = /rgba?\\(([^)]*)\\)/.exec(text);
    if (!found) return null;
    const [r, g, b, a] = found[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r, g, b, a: a === undefined ? 1 : a };
  };
  const red = (c) => c.a === 0 || (c.g <= c.r / 4 && c.b <= c.r / 4);
  const found = [];
  const check = (name, style, props) => {
    for (const prop of props) {
      const value = style.getPropertyValue(prop);
      if (!value || value === "none" || value === "auto") continue;
      for (const match of value.matchAll(/rgba?\\([^)]*\\)/g)) {
        if (!red(parse(match[0]))) found.push(`${name} ${prop}: ${match[0]}`);
      }
    }
  };
  for (const element of document.querySelectorAll("*")) {
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    if (style.display === "none" || style.visibility === "hidden" || (box.width === 0 && box.height === 0)) continue;
    const name = element.id ? `#${element.id}` : `${element.tagName.toLowerCase()}.${element.getAttribute("class") || ""}`;
    const props = ["color", "background-color", "background-image", "text-decoration-color", "caret-color"];
    for (const side of ["top", "right", "bottom", "left"]) {
      if (parseFloat(style.getPropertyValue(`border-${side}-width`)) > 0 && style.getPropertyValue(`border-${side}-style`) !== "none") {
        props.push(`border-${side}-color`);
      }
    }
    if (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) props.push("outline-color");
    if (element instanceof SVGElement) props.push("fill", "stroke");
    check(name, style, props);
    if (element.matches("input, textarea")) check(`${name}::placeholder`, getComputedStyle(element, "::placeholder"), ["color"]);
    if (element.matches("input[type=checkbox], select, progress") && style.appearance !== "none") {
      found.push(`${name} is drawn by the browser (appearance ${style.appearance}), with its grey parts`);
    }
    if (style.filter !== "none") found.push(`${name} has a filter (${style.filter}): the colours themselves must be red`);
  }
  return found;
}"""


@pytest.fixture
def night_page(chromium: Any) -> Iterator[Any]:
    with opened_page(chromium, PHONE) as page:
        page.add_init_script(NIGHT)
        yield page


def not_red(page: Any) -> list[str]:
    expect(page.locator("body")).to_have_class("night")
    return page.evaluate(NOT_RED)


def test_the_server_and_settings_pages_are_red_only(night_page: Any) -> None:
    with running_server([FocuserSettings(name="Night Test", port=sim_port(50)[0])]) as running:
        night_page.goto(f"{running.url}/setup")
        assert not_red(night_page) == []
        night_page.goto(f"{running.url}/setup/v1/focuser/0/setup")
        expect(night_page.locator("#clients-body tr")).not_to_have_count(0)  # the Clients card, filled in
        night_page.select_option("#field-port", "")  # shows the other-port field with its placeholder
        expect(night_page.locator("#field-port-other")).to_be_visible()
        assert not_red(night_page) == []


def test_the_control_page_is_red_only_with_its_calibration_steps_and_the_night_button_pressed(night_page: Any) -> None:
    url, _ = sim_port(50, uncalibrated=1)
    with running_server([FocuserSettings(name="Night Test", port=url)]) as running:
        night_page.goto(f"{running.url}/control/v1/focuser/0/")
        expect(night_page.locator("#cal-fitted")).to_be_visible()  # not calibrated: the steps and their check boxes show
        night_page.check("#cal-fitted")
        expect(night_page.locator("#sim-badge")).to_be_visible()
        assert not_red(night_page) == []
        night = night_page.locator("#night")
        expect(night).to_have_attribute("aria-pressed", "true")
        pressed = night.evaluate("(button) => getComputedStyle(button).backgroundColor")
        panel = night_page.locator("#halt").evaluate("(button) => getComputedStyle(button.parentElement).backgroundColor")
        assert pressed != panel and pressed == night.evaluate("() => getComputedStyle(document.querySelector('.track .fill')).backgroundColor"), (
            "the Night button looks pressed (filled with the accent colour) while night mode is on"
        )


def test_the_temperature_page_is_red_only_and_its_outliers_differ_by_shape(night_page: Any, tmp_path: Path) -> None:
    with configured_server(tmp_path) as setup:
        night_page.goto(f"{setup.running.url}/web/temperature.html?focuser=0")
        night_page.wait_for_function("document.querySelectorAll('#plot circle').length === 24")
        assert not_red(night_page) == []
        assert night_page.locator("#plot .outlier-mark").count() == night_page.locator("#plot circle.outlier").count() == 1
        assert night_page.locator("#plot circle.outlier").evaluate("(dot) => getComputedStyle(dot).fill") == "none"
        assert "set aside" in night_page.locator("#points tr.outlier").inner_text()
