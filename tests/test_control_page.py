"""The control page in a real browser (headless Chromium) against the real server and simulator.

Each test works the page as a user would (clicks, held buttons, keys) and checks the effect
through the Alpaca API or the simulated motor itself, never through the page alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from browser_support import TEST_CLIENT, action, chromium_fixture, desktop_page_fixture, expect, phone_page_fixture  # noqa: F401
from conftest import wait_for
from server_support import RunningServer, running_server, sim_port
from test_actions import server_from_config, write_config

from alpaca_focuser.settings import FocuserSettings


def get(running: RunningServer, member: str) -> Any:
    body = requests.get(running.api(member), params={"ClientID": TEST_CLIENT}, timeout=5).json()
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return body["Value"]


def settled(running: RunningServer, timeout: float = 15) -> int:
    wait_for(lambda: not get(running, "ismoving"), timeout, "the focuser to stop", interval=0.02)
    return int(get(running, "position"))


def lands_at(running: RunningServer, target: int, timeout: float = 15) -> None:
    """The move a click sent (its request may still be on its way) ends exactly on ``target``."""
    wait_for(lambda: not get(running, "ismoving") and get(running, "position") == target, timeout, f"the focuser to stop at {target}", interval=0.02)


@contextmanager
def focuser_server(time_scale: float, **settings: Any) -> Iterator[RunningServer]:
    url, _ = sim_port(time_scale, **settings.pop("sim", {}))
    with running_server([FocuserSettings(name="Page Test Focuser", port=url, **settings)]) as running:
        requests.put(running.api("connect"), data={"ClientID": TEST_CLIENT}, timeout=5)
        yield running


def open_control(page: Any, running: RunningServer) -> None:
    page.goto(f"{running.url}/control")  # the only focuser: straight to its page
    expect(page).to_have_url(f"{running.url}/control/v1/focuser/0/")
    expect(page.locator("#status")).to_have_text("idle")


def hold(page: Any, selector: str) -> None:
    """Press the mouse on a hold-to-jog button and keep it down."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()


def test_goto_in_out_and_halt_move_the_focuser(desktop_page):
    page = desktop_page
    with focuser_server(time_scale=10) as running:
        open_control(page, running)
        page.fill("#goto", "21000")
        page.click("#goto-form button[type=submit]")
        lands_at(running, 21000)

        page.click(".choices button[data-steps='100']")
        page.click("#move-out")
        lands_at(running, 21100)
        page.click(".choices button[data-steps='1000']")
        page.click("#move-in")
        lands_at(running, 20100)

        page.fill("#goto", "2000")
        page.click("#goto-form button[type=submit]")
        wait_for(lambda: get(running, "ismoving"), what="the move to start")
        page.click("#halt")
        stopped = settled(running)
        assert 2000 < stopped < 20100, "Halt stopped the move before its target"
        assert running.motor().stops[-1].reason == "stopped"

        page.fill("#goto", "30000")
        page.click("#goto-form button[type=submit]")
        wait_for(lambda: get(running, "ismoving"), what="the move to start")
        page.keyboard.press("Escape")
        assert stopped < settled(running) < 30000, "Escape halted the move"


def test_a_bad_goto_shows_the_server_message_next_to_the_move_controls(desktop_page):
    page = desktop_page
    with focuser_server(time_scale=50, sim={"uncalibrated": 1}) as running:
        open_control(page, running)
        expect(page.locator("#position")).to_contain_text("not calibrated")
        expect(page.locator("#max-label")).to_have_text("MaxStep unknown (not calibrated)")
        page.fill("#goto", "1000")
        page.click("#goto-form button[type=submit]")
        expect(page.locator("#move-error")).to_contain_text("not calibrated")
        page.fill("#goto", "")
        page.click("#goto-form button[type=submit]")
        expect(page.locator("#move-error")).to_have_text("Give the position to go to as a whole number.")
        page.fill("#steps", "-5")
        page.click("#move-out")
        expect(page.locator("#move-error")).to_contain_text("above 0")
        assert not get(running, "ismoving")
        assert running.motor().stops == []


