"""The simulated focus motor: mechanics on a hand-driven clock (so every figure is exact), its AUX
answers byte for byte, faults, NVRAM, and the three ways to reach it (sim://, TCP, the CLI)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import serial
from conftest import wait_for

import alpaca_focuser.simulator  # noqa: F401  (registers sim://)
from alpaca_focuser.celestron import commands as c
from alpaca_focuser.celestron.faults import LinkClosed, NoReply
from alpaca_focuser.celestron.link import AuxLink
from alpaca_focuser.celestron.packet import FrameDecoder, Packet
from alpaca_focuser.simulator import registry
from alpaca_focuser.simulator.motor import FocusMotor
from alpaca_focuser.simulator.protocol_sim import parse_url
from alpaca_focuser.simulator.responder import AuxResponder
from alpaca_focuser.simulator.tcp_server import TcpSimulator


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def motor(clock: Clock) -> FocusMotor:
    return FocusMotor(clock=clock)


def ask(responder: AuxResponder, command: int, data: bytes = b"", source: int = 0x20) -> bytes:
    return responder.exchange(Packet(source, 0x12, command, data).encode())


# ----- mechanics --------------------------------------------------------------------------------


def test_starts_calibrated_with_limits_the_indi_1_9_9_driver_accepts(motor: FocusMotor) -> None:
    low, high = motor.limits
    assert motor.calibrated and 0 < low < 50000 and high <= 60000 and high - low > 2000
    assert low < motor.position < high and not motor.moving


def test_goto_fast_runs_at_300_counts_per_second_and_records_when_it_ended(motor: FocusMotor, clock: Clock) -> None:
    motor.goto_fast(23000)
    clock.advance(5)
    assert motor.position == 21500 and motor.moving
    clock.advance(5.5)  # the move ended 0.5 s ago
    assert motor.position == 23000 and not motor.moving
    stop = motor.stops[-1]
    assert (stop.time, stop.position, stop.kind, stop.reason) == (1010.0, 23000, "goto_fast", "arrived")
    assert motor.run_time == pytest.approx(10.0)


def test_goto_slow_is_ten_times_slower(motor: FocusMotor, clock: Clock) -> None:
    motor.goto_slow(19700)
    clock.advance(5)
    assert motor.position == 19850


@pytest.mark.parametrize(("rate", "speed"), [(9, 300), (8, 100), (7, 30)])
def test_manual_rates(motor: FocusMotor, clock: Clock, rate: int, speed: int) -> None:
    motor.move(rate, positive=False)
    clock.advance(2)
    assert motor.position == 20000 - 2 * speed


def test_lower_manual_rates_are_slower_still(motor: FocusMotor, clock: Clock) -> None:
    speeds = []
    for rate in range(1, 10):
        start = motor.position
        motor.move(rate, positive=True)
        clock.advance(1)
        speeds.append(motor.position - start)
        motor.move(0, positive=True)
    assert speeds == sorted(speeds) and speeds[0] > 0 and len(set(speeds)) == 9


def test_rate_zero_stops_and_a_goto_while_moving_retargets(motor: FocusMotor, clock: Clock) -> None:
    motor.goto_fast(30000)
    clock.advance(1)
    motor.goto_fast(10000)  # retarget from 20300
    clock.advance(1)
    assert motor.position == 20000 and motor.moving
    motor.move(0, positive=False)
    assert not motor.moving and motor.position == 20000
    assert [(s.reason, s.position) for s in motor.stops] == [("stopped", 20000)]


def test_hard_stops_end_manual_moves_and_gotos_beyond_them(motor: FocusMotor, clock: Clock) -> None:
    motor.move(9, positive=True)
    clock.advance(3600)
    assert motor.position == motor.high_stop and not motor.moving
    motor.goto_fast(0)
    clock.advance(3600)
    assert motor.position == motor.low_stop
    assert [s.reason for s in motor.stops] == ["hard stop", "hard stop"]


def test_landing_error_is_bounded_deterministic_and_separate_for_slow_gotos(clock: Clock) -> None:
    def landings(**options: int) -> list[int]:
        motor = FocusMotor(clock=clock, seed=7, **options)
        ends = []
        for target in range(15000, 25000, 500):
            motor.goto_fast(target)
            clock.advance(100)
            ends.append(motor.position - target)
            motor.goto_slow(target)
            clock.advance(100)
            ends.append(motor.position - target)
        return ends

    fast_off = landings(landing_error=5)
    assert fast_off == landings(landing_error=5)
    assert all(abs(e) <= 5 for e in fast_off) and any(fast_off[0::2]) and not any(fast_off[1::2])
    both_off = landings(landing_error=5, slow_landing_error=2)
    assert any(both_off[1::2]) and all(abs(e) <= 2 for e in both_off[1::2])


def test_external_move_is_a_hand_controller_at_rate_9(motor: FocusMotor, clock: Clock) -> None:
    motor.external_move(20600)
    clock.advance(1)
    assert motor.position == 20300
    clock.advance(1)
    assert motor.stops[-1].kind == "external" and motor.position == 20600


def test_calibration_visits_both_stops_stores_limits_and_comes_back(clock: Clock) -> None:
    motor = FocusMotor(clock=clock, calibrated=False)
    assert motor.limits == (0, 0) and not motor.calibrated
    motor.start_calibration()
    assert motor.calibration_state != 0 and motor.moving
    seen_positions, states = set(), []
    for _ in range(400):
        clock.advance(1)
        seen_positions.add(motor.position)
        states.append(motor.calibration_state)
        assert not motor.calibrated or motor.calibration_state == 0
    assert max(seen_positions) > motor.high_stop - 300 and min(seen_positions) < motor.low_stop + 300  # sampled each second
    assert motor.calibrated and motor.calibration_state == 0 and motor.position == 20000
    assert motor.limits == (motor.low_stop, motor.high_stop)
    running = [s for s in states if s]
    assert running == sorted(running) and len(set(running)) > 5
    minutes = (motor.stops[-1].time - 1000.0) / 60
    assert 2 < minutes < 6  # "a few minutes, like 3-4"


def test_calibration_abort_reads_done_0_state_0(motor: FocusMotor, clock: Clock) -> None:
    motor.start_calibration()
    assert not motor.calibrated  # a new run clears the flag, or INDI would end at once
    clock.advance(30)
    motor.goto_fast(5000)  # ignored while calibrating
    motor.abort_calibration()
    assert (motor.calibrated, motor.calibration_state, motor.moving) == (False, 0, False)
    assert motor.limits == (0, 0)


def test_stall_freezes_position_until_cleared_and_stop_still_works(motor: FocusMotor, clock: Clock) -> None:
    motor.goto_fast(30000)
    clock.advance(1)
    motor.set_fault("stall")
    clock.advance(10)
    assert motor.position == 20300 and motor.moving
    motor.clear_faults()
    clock.advance(1)
    assert motor.position == 20600
    motor.set_fault("stall")
    motor.stop()
    assert not motor.moving and motor.stops[-1].position == 20600


def test_stuck_calibration_never_finishes_but_aborts(motor: FocusMotor, clock: Clock) -> None:
    motor.set_fault("stuck_calibration", at=0.3)
    motor.start_calibration()
    clock.advance(3600)
    frozen = motor.position
    clock.advance(60)
    assert motor.position == frozen and motor.calibration_state != 0 and not motor.calibrated
    motor.abort_calibration()
    assert motor.calibration_state == 0 and not motor.moving


def test_unknown_fault_and_parameter_are_named(motor: FocusMotor) -> None:
    with pytest.raises(ValueError, match="unknown fault 'smoke'"):
        motor.set_fault("smoke")
    with pytest.raises(ValueError, match="takes no parameter speed; it takes: delay"):
        motor.set_fault("late", speed=3)


def test_unplug_ends_by_itself(motor: FocusMotor, clock: Clock) -> None:
    motor.set_fault("unplug", seconds=2)
    assert motor.unplugged
    clock.advance(2)
    assert not motor.unplugged


def test_state_file_keeps_calibration_limits_and_position_across_restarts(tmp_path: Path, clock: Clock) -> None:
    state = tmp_path / "nvram.json"
    first = FocusMotor(clock=clock, calibrated=False, state_file=state)
    first.start_calibration()
    clock.advance(600)
    first.goto_fast(12345)
    clock.advance(100)
    assert first.moving is False
    second = FocusMotor(clock=clock, calibrated=False, state_file=state)
    assert second.calibrated and second.limits == (1000, 37500) and second.position == 12345


def test_a_broken_state_file_says_what_to_do(tmp_path: Path) -> None:
    state = tmp_path / "nvram.json"
    state.write_text("{not json")
    with pytest.raises(ValueError, match="delete it to start afresh"):
        FocusMotor(state_file=state)


# ----- the AUX answers --------------------------------------------------------------------------


def test_every_command_is_answered_byte_exactly(motor: FocusMotor, clock: Clock) -> None:
    aux = AuxResponder(motor, clock=clock)
    assert ask(aux, 0xFE) == bytes.fromhex("3b 07 12 20 fe 07 0f 20 30 63")
    assert ask(aux, 0xFE, source=0x22) == bytes.fromhex("3b 07 12 22 fe 07 0f 20 30 61")  # the captured reply
    assert ask(aux, 0x05) == bytes.fromhex("3b 05 12 20 05 1b a8 01")
    assert ask(aux, 0x01) == Packet(0x12, 0x20, 0x01, (20000).to_bytes(3, "big")).encode()
    assert ask(aux, 0x2C) == bytes.fromhex("3b 0b 12 20 2c 00 00 03 e8 00 00 92 7c 9e")
    assert ask(aux, 0x2B) == bytes.fromhex("3b 05 12 20 2b 01 00 9d")
    assert ask(aux, 0x13) == bytes.fromhex("3b 04 12 20 13 ff b8")
    assert ask(aux, 0x02, bytes.fromhex("00 83 a4")) == bytes.fromhex("3b 03 12 20 02 c9")
    assert ask(aux, 0x13) == bytes.fromhex("3b 04 12 20 13 00 b7")
    assert ask(aux, 0x24, b"\x00") == bytes.fromhex("3b 03 12 20 24 a7")
    assert ask(aux, 0x25, b"\x09") == bytes.fromhex("3b 03 12 20 25 a6")
    assert ask(aux, 0x17, bytes.fromhex("00 4e 20")) == bytes.fromhex("3b 03 12 20 17 b4")
    assert ask(aux, 0x2A, b"\x01") == bytes.fromhex("3b 03 12 20 2a a1")
    assert ask(aux, 0x2B) == bytes.fromhex("3b 05 12 20 2b 00 01 9d")
    assert ask(aux, 0x2A, b"\x00") == bytes.fromhex("3b 03 12 20 2a a1")
    assert ask(aux, 0x2B) == bytes.fromhex("3b 05 12 20 2b 00 00 9e")
    assert ask(aux, 0x2C) == bytes.fromhex("3b 0b 12 20 2c 00 00 00 00 00 00 00 00 97")
    assert ask(aux, 0x10, b"\x05") == bytes.fromhex("3b 03 12 20 10 bb")
    assert ask(aux, 0x40) == bytes.fromhex("3b 04 12 20 40 05 85")
    assert ask(aux, 0x41) == bytes.fromhex("3b 04 12 20 41 00 89")


def test_legacy_16_bit_goto_carries_the_top_bits(motor: FocusMotor, clock: Clock) -> None:
    aux = AuxResponder(motor, clock=clock)
    assert ask(aux, 0x02, bytes.fromhex("00 50")) == bytes.fromhex("3b 03 12 20 02 c9")
    clock.advance(100)
    assert motor.position == 0x5000


@pytest.mark.parametrize(
    "frame",
    [
        Packet(0x20, 0x10, 0x01),  # another device on the bus
        Packet(0x20, 0x12, 0x47),  # a command the focuser does not know
        Packet(0x20, 0x12, 0x01, b"\x00"),  # data where none belongs
        Packet(0x20, 0x12, 0x24, b"\x0a"),  # rate out of range
    ],
)
def test_no_reply_to_what_the_focuser_would_not_answer(motor: FocusMotor, clock: Clock, frame: Packet) -> None:
    assert AuxResponder(motor, clock=clock).exchange(frame.encode()) == b""


def test_echo_comes_before_the_reply_even_for_other_devices(motor: FocusMotor, clock: Clock) -> None:
    motor.set_fault("echo")
    aux = AuxResponder(motor, clock=clock)
    request = Packet(0x20, 0x12, 0xFE).encode()
    assert aux.exchange(request) == request + bytes.fromhex("3b 07 12 20 fe 07 0f 20 30 63")
    other = Packet(0x20, 0x10, 0xFE).encode()
    assert aux.exchange(other) == other


def test_silent_late_and_corrupt(motor: FocusMotor, clock: Clock) -> None:
    aux = AuxResponder(motor, clock=clock)
    motor.set_fault("silent")
    assert ask(aux, 0x01) == b"" and aux.next_due() is None
    motor.set_fault("silent", on=False)
    motor.set_fault("late", delay=3)
    assert ask(aux, 0x01) == b"" and aux.next_due() == 3
    clock.advance(3)
    assert FrameDecoder().feed(aux.take()) == [Packet(0x12, 0x20, 0x01, (20000).to_bytes(3, "big"))]
    motor.clear_faults()
    motor.set_fault("corrupt", every=2)
    good = [Packet(0x12, 0x20, 0xFE, bytes.fromhex("07 0f 20 30"))]
    answers = [FrameDecoder().feed(ask(aux, 0xFE)) for _ in range(6)]
    assert answers[0::2] == [good] * 3
    assert all(answer != good for answer in answers[1::2])


def test_a_reply_delay_answers_with_the_motor_as_it_is_when_the_reply_leaves(motor: FocusMotor, clock: Clock) -> None:
    aux = AuxResponder(motor, clock=clock, reply_delay_s=0.002)
    motor.goto_fast(20003)  # 10 ms of travel
    clock.advance(0.009)
    assert ask(aux, 0x13) == b"" and aux.next_due() == pytest.approx(0.002)
    clock.advance(0.002)  # the motor arrived while the request waited: the answer says so
    assert FrameDecoder().feed(aux.take()) == [Packet(0x12, 0x20, 0x13, b"\xff")]
    assert ask(aux, 0x02, (20100).to_bytes(3, "big")) == b"" and not motor.moving  # a goto starts when it is carried out
    clock.advance(0.002)
    assert FrameDecoder().feed(aux.take()) == [Packet(0x12, 0x20, 0x02, b"")] and motor.moving
    with pytest.raises(ValueError, match="reply delay"):
        AuxResponder(motor, reply_delay_s=-1)


# ----- sim://, TCP, CLI -------------------------------------------------------------------------


def test_sim_url_options_and_errors() -> None:
    assert parse_url("sim://") == ("default", {}, False)
    assert parse_url("sim://bench?time_scale=10&uncalibrated=1&landing_error=3&echo=1") == (
        "bench",
        {"time_scale": 10.0, "calibrated": False, "landing_error": 3},
        True,
    )
    with pytest.raises(ValueError, match="unknown sim:// option 'speed'"):
        parse_url("sim://x?speed=3")
    with pytest.raises(ValueError, match="must be a number"):
        parse_url("sim://x?time_scale=fast")


def test_sim_url_reopens_the_same_motor_and_unplug_breaks_the_port() -> None:
    registry.remove("reopen")
    with AuxLink("sim://reopen?time_scale=1000", timeout=0.5) as link:
        link.request(c.goto_fast(30000))
    motor = registry.motor("reopen")
    wait_for(lambda: not motor.moving, what="the move to end")
    with AuxLink("sim://reopen", timeout=0.5) as link:
        assert link.request(c.get_position()) == 30000
        motor.set_fault("unplug", seconds=0.3)
        with pytest.raises(LinkClosed, match="unplugged"):
            link.request(c.get_position())
    with pytest.raises(serial.SerialException, match="unplugged"):
        serial.serial_for_url("sim://reopen")
    wait_for(lambda: not motor.unplugged, what="the replug")
    with AuxLink("sim://reopen", timeout=0.5) as link:
        assert link.request(c.get_position()) == 30000
    registry.remove("reopen")


def test_tcp_like_a_wifi_module_with_echo() -> None:
    motor = FocusMotor(time_scale=1000)
    motor.set_fault("echo")
    server = TcpSimulator(motor, "127.0.0.1", 0).start()
    try:
        with AuxLink(server.url, timeout=1) as link:
            assert str(link.request(c.get_version())) == "7.15.8240"
            link.request(c.goto_fast(25000))
            wait_for(lambda: link.request(c.slew_done()), what="the goto to end")
            assert link.request(c.get_position()) == 25000
            assert link.stats.echoes_ignored >= 3
            motor.set_fault("unplug", seconds=0.5)
            wait_for(lambda: not server.plugged, what="the unplug")
            with pytest.raises((LinkClosed, NoReply)):
                link.request(c.get_position())
            wait_for(lambda: server.plugged, what="the replug")
        with AuxLink(server.url, timeout=1) as link:
            assert link.request(c.get_position()) == 25000
    finally:
        server.stop()


def test_cli_serves_a_pty_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    link_path = tmp_path / "focuser"
    state = tmp_path / "nvram.json"
    command = [sys.executable, "-m", "alpaca_focuser", "sim", "--pty", str(link_path), "--time-scale", "500", "--uncalibrated", "--state-file", str(state)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert f"simulated focuser on {link_path}" in first_line
        with AuxLink(str(link_path), timeout=1) as link:
            assert link.request(c.get_limits()) == c.Limits(0, 0)
            link.request(c.calibration_start())
            wait_for(lambda: link.request(c.calibration_status()).done, timeout=20, what="calibration")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert "stopped" in output and not link_path.exists()
    restarted = FocusMotor(state_file=state, calibrated=False)
    assert restarted.calibrated and restarted.limits == (1000, 37500)


def test_cli_reply_delay_holds_each_answer_back(tmp_path: Path) -> None:
    link_path = tmp_path / "focuser"
    command = [sys.executable, "-m", "alpaca_focuser", "sim", "--pty", str(link_path), "--reply-delay", "60000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        assert f"simulated focuser on {link_path}" in process.stdout.readline()
        with AuxLink(str(link_path), timeout=0.2, tries=1) as link, pytest.raises(NoReply):
            link.request(c.get_position())  # a minute's delay: no answer yet
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    refused = subprocess.run([*command, "--mount"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "--reply-delay is for the focuser's own port" in refused.stderr


def test_cli_says_where_to_listen() -> None:
    result = subprocess.run([sys.executable, "-m", "alpaca_focuser", "sim"], capture_output=True, text=True, timeout=30, env={**os.environ})
    assert result.returncode == 2 and "--pty PATH" in result.stderr
