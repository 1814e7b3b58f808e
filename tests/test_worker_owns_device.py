"""The worker as the only owner of the device, on a fake clock and an in-memory motor: orders in
Alpaca terms stamped with the focuser they were checked against, every stop through the stopping
protocol, the motion journal that lets the next run stop a motor a killed run left running,
truthful shutdown, and settings saves that never hold up Halt."""

from __future__ import annotations

import logging
import threading

import pytest
from device_support import Bench, make_bench
from test_state_machine import STOP_FRAME, stops_sent

from alpaca_focuser.celestron.commands import Command
from alpaca_focuser.device.journal import MotionJournal
from alpaca_focuser.device.orders import MoveOrder
from alpaca_focuser.errors import NotConnected
from alpaca_focuser.settings import Direction
from alpaca_focuser.simulator import FocusMotor

ANOTHER = {"low_stop": 3000, "high_stop": 20000, "position": 15000}  # a different focuser, calibrated


def swap_focuser(bench: Bench) -> None:
    """Unplug the focuser and put another one (other limits) behind the same port name."""
    bench.motor.set_fault("unplug")
    bench.plug(FocusMotor(clock=bench.clock.monotonic, **ANOTHER))  # type: ignore[arg-type]


def gotos_to(bench: Bench, since: int) -> list[Command]:
    return [c for c in bench.sent_commands(since) if c in (Command.GOTO_FAST, Command.GOTO_SLOW)]


# ------------------------------------------------------------------------ stamped orders


def test_a_move_accepted_during_a_drop_out_is_dropped_when_another_focuser_answers():
    bench = make_bench(grace_s=30.0)
    focuser = bench.focuser
    bench.motor.set_fault("silent")
    bench.run_until(lambda: focuser.state.activity == "link lost", what="the line to be lost")
    focuser.move(31000)  # still connected (grace): checked against the focuser we had
    assert focuser.state.moving
    bench.focuser.step()
    assert focuser.state.moving, "a move waiting for the line must read as moving"
    swap_focuser(bench)
    bench.run_until(lambda: "went away" in focuser.state.last_error, what="the unplug to be seen")
    bench.motor.clear_faults()
    since = len(bench.sent)
    bench.run_until(lambda: focuser.state.reconnects == 1 and not focuser.state.moving, 30, "the reconnect")
    assert gotos_to(bench, since) == [], "a move checked against the old limits reached the new focuser"
    assert not bench.current.moving
    assert "order waiting to start was dropped" in focuser.state.last_error


def test_an_order_stamped_with_a_focuser_no_longer_on_the_line_is_refused_with_the_reason():
    bench = make_bench()
    focuser = bench.focuser
    stale = focuser._view.identity  # what a caller checked its move against
    swap_focuser(bench)
    bench.run_until(lambda: focuser.state.activity == "link lost", what="the unplug to be seen")
    bench.motor.clear_faults()
    bench.run_until(lambda: focuser.state.low_limit == ANOTHER["low_stop"], 30, "the other focuser to be read")
    since = len(bench.sent)
    with focuser._cond:  # the race: the order arrives after the worker met the new focuser
        focuser._give(MoveOrder(19000, stale))
    bench.settle()
    assert gotos_to(bench, since) == []
    assert "order was dropped" in focuser.state.last_error


def test_the_worker_plans_a_move_from_the_limits_it_holds_when_the_move_begins():
    bench = make_bench(backlash_steps=300, backlash_direction=Direction.IN)
    focuser = bench.focuser
    low = bench.motor.limits[0]
    focuser.move(25000)
    bench.settle()
    assert focuser.state.position == 25000 == bench.motor.position - low
    legs = [packet for packet in bench.sent if packet.command == Command.GOTO_FAST]
    assert [int.from_bytes(packet.data, "big") for packet in legs] == [low + 25300, low + 25000]