def test_the_temperature_page_is_linked_for_a_focuser_with_a_thermometer(desktop_page, tmp_path):
    page = desktop_page
    thermometer = tmp_path / "temperature"
    thermometer.write_text("12.5\n", encoding="utf-8")
    with_sensor, without = sim_port(50), sim_port(50)
    focusers = [
        FocuserSettings(name="With Sensor", port=with_sensor[0], temperature=f"file:{thermometer}"),
        FocuserSettings(name="Without Sensor", port=without[0]),
    ]
    with running_server(focusers) as running:
        page.goto(f"{running.url}/control/v1/focuser/0/")
        link = page.locator("#temperature-link")
        expect(link).to_be_visible()
        link.click()
        expect(page).to_have_url(f"{running.url}/web/temperature.html?focuser=0")
        page.goto(f"{running.url}/control/v1/focuser/1/")
        expect(page.locator("#status")).to_have_text("idle")
        expect(page.locator("#temperature-link")).to_be_hidden()


def test_a_server_that_goes_away_is_shown_as_unreachable(desktop_page):
    page = desktop_page
    with focuser_server(time_scale=50) as running:
        open_control(page, running)
        running.server.stop()
        expect(page.locator("#status")).to_have_text("server unreachable")
        expect(page.locator("#banner")).to_contain_text("cannot be reached")


def test_a_page_disconnected_by_someone_else_stays_disconnected_until_connect_is_pressed(desktop_page):
    page = desktop_page
    with focuser_server(time_scale=50) as running:
        open_control(page, running)
        page_client = {"ClientID": page.evaluate("Alpaca.clientId")}
        connected = lambda: requests.get(running.api("connected"), params=page_client, timeout=5).json()["Value"]
        assert connected()
        requests.put(running.api("action"), data={"Action": "DisconnectAll"}, timeout=10)
        expect(page.locator("#connect")).to_be_visible()
        for _ in range(2):  # the page's own checks of its connection: a wrong one would connect right after the first
            with page.expect_response(lambda response: "Action=Clients" in (response.request.post_data or ""), timeout=15000):
                pass
        assert not connected(), "the page took back a connection someone ended"
        page.click("#connect")
        wait_for(connected, 15, "the page to connect again")
        expect(page.locator("#status")).to_have_text("idle")


def test_jog_runs_while_held_and_stops_on_release(desktop_page):
    page = desktop_page
    with focuser_server(time_scale=50, jog_timeout_s=30.0) as running:  # only the release can stop it
        open_control(page, running)
        start = int(get(running, "position"))
        hold(page, "#jog-out")
        wait_for(lambda: get(running, "position") > start + 50, what="the jog to move the focuser out")
        expect(page.locator("#status")).to_have_text("jogging")
        page.mouse.up()
        out = settled(running, timeout=5)
        assert out > start

        page.locator("body").focus()
        page.keyboard.down("ArrowLeft")
        wait_for(lambda: get(running, "position") < out - 50, what="the left arrow to jog in")
        page.keyboard.up("ArrowLeft")
        assert settled(running, timeout=5) < out
        assert running.motor().stops[-1].reason == "stopped"


def test_jog_by_touch_on_a_phone_stops_when_the_finger_lifts(phone_page):
    page = phone_page
    with focuser_server(time_scale=50, jog_timeout_s=30.0) as running:
        open_control(page, running)
        start = int(get(running, "position"))
        box = page.locator("#jog-in").bounding_box()
        touch = page.context.new_cdp_session(page)  # a held finger: Playwright itself only taps
        point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
        touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
        wait_for(lambda: get(running, "position") < start - 50, what="the touch to jog the focuser in")
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert settled(running, timeout=5) < start
        assert running.motor().stops[-1].reason == "stopped"


