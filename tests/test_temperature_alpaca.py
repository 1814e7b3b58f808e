"""What an Alpaca client sees of a temperature source: Temperature, DeviceState, TempCompAvailable,
and the temperature Actions (health, the focus log, the fit, applying and saving the coefficient,
clearing and dropping points), through the real server and a configuration file."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from server_support import RunningServer, running_server, sim_port
from temperature_support import SLOPE, Setup, configured_server, weather_station, write_temperature

from alpaca_focuser.config import ConfigFile
from alpaca_focuser.settings import FocuserSettings

NOT_IMPLEMENTED = 0x400
INVALID_VALUE = 0x401
INVALID_OPERATION = 0x40B
ACTION_NOT_IMPLEMENTED = 0x40C
TEMPERATURE_ACTIONS = {"TemperatureStatus", "TemperatureLog", "TemperatureFit", "TemperatureApply", "TemperatureClearLog", "TemperatureDropPoints"}


@pytest.fixture
def setup(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Setup]:
    with configured_server(tmp_path, stale_s=getattr(request, "param", 120)) as running:
        yield running


def get(running: RunningServer, member: str) -> dict[str, Any]:
    response = requests.get(running.api(member))
    assert response.status_code == 200, response.text
    return response.json()


def put(running: RunningServer, member: str, **data: Any) -> dict[str, Any]:
    response = requests.put(running.api(member), data=data)
    assert response.status_code == 200, response.text
    return response.json()


def action(running: RunningServer, name: str, parameters: str | None = None) -> Any:
    body = put(running, "action", Action=name, **({} if parameters is None else {"Parameters": parameters}))
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return json.loads(body["Value"])


def test_temperature_and_device_state_come_from_the_source(setup: Setup) -> None:
    assert get(setup.running, "temperature")["Value"] == 9.25
    state = {item["Name"]: item["Value"] for item in get(setup.running, "devicestate")["Value"]}
    assert state["Temperature"] == 9.25


def test_device_state_follows_the_temperature_while_the_focuser_stands(setup: Setup) -> None:
    """DeviceState is made once per snapshot of the focuser, but a new temperature is a new reply."""
    from conftest import wait_for

    assert {item["Name"]: item["Value"] for item in get(setup.running, "devicestate")["Value"]}["Temperature"] == 9.25
    write_temperature(setup.temperature, 9.75)
    wait_for(lambda: get(setup.running, "temperature")["Value"] == 9.75, what="the new temperature")
    state = {item["Name"]: item["Value"] for item in get(setup.running, "devicestate")["Value"]}
    assert state["Temperature"] == 9.75


def test_without_a_coefficient_tempcomp_is_unavailable_and_says_how_to_get_one(setup: Setup) -> None:
    assert get(setup.running, "tempcompavailable")["Value"] is False
    body = put(setup.running, "tempcomp", TempComp="true")
    assert body["ErrorNumber"] == NOT_IMPLEMENTED and "TemperatureFit" in body["ErrorMessage"]
    assert put(setup.running, "tempcomp", TempComp="false")["ErrorNumber"] == 0


def test_the_temperature_actions_are_offered_and_known(setup: Setup) -> None:
    supported = set(get(setup.running, "supportedactions")["Value"])
    assert TEMPERATURE_ACTIONS <= supported
    status = action(setup.running, "TemperatureStatus")
    assert status["temperature"]["status"] == "ok" and status["temperature"]["celsius"] == 9.25
    assert status["focus_log"] == {"points": 24, "file": str(setup.log), "rest_s": 180.0}


def test_the_learnt_coefficient_is_applied_and_saved_with_the_comments_kept(setup: Setup) -> None:
    fit = action(setup.running, "TemperatureFit")
    assert fit["verdict"] == "ok" and fit["outliers"] == [6]
    assert fit["steps_per_c"] == pytest.approx(SLOPE, abs=1.0)
    applied = action(setup.running, "TemperatureApply")
    assert applied == {"steps_per_c": fit["steps_per_c"], "saved": True}
    text = setup.config.read_text()
    assert tomllib.loads(text)["focuser"][0]["tempcomp_steps_per_c"] == fit["steps_per_c"]
    assert "# the file my weather script writes" in text and "# my observatory" in text
    assert get(setup.running, "tempcompavailable")["Value"] is True
    assert put(setup.running, "tempcomp", TempComp="true")["ErrorNumber"] == 0
    assert ConfigFile.load(setup.config).settings.focusers[0].tempcomp_steps_per_c == fit["steps_per_c"]


def test_a_chosen_coefficient_can_be_applied(setup: Setup) -> None:
    assert action(setup.running, "TemperatureApply", '{"steps_per_c": 25.5}') == {"steps_per_c": 25.5, "saved": True}
    assert tomllib.loads(setup.config.read_text())["focuser"][0]["tempcomp_steps_per_c"] == 25.5


@pytest.mark.parametrize("parameters, number, says", [("warm", INVALID_VALUE, "number of steps per °C"), ("0", INVALID_VALUE, "non-zero")])
def test_a_bad_coefficient_is_refused(setup: Setup, parameters: str, number: int, says: str) -> None:
    body = put(setup.running, "action", Action="TemperatureApply", Parameters=parameters)
    assert body["ErrorNumber"] == number and says in body["ErrorMessage"]
    assert "tempcomp_steps_per_c" not in setup.config.read_text()


def test_points_can_be_dropped_and_the_log_cleared(setup: Setup) -> None:
    points = action(setup.running, "TemperatureLog")
    assert [p["id"] for p in points] == list(range(1, 25))
    assert action(setup.running, "TemperatureDropPoints", "[6, 99]") == {"dropped": [6], "not_found": [99]}
    assert action(setup.running, "TemperatureFit")["outliers"] == []
    assert len(setup.log.read_text().splitlines()) == 23
    body = put(setup.running, "action", Action="TemperatureDropPoints", Parameters="99")
    assert body["ErrorNumber"] == INVALID_VALUE and "no point 99" in body["ErrorMessage"]
    assert action(setup.running, "TemperatureClearLog") == {"cleared": 23}
    assert setup.log.read_text() == ""
    fit = action(setup.running, "TemperatureFit")
    assert fit["verdict"] == "too little data" and fit["steps_per_c"] is None
    body = put(setup.running, "action", Action="TemperatureApply")
    assert body["ErrorNumber"] == INVALID_OPERATION and "Too little data" in body["ErrorMessage"]


@pytest.mark.parametrize("setup", [1], indirect=True)
def test_a_broken_source_makes_temperature_an_error_that_says_why_and_since_when(setup: Setup) -> None:
    setup.temperature.write_text("sensor offline")
    status = wait_status(setup, "failed")
    assert "not a number" in status["message"] and "no temperature since" in status["message"]
    body = get(setup.running, "temperature")
    assert body["ErrorNumber"] == 0x511
    assert "not a number" in body["ErrorMessage"] and "since" in body["ErrorMessage"]
    write_temperature(setup.temperature, 8.5)
    wait_status(setup, "ok")
    assert get(setup.running, "temperature")["Value"] == 8.5


def wait_status(setup: Setup, status: str) -> dict[str, Any]:
    from conftest import wait_for

    return wait_for(lambda: (s := action(setup.running, "TemperatureStatus")["temperature"])["status"] == status and s, what=f"status {status}")


def test_focusers_without_a_source_keep_temperature_not_implemented() -> None:
    with running_server() as running:
        assert get(running, "temperature")["ErrorNumber"] == NOT_IMPLEMENTED
        assert not TEMPERATURE_ACTIONS & set(get(running, "supportedactions")["Value"])
        body = put(running, "action", Action="TemperatureFit")
        assert body["ErrorNumber"] == ACTION_NOT_IMPLEMENTED and "needs a temperature source" in body["ErrorMessage"]


def test_an_alpaca_weather_station_gives_the_temperature() -> None:
    with weather_station(celsius=-4.5) as (station, port):
        url, _ = sim_port(200)
        settings = FocuserSettings(port=url, temperature=f"alpaca://127.0.0.1:{port}/observingconditions/0", temperature_average_s=0.1, temperature_stale_s=5)
        with running_server([settings]) as running:
            from conftest import wait_for

            wait_for(lambda: get(running, "temperature").get("Value") == -4.5, what="the station's temperature")
            station.error = (0x500, "sensor cable unplugged")
            wait_for(lambda: "sensor cable unplugged" in action(running, "TemperatureStatus")["temperature"]["last_error"], what="the error")
            assert get(running, "temperature")["Value"] == -4.5  # still within temperature_stale_s


def test_a_coefficient_that_cannot_be_saved_is_not_used(setup: Setup) -> None:
    setup.config.chmod(0o444)
    body = put(setup.running, "action", Action="TemperatureApply", Parameters="25")
    assert body["ErrorNumber"] == 0x501 and "read-only" in body["ErrorMessage"]
    assert get(setup.running, "tempcompavailable")["Value"] is False


def test_the_setup_page_shows_the_source_and_links_the_temperature_page(setup: Setup) -> None:
    html = requests.get(f"{setup.running.url}/setup/v1/focuser/0/setup").text
    assert "9.25 °C" in html and "file:" in html
    assert 'href="/web/temperature.html?focuser=0"' in html
