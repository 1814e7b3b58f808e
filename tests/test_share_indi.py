"""One cable for mount and focuser: Debian's INDI mount driver (indi_celestron_gps) and libnexstar
use the hand controller's port through the server's shared endpoint, over TCP and over a pty,
while the server moves, halts and calibrates the focuser on the same port. Every focuser move
lands exactly, and the mount program reads the right version, coordinates and slews."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, require_tool, wait_for
from indi_support import IndiProperties
from mount_support import MountRig
from nexstar_support import libnexstar
from share_support import move_exactly, settle, share_status, shared_focuser, tcp_share

DEVICE = "Celestron GPS"
TIME_SCALE = 100  # a calibration takes a few seconds, a slew a fraction of one


def _share(kind: str, folder: Path) -> tuple[str, str]:
    """A ``share`` value of ``kind`` and how a program names it: a pty path, or HOST:PORT."""
    if kind == "pty":
        path = str(folder / "mount")
        return f"pty:{path}", path
    share, port = tcp_share()
    return share, f"127.0.0.1:{port}"


@pytest.fixture(params=["tcp", "pty"])
def indi_on_the_share(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[IndiProperties, MountRig]]:
    for tool in ("indiserver", "indi_celestron_gps", "indi_setprop", "indi_getprop"):
        require_tool(tool, "indi-bin")
    share, address = _share(request.param, tmp_path)
    port = free_port()
    with shared_focuser("hc", share, TIME_SCALE) as rig:
        server = subprocess.Popen(
            ["indiserver", "-p", str(port), "-u", f"/tmp/alpaca-focuser-indi-{port}", "indi_celestron_gps"],
            env={**os.environ, "HOME": str(tmp_path)},  # the driver keeps its config under $HOME/.indi
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            indi = IndiProperties(port, DEVICE)
            wait_for(lambda: indi.get("CONNECTION.CONNECT") is not None, timeout=20, interval=0.2, what="indiserver to start")
            indi.set("DEVICE_AUTO_SEARCH.INDI_ENABLED;INDI_DISABLED=Off;On")  # never scan the machine's real ports
            if request.param == "tcp":
                host, tcp_port = address.split(":")
                indi.set("CONNECTION_MODE.CONNECTION_SERIAL;CONNECTION_TCP=Off;On")
                indi.wait("CONNECTION_MODE.CONNECTION_TCP", "On")
                indi.set(f"DEVICE_ADDRESS.ADDRESS;PORT={host};{tcp_port}")
            else:
                indi.set(f"DEVICE_PORT.PORT={address}")
            indi.set("CONNECTION.CONNECT=On")
            indi.wait("CONNECTION._STATE", "Ok", timeout=30)
            yield indi, rig
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)


def _reads(indi: IndiProperties, name: str, value: float, tolerance: float = 1e-3) -> bool:
    found = indi.get(name)
    return found is not None and abs(float(found) - value) < tolerance


def test_indi_mount_driver_and_the_focuser_share_the_hand_controller(indi_on_the_share: tuple[IndiProperties, MountRig]) -> None:
    indi, rig = indi_on_the_share
    focuser, motor, mount = rig.focuser, rig.motor, rig.mount
    indi.wait("Firmware Info.HC Version", "5.31")
    indi.wait("Firmware Info.Ra Version", "7.11")  # through the pass-through, by INDI, on the shared line
    assert _reads(indi, "EQUATORIAL_EOD_COORD.RA", 6.0) and _reads(indi, "EQUATORIAL_EOD_COORD.DEC", 45.0)
    assert share_status(rig)["mount_program"]

    indi.set("ON_COORD_SET.TRACK;SLEW;SYNC=Off;On;Off")
    for (ra, dec), offset in zip([(8.0, 30.0), (10.5, -20.0)], (3000, -4500), strict=True):
        target = focuser.state.position + offset
        focuser.move(target)
        indi.set(f"EQUATORIAL_EOD_COORD.RA;DEC={ra};{dec}")
        settle(focuser)
        assert focuser.state.position == target == motor.position - motor.limits[0]
        wait_for(lambda ra=ra, dec=dec: _reads(indi, "EQUATORIAL_EOD_COORD.RA", ra) and _reads(indi, "EQUATORIAL_EOD_COORD.DEC", dec)
                 and not any(axis.moving for axis in mount.bus.axes.values()), 20, f"INDI's slew to RA {ra} h, Dec {dec}°")
    assert sum(axis.gotos for axis in mount.bus.axes.values()) == 4

    focuser.move(0)
    wait_for(lambda: motor.moving, 5, "the motor to start")
    focuser.halt()
    wait_for(lambda: not focuser.state.moving, 8, "the halt to be carried out")
    assert not motor.moving and motor.stops[-1].reason == "stopped" and focuser.state.raw_position == motor.position
    indi.wait("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION", str(motor.position), timeout=20)  # INDI reads the focuser right too

    focuser.start_calibration()
    wait_for(lambda: focuser.state.calibration.running, 5, "calibration to start")
    wait_for(lambda: not focuser.state.calibration.running, 60, "calibration to finish")
    assert focuser.state.calibrated and (focuser.state.low_limit, focuser.state.high_limit) == motor.limits
    move_exactly(rig, 1500)

    status = share_status(rig)
    assert status["mount"]["answered"] > 0 and status["focuser"]["answered"] > 0
    assert status["focuser"]["timed_out"] == 0 and focuser.reconnects == 0


def _libnexstar_mount() -> ctypes.CDLL:
    library = libnexstar()
    library._tc_get_rade.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double), ctypes.c_char]
    library._tc_goto_rade.argtypes = [ctypes.c_int, ctypes.c_double, ctypes.c_double, ctypes.c_char]
    library.tc_get_version.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char), ctypes.POINTER(ctypes.c_char)]
    library.tc_goto_in_progress.argtypes = [ctypes.c_int]
    return library


@pytest.mark.parametrize("kind", ["tcp", "pty"])
def test_libnexstar_and_the_focuser_share_the_hand_controller(kind: str, tmp_path: Path) -> None:
    library = _libnexstar_mount()
    share, address = _share(kind, tmp_path)
    with shared_focuser("hc", share, TIME_SCALE) as rig:
        name = f"tcp://{address}" if kind == "tcp" else address
        fd = library.open_telescope(name.encode())
        assert fd >= 0, f"libnexstar could not open the shared port {name} ({fd})"
        try:
            major, minor = ctypes.c_char(), ctypes.c_char()
            assert library.tc_get_version(fd, ctypes.byref(major), ctypes.byref(minor)) > 0
            assert (major.value, minor.value) == (b"\x05", b"\x1f")
            ra, dec = ctypes.c_double(), ctypes.c_double()
            for goal_ra, goal_dec, offset in ((120.0, 30.0, 2500), (200.0, -15.0, -3700)):
                target = rig.focuser.state.position + offset
                rig.focuser.move(target)
                assert library._tc_goto_rade(fd, goal_ra, goal_dec, b"\x01") == 0
                wait_for(lambda: library.tc_goto_in_progress(fd) == 0, 20, "libnexstar's goto to end")
                assert library._tc_get_rade(fd, ctypes.byref(ra), ctypes.byref(dec), b"\x01") == 0
                assert abs(ra.value - goal_ra) < 1e-3 and abs(dec.value - goal_dec) < 1e-3
                settle(rig.focuser)
                assert rig.focuser.state.position == target == rig.motor.position - rig.motor.limits[0]
        finally:
            library.close_telescope(fd)
        assert share_status(rig)["focuser"]["timed_out"] == 0
