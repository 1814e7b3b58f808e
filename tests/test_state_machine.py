"""The device model's state machine on a fake clock and an in-memory motor: every safety rule of the
README, the transitions table, and the races between callers and the worker."""

from __future__ import annotations

import pytest
from device_support import Bench, make_bench

from alpaca_focuser.celestron.commands import Command
from alpaca_focuser.device.states import TRANSITIONS, Phase
from alpaca_focuser.errors import InvalidOperation, NotConnected
from alpaca_focuser.settings import Direction, FocuserSettings
from alpaca_focuser.simulator import FocusMotor

STOP_FRAME = (Command.MOVE_POS, b"\x00")


def stops_sent(bench: Bench, since: int = 0) -> int:
    return sum(1 for packet in bench.sent[since:] if (packet.command, packet.data) == STOP_FRAME)


def test_every_state_can_be_reached_and_left():
    reachable = {Phase.OFF}
    for targets in TRANSITIONS.values():
        reachable |= targets
    assert reachable == set(Phase)
    assert all(TRANSITIONS[phase] for phase in Phase), "no state may be a dead end"


def test_a_move_lands_exactly_and_reads_as_moving_from_the_moment_it_returns():
    bench = make_bench()
    focuser = bench.focuser
    focuser.move(20000)
    assert focuser.state.moving and focuser.state.target == 20000
    bench.settle()
    assert focuser.state.position == 20000
    assert bench.motor.position - bench.motor.limits[0] == 20000
    assert not bench.motor.moving


def test_halt_mid_move_returns_with_the_motor_standing_and_its_final_position():
    bench = make_bench()
    focuser = bench.focuser
    focuser.move(30000)
    bench.run_until(lambda: bench.motor.moving and focuser.state.position > 19000, what="the move to be under way")
    focuser.halt()
    state = focuser.state
    assert not state.moving and not state.stop_pending
    assert not bench.motor.moving
    assert state.position == bench.motor.position - bench.motor.limits[0]


@pytest.mark.parametrize("start", ["jog", "move"])
def test_the_last_disconnect_stops_the_motor_and_releases_the_port(start):
    bench = make_bench()
    focuser = bench.focuser
    if start == "jog":
        focuser.jog(9)
    else:
        focuser.move(35000)
    bench.until_running()
    focuser.disconnect()
    assert not bench.motor.moving, "Disconnect must not leave the motor running"
    assert bench.motor.stops[-1].reason == "stopped"
    assert not focuser.state.connected
    assert focuser.state.activity == "off"


def test_shutdown_stops_a_running_jog():
    bench = make_bench()
    bench.focuser.jog(-9)
    bench.until_running()
    bench.focuser.close()
    assert not bench.motor.moving
    assert bench.motor.stops[-1].reason == "stopped"


def test_a_halt_during_a_silent_line_is_sent_first_when_the_line_comes_back():
    bench = make_bench()
    focuser = bench.focuser
    focuser.move(35000)
    bench.until_running()
    bench.motor.set_fault("silent")
    bench.run_until(lambda: focuser.state.activity == "link lost", what="the silence to be noticed")
    assert focuser.state.connected and focuser.state.moving
    focuser.halt()  # the line is down: the stop stays pending
    assert focuser.state.moving and focuser.state.stop_pending
    assert bench.motor.moving
    sent_before = len(bench.sent)
    bench.motor.set_fault("silent", on=False)
    bench.run_until(lambda: not focuser.state.stop_pending, what="the stop to be delivered")
    first = bench.sent[sent_before:]
    delivered = next(i for i, packet in enumerate(first) if (packet.command, packet.data) == STOP_FRAME)
    assert all(Command(p.command) in (Command.MOVE_POS,) for p in first[: delivered + 1]), "nothing may go out before the stop"
    assert not bench.motor.moving
    assert not focuser.state.moving
    assert focuser.state.position == bench.motor.position - bench.motor.limits[0]


def test_the_line_down_past_the_grace_period_turns_the_move_into_a_pending_stop():
    bench = make_bench(grace_s=1.0)
    focuser = bench.focuser
    focuser.jog(2)
    bench.until_running()
    bench.motor.set_fault("silent")
    bench.run_until(lambda: not focuser.state.connected, 10, "Connected to turn false after the grace period")
    assert bench.motor.moving
    bench.motor.set_fault("silent", on=False)
    bench.run_until(lambda: focuser.state.connected and not focuser.state.stop_pending, 10, "the stop on reconnecting")
    assert not bench.motor.moving
    assert not focuser.state.moving


