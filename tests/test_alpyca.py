"""ASCOM's own Python client (alpyca) drives every member and the management API against the
running server, with the simulated focus motor behind it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from alpaca import management
from alpaca.exceptions import ActionNotImplementedException, NotConnectedException, NotImplementedException
from alpaca.focuser import Focuser
from conftest import wait_for
from server_support import RunningServer, running_server


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with running_server(focusers=2, time_scale=200) as server:
        yield server


def address(running: RunningServer) -> str:
    return f"127.0.0.1:{running.port}"


@pytest.fixture
def focuser(running: RunningServer) -> Iterator[Focuser]:
    device = Focuser(address(running), 0)
    device.Connect()
    wait_for(lambda: not device.Connecting, what="Connect to finish")
    assert device.Connected
    yield device
    wait_for(lambda: not device.IsMoving, what="the focuser to stop")


def move(device: Focuser, position: int) -> int:
    device.Move(position)
    wait_for(lambda: not device.IsMoving, what="the move to end")
    return device.Position


def test_management_api(running: RunningServer) -> None:
    assert management.apiversions(address(running)) == [1]
    description = management.description(address(running))
    assert description["ServerName"] and description["Manufacturer"] and description["ManufacturerVersion"] and description["Location"]
    devices = management.configureddevices(address(running))
    assert [(d["DeviceType"], d["DeviceNumber"], d["DeviceName"]) for d in devices] == [("Focuser", 0, "Test Focuser 0 (simulated)"), ("Focuser", 1, "Test Focuser 1 (simulated)")]
    assert len({d["UniqueID"] for d in devices}) == 2


def test_common_members(focuser: Focuser) -> None:
    assert focuser.InterfaceVersion == 4
    assert focuser.Name == "Test Focuser 0 (simulated)"
    assert 0 < len(focuser.Description) <= 64
    assert focuser.DriverInfo
    assert focuser.DriverVersion.count(".") == 1
    assert isinstance(focuser.SupportedActions, list)


def test_focuser_properties(focuser: Focuser) -> None:
    assert focuser.Absolute is True
    assert focuser.MaxIncrement == focuser.MaxStep > 0
    assert 0 <= focuser.Position <= focuser.MaxStep
    assert focuser.IsMoving is False
    assert focuser.TempCompAvailable is False
    assert focuser.TempComp is False
    with pytest.raises(NotImplementedException):
        focuser.Temperature
    with pytest.raises(NotImplementedException):
        focuser.StepSize


def test_tempcomp_cannot_be_switched_on(focuser: Focuser) -> None:
    with pytest.raises(NotImplementedException):
        focuser.TempComp = True
    focuser.TempComp = False
    assert focuser.TempComp is False


def test_move_lands_exactly_and_clamps(running: RunningServer, focuser: Focuser) -> None:
    max_step = focuser.MaxStep
    target = focuser.Position + 1234 if focuser.Position < max_step // 2 else focuser.Position - 1234
    running.motor(0).time_scale = 5.0  # a move of about 0.8 s, so a loaded machine cannot end it before IsMoving is read
    focuser.Move(target)
    assert focuser.IsMoving
    wait_for(lambda: not focuser.IsMoving, what="the move to end")
    running.motor(0).time_scale = 50.0
    assert focuser.Position == target
    assert move(focuser, -10) == 0
    assert move(focuser, max_step + 10) == max_step


def test_halt_stops_a_move(running: RunningServer, focuser: Focuser) -> None:
    move(focuser, 0)
    running.motor(0).time_scale = 1.0  # slow the motor so the halt lands mid-travel
    try:
        focuser.Move(focuser.MaxStep)
        wait_for(lambda: focuser.Position > 0, what="the motor to start")
        focuser.Halt()
        wait_for(lambda: not focuser.IsMoving, what="the halt to take effect")
        assert 0 < focuser.Position < focuser.MaxStep
    finally:
        running.motor(0).time_scale = 200.0


def test_device_state(focuser: Focuser) -> None:
    state = {item["Name"]: item["Value"] for item in focuser.DeviceState}
    assert set(state) == {"IsMoving", "Position", "TimeStamp"}
    assert state["Position"] == focuser.Position
    assert state["IsMoving"] is False


def test_actions_and_commands(focuser: Focuser) -> None:
    with pytest.raises(ActionNotImplementedException):
        focuser.Action("NoSuchAction")
    if "FocuserInfo" in focuser.SupportedActions:
        assert json.loads(focuser.Action("FocuserInfo"))
    with pytest.raises(NotImplementedException):
        focuser.CommandBlind("X", True)
    with pytest.raises(NotImplementedException):
        focuser.CommandBool("X", True)
    with pytest.raises(NotImplementedException):
        focuser.CommandString("X", True)


def test_disconnect_and_reconnect(focuser: Focuser) -> None:
    focuser.Disconnect()
    wait_for(lambda: not focuser.Connecting, what="Disconnect to finish")
    assert focuser.Connected is False
    with pytest.raises(NotConnectedException):
        focuser.Position
    with pytest.raises(NotConnectedException):
        focuser.Move(100)
    assert focuser.InterfaceVersion == 4
    focuser.Connected = True
    assert focuser.Connected is True
    focuser.Connected = False
    assert focuser.Connected is False
    focuser.Connect()
    wait_for(lambda: not focuser.Connecting, what="Connect to finish")
    assert focuser.Connected is True


def test_two_focusers_move_independently(running: RunningServer) -> None:
    first, second = Focuser(address(running), 0), Focuser(address(running), 1)
    for device in (first, second):
        device.Connect()
    wait_for(lambda: not first.Connecting and not second.Connecting, what="both to connect")
    move(first, 5000)
    move(second, 9000)
    first.Move(7000)
    wait_for(lambda: not first.IsMoving, what="focuser 0 to stop")
    assert (first.Position, second.Position) == (7000, 9000)
    assert running.motor(0).position != running.motor(1).position
    second.Disconnect()
    wait_for(lambda: not second.Connecting, what="focuser 1 to disconnect")
    assert first.Connected and not second.Connected
    second.Connect()
    wait_for(lambda: not second.Connecting, what="focuser 1 to connect")
