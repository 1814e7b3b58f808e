"""The vendor actions through alpyca against the running server, on the built-in simulator."""

from __future__ import annotations

import contextlib
import json
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.exceptions import (
    ActionNotImplementedException,
    InvalidOperationException,
    InvalidValueException,
    NotConnectedException,
)
from alpaca.focuser import Focuser
from conftest import wait_for

from alpaca_focuser.alpaca.actions import run_action as run_any_action
from alpaca_focuser.alpaca.connection import ConnectionControl
from alpaca_focuser.config import ConfigFile
from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.errors import ActionNotImplemented, NotConnected
from alpaca_focuser.server import AlpacaServer
from alpaca_focuser.settings import FocuserSettings

TEMPLATE = Path(__file__).resolve().parent.parent / "config.toml"
TIME_SCALE = 100
EXPECTED_ACTIONS = {
    "Calibrate", "AbortCalibration", "CalibrationStatus", "GetBacklash", "SetBacklash", "Presets", "SavePreset",
    "GotoPreset", "DeletePreset", "MoveRelative", "Jog", "GetReverse", "SetReverse", "FocuserInfo", "MoveHistory",
    "Ports", "Settings", "SetSettings", "Clients", "DisconnectAll",
}


def write_config(folder: Path, sim_name: str | None = None) -> Path:
    """A copy of the commented template that serves a simulator of its own on loopback only."""
    sim_name = sim_name or f"actions-{uuid.uuid4().hex[:8]}"
    text = TEMPLATE.read_text(encoding="utf-8")
    for old, new in {
        'port = "sim://"': f'port = "sim://{sim_name}?time_scale={TIME_SCALE}"',
        'bind = "0.0.0.0"': 'bind = "127.0.0.1"',
        "discovery = true": "discovery = false",
        "mdns = true": "mdns = false",
        "jog_timeout_s = 2.0": "jog_timeout_s = 0.5",
        "poll_calibration_ms = 500": "poll_calibration_ms = 100",
    }.items():
        assert text.count(old) == 1, f"the template config.toml no longer has exactly one line {old!r}"
        text = text.replace(old, new)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def server_from_config(config_path: Path) -> Iterator[AlpacaServer]:
    """The real server (waitress on a free loopback port) with the configuration file at ``config_path``."""
    config = ConfigFile.load(config_path)
    config.settings.server.http_port = 0
    server = AlpacaServer(config.settings, config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def connected_client(server: AlpacaServer) -> Focuser:
    focuser = Focuser(f"127.0.0.1:{server.http_port}", 0)
    focuser.Connect()
    wait_for(lambda: not focuser.Connecting and focuser.Connected, 10, "the focuser to connect")
    return focuser


def action(focuser: Focuser, name: str, *parameters: str) -> Any:
    return json.loads(focuser.Action(name, *parameters))


def settle(focuser: Focuser, timeout: float = 15) -> None:
    wait_for(lambda: not focuser.IsMoving, timeout, "the focuser to stop", interval=0.02)


def saved_focuser(config_path: Path) -> dict[str, Any]:
    return tomllib.loads(config_path.read_text(encoding="utf-8"))["focuser"][0]


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def server(config_path: Path) -> Iterator[AlpacaServer]:
    with server_from_config(config_path) as running:
        yield running


@pytest.fixture
def focuser(server: AlpacaServer) -> Focuser:
    return connected_client(server)


def test_supported_actions_lists_every_action_and_no_safety_events(focuser):
    supported = focuser.SupportedActions
    assert set(supported) == EXPECTED_ACTIONS
    assert not {"safetyevents", "setexternalevents", "clearexternalevents"} & {name.lower() for name in supported}


def test_every_advertised_action_is_known_to_the_server(focuser):
    for name in sorted(focuser.SupportedActions, key=lambda name: name == "DisconnectAll"):  # that one last
        try:
            focuser.Action(name)
        except ActionNotImplementedException:
            pytest.fail(f"{name} is advertised but the server says it is not implemented")
        except (InvalidValueException, InvalidOperationException):
            pass  # it needs parameters, or a calibration to abort
    assert not focuser.Connected, "DisconnectAll ends this client's connection too"


def test_action_names_match_in_any_case(focuser):
    assert action(focuser, "getbacklash") == action(focuser, "GETBACKLASH") == {"steps": 0, "direction": "none"}


def test_an_unknown_action_is_action_not_implemented_and_names_the_real_ones(focuser):
    with pytest.raises(ActionNotImplementedException, match="MoveRelative"):
        focuser.Action("SafetyEvents")


def test_backlash_is_set_read_back_and_saved_keeping_the_comments(focuser, config_path):
    assert action(focuser, "SetBacklash", '{"steps": 200, "direction": "out"}') == {"steps": 200, "direction": "out"}
    assert action(focuser, "GetBacklash") == {"steps": 200, "direction": "out"}
    assert action(focuser, "SetBacklash", '{"direction": "IN"}') == {"steps": 200, "direction": "in"}
    saved = saved_focuser(config_path)
    assert (saved["backlash_steps"], saved["backlash_direction"]) == (200, "in")
    assert "# Backlash compensation done by the server" in config_path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "parameters", "says"),
    [
        ("SetBacklash", "200", '{"steps": 200, "direction": "out"}'),
        ("SetBacklash", '{"steps": "many"}', "steps must be a whole number"),
        ("SetBacklash", '{"steps": 100, "speed": 3}', "unknown key 'speed'"),
        ("SetBacklash", '{"direction": "up"}', 'direction must be "in", "out" or "none"'),
        ("SetBacklash", '{"steps": -1}', "out of range"),
        ("MoveRelative", "far", 'like -500 or {"steps": -500}'),
        ("MoveRelative", "1.5", "whole number"),
        ("Jog", "12", "-9 to 9"),
        ("Jog", '{"speed": 3}', '{"rate": 5}'),
        ("SetReverse", "maybe", 'true, false or {"reverse": true}'),
        ("GotoPreset", "Nowhere", "There is no preset"),
        ("GotoPreset", "true", "slot number or its name"),
        ("SavePreset", '{"position": 100}', 'give "slot", "name" or both'),
        ("SavePreset", '{"slot": 99}', "slots are numbered 1 to"),
        ("Calibrate", "now", "takes no parameters"),
    ],
)
def test_bad_parameters_are_invalid_value_saying_what_is_expected(focuser, name, parameters, says):
    with pytest.raises(InvalidValueException) as raised:
        focuser.Action(name, parameters)
    assert says in str(raised.value)
    assert not focuser.IsMoving