def test_a_move_interrupted_by_a_short_blip_is_finished_after_reconnecting():
    bench = make_bench()
    focuser = bench.focuser
    focuser.move(5000)
    bench.until_running()
    bench.motor.set_fault("unplug", seconds=0.5)
    bench.run_until(lambda: focuser.state.activity == "link lost", what="the unplug to be noticed")
    assert focuser.state.moving and focuser.state.connected
    bench.settle()
    assert focuser.state.position == 5000
    assert focuser.state.reconnects == 1


def test_a_different_focuser_after_reconnecting_gets_no_move_and_the_reason_is_given():
    bench = make_bench()
    focuser = bench.focuser
    focuser.move(30000)
    bench.until_running()
    bench.motor.set_fault("unplug")
    bench.run_until(lambda: focuser.state.activity == "link lost", what="the unplug to be noticed")
    other = FocusMotor(clock=bench.clock.monotonic, low_stop=3000, high_stop=20000, position=9000)
    bench.plug(other)
    sent_before = len(bench.sent)
    bench.settle()
    assert Command.GOTO_FAST not in bench.sent_commands(sent_before) and Command.GOTO_SLOW not in bench.sent_commands(sent_before)
    assert "different focuser" in focuser.state.last_error
    assert focuser.state.max_step == 17000
    assert other.position == 9000


def test_a_stuck_calibration_aborted_by_the_timeout_leaves_the_focuser_uncalibrated_and_unmovable():
    bench = make_bench(calibration_timeout_s=30.0, stall_s=100.0)
    bench.motor.set_fault("stuck_calibration", at=0.3)
    focuser = bench.focuser
    focuser.start_calibration()
    bench.settle(200)
    state = focuser.state
    assert not state.calibrated and not state.calibration.running
    assert "did not finish" in state.calibration.message
    assert not bench.motor.calibrated
    with pytest.raises(InvalidOperation, match="not calibrated"):
        focuser.move(100)


@pytest.mark.parametrize("stop", ["halt", "abort"])
def test_an_aborted_calibration_rereads_the_limits(stop):
    bench = make_bench()
    focuser = bench.focuser
    focuser.start_calibration()
    bench.run_until(lambda: focuser.state.calibration.running and bench.motor.calibrating, what="the calibration to run")
    focuser.halt() if stop == "halt" else focuser.abort_calibration()
    state = focuser.state
    assert not state.calibration.running and not state.calibrated and not state.moving
    assert state.max_step == 0xFFFFFF
    assert not bench.motor.moving


def test_a_completed_calibration_sets_the_new_limits():
    bench = make_bench(calibration_timeout_s=600.0)
    focuser = bench.focuser
    focuser.start_calibration()
    bench.settle(600)
    state = focuser.state
    assert state.calibrated and state.calibration.message.startswith("Calibrated")
    assert (state.low_limit, state.high_limit) == bench.motor.limits


def test_motion_the_server_did_not_start_reads_as_moving_until_it_settles():
    bench = make_bench()
    focuser = bench.focuser
    bench.motor.external_move(bench.motor.position + 3000)
    bench.run_until(lambda: focuser.state.moving, 5, "the hand-controller move to be seen")
    assert focuser.state.activity == "moving"
    bench.settle()
    assert not bench.motor.moving
    assert focuser.state.position == bench.motor.position - bench.motor.limits[0]


def test_the_jog_stops_when_its_renewals_stop():
    bench = make_bench(jog_timeout_s=1.0)
    focuser = bench.focuser
    focuser.jog(5)
    for _ in range(3):
        bench.clock.sleep(0.5)
        focuser.jog(5)
        bench.focuser.step()
    assert focuser.state.activity == "jogging" and bench.motor.moving
    bench.settle(5)
    assert not bench.motor.moving


def test_a_stall_stops_the_motor_and_ends_the_move_with_the_reason():
    bench = make_bench()
    focuser = bench.focuser
    focuser.move(30000)
    bench.until_running()
    bench.motor.set_fault("stall")
    bench.settle()
    assert "stalled" in focuser.state.last_error
    assert stops_sent(bench) >= 1


def test_a_connect_that_cannot_reach_the_focuser_is_not_connected_with_the_reason():
    bench = make_bench(connect=False)
    bench.motor.set_fault("unplug")
    with pytest.raises(NotConnected, match="Could not reach the focuser"):
        bench.focuser.connect()
    assert not bench.focuser.state.connected