def test_a_halt_drops_a_move_the_worker_had_already_queued():
    bench = make_bench(grace_s=30.0)
    focuser = bench.focuser
    start = focuser.state.position
    bench.motor.set_fault("silent")
    bench.run_until(lambda: focuser.state.activity == "link lost", what="the line to be lost")
    focuser.move(start + 5000)
    focuser.step()  # the worker takes the move: it waits for the line
    focuser.halt()
    bench.motor.clear_faults()
    bench.settle()
    assert Command.GOTO_FAST not in bench.sent_commands()
    assert focuser.state.position == start


# ------------------------------------------------------------------------ every stop is a stop


def test_a_stop_that_does_not_take_is_sent_again_until_the_motor_stands():
    bench = make_bench()
    focuser = bench.focuser
    focuser.move(30000)
    bench.until_running()
    bench.motor.set_fault("deaf_to_stop", times=2)
    focuser.halt()
    bench.run_until(lambda: not bench.motor.moving, 30, "the motor to take a stop")
    bench.settle()
    assert stops_sent(bench) >= 3
    assert not focuser.state.stop_pending


@pytest.mark.parametrize("ending", ["dead-man", "stall", "calibration timeout"])
def test_stops_the_worker_decides_on_are_pending_until_the_motor_is_seen_standing(ending):
    bench = make_bench(jog_timeout_s=1.0, calibration_timeout_s=3.0)
    focuser = bench.focuser
    if ending == "dead-man":
        focuser.jog(5)  # slow: a count every 80 ms, so two quick equal readings prove nothing
    elif ending == "stall":
        focuser.move(35000)
    else:
        focuser.start_calibration()
    bench.until_running()
    if ending == "stall":
        bench.motor.set_fault("stall")
    else:
        bench.motor.set_fault("deaf_to_stop", times=1)
    running_as_idle, pending = [], []

    def watch() -> bool:
        state = focuser.state
        pending.append(state.stop_pending)
        if bench.motor.moving and not state.moving:
            running_as_idle.append(state)
        return not bench.motor.moving and not state.moving

    bench.run_until(watch, 120, "the worker's own stop to be done")
    assert not running_as_idle, "IsMoving read false while the motor still ran"
    assert any(pending), "the stop did not go through the stopping protocol"
    if ending == "dead-man":
        assert stops_sent(bench) >= 2, "the stop that did not take was not sent again"
    if ending == "calibration timeout":
        assert "did not finish" in focuser.state.calibration.message
        assert not focuser.state.calibrated


def test_a_jogs_stop_is_the_first_frame_when_a_silent_line_comes_back():
    bench = make_bench(jog_timeout_s=1.0, grace_s=30.0)
    focuser = bench.focuser
    focuser.jog(5)
    bench.until_running()
    bench.motor.set_fault("silent")
    bench.run_until(lambda: focuser.state.activity == "link lost", what="the line to be lost")
    assert focuser.state.stop_pending, "a jog whose line dropped must have its stop pending at once"
    bench.clock.sleep(4.0)  # the dead-man ran out long ago
    since = len(bench.sent)
    bench.motor.clear_faults()
    bench.run_until(lambda: len(bench.sent) > since, what="the next frame")
    first = bench.sent[since]
    assert (first.command, first.data) == STOP_FRAME
    bench.settle()
    assert not bench.motor.moving


# ------------------------------------------------------------------------ after a crash


def test_a_jog_left_running_by_a_killed_run_is_stopped_first_at_the_next_start(tmp_path):
    journal = MotionJournal(tmp_path / "motion.json")
    bench = make_bench(journal=journal, jog_timeout_s=60.0)
    bench.focuser.jog(9)
    bench.until_running()
    assert journal.left_running() == "jogging"
    # The process dies here: no stop, no dead-man. The next run finds the motor still turning.
    motor = bench.motor
    again = make_bench(journal=MotionJournal(tmp_path / "motion.json"), connect=False, motor=motor, clock=bench.clock)
    again.focuser.connect()
    first = again.sent[0]
    assert (first.command, first.data) == STOP_FRAME, "the stop must go out before anything else"
    again.settle()
    assert not motor.moving and motor.stops[-1].reason == "stopped"
    assert journal.left_running() is None


