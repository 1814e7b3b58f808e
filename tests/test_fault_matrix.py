"""Every line fault (and a stop the motor does not take, and the last client leaving) crossed with
every thing the focuser may be doing, on the fake clock, through the real AuxLink.

Throughout each case, at every step of the worker, IsMoving must be true whenever the motor runs
(safety rule 2). When the fault is over, nothing may be left running: the motor stands, IsMoving is
false, no stop is pending, Position is the motor's own, and the focuser is connected. On top of that,
each case ends as the table below says.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from device_support import Bench, make_bench

from alpaca_focuser.device.journal import MotionJournal
from alpaca_focuser.settings import Direction
from alpaca_focuser.simulator import FocusMotor

GRACE_S = 8.0
TARGET = 30000  # moves start at the simulator's 19000, so they run for tens of seconds of fake time

# What each case ends with:
#   "done"      the job runs to its end: a move lands on its target, a calibration completes;
#               idle stays idle
#   "stopped"   the motor is stopped and the job is ended (a jog is never resumed)
#   "reason: …" the job is ended and the focuser's last error (or calibration message) says this
# A calibration changes the limits by itself, so while one runs only the firmware tells two focusers
# apart: a calibrated focuser of the same firmware found after an unplug reads as the calibration done.
STATES = ("idle", "moving", "backlash leg", "jogging", "calibrating", "halting")
EXPECTED: dict[str, tuple[str, ...]] = {
    #                     idle     moving              backlash leg        jogging    calibrating                halting
    "silent 1 s": ("done", "done", "done", "stopped", "done", "stopped"),
    "silent 5 s": ("done", "done", "done", "stopped", "done", "stopped"),
    "silent past grace": ("done", "stopped", "stopped", "stopped", "stopped", "stopped"),
    "late replies": ("done", "done", "done", "stopped", "done", "stopped"),
    "echo": ("done", "done", "done", "stopped", "done", "stopped"),
    "corrupt bytes": ("done", "done", "done", "stopped", "done", "stopped"),
    "stall": ("done", "reason: stalled", "reason: stalled", "stopped", "reason: no progress", "stopped"),
    "stuck calibration": ("done", "done", "done", "stopped", "reason: no progress", "stopped"),
    "unplug": ("done", "done", "done", "stopped", "done", "stopped"),
    "stop not taken": ("done", "done", "done", "stopped", "done", "stopped"),
    "last client leaves": ("done", "stopped", "stopped", "stopped", "stopped", "stopped"),
    "server killed, started again": ("done", "stopped", "stopped", "stopped", "stopped", "stopped"),
    "unplug, another focuser back": (
        "reason: different focuser",
        "reason: different focuser",
        "reason: different focuser",
        "reason: different focuser",
        "done",
        "reason: different focuser",
    ),
}


def fault_for(name: str) -> tuple[Callable[[Bench], None], float]:
    """How to start the fault, and for how many seconds (fake) it lasts before it is cleared."""

    def silent(bench: Bench) -> None:
        bench.motor.set_fault("silent")

    def leaves(bench: Bench) -> None:
        """The last client leaves (its Disconnect, or its lease lapsing): the port is released."""
        bench.focuser.disconnect()
        assert bench.focuser.state.activity == "off" and not bench.current.moving

    def killed_and_started_again(bench: Bench) -> None:
        """The server dies where it stands (SIGKILL: nothing more is sent, no dead-man runs) and a new
        run of it starts on the same motor, with the motion journal the dead one left."""
        again = make_bench(connect=False, motor=bench.current, clock=bench.clock, journal=bench.journal, **bench.settings)
        bench.focuser = again.focuser
        bench.focuser.connect()

    table: dict[str, tuple[Callable[[Bench], None], float]] = {
        "silent 1 s": (silent, 1.0),
        "silent 5 s": (silent, 5.0),
        "silent past grace": (silent, GRACE_S + 4),
        "late replies": (lambda bench: bench.motor.set_fault("late", delay=0.5), 3.0),
        "echo": (lambda bench: bench.motor.set_fault("echo"), 3.0),
        "corrupt bytes": (lambda bench: bench.motor.set_fault("corrupt", every=3), 3.0),
        "stall": (lambda bench: bench.motor.set_fault("stall"), 5.0),
        "stuck calibration": (lambda bench: bench.motor.set_fault("stuck_calibration", at=0.3), 0.0),
        "unplug": (lambda bench: bench.motor.set_fault("unplug", seconds=1.0), 1.0),
        "stop not taken": (lambda bench: bench.motor.set_fault("deaf_to_stop", times=1), 0.0),
        "last client leaves": (leaves, 1.0),
        "server killed, started again": (killed_and_started_again, 1.0),
        "unplug, another focuser back": (unplug_for_another, 1.0),
    }
    return table[name]


def unplug_for_another(bench: Bench) -> None:
    bench.motor.set_fault("unplug")
    bench.plug(FocusMotor(clock=bench.clock.monotonic, low_stop=2000, high_stop=30000, position=15000))


def begin(bench: Bench, state: str) -> None:
    focuser = bench.focuser
    if state == "moving":
        focuser.move(TARGET)
    elif state == "backlash leg":
        focuser.move(TARGET)  # backlash IN: overshoots past the target first, then comes back
    elif state == "jogging":
        focuser.jog(3)
    elif state == "calibrating":
        focuser.start_calibration()
    elif state == "halting":
        focuser.move(TARGET)
    if state != "idle":
        bench.run_until(lambda: bench.motor.moving, what=f"the motor to start ({state})")
        bench.clock.sleep(0.3)
        focuser.step()


def safe(bench: Bench) -> bool:
    """Rule 2, checked between every two steps of the worker."""
    motor = bench.current
    assert not motor.moving or bench.focuser.state.moving or bench.focuser.state.activity in ("off", "connecting"), (
        f"the motor runs while IsMoving reads false: {bench.focuser.state}"
    )
    return True


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("fault", list(EXPECTED))
def test_fault_in_state(fault: str, state: str, tmp_path: Path) -> None:
    backlash = {"backlash_steps": 500, "backlash_direction": Direction.IN} if state == "backlash leg" else {}
    bench = make_bench(grace_s=GRACE_S, calibration_timeout_s=900.0, journal=MotionJournal(tmp_path / "motion.json"), **backlash)
    focuser = bench.focuser
    start, lasts = fault_for(fault)
    if fault == "stuck calibration":
        start(bench)
    begin(bench, state)
    if fault != "stuck calibration":
        start(bench)
    if state == "halting" and focuser.state.connected:  # after the last client left, nobody is there to halt
        focuser.halt()
    deadline = bench.clock.now + lasts
    bench.run_until(lambda: safe(bench) and bench.clock.now >= deadline, lasts + 5, "the fault to last its time")
    bench.motor.clear_faults()
    focuser = bench.focuser  # a new one after a restart
    if fault == "last client leaves":
        focuser.connect()  # the next client
    bench.run_until(lambda: safe(bench) and not focuser.state.moving and focuser.state.connected, 900, "the focuser to settle")

    motor = bench.current
    state_now = focuser.state
    assert not motor.moving, "nothing may be left running"
    assert not state_now.stop_pending
    low = motor.limits[0] if motor.calibrated else 0
    assert state_now.raw_position == motor.position
    assert state_now.position == (motor.position - low if state_now.calibrated else motor.position)

    expected = EXPECTED[fault][STATES.index(state)]
    if expected.startswith("reason: "):
        words = expected.removeprefix("reason: ")
        assert words in state_now.last_error or words in state_now.calibration.message
    elif expected == "done" and state in ("moving", "backlash leg", "halting"):
        assert state_now.position == TARGET
    elif expected == "done" and state == "calibrating":
        assert state_now.calibrated and motor.calibrated
    elif expected == "stopped" and state in ("moving", "backlash leg", "halting"):
        assert motor.stops[-1].reason == "stopped"
        assert state_now.position != TARGET
    elif expected == "stopped" and state == "calibrating":
        assert not state_now.calibrated and not motor.calibrated
