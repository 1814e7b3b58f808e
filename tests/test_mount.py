"""The focuser plugged into a mount, reached through the mount's USB port, its WiFi and a hand
controller's pass-through: the same device model, moves, backlash, calibration, Halt, presets and
fault handling as on the focuser's own USB port, with echo and other devices' traffic on the line."""

from __future__ import annotations

import pytest
from conftest import wait_for
from mount_support import ROUTES, focuser_through_mount

from alpaca_focuser.celestron.bus_link import BusStats
from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.settings import Direction
from alpaca_focuser.simulator.mount_bus import HAND_CONTROLLER


def settle(focuser: CelestronFocuser, timeout: float = 20) -> None:
    wait_for(lambda: not focuser.state.moving, timeout, "the move to end")


@pytest.mark.parametrize("way", ROUTES)
def test_moves_land_exactly_among_echo_and_bus_chatter(way: str) -> None:
    with focuser_through_mount(way, motor_options={"landing_error": 3, "seed": 4}) as rig:
        focuser, motor = rig.focuser, rig.motor
        state = focuser.state
        assert state.connected and state.firmware == "7.15.8240"
        assert (state.low_limit, state.high_limit) == motor.limits
        for offset in (2500, -4321):
            target = focuser.state.position + offset
            focuser.move(target)
            settle(focuser)
            assert focuser.state.position == target
            assert motor.position - motor.limits[0] == target
        stats = focuser.link_stats
        assert stats is not None
        if way == "hc":  # every command went through the pass-through
            assert sum(controller.pass_throughs for controller in rig.mount.hand_controllers) >= stats.requests > 0
        else:  # raw AUX: our own echo and the hand controller's polling were on the line
            assert isinstance(stats, BusStats)
            assert stats.echoes_ignored >= stats.frames_sent > 0 and stats.foreign_frames > 0
        assert rig.mount.bus.frames_by_source.get(HAND_CONTROLLER, 0) > 0


@pytest.mark.parametrize("way", ROUTES)
def test_backlash_overshoots_and_returns(way: str) -> None:
    with focuser_through_mount(way, backlash_steps=300, backlash_direction=Direction.OUT) as rig:
        focuser, motor = rig.focuser, rig.motor
        low = motor.limits[0]
        start = focuser.state.position
        before = len(motor.stops)
        focuser.move(start - 2000)
        settle(focuser)
        assert [stop.position for stop in motor.stops[before:]] == [low + start - 2300, low + start - 2000]
        assert focuser.state.position == start - 2000


@pytest.mark.parametrize("way", ROUTES)
def test_halt_stops_a_move_and_reports_where(way: str) -> None:
    with focuser_through_mount(way, time_scale=5) as rig:
        focuser, motor = rig.focuser, rig.motor
        focuser.move(0)
        wait_for(lambda: motor.moving, 5, "the motor to start")
        focuser.halt()
        wait_for(lambda: not focuser.state.moving, 8, "the halt to be carried out")
        assert not motor.moving and motor.stops[-1].reason == "stopped"
        assert focuser.state.raw_position == motor.position > motor.limits[0]


@pytest.mark.parametrize("way", ROUTES)
def test_calibration_through_the_mount(way: str) -> None:
    with focuser_through_mount(way, time_scale=400, motor_options={"calibrated": False}) as rig:
        focuser, motor = rig.focuser, rig.motor
        assert not focuser.state.calibrated
        focuser.start_calibration()
        wait_for(lambda: focuser.state.calibration.running, 5, "calibration to start")
        wait_for(lambda: not focuser.state.calibration.running, 30, "calibration to finish")
        assert focuser.state.calibrated and (focuser.state.low_limit, focuser.state.high_limit) == motor.limits
        focuser.move(1500)
        settle(focuser)
        assert focuser.state.position == 1500


@pytest.mark.parametrize("way", ROUTES)
def test_presets_go_to_their_position(way: str) -> None:
    with focuser_through_mount(way) as rig:
        focuser, motor = rig.focuser, rig.motor
        focuser.save_preset(1, "Visual", 11000)
        focuser.goto_preset("Visual")
        settle(focuser)
        assert focuser.state.position == 11000 and motor.position == motor.limits[0] + 11000


@pytest.mark.parametrize("way", ["mount-usb", "wifi", "hc"])  # the AUX-port cable is the USB port's case in-process
def test_unplugged_mount_cable_mid_move_completes_after_reconnecting(way: str) -> None:
    with focuser_through_mount(way, time_scale=20, grace_s=15.0) as rig:
        focuser, motor = rig.focuser, rig.motor
        target = focuser.state.position - 5000
        focuser.move(target)
        wait_for(lambda: motor.moving, 5, "the move to start")
        motor.stop()
        motor.set_fault("unplug", seconds=0.5)
        wait_for(lambda: not focuser.state.link_ok, 10, "the loss to be noticed")
        assert focuser.state.connected and focuser.state.moving
        settle(focuser, 40)
        assert focuser.state.position == target and motor.position - motor.limits[0] == target


@pytest.mark.parametrize("way", ["wifi", "hc"])  # one bus link for every mount door; the pass-through reports it its own way
def test_a_focuser_silent_on_a_live_bus_is_reported_and_found_again(way: str) -> None:
    with focuser_through_mount(way, grace_s=1.0, reply_timeout_s=0.2) as rig:
        focuser, motor = rig.focuser, rig.motor
        motor.set_fault("silent")
        wait_for(lambda: not focuser.state.connected, 30, "the silent focuser to read as disconnected")
        error = focuser.state.last_error
        assert "did not answer" in error or "no reply from the focuser" in error
        motor.clear_faults()
        wait_for(lambda: focuser.state.connected, 30, "the focuser to be found again")
        target = focuser.state.position + 1000
        focuser.move(target)
        settle(focuser)
        assert focuser.state.position == target
