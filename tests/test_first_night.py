"""What a new owner sees on the first night, in Chromium and through the API: the bare address
leads to the server page, the tabs have an icon, a simulated focuser says so everywhere, titles
and state words fit a phone, every value follows the live state (Reverse, the status table), a
focuser that is not connected says why in full, a clamped Go to says so, an aborted calibration
asks for its checks again, and the temperature page without a sensor says how to add one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from browser_support import DESKTOP, PHONE, TEST_CLIENT, action, chromium_fixture, expect, opened_page  # noqa: F401
from cli_support import serving, user_env
from conftest import wait_for
from server_support import RunningServer, running_server, sim_port
from temperature_support import configured_server

from alpaca_focuser.settings import FocuserSettings


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    with opened_page(chromium, PHONE) as page:
        yield page


@pytest.fixture
def desktop(chromium: Any) -> Iterator[Any]:
    with opened_page(chromium, DESKTOP) as page:
        yield page


def simulated(name: str = "Celestron Focuser", **options: Any) -> FocuserSettings:
    return FocuserSettings(name=name, port=sim_port(50, **options)[0])


def value(running: RunningServer, member: str) -> Any:
    return requests.get(running.api(member), params={"ClientID": TEST_CLIENT}, timeout=5).json()["Value"]


def test_the_bare_address_leads_to_the_server_page_and_the_tabs_have_an_icon(desktop: Any) -> None:
    with running_server(1) as running:
        reply = requests.get(f"{running.url}/", allow_redirects=False, timeout=5)
        assert reply.status_code in (302, 303) and reply.headers["Location"].endswith("/setup")
        desktop.goto(f"{running.url}/")
        expect(desktop).to_have_url(f"{running.url}/setup")
        icon = requests.get(f"{running.url}/favicon.ico", timeout=5)
        assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in icon.content
        for path in ("/setup", "/setup/v1/focuser/0/setup", "/control/v1/focuser/0/", "/web/temperature.html"):
            desktop.goto(running.url + path)
            assert desktop.locator("link[rel=icon]").get_attribute("href") == "/web/favicon.svg", path


def test_a_simulated_focuser_says_so_to_clients_and_on_every_page(desktop: Any) -> None:
    real_but_absent = FocuserSettings(name="Garden SCT", port="/dev/ttyNO-SUCH-PORT")
    with running_server([simulated(), real_but_absent], wait_connected=False) as running:
        wait_for(lambda: running.focuser(0).state.connected, what="the simulator to connect")
        assert value(running, "name") == "Celestron Focuser (simulated)"
        assert "simulated" in value(running, "description") and len(value(running, "description")) <= 64
        devices = requests.get(f"{running.url}/management/v1/configureddevices", timeout=5).json()["Value"]
        assert [device["DeviceName"] for device in devices] == ["Celestron Focuser (simulated)", "Garden SCT"]
        assert action(running.url, "FocuserInfo")["simulated"] is True
        assert requests.get(running.api("name", 1), timeout=5).json()["Value"] == "Garden SCT"

        desktop.goto(f"{running.url}/control/v1/focuser/0/")
        expect(desktop.locator("#sim-badge")).to_be_visible()
        desktop.goto(f"{running.url}/control/v1/focuser/1/")
        expect(desktop.locator("#status")).to_have_text("not connected")
        expect(desktop.locator("#sim-badge")).to_be_hidden()
        desktop.goto(f"{running.url}/setup/v1/focuser/0/setup")
        expect(desktop.locator("header .pill.simulated")).to_be_visible()
        desktop.goto(f"{running.url}/setup/v1/focuser/1/setup")
        expect(desktop.locator("header .pill.simulated")).to_have_count(0)
        desktop.goto(f"{running.url}/setup")
        expect(desktop.locator("#devices .pill.simulated")).to_have_count(1)


def test_titles_and_state_words_fit_a_phone(phone: Any) -> None:
    with running_server([simulated()]) as running:
        phone.goto(f"{running.url}/setup")
        state = phone.locator("#devices .state.good")
        expect(state).to_have_text("connected")
        assert state.evaluate("(word) => word.getClientRects().length") == 1, "'connected' breaks across lines"
        for path in ("/setup", "/setup/v1/focuser/0/setup", "/control/v1/focuser/0/", "/web/temperature.html?focuser=0"):
            phone.goto(running.url + path)
            title = phone.locator("header h1")
            expect(title).not_to_have_text("Focuser")  # the control page's title is filled in by its script
            assert title.evaluate("(h1) => h1.scrollWidth <= h1.clientWidth && h1.scrollHeight <= h1.clientHeight + 1"), f"{path}: the title is cut off"


def test_a_focuser_that_is_not_connected_says_why_in_full(desktop: Any, phone: Any) -> None:
    absent = FocuserSettings(name="Garden SCT", port="/dev/ttyNO-SUCH-PORT")
    with running_server([absent], wait_connected=False) as running:
        desktop.goto(f"{running.url}/control/v1/focuser/0/")
        banner = desktop.locator("#banner-text")
        expect(banner).to_contain_text("No such file or directory")
        expect(banner).to_contain_text("Check the USB cable")
        expect(banner).to_contain_text("retrying in the background")
        desktop.goto(f"{running.url}/setup/v1/focuser/0/setup")
        expect(desktop.locator("#connection-state")).to_contain_text("Check the USB cable")
        expect(desktop.locator("#device-status")).to_contain_text("Check the USB cable")
        phone.goto(f"{running.url}/setup/v1/focuser/0/setup")
        expect(phone.locator("#device-status")).to_contain_text("Check the USB cable")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the long reason wraps on a phone"


def test_the_settings_pages_status_follows_the_live_state(desktop: Any) -> None:
    with running_server([simulated()]) as running:
        desktop.goto(f"{running.url}/setup/v1/focuser/0/setup")
        status = desktop.locator("#device-status")
        expect(status).to_contain_text("connected")
        action(running.url, "DisconnectAll")
        expect(status.locator("tr", has_text="Connection")).to_contain_text("not connected")
        desktop.goto(f"{running.url}/setup")
        expect(desktop.locator("#devices")).to_contain_text("not connected")
        requests.put(running.api("connect"), data={"ClientID": TEST_CLIENT}, timeout=5)
        expect(desktop.locator("#devices .state.good")).to_have_text("connected")


def test_presets_and_reverse_follow_the_server(desktop: Any) -> None:
    with running_server([simulated()]) as running:
        requests.put(running.api("connect"), data={"ClientID": TEST_CLIENT}, timeout=5)
        max_step = value(running, "maxstep")
        position = value(running, "position")
        action(running.url, "SavePreset", json.dumps({"name": "Bahtinov", "slot": 1}))
        desktop.goto(f"{running.url}/control/v1/focuser/0/")
        preset = desktop.locator("#preset-list li[data-slot='1'] .label")
        expect(preset).to_have_text(f"1. Bahtinov at {position}")
        desktop.check("#reverse")
        desktop.click("#backlash-form button[type=submit]")
        expect(desktop.locator("#backlash-saved")).to_have_text("Saved.")
        expect(preset).to_have_text(f"1. Bahtinov at {max_step - position}")  # the same raw count, in reversed terms

        action(running.url, "SetReverse", json.dumps({"reverse": False}))  # another client changes it back
        expect(desktop.locator("#reverse")).not_to_be_checked()
        expect(preset).to_have_text(f"1. Bahtinov at {position}")

        desktop.fill("#goto", "0" if position > max_step // 2 else str(max_step))
        desktop.click("#goto-form button[type=submit]")
        wait_for(lambda: value(running, "ismoving"), what="the move to start")
        desktop.check("#reverse")
        desktop.click("#backlash-form button[type=submit]")
        expect(desktop.locator("#backlash-error")).not_to_be_empty()
        assert action(running.url, "GetReverse") == {"reverse": False}
        expect(desktop.locator("#reverse")).not_to_be_checked()  # the box shows what the server holds


def test_a_clamped_go_to_says_so(desktop: Any) -> None:
    with running_server([simulated()]) as running:
        desktop.goto(f"{running.url}/control/v1/focuser/0/")
        expect(desktop.locator("#status")).to_have_text("idle")
        max_step = value(running, "maxstep")
        desktop.fill("#goto", "99999")
        desktop.click("#goto-form button[type=submit]")
        expect(desktop.locator("#move-note")).to_have_text(f"99999 is outside 0 to {max_step}: clamped to {max_step}.")
        wait_for(lambda: not value(running, "ismoving") and value(running, "position") == max_step, 20, "the move to the end")
        desktop.fill("#goto", "100")
        desktop.click("#goto-form button[type=submit]")
        expect(desktop.locator("#move-note")).to_have_text("")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_temperature_page_without_a_sensor_says_how_to_add_one(chromium: Any, viewport: dict[str, int]) -> None:
    with running_server([simulated()]) as running, opened_page(chromium, viewport) as page:
        page.goto(f"{running.url}/web/temperature.html?focuser=0")
        expect(page.locator("#source-status")).to_have_text("no sensor")
        expect(page.locator("#source")).to_have_text("no sensor configured")
        message = page.locator("#message")
        expect(message).to_contain_text("No temperature sensor is configured for this focuser")
        expect(message).to_contain_text('"file:/PATH"')
        expect(message).to_be_visible()


def test_the_temperature_plots_labels_are_readable_on_a_phone(phone: Any, tmp_path: Path) -> None:
    with configured_server(tmp_path) as setup:
        phone.goto(f"{setup.running.url}/web/temperature.html?focuser=0")
        phone.wait_for_function("document.querySelectorAll('#plot circle').length === 24")
        heights = phone.locator("#plot .label").evaluate_all("(labels) => labels.map((label) => label.getBoundingClientRect().height)")
        assert heights and min(heights) >= 11, f"axis labels {heights} px tall"


def test_the_first_log_line_says_the_focuser_is_simulated(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[focuser]]\nport = "sim://first-line"\n[[focuser]]\nport = "/dev/ttyNO-SUCH-PORT"\n', encoding="utf-8")
    with serving("--config", str(config), env=user_env(tmp_path), cwd=tmp_path) as served:
        assert "focuser 0 is the built-in simulator (sim://), so nothing real moves" in served.lines[0], served.lines[0]


def test_the_settings_form_says_what_a_missing_step_size_costs_and_how_to_work_it_out() -> None:
    with running_server([simulated()]) as running:
        page = requests.get(f"{running.url}/setup/v1/focuser/0/setup", timeout=5).text
        field = page[page.index('id="field-step_size_um"') :]
        note = field[: field.index('id="error-step_size_um"')]
        assert "StepSize answers not implemented" in note and "pyobs-alpaca" in note and "divide it by MaxStep" in note
        assert "not set, so StepSize answers not implemented" in page
