"""A real third-party client: the INDI Celestron SCT focuser driver (indi-bin 1.9.9) against the
simulator on a pty. If INDI cannot tell the simulator from the focuser, neither can other serial
software speaking AUX."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import free_port, require_tool, wait_for
from indi_support import IndiProperties
from sim_support import running_pty_simulator

from alpaca_focuser.simulator import FocusMotor

DEVICE = "Celestron SCT"
TIME_SCALE = 100  # a 4-minute calibration takes under 3 s


@dataclass
class Indi(IndiProperties):
    motor: FocusMotor
    home: Path


@pytest.fixture(scope="module")
def indi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indi]:
    for tool in ("indiserver", "indi_celestron_sct_focus", "indi_setprop", "indi_getprop"):
        require_tool(tool, "indi-bin")
    home = tmp_path_factory.mktemp("indi-home")  # the driver reads and writes its config under $HOME/.indi
    port = free_port()
    with running_pty_simulator(time_scale=TIME_SCALE) as (motor, path):
        # -u: the local socket name is machine-wide, so a second indiserver would fail without its own.
        server = subprocess.Popen(
            ["indiserver", "-p", str(port), "-u", f"/tmp/alpaca-focuser-indi-{port}", "indi_celestron_sct_focus"],
            env={**os.environ, "HOME": str(home)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            client = Indi(port, DEVICE, motor, home)
            wait_for(lambda: client.get("CONNECTION.CONNECT") is not None, timeout=15, interval=0.2, what="indiserver to start")
            client.set("DEVICE_AUTO_SEARCH.INDI_ENABLED;INDI_DISABLED=Off;On")  # never scan the machine's real ports
            client.set(f"DEVICE_PORT.PORT={path}")
            client.set("CONNECTION.CONNECT=On")
            yield client
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)


def test_connects_and_reads_position_and_limits(indi: Indi) -> None:
    indi.wait("CONNECTION._STATE", "Ok")
    indi.wait("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION", str(indi.motor.position))
    low, high = indi.motor.limits
    indi.wait("FOCUS_MIN.FOCUS_MIN_VALUE", str(low))
    indi.wait("FOCUS_MAX.FOCUS_MAX_VALUE", str(high))


def test_moves_absolute_and_relative(indi: Indi) -> None:
    indi.set("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION=25000")
    indi.wait("ABS_FOCUS_POSITION._STATE", "Ok")
    indi.wait("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION", "25000")
    assert indi.motor.position == 25000 and indi.motor.stops[-1].kind == "goto_fast"
    indi.set("FOCUS_MOTION.FOCUS_INWARD;FOCUS_OUTWARD=On;Off")
    indi.set("REL_FOCUS_POSITION.FOCUS_RELATIVE_POSITION=1500")
    indi.wait("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION", "23500")
    indi.wait("REL_FOCUS_POSITION._STATE", "Ok")
    indi.set("FOCUS_MOTION.FOCUS_INWARD;FOCUS_OUTWARD=Off;On")
    indi.set("REL_FOCUS_POSITION.FOCUS_RELATIVE_POSITION=700")
    indi.wait("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION", "24200")
    assert indi.motor.position == 24200 and not indi.motor.moving


def test_abort_stops_a_move(indi: Indi) -> None:
    indi.motor.set_fault("stall")  # holds the move in progress however fast the clock runs
    try:
        indi.set("ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION=30000")
        wait_for(lambda: indi.motor.moving, what="the motor to start")
        indi.wait("ABS_FOCUS_POSITION._STATE", "Busy")
        indi.set("FOCUS_ABORT_MOTION.ABORT=On")
        wait_for(lambda: not indi.motor.moving, timeout=10, what="the abort to reach the motor")
        indi.wait("FOCUS_ABORT_MOTION._STATE", "Ok")
        assert indi.motor.stops[-1].reason == "stopped"
    finally:
        indi.motor.clear_faults()


def test_calibration_stop_and_start(indi: Indi) -> None:
    indi.motor.set_fault("stuck_calibration")
    indi.set("CALIBRATE.START;STOP=On;Off")
    wait_for(lambda: indi.motor.calibrating, timeout=10, what="calibration to start")
    indi.set("CALIBRATE.START;STOP=Off;On")
    wait_for(lambda: not indi.motor.calibrating, timeout=10, what="calibration to stop")
    assert indi.motor.calibration_state == 0 and not indi.motor.calibrated
    indi.motor.clear_faults()
    indi.set("CALIBRATE.START;STOP=On;Off")
    wait_for(lambda: "complete" in (indi.get("CALIBRATE_STATE.CALIBRATE_STATE") or ""), timeout=30, interval=0.2, what="INDI to report calibration complete")
    assert indi.motor.calibrated and indi.motor.limits == (indi.motor.low_stop, indi.motor.high_stop)
    indi.wait("FOCUS_MAX.FOCUS_MAX_VALUE", str(indi.motor.high_stop))