def test_a_connect_that_never_finishes_is_not_connected_rather_than_a_crash(monkeypatch):
    import threading

    from alpaca_focuser.device import CelestronFocuser, focuser

    monkeypatch.setattr(focuser, "CONNECT_WAIT_S", 0.2)
    release = threading.Event()

    def hanging_opener(route):
        release.wait(5)
        raise OSError("gave up")

    device = CelestronFocuser(FocuserSettings(port="/dev/never"), opener=hanging_opener)
    try:
        with pytest.raises(NotConnected, match="did not answer within"):
            device.connect()
    finally:
        release.set()
        device.close()


def test_halt_before_the_worker_took_a_move_cancels_it():
    bench = make_bench()
    focuser = bench.focuser
    start = focuser.state.position
    focuser.move(start + 5000)
    focuser.halt()
    bench.settle()
    assert focuser.state.position == start
    assert Command.GOTO_FAST not in bench.sent_commands()


def test_a_move_during_a_reverse_change_is_refused_and_reverse_while_idle_keeps_the_motor_still():
    bench = make_bench()
    focuser = bench.focuser
    focuser.move(20000)
    with pytest.raises(InvalidOperation, match="refused while the focuser moves"):
        focuser.set_reverse(True)
    bench.settle()
    raw = bench.motor.position
    focuser.set_reverse(True)
    assert focuser.state.position == focuser.state.max_step - 20000
    assert bench.motor.position == raw


def test_a_disconnect_during_a_stop_still_ends_with_the_motor_stopped_and_the_port_free():
    bench = make_bench()
    focuser = bench.focuser
    focuser.jog(9)
    bench.until_running()
    bench.motor.set_fault("silent")
    bench.run_until(lambda: focuser.state.activity == "link lost", what="the silence to be noticed")
    focuser.halt()
    focuser.disconnect()  # returns: the stop stays pending and goes out when the line is back
    bench.motor.set_fault("silent", on=False)
    bench.run_until(lambda: focuser.state.activity == "off", what="the port to be released after the stop")
    assert not bench.motor.moving


def test_backlash_overshoots_then_approaches_from_the_chosen_side():
    bench = make_bench(backlash_steps=300, backlash_direction=Direction.OUT)
    focuser = bench.focuser
    start = focuser.state.position
    focuser.move(start - 2000)
    bench.settle()
    assert focuser.state.position == start - 2000
    targets = [int.from_bytes(p.data, "big") - bench.motor.limits[0] for p in bench.sent if p.command == Command.GOTO_FAST]
    assert targets == [start - 2300, start - 2000]


def test_an_unexpected_fault_in_a_job_stops_the_motor_and_the_worker_lives_on(monkeypatch):
    bench = make_bench()
    focuser = bench.focuser
    focuser.move(30000)
    bench.until_running()

    def broken(self, drive):
        raise ZeroDivisionError("a bug")

    from alpaca_focuser.device.jobs import MoveJob

    monkeypatch.setattr(MoveJob, "advance", broken)
    bench.settle()
    assert "Unexpected fault" in focuser.state.last_error
    assert not bench.motor.moving
    monkeypatch.undo()
    focuser.move(1000)
    bench.settle()
    assert focuser.state.position == 1000


def uncalibrated_bench(**settings: object) -> Bench:
    bench = make_bench(connect=False, **settings)
    bench.motors[0] = FocusMotor(clock=bench.clock.monotonic, calibrated=False, position=5000)
    bench.focuser.connect()
    return bench


def test_an_uncalibrated_focuser_jogs_slowly_so_it_can_be_brought_to_the_middle_before_calibrating():
    bench = uncalibrated_bench()
    focuser = bench.focuser
    with pytest.raises(InvalidOperation, match="not calibrated"):
        focuser.move(100)
    focuser.jog(9)
    bench.until_running()
    assert [p.data for p in bench.sent if p.command == Command.MOVE_POS] == [b"\x05"], "slowed to rate 5"
    focuser.jog(0)
    assert not bench.motor.moving and not focuser.state.moving


def test_a_jog_into_a_hard_stop_is_stopped_when_the_focuser_stops_turning():
    bench = uncalibrated_bench(jog_timeout_s=3600.0, stall_s=2.0)
    focuser = bench.focuser
    focuser.jog(-5)
    bench.settle(3600)
    assert "did not turn" in focuser.state.last_error
    assert bench.motor.position == bench.motor.low_stop
    assert stops_sent(bench) >= 1


def test_a_second_disconnect_returns_at_once():
    bench = make_bench()
    bench.focuser.disconnect()
    before = bench.clock.now
    bench.focuser.disconnect()
    assert bench.clock.now == before, "the second Disconnect waited for the worker"
    assert not bench.focuser.state.connected
