"""Every focuser and common member over real HTTP, with the simulated motor behind the server:
what each one answers, moves that land, clamping, Halt, DeviceState, and the Platform 7
connection model (Connect/Disconnect/Connecting, PUT Connected, NotConnected while disconnected)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import free_port, wait_for
from server_support import RunningServer, running_server, sim_port

from alpaca_focuser.settings import FocuserSettings

NOT_IMPLEMENTED = 0x400
NOT_CONNECTED = 0x407
INVALID_OPERATION = 0x40B
ACTION_NOT_IMPLEMENTED = 0x40C
DEVICE_MEMBERS = [
    "absolute", "devicestate", "ismoving", "maxincrement", "maxstep", "position", "stepsize",
    "tempcomp", "tempcompavailable", "temperature",
]  # fmt: skip
WORKS_DISCONNECTED = ["connected", "connecting", "interfaceversion", "name", "description", "driverinfo", "driverversion", "supportedactions"]


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with running_server(time_scale=200) as server:
        yield server


def get(running: RunningServer, member: str, number: int = 0) -> dict[str, Any]:
    response = requests.get(running.api(member, number))
    assert response.status_code == 200, response.text
    return response.json()


def value(running: RunningServer, member: str, number: int = 0) -> Any:
    body = get(running, member, number)
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return body["Value"]


def put(running: RunningServer, member: str, number: int = 0, **data: Any) -> dict[str, Any]:
    response = requests.put(running.api(member, number), data=data)
    assert response.status_code == 200, response.text
    return response.json()


def move_and_wait(running: RunningServer, position: int, number: int = 0) -> int:
    body = put(running, "move", number, Position=position)
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    wait_for(lambda: not value(running, "ismoving", number), what="the move to end")
    return value(running, "position", number)


# -------------------------------------------------------------------------- common members


def test_identity_members(running: RunningServer) -> None:
    assert value(running, "interfaceversion") == 4
    assert re.fullmatch(r"\d+\.\d+", value(running, "driverversion"))
    assert value(running, "name") == "Test Focuser 0 (simulated)"
    description = value(running, "description")
    assert description and len(description) <= 64
    assert value(running, "driverinfo")


def test_supported_actions_is_a_list_of_names_without_safety_actions(running: RunningServer) -> None:
    actions = value(running, "supportedactions")
    assert isinstance(actions, list)
    assert all(isinstance(name, str) and name for name in actions)
    assert not {"SafetyEvents", "SetExternalEvents", "ClearExternalEvents"} & set(actions)


def test_unknown_action_is_action_not_implemented(running: RunningServer) -> None:
    body = put(running, "action", Action="NoSuchAction", Parameters="")
    assert body["ErrorNumber"] == ACTION_NOT_IMPLEMENTED
    assert "NoSuchAction" in body["ErrorMessage"]
    assert body["Value"] == ""


def test_action_parameters_are_optional_but_the_name_is_required(running: RunningServer) -> None:
    assert put(running, "action", Action="NoSuchAction")["ErrorNumber"] == ACTION_NOT_IMPLEMENTED
    response = requests.put(running.api("action"), data={"Parameters": "x"})
    assert response.status_code == 400
    assert "Missing parameter Action" in response.text


@pytest.mark.parametrize(("member", "has_value"), [("commandblind", False), ("commandbool", True), ("commandstring", True)])
def test_raw_commands_are_not_implemented(running: RunningServer, member: str, has_value: bool) -> None:
    body = put(running, member, Command="X", Raw="true")
    assert body["ErrorNumber"] == NOT_IMPLEMENTED
    assert ("Value" in body) == has_value
    assert requests.put(running.api(member), data={"Command": "X"}).status_code == 400
    assert requests.put(running.api(member), data={"Command": "X", "Raw": "maybe"}).status_code == 400


# ------------------------------------------------------------------------- focuser members


def test_focuser_properties(running: RunningServer) -> None:
    max_step = value(running, "maxstep")
    assert value(running, "absolute") is True
    assert max_step == running.focuser().state.max_step > 0
    assert value(running, "maxincrement") == max_step
    assert 0 <= value(running, "position") <= max_step
    assert value(running, "ismoving") is False
    assert value(running, "tempcompavailable") is False
    assert value(running, "tempcomp") is False


def test_no_temperature_sensor(running: RunningServer) -> None:
    body = get(running, "temperature")
    assert body["ErrorNumber"] == NOT_IMPLEMENTED
    assert "temperature" in body["ErrorMessage"]


def test_tempcomp_true_is_not_implemented_and_false_is_accepted(running: RunningServer) -> None:
    assert put(running, "tempcomp", TempComp="true")["ErrorNumber"] == NOT_IMPLEMENTED
    assert put(running, "tempcomp", TempComp="False")["ErrorNumber"] == 0
    assert value(running, "tempcomp") is False


def test_step_size_unknown_unless_configured(running: RunningServer) -> None:
    body = get(running, "stepsize")
    assert body["ErrorNumber"] == NOT_IMPLEMENTED
    assert "step_size_um" in body["ErrorMessage"]
    url, _ = sim_port()
    with running_server([FocuserSettings(name="Measured", port=url, step_size_um=3.75)]) as measured:
        assert value(measured, "stepsize") == 3.75


def test_move_is_asynchronous_and_lands_exactly(running: RunningServer) -> None:
    start = value(running, "position")
    target = start + value(running, "maxstep") // 10 if start < value(running, "maxstep") // 2 else start - 3000
    body = put(running, "move", Position=target)
    assert body["ErrorNumber"] == 0
    assert value(running, "ismoving") is True
    wait_for(lambda: not value(running, "ismoving"), what="the move to end")
    assert value(running, "position") == target
    assert running.motor().position == running.focuser().state.raw_position


def test_moves_beyond_the_ends_are_clamped(running: RunningServer) -> None:
    max_step = value(running, "maxstep")
    assert move_and_wait(running, -10) == 0
    assert move_and_wait(running, max_step + 10) == max_step
    assert move_and_wait(running, max_step // 2) == max_step // 2


def test_a_new_move_while_moving_is_accepted_and_wins(running: RunningServer) -> None:
    max_step = value(running, "maxstep")
    move_and_wait(running, 0)
    assert put(running, "move", Position=max_step)["ErrorNumber"] == 0
    assert put(running, "move", Position=1000)["ErrorNumber"] == 0
    wait_for(lambda: not value(running, "ismoving"), what="the move to end")
    assert value(running, "position") == 1000


def test_halt_stops_a_move() -> None:
    with running_server(time_scale=2) as slow:
        max_step = value(slow, "maxstep")
        start = value(slow, "position")
        target = 0 if start > max_step // 2 else max_step
        assert put(slow, "move", Position=target)["ErrorNumber"] == 0
        wait_for(lambda: value(slow, "position") != start, what="the motor to start")
        assert put(slow, "halt")["ErrorNumber"] == 0
        wait_for(lambda: not value(slow, "ismoving"), what="the halt to take effect")
        stopped = value(slow, "position")
        assert stopped != target
        assert not slow.motor().moving


def test_halt_while_idle_is_fine(running: RunningServer) -> None:
    assert put(running, "halt")["ErrorNumber"] == 0


def test_device_state_has_exactly_the_known_values(running: RunningServer) -> None:
    before = datetime.datetime.now()
    items = value(running, "devicestate")
    assert [item["Name"] for item in items] == ["IsMoving", "Position", "TimeStamp"]
    assert all(set(item) == {"Name", "Value"} for item in items)
    state = {item["Name"]: item["Value"] for item in items}
    assert state["IsMoving"] is False
    assert isinstance(state["Position"], int) and state["Position"] == value(running, "position")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", state["TimeStamp"])
    measured = datetime.datetime.fromisoformat(state["TimeStamp"])
    assert abs((measured - before).total_seconds()) < 10  # local time, not UTC


def test_device_state_reports_a_move_in_progress(running: RunningServer) -> None:
    max_step = value(running, "maxstep")
    target = 0 if value(running, "position") > max_step // 2 else max_step
    put(running, "move", Position=target)
    state = {item["Name"]: item["Value"] for item in value(running, "devicestate")}
    assert state["IsMoving"] is True
    wait_for(lambda: not value(running, "ismoving"), what="the move to end")


def test_uncalibrated_focuser_refuses_moves_with_invalid_operation() -> None:
    url, _ = sim_port(uncalibrated=1)
    with running_server([FocuserSettings(name="New", port=url)]) as fresh:
        body = put(fresh, "move", Position=100)
        assert body["ErrorNumber"] == INVALID_OPERATION
        assert "calibrat" in body["ErrorMessage"].lower()


# ----------------------------------------------------------------------- connection model


def test_disconnect_and_connect_back_to_back_like_conformu(running: RunningServer) -> None:
    for _ in range(12):
        assert put(running, "disconnect")["ErrorNumber"] == 0
    wait_for(lambda: not value(running, "connecting"), what="Connecting to end")
    assert value(running, "connected") is False
    for _ in range(12):
        assert put(running, "connect")["ErrorNumber"] == 0
    wait_for(lambda: not value(running, "connecting"), what="Connecting to end")
    assert value(running, "connected") is True


def test_members_while_disconnected(running: RunningServer) -> None:
    assert put(running, "connected", Connected="false")["ErrorNumber"] == 0
    try:
        assert value(running, "connected") is False
        for member in WORKS_DISCONNECTED:
            assert get(running, member)["ErrorNumber"] == 0, member
        for member in DEVICE_MEMBERS:
            body = get(running, member)
            assert body["ErrorNumber"] == NOT_CONNECTED, member
            assert "Value" in body
            assert "connect" in body["ErrorMessage"]
        assert put(running, "move", Position=10)["ErrorNumber"] == NOT_CONNECTED
        assert put(running, "halt")["ErrorNumber"] == NOT_CONNECTED
        assert put(running, "action", Action="NoSuchAction")["ErrorNumber"] == ACTION_NOT_IMPLEMENTED  # actions decide for themselves
        assert put(running, "connected", Connected="false")["ErrorNumber"] == 0
    finally:
        assert put(running, "connected", Connected="true")["ErrorNumber"] == 0
    assert value(running, "connected") is True
    assert put(running, "connected", Connected="true")["ErrorNumber"] == 0


def test_a_focuser_that_does_not_answer() -> None:
    silent = FocuserSettings(name="Unplugged", port=f"socket://127.0.0.1:{free_port()}", reply_timeout_s=0.2)
    with running_server([silent], wait_connected=False) as running:
        assert value(running, "connected") is False

        def refusal_with_reason() -> dict[str, Any] | None:
            body = get(running, "position")
            return body if "127.0.0.1" in body["ErrorMessage"] else None

        assert wait_for(refusal_with_reason, what="the reason it is not connected")["ErrorNumber"] == NOT_CONNECTED
        assert put(running, "connect")["ErrorNumber"] == 0
        wait_for(lambda: not value(running, "connecting"), what="the failed Connect to end")
        assert value(running, "connected") is False
        page = requests.get(f"{running.url}/setup/v1/focuser/0/setup").text
        assert "Last failed Connect" in page
        body = put(running, "connected", Connected="true")
        assert body["ErrorNumber"] == NOT_CONNECTED
        assert "127.0.0.1" in body["ErrorMessage"]


def test_connecting_is_true_while_a_slow_connect_runs_and_a_failure_is_kept() -> None:
    url, _ = sim_port()
    with running_server([FocuserSettings(name="Slow", port=url, reply_timeout_s=0.3)]) as running:
        assert put(running, "connected", Connected="false")["ErrorNumber"] == 0
        running.motor().set_fault("silent")
        assert put(running, "connect")["ErrorNumber"] == 0
        assert value(running, "connecting") is True
        wait_for(lambda: not value(running, "connecting"), what="the failed Connect to end")
        assert value(running, "connected") is False
        assert "Last failed Connect" in requests.get(f"{running.url}/setup/v1/focuser/0/setup").text
        running.motor().clear_faults()
        assert put(running, "connect")["ErrorNumber"] == 0
        wait_for(lambda: not value(running, "connecting"), what="the Connect to end")
        assert value(running, "connected") is True
        assert "Last failed Connect" not in requests.get(f"{running.url}/setup/v1/focuser/0/setup").text
