"""TempComp through the real server on the simulated focuser at a high time scale, with a file
temperature source the test rewrites: the focuser follows a ramp by the coefficient within one step,
waits for the threshold, never moves while a client's move runs, stops when the source goes stale,
and logs where a client's move came to rest."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import wait_for
from server_support import RunningServer, running_server, sim_port
from temperature_support import write_temperature

from alpaca_focuser.settings import FocuserSettings
from alpaca_focuser.temperature.service import TemperatureService

COEFFICIENT = 100.0  # steps per °C
START_C = 10.0
HOME = 20000


def focuser_settings(temperature_file: Path, time_scale: float, **overrides: Any) -> FocuserSettings:
    url, _ = sim_port(time_scale)
    options: dict[str, Any] = {
        "name": "Temperature Focuser",
        "port": url,
        "temperature": f"file:{temperature_file}",
        "tempcomp_steps_per_c": COEFFICIENT,
        "tempcomp_threshold_c": 0.5,
        "temperature_average_s": 0.1,
        "temperature_stale_s": 3600,
        "temperature_log_rest_s": 0.2,
        **overrides,
    }
    return FocuserSettings(**options)


@pytest.fixture
def temperature_file(tmp_path: Path) -> Path:
    path = tmp_path / "temperature"
    write_temperature(path, START_C)
    return path


@pytest.fixture
def server(temperature_file: Path) -> Iterator[RunningServer]:
    with running_server([focuser_settings(temperature_file, 200)]) as running:
        yield running


def call(running: RunningServer, method: str, member: str, **data: Any) -> Any:
    response = requests.request(method, running.api(member), data=data if method == "PUT" else None)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return body.get("Value")


def service_of(running: RunningServer) -> TemperatureService:
    service = running.server.temperatures[0]
    assert service is not None
    return service


def client_move(running: RunningServer, position: int) -> None:
    call(running, "PUT", "move", Position=position)
    wait_for(lambda: not running.focuser().state.moving and running.focuser().state.position == position, what=f"the move to {position}")


def sustain(service: TemperatureService, path: Path, celsius: float) -> None:
    """Write the file again and again, as a script does, until the temperature reads ``celsius``: a
    jump is set aside as an outlier until it has lasted for a few readings."""
    wait_for(lambda: write_temperature(path, celsius) or service.health().celsius == pytest.approx(celsius), what=f"the temperature to read {celsius}")


def read_once(service: TemperatureService, path: Path, celsius: float) -> None:
    """Write the file once and wait until the reader has read that write."""
    write_temperature(path, celsius)
    written = path.stat().st_mtime
    wait_for(lambda: service.health().last_reading_at == written, what=f"the reading of {celsius}")


def set_temperature(service: TemperatureService, path: Path, celsius: float, age_s: float = 0.0) -> None:
    """Write the file and wait until the averaged temperature has taken it and been acted on."""
    if age_s:
        write_temperature(path, celsius, age_s)
        wait_for(lambda: service.health().status == "stale", what="the source to go stale")
    else:
        sustain(service, path, celsius)
    settle(service)


def settle(service: TemperatureService, observations: int = 5) -> None:
    """Let the compensation thread look at the focuser a few more times."""
    seen = service.observations
    wait_for(lambda: service.observations >= seen + observations, what="the compensation thread to observe")


def start_compensating(running: RunningServer) -> TemperatureService:
    service = service_of(running)
    settle(service, 2)  # it has seen the connected focuser where it starts
    client_move(running, HOME)
    call(running, "PUT", "tempcomp", TempComp="true")
    assert call(running, "GET", "tempcomp") is True
    wait_for(lambda: service.status()["tempcomp"]["anchor"] == {"celsius": START_C, "position": HOME}, what="the anchor")
    return service


def expected(celsius: float, base: int = HOME, base_c: float = START_C) -> float:
    return base + COEFFICIENT * (celsius - base_c)


def test_the_focuser_follows_a_temperature_ramp_by_the_coefficient(server: RunningServer, temperature_file: Path) -> None:
    assert call(server, "GET", "tempcompavailable") is True
    service = start_compensating(server)
    wait_for(lambda: len(service.focus_log.points()) == 1, what="the client's move to be logged")
    for celsius in (10.6, 11.3, 12.1, 12.9, 12.2, 11.0, 9.4):
        write_temperature(temperature_file, celsius)
        wait_for(
            lambda c=celsius: not server.focuser().state.moving and abs(server.focuser().state.position - expected(c)) <= 1,
            what=f"the compensation for {celsius} °C",
        )
    moves = service.status()["tempcomp"]["recent_moves"]
    assert len(moves) >= 7
    assert [p.position for p in service.focus_log.points()] == [HOME], "compensation moves are not focus log points"


def test_nothing_moves_within_the_threshold(server: RunningServer, temperature_file: Path) -> None:
    service = start_compensating(server)
    set_temperature(service, temperature_file, 10.45)
    assert server.focuser().state.position == HOME
    set_temperature(service, temperature_file, 9.6)
    assert server.focuser().state.position == HOME
    set_temperature(service, temperature_file, 10.55)
    wait_for(lambda: server.focuser().state.position == round(expected(10.55)), what="the move past the threshold")


def test_a_client_move_is_never_overridden_and_sets_a_new_reference(temperature_file: Path) -> None:
    with running_server([focuser_settings(temperature_file, 30)]) as running:
        service = start_compensating(running)
        far = HOME - 12000
        call(running, "PUT", "move", Position=far)
        sustain(service, temperature_file, 13.0)  # +300 steps' worth, while the client's move runs
        assert running.focuser().state.moving, "the client's move ended before the temperature changed; the test proves nothing"
        targets = set()
        while (state := running.focuser().state).moving:
            targets.add(state.target)
        assert targets <= {far}
        assert running.focuser().state.position == far
        settle(service)
        assert running.focuser().state.position == far, "the temperature change before the client's move is not compensated"
        assert service.status()["tempcomp"]["anchor"] == {"celsius": 13.0, "position": far}
        set_temperature(service, temperature_file, 13.6)
        wait_for(lambda: running.focuser().state.position == far + 60, what="compensation from the client's position")


def test_a_stale_source_pauses_compensation_until_it_is_back(server: RunningServer, temperature_file: Path) -> None:
    service = start_compensating(server)
    set_temperature(service, temperature_file, 12.0, age_s=7200)
    assert server.focuser().state.position == HOME
    state = service.status()["tempcomp"]["state"]
    assert state.startswith("paused: no new reading") and "temperature_stale_s" in state
    body = requests.get(server.api("temperature")).json()
    assert body["ErrorNumber"] == 0x511 and "since" in body["ErrorMessage"]
    assert "Temperature" not in {item["Name"] for item in call(server, "GET", "devicestate")}
    set_temperature(service, temperature_file, 12.0)
    wait_for(lambda: server.focuser().state.position == round(expected(12.0)), what="compensation after the source came back")


def test_tempcomp_off_leaves_the_focuser_alone(server: RunningServer, temperature_file: Path) -> None:
    service = start_compensating(server)
    call(server, "PUT", "tempcomp", TempComp="false")
    set_temperature(service, temperature_file, 14.0)
    assert server.focuser().state.position == HOME
    assert call(server, "GET", "tempcomp") is False


def test_where_a_client_move_comes_to_rest_is_logged_once(temperature_file: Path) -> None:
    with running_server([focuser_settings(temperature_file, 200, temperature_log_rest_s=1.0)]) as running:
        service = service_of(running)
        settle(service, 2)
        client_move(running, 15000)
        wait_for(lambda: [(p.celsius, p.position) for p in service.focus_log.points()] == [(START_C, 15000)], what="the rest to be logged")
        client_move(running, 16000)  # a filter offset, straight followed by the next move
        client_move(running, 17000)
        wait_for(lambda: len(service.focus_log.points()) == 2, what="the second rest to be logged")
        settle(service, 10)
        assert [p.position for p in service.focus_log.points()] == [15000, 17000]


def test_one_outlier_among_steady_readings_moves_nothing(server: RunningServer, temperature_file: Path) -> None:
    service = start_compensating(server)
    for _ in range(4):
        read_once(service, temperature_file, START_C)  # a script rewriting the file every few seconds
    read_once(service, temperature_file, 70.0)  # one glitch: 6,000 steps' worth
    settle(service)
    assert server.focuser().state.position == HOME
    status = call(server, "PUT", "action", Action="TemperatureStatus")
    temperature = json.loads(status)["temperature"]
    assert temperature["newest_set_aside"] is True and temperature["last_celsius"] == 70.0 and temperature["celsius"] == START_C
    assert "the newest reading, 70 °C, is set aside" in temperature["message"]
    read_once(service, temperature_file, START_C)
    settle(service)
    assert server.focuser().state.position == HOME
    assert service.status()["tempcomp"]["recent_moves"] == []


def test_a_sustained_change_still_compensates(server: RunningServer, temperature_file: Path) -> None:
    service = start_compensating(server)
    for _ in range(4):
        read_once(service, temperature_file, START_C)
    read_once(service, temperature_file, 11.5)
    settle(service)
    assert server.focuser().state.position == HOME, "a single reading moved the focuser"
    read_once(service, temperature_file, 11.5)
    read_once(service, temperature_file, 11.5)
    wait_for(lambda: not server.focuser().state.moving and server.focuser().state.position == round(expected(11.5)), what="the compensation for 11.5 °C")


def test_the_cap_holds_and_a_capped_move_is_logged(temperature_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    with running_server([focuser_settings(temperature_file, 200, tempcomp_max_step=50)]) as running:
        service = start_compensating(running)
        with caplog.at_level(logging.INFO, logger="alpaca_focuser.temperature"):
            set_temperature(service, temperature_file, 13.0)  # +300 steps' worth
            wait_for(lambda: not running.focuser().state.moving and running.focuser().state.position == HOME + 50, what="the capped move")
            settle(service, 10)
        assert running.focuser().state.position == HOME + 50, "it went on past the cap"
        moves = service.status()["tempcomp"]["recent_moves"]
        assert [(move["from"], move["to"], move["capped"]) for move in moves] == [(HOME, HOME + 50, True)]
        assert [record.getMessage() for record in caplog.records if "tempcomp_max_step" in record.getMessage()] == [
            "Temperature compensation of Temperature Focuser asked for +300 steps, more than tempcomp_max_step (50), so it moved +50 only; "
            "if the temperature is right, raise tempcomp_max_step, else check the sensor"
        ]
        set_temperature(service, temperature_file, 13.6)
        wait_for(lambda: running.focuser().state.position == HOME + 100, what="the next capped move, once past the threshold again")