def test_the_journal_is_cleared_only_after_the_clients_were_told_the_motor_stands(tmp_path):
    told: list[bool] = []  # IsMoving as clients read it when the file is cleared

    class Watched(MotionJournal):
        def _write(self, content: dict[str, object]) -> None:
            if not content:
                told.append(not bench.focuser.state.moving)
            super()._write(content)

    journal = Watched(tmp_path / "motion.json")
    bench = make_bench(journal=journal)
    bench.focuser.move(bench.focuser.state.position + 300)
    bench.run_until(lambda: journal.left_running() == "moving", 5, "the move to be recorded")
    bench.settle()
    assert told and all(told), "a slow disk must not hold up the end of a move"
    assert journal.left_running() is None


def test_motion_found_at_start_without_a_job_of_ours_is_reported_not_stopped(tmp_path):
    journal = MotionJournal(tmp_path / "motion.json")
    bench = make_bench(journal=journal, connect=False)
    bench.motor.external_move(bench.motor.position + 3000)  # a hand controller
    bench.focuser.connect()
    bench.run_until(lambda: bench.focuser.state.moving, 5, "the motion to be seen")
    bench.settle()
    assert stops_sent(bench) == 0
    assert bench.motor.stops[-1].reason == "arrived"


# ------------------------------------------------------------------------ shutdown and saves


def test_shutdown_says_stopped_only_when_the_motor_was_seen_standing(caplog):
    bench = make_bench()
    bench.focuser.move(35000)
    bench.until_running()
    bench.motor.set_fault("silent")
    with caplog.at_level(logging.INFO):
        bench.focuser.close()
    said = caplog.text
    assert "seen standing" not in said
    assert "stop is still pending" in said


def test_halt_is_not_held_up_by_a_slow_settings_save():
    import alpaca_focuser.settings as settings_module

    release = threading.Event()
    saving = threading.Event()
    saved = threading.Event()

    def slow_save(_: settings_module.FocuserSettings) -> None:
        saving.set()
        release.wait(10)
        saved.set()

    bench = make_bench(save=slow_save)
    focuser = bench.focuser
    focuser.move(30000)
    bench.until_running()
    saver = threading.Thread(target=focuser.configure, kwargs={"settle_ms": 100})
    saver.start()
    try:
        assert saving.wait(5)
        focuser.halt()
        assert not bench.motor.moving and not focuser.state.stop_pending
        assert not saved.is_set(), "Halt waited for the save to finish"
    finally:
        release.set()
        saver.join(5)


def test_a_port_that_does_not_answer_changes_nothing_unless_forced():
    bench = make_bench()
    focuser = bench.focuser
    with pytest.raises(NotConnected, match="Nothing was changed"):
        focuser.configure(port="memory://nowhere")
    assert focuser.settings.port == "memory://focuser"
    assert focuser.state.connected
    note = focuser.configure(force=True, port="memory://nowhere")
    assert focuser.settings.port == "memory://nowhere"
    assert "cannot be reached" in note


def test_a_calibration_reads_as_running_until_its_abort_is_done():
    from alpaca_focuser.device.orders import Orders
    from alpaca_focuser.device.snapshot import compose

    bench = make_bench(calibration_timeout_s=600.0)
    focuser = bench.focuser
    focuser.start_calibration()
    bench.run_until(lambda: bench.motor.calibrating, what="the calibration to run")
    asked = compose(focuser._view, False, Orders(wanted=True, stop="AbortCalibration"))  # the worker has not acted yet
    assert asked.calibration.running and asked.moving and asked.activity == "stopping"
    focuser.abort_calibration()
    bench.settle()
    assert not bench.motor.calibrating and not focuser.state.calibration.running
