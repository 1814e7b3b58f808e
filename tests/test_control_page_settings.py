"""The settings form and the pages' layout in a real browser (headless Chromium).

The settings form is checked through what it changes: the configuration file (its comments kept),
the settings the server reports, and the port the focuser is reached on. The layout test opens
every page at a phone's and a desktop's size and checks that no control lies off screen; it also
takes the user guide's screenshots, by day and at night (written to docs/ when UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from browser_support import DESKTOP, PHONE, TEST_CLIENT, action, chromium_fixture, expect, opened_page  # noqa: F401
from conftest import wait_for
from server_support import running_server, sim_port
from sim_support import running_pty_simulator
from test_actions import saved_focuser, server_from_config, write_config

from alpaca_focuser.settings import FocuserSettings

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    with opened_page(chromium, PHONE) as opened:
        yield opened


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def open_settings(page: Any, url: str) -> None:
    page.goto(f"{url}/setup/v1/focuser/0/setup")
    expect(page.locator("#connection-state")).to_contain_text("Connected")


def test_a_saved_change_lands_in_the_configuration_file_with_its_comments(page, tmp_path):
    config_path = write_config(tmp_path)
    original = config_path.read_text(encoding="utf-8")
    with server_from_config(config_path) as server:
        open_settings(page, server.url)
        page.fill("#field-name", "Garden SCT")
        page.fill("#field-settle_ms", "250")
        page.fill("#field-backlash_steps", "120")
        page.select_option("#field-backlash_direction", "out")
        page.fill("#field-step_size_um", "2.5")
        page.click("#settings-form button[type=submit]")
        expect(page.locator("#saved")).to_have_text("Saved.")
        expect(page.locator("header h1")).to_have_text("Garden SCT (focuser 0)")

        settings = action(server.url, "Settings")
        assert (settings["name"], settings["settle_ms"], settings["step_size_um"]) == ("Garden SCT", 250, 2.5)
        assert action(server.url, "GetBacklash") == {"steps": 120, "direction": "out"}
    saved = saved_focuser(config_path)
    assert (saved["name"], saved["settle_ms"], saved["backlash_steps"], saved["backlash_direction"], saved["step_size_um"]) == (
        "Garden SCT", 250, 120, "out", 2.5,
    )  # fmt: skip
    assert comment_lines(config_path.read_text(encoding="utf-8")) == comment_lines(original)


def test_a_bad_value_is_shown_next_to_its_field_and_nothing_changes(page, tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        before = config_path.read_bytes()
        settings = action(server.url, "Settings")
        open_settings(page, server.url)
        page.fill("#field-settle_ms", "300")
        page.fill("#field-backlash_steps", "70000")
        page.click("#settings-form button[type=submit]")
        expect(page.locator("#error-backlash_steps")).to_contain_text("70000 is not accepted; it must be a whole number from 0 to 65535")
        expect(page.locator("#saved")).to_have_text("")

        page.fill("#field-backlash_steps", "10")
        page.select_option("#field-port", "")
        page.fill("#field-port-other", "ftp://telescope:21")
        page.click("#settings-form button[type=submit]")
        expect(page.locator("#error-port")).to_contain_text("ftp:// is not one")
        expect(page.locator("#error-backlash_steps")).to_have_text("")

        assert config_path.read_bytes() == before
        assert action(server.url, "Settings") == settings


def test_every_bad_value_is_shown_beside_its_field_at_once(page, tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        before = config_path.read_bytes()
        open_settings(page, server.url)
        page.fill("#field-name", "   ")
        page.select_option("#field-port", "")
        page.fill("#field-port-other", "socket://192.168.1.50:2000")
        page.fill("#field-backlash_steps", "70000")
        page.fill("#field-settle_ms", "-5")
        page.fill("#field-step_size_um", "0")
        page.click("#settings-form button[type=submit]")
        expect(page.locator("#error-name")).to_contain_text("it must be non-empty text")
        expect(page.locator("#error-port")).to_contain_text("socket:// and rfc2217:// ports may be set in the configuration file")
        expect(page.locator("#error-backlash_steps")).to_contain_text("from 0 to 65535")
        expect(page.locator("#error-settle_ms")).to_contain_text("-5 is not accepted")
        expect(page.locator("#error-step_size_um")).to_contain_text("above 0")
        expect(page.locator("#error-form")).to_contain_text("Nothing was changed, because 5 settings are not accepted")
        expect(page.locator("#saved")).to_have_text("")
        assert config_path.read_bytes() == before


def test_a_port_the_focuser_cannot_be_reached_on_is_saved_only_when_asked(page, tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        open_settings(page, server.url)
        page.select_option("#field-port", "")
        page.fill("#field-port-other", "/dev/ttyNO-SUCH-PORT")
        page.click("#settings-form button[type=submit]")
        expect(page.locator("#error-form")).to_contain_text("Could not reach the focuser on /dev/ttyNO-SUCH-PORT")
        expect(page.locator("#saved")).to_have_text("")
        assert saved_focuser(config_path)["port"] != "/dev/ttyNO-SUCH-PORT"
        page.click("#force")
        expect(page.locator("#saved")).to_contain_text("Saved, but the focuser cannot be reached on /dev/ttyNO-SUCH-PORT now")
        expect(page.locator("#force-row")).to_be_hidden()
        assert saved_focuser(config_path)["port"] == "/dev/ttyNO-SUCH-PORT"


def test_the_port_list_shows_the_pty_and_a_new_port_reconnects(page, tmp_path):
    with running_pty_simulator() as (_, first_path), running_pty_simulator(position=8000) as (second_motor, second_path):
        config_path = write_config(tmp_path)
        text = config_path.read_text(encoding="utf-8")
        start = text.index('port = "sim://')
        end = text.index("\n", start)
        config_path.write_text(text[:start] + f'port = "{first_path}"' + text[end:], encoding="utf-8")
        with server_from_config(config_path) as server:
            open_settings(page, server.url)
            listed = page.locator(f"#field-port option[value='{first_path}']")
            expect(listed).to_contain_text("the focuser, connected")

            second_device = os.path.realpath(second_path)  # a client may name a device under /dev, not a link elsewhere
            page.select_option("#field-port", "")
            page.fill("#field-port-other", second_device)
            page.click("#settings-form button[type=submit]")
            expect(page.locator("#saved")).to_have_text("Saved.")
            wait_for(lambda: (info := action(server.url, "FocuserInfo"))["connected"] and info["port"] == second_device, 15, "the focuser to reconnect on the new port")
            wait_for(lambda: action(server.url, "FocuserInfo")["raw_position"] == second_motor.position, 10, "a position read from the new port")
            expect(page.locator("#connection-state")).to_contain_text(second_device)
        assert saved_focuser(config_path)["port"] == second_device


def test_a_focuser_on_a_wrong_port_is_connected_by_picking_another(page):
    with running_server([FocuserSettings(name="Wrong Port", port="/dev/ttyNO-SUCH-PORT")], wait_connected=False) as running:
        page.goto(f"{running.url}/setup/v1/focuser/0/setup")
        expect(page.locator("#connection-state")).to_contain_text("Last failure")
        expect(page.locator("#connection-state")).to_contain_text("/dev/ttyNO-SUCH-PORT")
        url, _ = sim_port(50)
        page.select_option("#field-port", "")
        page.fill("#field-port-other", url)
        page.click("#settings-form button[type=submit]")
        expect(page.locator("#saved")).to_have_text("Saved.")
        page.click("#connect")
        wait_for(lambda: action(running.url, "FocuserInfo")["connected"], 15, "the focuser to connect on the new port")
        expect(page.locator("#connection-state")).to_contain_text(f"Connected on {url}")
        running.motor_names[0] = url[len("sim://") :].split("?")[0]  # removed from the simulators at the end


def test_disconnect_on_the_form_ends_only_the_pages_own_connection(page, tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        other = {"ClientID": TEST_CLIENT}
        requests.put(f"{server.url}/api/v1/focuser/0/connect", data=other, timeout=5)
        open_settings(page, server.url)
        page.click("#connect")
        expect(page.locator("#connection-state")).to_have_text(re.compile(r"^Connected on "))
        mine = page.evaluate("Alpaca.clientId")
        wait_for(lambda: any(c["ClientID"] == mine and c["Connected"] for c in action(server.url, "Clients")), what="the page's Connect to land")
        page.click("#disconnect")
        expect(page.locator("#connection-state")).to_contain_text("in use by other programs, but not by this page: press Connect")
        assert requests.get(f"{server.url}/api/v1/focuser/0/connected", params=other, timeout=5).json()["Value"] is True
        assert action(server.url, "FocuserInfo")["connected"]


def small_touch_targets(page: Any) -> list[str]:
    """Buttons and fields too small to hit with a finger (under 40 CSS pixels high)."""
    return page.evaluate(
        """() => [...document.querySelectorAll("button, input:not([type=checkbox]), select")]
            .filter((element) => element.getBoundingClientRect().height > 0 && element.getBoundingClientRect().height < 40)
            .map((element) => element.id || element.textContent.trim())"""
    )


def controls_off_screen(page: Any) -> list[str]:
    """Visible controls that stick out of the viewport's width (the page may scroll down, not sideways)."""
    return page.evaluate(
        """() => {
        const width = document.documentElement.clientWidth;
        const off = [];
        if (document.documentElement.scrollWidth > width + 1) off.push(`the page is ${document.documentElement.scrollWidth} px wide in ${width} px`);
        for (const element of document.querySelectorAll("button, input, select, a, progress")) {
          const box = element.getBoundingClientRect();
          if (box.width === 0 && box.height === 0) continue;
          if (box.left < -1 || box.right > width + 1) off.push(`${element.id || element.textContent.trim()} at ${box.left}..${box.right}`);
        }
        return off;
    }"""
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_fits_phone_and_desktop_with_halt_in_view(chromium, viewport, tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server, opened_page(chromium, viewport) as page:
        for path in ("/setup", "/setup/v1/focuser/0/setup"):
            page.goto(server.url + path)
            assert page.locator("meta[name=viewport]").count() == 1, f"{path} has no viewport setting"
            assert controls_off_screen(page) == [], path
        page.goto(f"{server.url}/control/v1/focuser/0/")
        expect(page.locator("#status")).to_have_text("idle")
        expect(page.locator("#position")).not_to_have_text("unknown")
        assert controls_off_screen(page) == []
        assert small_touch_targets(page) == []
        halt = page.locator("#halt").bounding_box()
        assert 0 <= halt["y"] and halt["y"] + halt["height"] <= viewport["height"], "Halt is in view without scrolling"
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        halt = page.locator("#halt").bounding_box()
        assert halt["y"] + halt["height"] <= viewport["height"], "Halt stays in view when scrolled"
        page.evaluate("window.scrollTo(0, 0)")
        name = "phone" if viewport is PHONE else "desktop"
        folder = DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
        page.screenshot(path=str(folder / f"control-{name}.png"))
        page.click("#night")
        expect(page.locator("body")).to_have_class("night")
        page.locator("#night").blur()
        page.screenshot(path=str(folder / f"control-{name}-night.png"))
        page.reload()
        expect(page.locator("body")).to_have_class("night")  # remembered, for the rest of the night
        page.goto(f"{server.url}/setup")
        expect(page.locator("body")).to_have_class("night")  # on every page
        page.click("#night")
        expect(page.locator("body")).not_to_have_class("night")


def test_the_settings_page_shows_who_holds_the_focuser_and_disconnects_everyone(page, tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        other = {"ClientID": TEST_CLIENT}
        requests.put(f"{server.url}/api/v1/focuser/0/connect", data=other, timeout=5)
        open_settings(page, server.url)
        row = page.locator("#clients-body tr", has_text=str(TEST_CLIENT))
        expect(row).to_contain_text("connected")
        expect(row).to_contain_text("127.0.0.1")
        expect(page.locator("#clients-summary")).to_contain_text("holds the focuser")
        page.click("#disconnect-all")
        expect(page.locator("#clients-done")).to_contain_text("the motor is stopped and the port released")
        expect(row).to_contain_text("disconnected")
        assert requests.get(f"{server.url}/api/v1/focuser/0/connected", params=other, timeout=5).json()["Value"] is False
        assert server.focusers[0].state.activity == "off"