def test_a_jog_stops_by_itself_when_the_page_loses_the_network(desktop_page):
    page = desktop_page
    with focuser_server(time_scale=50, jog_timeout_s=1.0) as running:
        open_control(page, running)
        page.select_option("#jog-rate", "2")
        hold(page, "#jog-out")
        wait_for(lambda: running.motor().moving, what="the jog to start")
        page.route("**/api/**", lambda route: route.abort())
        wait_for(lambda: not running.motor().moving, 6, "the dead-man guard to stop the jog")
        assert running.motor().stops[-1].reason == "stopped"
        page.unroute("**/api/**")
        page.mouse.up()


def test_closing_the_tab_mid_jog_stops_the_focuser(chromium):
    with focuser_server(time_scale=50, jog_timeout_s=1.0) as running:
        context = chromium.new_context()
        try:
            page = context.new_page()
            open_control(page, running)
            page.select_option("#jog-rate", "2")
            hold(page, "#jog-in")
            wait_for(lambda: running.motor().moving, what="the jog to start")
            page.close()
            wait_for(lambda: not running.motor().moving, 6, "the focuser to stop after the tab closed")
            assert running.motor().stops[-1].reason == "stopped"
        finally:
            context.close()


def test_backlash_and_reverse_are_set_from_the_page(desktop_page):
    page = desktop_page
    with focuser_server(time_scale=50) as running:
        open_control(page, running)
        expect(page.locator("#backlash-steps")).to_have_value("0")
        page.fill("#backlash-steps", "150")
        page.select_option("#backlash-direction", "in")
        page.check("#reverse")
        page.click("#backlash-form button[type=submit]")
        expect(page.locator("#backlash-saved")).to_have_text("Saved.")
        assert action(running.url, "GetBacklash") == {"steps": 150, "direction": "in"}
        assert action(running.url, "GetReverse") == {"reverse": True}

        page.fill("#backlash-steps", "70000")
        page.click("#backlash-form button[type=submit]")
        expect(page.locator("#backlash-error")).to_contain_text("65535")
        assert action(running.url, "GetBacklash") == {"steps": 150, "direction": "in"}


def start_calibration(page: Any) -> None:
    expect(page.locator("#cal-summary")).to_contain_text("Not calibrated")
    expect(page.locator("#cal-start")).to_be_disabled()
    page.check("#cal-fitted")
    page.check("#cal-middle")
    page.click("#cal-start")


def test_the_guided_calibration_with_abort_then_to_the_end(phone_page):
    page = phone_page
    with focuser_server(time_scale=100, poll_calibration_ms=100, sim={"uncalibrated": 1}) as running:
        open_control(page, running)
        expect(page.locator("#info-limits")).to_have_text("unknown until the focuser is calibrated")
        start = running.motor().position
        hold(page, "#cal-jog-out")  # an uncalibrated focuser jogs (slowly) to be brought to the middle
        wait_for(lambda: running.motor().moving, what="the jog to run while the button is held")
        page.mouse.up()
        wait_for(lambda: not running.motor().moving, what="the jog to stop on release")
        assert running.motor().stops[-1].reason == "stopped" and running.motor().position > start
        wait_for(lambda: not get(running, "ismoving"), what="the server to see the jog's stop done")  # else Calibrate is refused
        start_calibration(page)
        wait_for(lambda: action(running.url, "CalibrationStatus")["running"], what="the calibration to start")
        expect(page.locator("#cal-progress")).to_be_visible()
        page.click("#cal-abort")
        status = wait_for(lambda: (s := action(running.url, "CalibrationStatus")) and not s["running"] and s, what="the calibration to stop")
        assert not status["calibrated"]
        assert not running.motor().calibrating
        expect(page.locator("#cal-result")).to_contain_text("not calibrated")
        expect(page.locator("#cal-fitted")).not_to_be_checked()  # confirmed again before the next run
        expect(page.locator("#cal-middle")).not_to_be_checked()
        expect(page.locator("#cal-start")).to_be_disabled()

        page.check("#cal-fitted")
        page.check("#cal-middle")
        page.click("#cal-start")
        wait_for(lambda: action(running.url, "CalibrationStatus")["calibrated"], 20, "the calibration to complete")
        max_step = get(running, "maxstep")
        expect(page.locator("#cal-result")).to_contain_text(f"MaxStep {max_step}")
        expect(page.locator("#cal-summary")).to_contain_text("Calibrated")
        expect(page.locator("#max-label")).to_have_text(f"MaxStep {max_step}")


