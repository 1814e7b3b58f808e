"""The focuser device model against the simulator over a real pseudo-terminal."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import wait_for
from sim_support import running_pty_simulator

from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.errors import DriverError, InvalidOperation, InvalidValue, NotConnected
from alpaca_focuser.settings import Direction, FocuserSettings
from alpaca_focuser.simulator import FocusMotor

FAST = dict(stall_s=1.0, grace_s=3.0, reply_timeout_s=0.3, jog_timeout_s=0.5)


@contextlib.contextmanager
def focuser_on_pty(
    time_scale: float = 50, motor_options: dict | None = None, save: Callable[[FocuserSettings], None] | None = None, **settings
) -> Iterator[tuple[CelestronFocuser, FocusMotor, str]]:
    with running_pty_simulator(time_scale, **(motor_options or {})) as (motor, path):
        focuser = CelestronFocuser(FocuserSettings(port=path, **{**FAST, **settings}), save)
        try:
            focuser.connect()
            yield focuser, motor, path
        finally:
            focuser.close()


@pytest.fixture
def rig() -> Iterator[tuple[CelestronFocuser, FocusMotor, str]]:
    with focuser_on_pty() as running:
        yield running


def settle(focuser: CelestronFocuser, timeout: float = 20) -> None:
    wait_for(lambda: not focuser.state.moving, timeout, "the move to end")


def test_connect_reads_the_focuser(rig):
    focuser, motor, path = rig
    state = focuser.state
    low, high = motor.limits
    assert state.connected and state.link_ok
    assert state.firmware == "7.15.8240"
    assert (state.low_limit, state.high_limit) == (low, high)
    assert state.max_step == high - low
    assert state.position == motor.position - low
    assert state.calibrated and not state.moving


def test_connect_failure_names_the_port_and_what_happened(tmp_path):
    missing = tmp_path / "no-such-port"
    focuser = CelestronFocuser(FocuserSettings(port=str(missing), **FAST))
    try:
        with pytest.raises(NotConnected, match="no-such-port"):
            focuser.connect()
        assert not focuser.state.connected
    finally:
        focuser.close()


def test_connect_to_a_silent_port_says_nothing_came_back():
    master, slave = os.openpty()
    try:
        focuser = CelestronFocuser(FocuserSettings(port=os.ttyname(slave), **FAST))
        try:
            with pytest.raises(NotConnected, match=r"no reply to GET_VER \(3b 03 20 12 fe cd\)"):
                focuser.connect()
        finally:
            focuser.close()
    finally:
        os.close(master)
        os.close(slave)


def _open_descriptors_to(device: str) -> int:
    target = os.path.realpath(device)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                count += 1
    return count


def test_disconnect_releases_the_port(rig):
    focuser, motor, path = rig
    connected_fds = _open_descriptors_to(path)
    focuser.disconnect()
    assert not focuser.state.connected
    assert _open_descriptors_to(path) == connected_fds - 1
    with pytest.raises(NotConnected, match="Connect it first"):
        focuser.move(100)
    focuser.connect()
    assert focuser.state.connected


def test_move_returns_at_once_and_lands_exactly(rig):
    focuser, motor, _ = rig
    target = focuser.state.position - 3000
    focuser.move(target)
    assert focuser.state.moving and focuser.state.target == target
    wait_for(lambda: motor.moving, 2, "the motor to start")
    settle(focuser)
    assert focuser.state.position == target
    assert motor.position == focuser.state.raw_position


def test_moves_outside_the_range_are_clamped(rig):
    focuser, motor, _ = rig
    focuser.move(-10)
    settle(focuser)
    assert focuser.state.position == 0 and motor.position == motor.limits[0]
    focuser.move(focuser.state.max_step + 10)
    settle(focuser)
    assert focuser.state.position == focuser.state.max_step and motor.position == motor.limits[1]


def test_a_motor_that_stops_off_target_is_corrected_with_slow_gotos():
    with focuser_on_pty(motor_options={"landing_error": 4, "seed": 3}) as (focuser, motor, _):
        for offset in (1234, -2345, 777):
            target = focuser.state.position + offset
            focuser.move(target)
            settle(focuser)
            assert focuser.state.position == target
        assert any(event.kind == "goto_slow" for event in motor.stops)


def test_when_corrections_fail_the_move_ends_and_says_where_it_stopped():
    with focuser_on_pty(motor_options={"landing_error": 4, "slow_landing_error": 4, "seed": 5}) as (focuser, motor, _):
        for attempt in range(8):  # a slow goto may land exactly by chance; the seed makes this repeatable
            target = focuser.state.position + 1500 * (-1) ** attempt
            focuser.move(target)
            settle(focuser)
            if focuser.state.position != target:
                break
        assert focuser.state.position != target
        assert f"from the target {target}" in focuser.state.last_error
        assert "3 slow corrections" in focuser.state.last_error
        assert focuser.state.raw_position == motor.position


def test_reverse_makes_out_the_way_of_falling_counts():
    with focuser_on_pty(reverse=True) as (focuser, motor, _):
        low, high = motor.limits
        assert focuser.state.position == high - motor.position
        before = motor.position
        focuser.move_relative(500)
        settle(focuser)
        assert motor.position == before - 500


def test_relative_moves_are_clamped(rig):
    focuser, motor, _ = rig
    focuser.move_relative(-focuser.state.max_step * 2)
    settle(focuser)
    assert focuser.state.position == 0
    focuser.move_relative(250)
    settle(focuser)
    assert focuser.state.position == 250


def _legs_of_last_move(motor: FocusMotor, since: int) -> list[int]:
    return [event.position for event in motor.stops[since:]]


@pytest.mark.parametrize("direction", [Direction.OUT, Direction.IN])
def test_backlash_overshoots_and_comes_back_as_one_move(direction):
    with focuser_on_pty(backlash_steps=200, backlash_direction=direction) as (focuser, motor, _):
        low = motor.limits[0]
        start = focuser.state.position
        against = -1000 if direction is Direction.OUT else 1000  # a move that ends travelling the wrong way
        before = len(motor.stops)
        focuser.move(start + against)
        # Readers see one move: still moving when the motor turns round at the overshoot point.
        wait_for(lambda: len(motor.stops) > before, 10, "the overshoot leg to end")
        assert focuser.state.moving
        settle(focuser)
        overshoot = start + against + (-200 if direction is Direction.OUT else 200)
        assert _legs_of_last_move(motor, before) == [low + overshoot, low + start + against]
        assert focuser.state.position == start + against
        # Travelling the final direction already: no overshoot.
        before = len(motor.stops)
        focuser.move(start)
        settle(focuser)
        assert _legs_of_last_move(motor, before) == [low + start]


def test_backlash_overshoot_is_clamped_at_the_end_of_the_range():
    with focuser_on_pty(backlash_steps=500, backlash_direction=Direction.OUT) as (focuser, motor, _):
        focuser.move(100)
        settle(focuser)
        assert focuser.state.position == 100
        assert motor.stops[-2].position == motor.limits[0]  # overshoot clamped to Position 0


def test_settle_time_keeps_the_move_in_progress(rig):
    with focuser_on_pty(settle_ms=400) as (focuser, motor, _):
        target = focuser.state.position + 300
        focuser.move(target)
        wait_for(lambda: focuser.state.position == target, 10, "arrival")
        assert focuser.state.moving
        settle(focuser)


def test_halt_stops_a_move(rig):
    focuser, motor, _ = rig
    focuser.move(0)
    wait_for(lambda: focuser.state.position < focuser.state.max_step // 2 - 1000 or not focuser.state.moving, 10, "motion")
    focuser.halt()
    wait_for(lambda: not focuser.state.moving, 2, "the halt to be carried out")
    assert not motor.moving
    assert motor.stops[-1].reason == "stopped"  # stopped by the command, not arrived
    assert motor.position > motor.limits[0]
    assert focuser.state.raw_position == motor.position  # IsMoving ends with the final Position


def test_uncalibrated_focuser_refuses_moves_until_calibrated():
    with focuser_on_pty(time_scale=400, motor_options={"calibrated": False}) as (focuser, motor, _):
        state = focuser.state
        assert not state.calibrated
        assert state.max_step == 0xFFFFFF and state.position == motor.position
        with pytest.raises(InvalidOperation, match="not calibrated.*Calibrate"):
            focuser.move(100)
        focuser.start_calibration()
        assert focuser.state.calibration.running and focuser.state.moving
        with pytest.raises(InvalidOperation, match="calibration is running"):
            focuser.move(100)
        wait_for(lambda: not focuser.state.calibration.running, 30, "calibration to finish")
        state = focuser.state
        assert state.calibrated and state.calibration.calibrated
        assert (state.low_limit, state.high_limit) == motor.limits
        assert state.max_step == motor.limits[1] - motor.limits[0]
        assert "Calibrated" in state.calibration.message and state.calibration.elapsed_s > 0
        focuser.move(1000)
        settle(focuser)
        assert focuser.state.position == 1000


def test_halt_aborts_a_calibration():
    with focuser_on_pty(time_scale=20) as (focuser, motor, _):
        focuser.start_calibration()
        wait_for(lambda: motor.calibrating, 2, "the motor to calibrate")
        focuser.halt()
        wait_for(lambda: "aborted" in focuser.state.calibration.message, 5, "the abort to be reported")
        assert not motor.calibrating and not focuser.state.calibration.running
        assert not focuser.state.calibrated  # the focuser forgets its calibration when aborted


def test_a_stuck_calibration_is_aborted_with_the_reason():
    with focuser_on_pty(time_scale=20) as (focuser, motor, _):
        motor.set_fault("stuck_calibration", at=0.05)
        focuser.start_calibration()
        wait_for(lambda: not focuser.state.calibration.running, 15, "the stuck calibration to be aborted")
        assert "no progress" in focuser.state.calibration.message
        assert not motor.calibrating


def test_a_stalled_motor_ends_the_move_with_the_reason(rig):
    focuser, motor, _ = rig
    motor.set_fault("stall")
    focuser.move(0)
    wait_for(lambda: not focuser.state.moving, 10, "the stall to be detected")
    assert "stalled" in focuser.state.last_error
    motor.set_fault("stall", on=False)


def test_a_hand_controller_move_reads_as_moving_until_it_settles(rig):
    focuser, motor, _ = rig
    target = motor.position + 4000
    motor.external_move(target)
    low = motor.limits[0]
    wait_for(lambda: focuser.state.moving, 5, "the motion nobody asked for to be reported")
    wait_for(lambda: not focuser.state.moving, 10, "IsMoving to end once the position settles")
    assert focuser.state.position == target - low
    assert not motor.moving


def test_cable_pulled_mid_move_and_put_back_completes_the_move():
    with running_pty_simulator(20) as (motor, path):
        focuser = CelestronFocuser(FocuserSettings(port=path, **{**FAST, "grace_s": 10.0}))
        try:
            focuser.connect()
            target = focuser.state.position - 6000
            focuser.move(target)
            wait_for(lambda: motor.moving, 2, "the move to start")
            motor.stop()  # the firmware loses the goto when the USB link resets
            motor.set_fault("unplug", seconds=1.0)
            wait_for(lambda: not focuser.state.link_ok, 5, "the loss to be noticed")
            assert focuser.state.connected and focuser.state.moving
            settle(focuser, 30)
            assert focuser.state.position == target
            assert focuser.reconnects >= 1
        finally:
            focuser.close()


def test_cable_pulled_longer_than_the_grace_period():
    with running_pty_simulator(50) as (motor, path):
        focuser = CelestronFocuser(FocuserSettings(port=path, **{**FAST, "grace_s": 1.0}))
        try:
            focuser.connect()
            motor.set_fault("unplug", seconds=None)
            wait_for(lambda: not focuser.state.connected, 10, "the focuser to read as disconnected")
            with pytest.raises(NotConnected, match="not connected"):
                focuser.move(100)
            motor.set_fault("unplug", on=False)
            wait_for(lambda: focuser.state.connected, 10, "the focuser to come back")
            focuser.move(100)
            settle(focuser)
            assert focuser.state.position == 100
        finally:
            focuser.close()


def test_jog_runs_until_not_renewed_and_reads_as_moving(rig):
    focuser, motor, _ = rig
    start = focuser.state.position
    focuser.jog(9)
    assert focuser.state.moving
    wait_for(lambda: motor.moving, 2, "the motor to run")
    wait_for(lambda: not focuser.state.moving, 5, "the dead-man guard to stop the jog")
    wait_for(lambda: not motor.moving, 2, "the motor to stop")
    assert focuser.state.position > start
    focuser.jog(-9)
    wait_for(lambda: motor.moving, 2, "the motor to run inward")
    focuser.jog(0)
    wait_for(lambda: not motor.moving, 2, "jog 0 to stop the motor")
    with pytest.raises(InvalidValue, match="-9 to 9"):
        focuser.jog(10)


def test_jog_stops_at_the_end_of_the_range():
    with focuser_on_pty(jog_timeout_s=30) as (focuser, motor, _):
        focuser.move(focuser.state.max_step - 200)
        settle(focuser)
        focuser.jog(9)
        wait_for(lambda: not focuser.state.moving, 10, "the jog to stop at the end")
        assert focuser.state.position == focuser.state.max_step


def test_presets_are_saved_recalled_and_unmoved_by_reverse():
    saved: list[FocuserSettings] = []
    with focuser_on_pty(save=saved.append) as (focuser, motor, _):
        check_presets(focuser, motor, saved)


def check_presets(focuser: CelestronFocuser, motor: FocusMotor, saved: list[FocuserSettings]) -> None:
    preset = focuser.save_preset(None, "Visual", 12000)
    assert (preset.slot, preset.name, preset.position) == (1, "Visual", 12000)
    focuser.save_preset(2, None, 3000)
    assert [(p.slot, p.name) for p in focuser.presets()] == [(1, "Visual"), (2, "Preset 2")]
    focuser.goto_preset("visual")
    settle(focuser)
    assert focuser.state.position == 12000
    raw = motor.position
    focuser.set_reverse(True)
    assert focuser.presets()[0].position == focuser.state.position
    focuser.goto_preset(2)
    settle(focuser)
    focuser.goto_preset(1)
    settle(focuser)
    assert motor.position == raw
    focuser.delete_preset(2)
    assert [p.slot for p in focuser.presets()] == [1]
    with pytest.raises(InvalidValue, match="no preset 'Imaging'.*1 \\(Visual\\)"):
        focuser.goto_preset("Imaging")
    assert saved[-1].presets == focuser.settings.presets


def test_a_setting_that_cannot_be_saved_does_not_change():
    def refuse(settings: FocuserSettings) -> None:
        raise OSError("read-only file system")

    with focuser_on_pty(save=refuse) as (focuser, _, _):
        with pytest.raises(DriverError, match="could not be saved: read-only"):
            focuser.set_backlash(300, Direction.IN)
        assert focuser.backlash == (0, Direction.NONE)


def test_two_focusers_side_by_side():
    with running_pty_simulator(50) as (motor_a, path_a), running_pty_simulator(50, position=30000) as (motor_b, path_b):
        a = CelestronFocuser(FocuserSettings(port=path_a, **FAST))
        b = CelestronFocuser(replace(FocuserSettings(port=path_b, **FAST), name="second"))
        try:
            a.connect()
            b.connect()
            a.move(5000)
            b.move(20000)
            settle(a)
            settle(b)
            assert (a.state.position, b.state.position) == (5000, 20000)
            assert motor_a.position == motor_a.limits[0] + 5000
            assert motor_b.position == motor_b.limits[0] + 20000
        finally:
            a.close()
            b.close()


def test_a_server_that_starts_before_its_focuser_keeps_trying(tmp_path):
    link = tmp_path / "focuser"
    focuser = CelestronFocuser(FocuserSettings(port=str(link), **FAST))
    try:
        focuser.start()
        wait_for(lambda: focuser.state.last_error, 5, "the first failed attempt")
        assert not focuser.state.connected and "focuser" in focuser.state.last_error
        motor = FocusMotor(time_scale=50)
        from alpaca_focuser.simulator.pty_server import PtySimulator

        with PtySimulator(motor, Path(link)):
            wait_for(lambda: focuser.state.connected, 10, "the focuser to be found")
            assert focuser.state.firmware == "7.15.8240"
    finally:
        focuser.close()


def test_port_auto_without_a_focuser_lists_the_ports_it_saw():
    focuser = CelestronFocuser(FocuserSettings(port="auto", **FAST))
    try:
        with pytest.raises(NotConnected, match=r"USB id 15A2:A50F.*Ports seen"):
            focuser.connect()
    finally:
        focuser.close()