def test_a_repeated_parameters_field_is_invalid_value(focuser):
    with pytest.raises(InvalidValueException, match="sent 2 times"):
        focuser.Action("SetReverse", "true", "false")
    assert action(focuser, "GetReverse") == {"reverse": False}


def test_parameters_may_be_absent_or_empty_over_plain_http(server, focuser):
    url = f"http://127.0.0.1:{server.http_port}/api/v1/focuser/0/action"
    for form in ({"Action": "GetBacklash"}, {"Action": "GetBacklash", "Parameters": ""}):
        reply = requests.put(url, data=form, timeout=5).json()
        assert reply["ErrorNumber"] == 0, reply
        assert json.loads(reply["Value"]) == {"steps": 0, "direction": "none"}


def test_presets_are_saved_reached_and_deleted(focuser, config_path):
    top = focuser.MaxStep
    here = focuser.Position
    assert action(focuser, "SavePreset", f'{{"slot": 1, "name": "Bahtinov", "position": {top // 4}}}') == {
        "slot": 1, "name": "Bahtinov", "position": top // 4}
    visual = action(focuser, "SavePreset", "Visual")
    assert visual == {"slot": 2, "name": "Visual", "position": here}
    assert action(focuser, "Presets") == [
        {"slot": 1, "name": "Bahtinov", "position": top // 4},
        {"slot": 2, "name": "Visual", "position": here},
    ]
    assert action(focuser, "GotoPreset", "bahtinov")["slot"] == 1
    settle(focuser)
    assert focuser.Position == top // 4
    action(focuser, "GotoPreset", '{"slot": 2}')
    settle(focuser)
    assert focuser.Position == here
    assert [p["name"] for p in saved_focuser(config_path)["presets"]] == ["Bahtinov", "Visual"]
    assert action(focuser, "DeletePreset", "1")["name"] == "Bahtinov"
    assert action(focuser, "Presets") == [{"slot": 2, "name": "Visual", "position": here}]
    assert [p["name"] for p in saved_focuser(config_path)["presets"]] == ["Visual"]


def test_move_relative_moves_by_signed_steps_and_clamps_at_the_ends(focuser):
    start = focuser.Position
    assert action(focuser, "MoveRelative", "-500") == {"target": start - 500}
    assert focuser.IsMoving
    settle(focuser)
    assert focuser.Position == start - 500
    action(focuser, "MoveRelative", '{"steps": 250}')
    settle(focuser)
    assert focuser.Position == start - 250
    assert action(focuser, "MoveRelative", str(10 * focuser.MaxStep)) == {"target": focuser.MaxStep}
    settle(focuser)
    assert focuser.Position == focuser.MaxStep


def test_jog_runs_until_stopped_by_jog_0(focuser):
    start = focuser.Position
    action(focuser, "Jog", "5")
    assert focuser.IsMoving
    wait_for(lambda: focuser.Position > start + 50, 10, "the jog to move outward")
    action(focuser, "Jog", "5")  # renewed, so only Jog 0 can stop it now
    assert focuser.IsMoving
    action(focuser, "Jog", "0")
    assert not focuser.IsMoving
    assert focuser.Position > start


def test_jog_inward_stops_on_halt(focuser):
    start = focuser.Position
    action(focuser, "Jog", '{"rate": -5}')
    wait_for(lambda: focuser.Position < start - 50, 10, "the jog to move inward")
    action(focuser, "Jog", "-5")
    assert focuser.IsMoving
    focuser.Halt()
    assert not focuser.IsMoving


def test_jog_stops_by_itself_when_not_renewed(focuser):
    start = focuser.Position
    action(focuser, "Jog", "-2")
    assert focuser.IsMoving
    settle(focuser, 10)
    assert focuser.Position < start


def test_a_renewed_jog_stops_at_the_end_of_the_range(focuser):
    action(focuser, "MoveRelative", str(focuser.MaxStep))
    settle(focuser)
    action(focuser, "MoveRelative", "-300")
    settle(focuser)
    deadline = time.monotonic() + 10
    action(focuser, "Jog", "6")
    while focuser.IsMoving:
        assert time.monotonic() < deadline, "the jog did not stop at the end of the range"
        focuser.Action("Jog", "6")
        time.sleep(0.1)
    assert focuser.Position == focuser.MaxStep


def test_reverse_flips_positions_presets_and_is_saved(focuser, config_path):
    top = focuser.MaxStep
    here = focuser.Position
    action(focuser, "SavePreset", f'{{"slot": 3, "name": "Far", "position": {top - 1000}}}')
    assert action(focuser, "SetReverse", "true") == {"reverse": True}
    assert action(focuser, "GetReverse") == {"reverse": True}
    assert focuser.Position == top - here
    assert action(focuser, "Presets") == [{"slot": 3, "name": "Far", "position": 1000}]
    assert saved_focuser(config_path)["reverse"] is True
    assert action(focuser, "SetReverse", '{"reverse": false}') == {"reverse": False}
    assert focuser.Position == here


def test_set_reverse_and_calibrate_are_refused_while_moving(focuser):
    action(focuser, "Jog", "3")
    with pytest.raises(InvalidOperationException, match="Halt"):
        focuser.Action("SetReverse", "true")
    action(focuser, "Jog", "3")
    with pytest.raises(InvalidOperationException, match="Halt"):
        focuser.Action("Calibrate")
    assert action(focuser, "CalibrationStatus")["running"] is False
    focuser.Halt()
    settle(focuser, 5)
    assert action(focuser, "GetReverse") == {"reverse": False}


def test_calibration_runs_refuses_moves_and_can_be_aborted(focuser):
    assert action(focuser, "CalibrationStatus")["calibrated"] is True
    status = action(focuser, "Calibrate")
    assert status["running"] is True
    assert set(status) == {"calibrated", "running", "state", "elapsed_s", "message"}
    assert focuser.IsMoving
    with pytest.raises(InvalidOperationException, match="calibration is running"):
        action(focuser, "MoveRelative", "100")
    with pytest.raises(InvalidOperationException):
        focuser.Move(100)
    with pytest.raises(InvalidOperationException, match="already running"):
        action(focuser, "Calibrate")
    assert action(focuser, "AbortCalibration")["running"] is False
    status = wait_for(lambda: (s := action(focuser, "CalibrationStatus")) and not s["running"] and "aborted" in s["message"] and s,
                      10, "the calibration to end as aborted")
    assert status["calibrated"] is False
    with pytest.raises(InvalidOperationException, match="Calibrate it first"):
        action(focuser, "MoveRelative", "100")
    with pytest.raises(InvalidOperationException, match="No calibration is running"):
        action(focuser, "AbortCalibration")


def test_a_calibration_runs_to_the_end(focuser):
    action(focuser, "Calibrate")
    done = wait_for(lambda: (s := action(focuser, "CalibrationStatus")) and not s["running"] and s, 20, "the calibration to end")
    assert done["calibrated"] is True, done
    assert done["elapsed_s"] > 0
    info = action(focuser, "FocuserInfo")
    assert info["max_step"] == info["raw_limits"]["high"] - info["raw_limits"]["low"] == focuser.MaxStep


def test_focuser_info_describes_the_focuser_and_its_link(focuser):
    info = action(focuser, "FocuserInfo")
    assert info["firmware"] and info["port"].startswith("sim://")
    assert info["calibrated"] is True and info["reverse"] is False
    assert info["max_step"] == focuser.MaxStep
    assert info["raw_position"] - info["raw_limits"]["low"] == focuser.Position
    assert info["link"]["ok"] is True and info["link"]["last_error"] == ""
    assert info["link"]["traffic"]["frames_received"] > 0


def test_actions_that_need_the_focuser_say_not_connected(focuser):
    focuser.Disconnect()
    wait_for(lambda: not focuser.Connected, 10, "the focuser to disconnect")
    for name, parameters in (("Calibrate", ()), ("MoveRelative", ("100",)), ("Jog", ("3",)), ("GotoPreset", ("1",))):
        with pytest.raises(NotConnectedException):
            focuser.Action(name, *parameters)


def test_settings_and_info_actions_work_while_the_focuser_is_disconnected():
    """The actions that only touch saved settings do not need the focuser (run_action directly:
    it is the contract the HTTP layer's Action member calls)."""
    device = CelestronFocuser(FocuserSettings(port=f"sim://offline-{uuid.uuid4().hex[:8]}"))
    connection = ConnectionControl(device, "focuser 0", lease_s=lambda: 300.0)

    def run_action(name: str, parameters: list[str]) -> str:
        return run_any_action(device, name, parameters, connection=connection, client=1)

    try:
        assert not device.state.connected
        assert json.loads(run_action("SetBacklash", ['{"steps": 50, "direction": "in"}'])) == {"steps": 50, "direction": "in"}
        assert json.loads(run_action("GetBacklash", [])) == {"steps": 50, "direction": "in"}
        assert json.loads(run_action("SetReverse", ["true"])) == {"reverse": True}
        assert json.loads(run_action("Presets", [])) == []
        info = json.loads(run_action("FocuserInfo", []))
        assert info["connected"] is False and info["link"]["ok"] is False
        for name, parameters in (("Calibrate", []), ("SavePreset", ["Visual"]), ("MoveRelative", ["10"]), ("Jog", ["1"])):
            with pytest.raises(NotConnected, match="Connect it first"):
                run_action(name, parameters)
        with pytest.raises(ActionNotImplemented):
            run_action("Focus", [])
    finally:
        device.close()