def test_a_stuck_calibration_shows_its_reason_and_what_to_check(desktop_page):
    page = desktop_page
    with focuser_server(time_scale=100, stall_s=1.0, poll_calibration_ms=100, sim={"uncalibrated": 1}) as running:
        running.motor().set_fault("stuck_calibration")
        open_control(page, running)
        start_calibration(page)
        result = page.locator("#cal-result")
        expect(result).to_contain_text("no progress", timeout=15_000)
        expect(result).to_contain_text("set screws")
        assert not action(running.url, "CalibrationStatus")["calibrated"]


def presets_by_name(url: str) -> dict[str, int]:
    return {preset["name"]: preset["position"] for preset in action(url, "Presets")}


def test_presets_saved_renamed_gone_to_and_deleted_survive_a_restart(desktop_page, tmp_path):
    page = desktop_page
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        url = server.url
        requests.put(f"{url}/api/v1/focuser/0/connect", data={"ClientID": TEST_CLIENT}, timeout=5)
        page.goto(f"{url}/control/v1/focuser/0/")
        expect(page.locator("#status")).to_have_text("idle")
        home = int(page.locator("#position").inner_text())

        page.fill("#preset-name", "Bahtinov")
        page.click("#preset-form button[type=submit]")
        expect(page.locator("#preset-list")).to_contain_text("Bahtinov")
        page.fill("#goto", str(home + 3000))
        page.click("#goto-form button[type=submit]")
        expect(page.locator("#status")).to_have_text("idle")
        expect(page.locator("#position")).to_have_text(str(home + 3000))
        page.fill("#preset-name", "Visual")
        page.fill("#preset-slot", "3")
        page.click("#preset-form button[type=submit]")
        expect(page.locator("#preset-list li[data-slot='3']")).to_contain_text("Visual")
        assert presets_by_name(url) == {"Bahtinov": home, "Visual": home + 3000}

        first = page.locator("#preset-list li[data-slot='1']")
        first.locator(".preset-rename").click()
        first.locator("input").fill("Bahtinov mask")
        first.locator("button[type=submit]").click()
        expect(page.locator("#preset-list li[data-slot='1']")).to_contain_text("Bahtinov mask")
        assert presets_by_name(url) == {"Bahtinov mask": home, "Visual": home + 3000}

        page.locator("#preset-list li[data-slot='1'] .preset-go").click()
        wait_for(lambda: action(url, "FocuserInfo")["position"] == home, 15, "the focuser to reach the preset")

        visual = page.locator("#preset-list li[data-slot='3'] .preset-delete")
        visual.click()
        visual.click()  # the second click confirms
        expect(page.locator("#preset-list")).not_to_contain_text("Visual")
        assert presets_by_name(url) == {"Bahtinov mask": home}

    with server_from_config(config_path) as server:
        assert presets_by_name(server.url) == {"Bahtinov mask": home}


def test_a_closed_tab_ends_its_own_connection_and_the_last_one_frees_the_focuser(chromium):
    with running_server([FocuserSettings(name="Tab", port=sim_port(time_scale=50)[0])]) as running:
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            open_control(page, running)
            tab = page.evaluate("Alpaca.clientId")

            def holding() -> dict[int, bool]:
                return {client["ClientID"]: client["Connected"] for client in action(running.url, "Clients")}

            wait_for(lambda: holding().get(tab), 15, "the page to hold the focuser")
            page.close(run_before_unload=True)
            wait_for(lambda: holding().get(tab) is False, 15, "the closed tab's connection to end")
            wait_for(lambda: running.focuser().state.activity == "off", 15, "the last holder's leaving to free the port")
        finally:
            context.close()
