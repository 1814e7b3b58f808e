"""Real third-party clients of the simulated hand controller: INDI's Celestron mount driver
(indi_celestron_gps, Debian indi-bin) moving the focuser through the pass-through, and Debian's
libnexstar reading the focuser's version and position with its pass-through call. If they cannot
tell the simulated hand controller from a real one, our hand-controller route is tested against
the behaviour that matters."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import free_port, require_tool, wait_for
from indi_support import IndiProperties
from mount_support import running_mount
from nexstar_support import libnexstar

from alpaca_focuser.celestron.commands import Command, DeviceId
from alpaca_focuser.simulator.mount import SimulatedMount

DEVICE = "Celestron GPS"
TIME_SCALE = 50


@dataclass
class IndiMount(IndiProperties):
    mount: SimulatedMount

    @property
    def pass_throughs(self) -> int:
        return sum(controller.pass_throughs for controller in self.mount.hand_controllers)


@pytest.fixture(scope="module")
def indi_mount(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiMount]:
    for tool in ("indiserver", "indi_celestron_gps", "indi_setprop", "indi_getprop"):
        require_tool(tool, "indi-bin")
    home = tmp_path_factory.mktemp("indi-home")  # the driver keeps its config under $HOME/.indi
    port = free_port()
    with running_mount(TIME_SCALE) as mount:
        server = subprocess.Popen(
            ["indiserver", "-p", str(port), "-u", f"/tmp/alpaca-focuser-indi-{port}", "indi_celestron_gps"],
            env={**os.environ, "HOME": str(home)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            client = IndiMount(port, DEVICE, mount)
            wait_for(lambda: client.get("CONNECTION.CONNECT") is not None, timeout=15, interval=0.2, what="indiserver to start")
            client.set("DEVICE_AUTO_SEARCH.INDI_ENABLED;INDI_DISABLED=Off;On")  # never scan the machine's real ports
            client.set(f"DEVICE_PORT.PORT={mount.hc_path}")
            client.set("CONNECTION.CONNECT=On")
            client.wait("CONNECTION._STATE", "Ok", timeout=30)
            yield client
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)


def test_indi_mount_driver_finds_the_focuser_behind_the_hand_controller(indi_mount: IndiMount) -> None:
    motor = indi_mount.mount.motor
    indi_mount.wait("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION", str(motor.position))
    indi_mount.wait("FOCUS_MAX.FOCUS_MAX_VALUE", str(motor.limits[1]))
    assert indi_mount.pass_throughs > 0


def test_indi_mount_driver_moves_the_focuser_through_the_pass_through(indi_mount: IndiMount) -> None:
    motor = indi_mount.mount.motor
    before = indi_mount.pass_throughs
    indi_mount.set("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION=15000")
    indi_mount.wait("ABS_FOCUS_POSITION._STATE", "Ok")
    indi_mount.wait("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION", "15000")
    assert motor.position == 15000 and motor.stops[-1].kind == "goto_fast" and not motor.moving
    assert indi_mount.pass_throughs > before


def test_indi_mount_driver_aborts_a_focuser_move(indi_mount: IndiMount) -> None:
    motor = indi_mount.mount.motor
    motor.set_fault("stall")  # holds the move in progress however fast the clock runs
    try:
        indi_mount.set("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION=30000")
        wait_for(lambda: motor.moving, 10, "the motor to start")
        indi_mount.set("FOCUS_ABORT_MOTION.ABORT=On")
        wait_for(lambda: not motor.moving, 10, "the abort to reach the motor")
        assert motor.stops[-1].reason == "stopped"
    finally:
        motor.clear_faults()


def _pass_through(library: ctypes.CDLL, fd: int, command: int, reply_length: int, data: bytes = b"") -> bytes:
    response = ctypes.create_string_buffer(16)
    padded = data.ljust(3, b"\0")
    arguments = [bytes([value]) for value in (1 + len(data), DeviceId.FOCUSER, command, *padded, reply_length)]
    result = library.tc_pass_through_cmd(fd, *arguments, response)
    assert result == 0, f"libnexstar's pass-through failed with {result}"
    return response.raw[: reply_length + 1]


def test_libnexstar_reads_the_focuser_through_the_pass_through(tmp_path: Path) -> None:
    library = libnexstar()
    with running_mount(TIME_SCALE) as mount:
        fd = library.open_telescope(mount.hc_path.encode())
        assert fd >= 0, f"libnexstar could not open the simulated hand controller ({fd})"
        try:
            version = _pass_through(library, fd, Command.GET_VER, 4)
            assert version == bytes([7, 15, 0x20, 0x30]) + b"#"
            position = _pass_through(library, fd, Command.GET_POSITION, 3)
            assert int.from_bytes(position[:3], "big") == mount.motor.position and position[3:] == b"#"
            _pass_through(library, fd, Command.GOTO_FAST, 0, (12345).to_bytes(3, "big"))
            wait_for(lambda: not mount.motor.moving and mount.motor.position == 12345, 10, "the goto sent by libnexstar to land")
            assert int.from_bytes(_pass_through(library, fd, Command.GET_POSITION, 3)[:3], "big") == 12345
        finally:
            library.close_telescope(fd)
