"""AuxLink against the simulator over a real pseudo-terminal with pyserial: every command, echo,
a silent and a late device (timeout, then retry), calibration, and an unplugged cable."""

from __future__ import annotations

import os
import pty
import select
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_for
from sim_support import running_pty_simulator

from alpaca_focuser.celestron import commands as c
from alpaca_focuser.celestron.faults import LinkClosed, NoReply
from alpaca_focuser.celestron.link import AuxLink
from alpaca_focuser.celestron.packet import FrameDecoder, Packet
from alpaca_focuser.simulator import FocusMotor
from alpaca_focuser.simulator.pty_server import PtySimulator


@pytest.fixture
def sim() -> Iterator[tuple[FocusMotor, str]]:
    with running_pty_simulator(time_scale=200) as running:
        yield running


@pytest.fixture
def link(sim: tuple[FocusMotor, str]) -> Iterator[AuxLink]:
    with AuxLink(sim[1], baud=19200, timeout=0.5, tries=3) as opened:
        yield opened


def test_every_command_over_a_pty(sim: tuple[FocusMotor, str], link: AuxLink) -> None:
    motor, _ = sim
    assert link.request(c.get_version()) == c.Version(7, 15, 8240)
    assert link.request(c.get_model()) == 0x1BA8
    assert link.request(c.get_position()) == 20000
    assert link.request(c.get_limits()) == c.Limits(1000, 37500)
    assert link.request(c.calibration_status()) == c.CalibrationReport(done=True, state=0)
    assert link.request(c.slew_done()) is True
    assert link.request(c.get_positive_backlash()) == 0 and link.request(c.get_negative_backlash()) == 0
    link.request(c.goto_fast(30000))
    assert link.request(c.slew_done()) is False
    wait_for(lambda: link.request(c.slew_done()), what="GOTO_FAST to end")
    assert link.request(c.get_position()) == 30000
    link.request(c.goto_slow(29990))
    wait_for(lambda: link.request(c.slew_done()), what="GOTO_SLOW to end")
    assert link.request(c.get_position()) == 29990
    link.request(c.move_negative(9))
    wait_for(lambda: link.request(c.get_position()) < 29000, what="the manual move")
    link.request(c.stop())
    assert link.request(c.slew_done()) is True
    stopped_at = link.request(c.get_position())
    link.request(c.move_positive(8))
    wait_for(lambda: link.request(c.get_position()) > stopped_at, what="the positive manual move")
    link.request(c.move_positive(0))
    assert not motor.moving
    assert link.stats.retries == 0 and link.dropped_bytes == 0


def test_echo_mode_is_filtered(sim: tuple[FocusMotor, str], link: AuxLink) -> None:
    sim[0].set_fault("echo")
    assert link.request(c.get_position()) == 20000
    link.request(c.goto_fast(21000))
    assert link.stats.echoes_ignored == 2 and link.stats.retries == 0


def test_a_silent_device_times_out_after_every_try(sim: tuple[FocusMotor, str], link: AuxLink) -> None:
    sim[0].set_fault("silent")
    with pytest.raises(NoReply, match="no reply to GET_POSITION"):
        link.request(c.get_position())
    assert link.stats.retries == 2
    sim[0].clear_faults()
    assert link.request(c.get_position()) == 20000


def test_a_late_device_is_retried_and_the_answer_still_arrives(sim: tuple[FocusMotor, str], link: AuxLink) -> None:
    sim[0].set_fault("late", delay=0.7)  # longer than the link's 0.5 s timeout
    assert link.request(c.get_position()) == 20000
    assert link.stats.retries >= 1


def test_a_silent_device_behind_an_echoing_bus_reports_what_it_heard(sim: tuple[FocusMotor, str], link: AuxLink) -> None:
    sim[0].set_fault("echo")
    sim[0].set_fault("silent")
    with pytest.raises(NoReply):
        link.request(c.get_version())
    assert link.stats.echoes_ignored == 3


def test_corrupt_replies_are_dropped_and_retried(sim: tuple[FocusMotor, str], link: AuxLink) -> None:
    sim[0].set_fault("corrupt", every=2)
    for _ in range(4):
        assert link.request(c.get_version()) == c.Version(7, 15, 8240)
    assert link.stats.retries >= 1


def test_calibration_at_a_high_time_scale() -> None:
    with running_pty_simulator(time_scale=1000, calibrated=False) as (motor, path), AuxLink(path, timeout=0.5) as link:
        assert link.request(c.get_limits()) == c.Limits(0, 0)
        link.request(c.calibration_start())
        first = link.request(c.calibration_status())
        assert first.running and not first.done
        report = wait_for(lambda: (r := link.request(c.calibration_status())).done and r, timeout=10, what="calibration to finish")
        assert report == c.CalibrationReport(done=True, state=0)
        assert link.request(c.get_limits()) == c.Limits(1000, 37500)
        assert motor.calibrated and link.request(c.slew_done())


def test_calibration_abort_over_the_link(sim: tuple[FocusMotor, str], link: AuxLink) -> None:
    link.request(c.calibration_start())
    assert link.request(c.calibration_status()).running
    link.request(c.calibration_abort())
    assert link.request(c.calibration_status()) == c.CalibrationReport(done=False, state=0)


def test_unplug_and_replug_under_a_new_path(tmp_path: Path) -> None:
    motor = FocusMotor(time_scale=100)
    simulator = PtySimulator(motor, tmp_path / "first").start()
    try:
        with AuxLink(str(simulator.path), timeout=0.5) as link:
            assert link.request(c.get_position()) == 20000
            simulator.unplug(0.5, new_path=tmp_path / "second")
            wait_for(lambda: not simulator.plugged, what="the unplug")
            assert not (tmp_path / "first").exists()
            with pytest.raises(LinkClosed):
                link.request(c.get_position())
        wait_for(lambda: (tmp_path / "second").exists(), what="the new path")
        with AuxLink(str(tmp_path / "second"), timeout=0.5) as link:
            assert link.request(c.get_position()) == 20000
    finally:
        simulator.stop()


@pytest.mark.parametrize(
    ("request_", "frames"),
    [(c.goto_fast(30000), 1), (c.goto_slow(30000), 1), (c.move_positive(5), 1), (c.get_position(), 3), (c.stop(), 3)],
    ids=["goto fast", "goto slow", "manual move", "a read", "a stop"],
)
def test_a_motion_command_that_gets_no_reply_is_sent_once_and_a_read_or_a_stop_again(request_: c.Request[object], frames: int) -> None:
    """The real link on a bare pseudo-terminal whose other end only listens: what reaches the wire,
    byte for byte, when nothing answers. A goto sent twice could reach a motor twice."""
    controller, device = pty.openpty()
    try:
        with AuxLink(os.ttyname(device), baud=9600, timeout=0.2, tries=3) as link:  # also the write timeout: slack for a loaded machine
            with pytest.raises(NoReply):
                link.request(request_)
            wire = b""
            while True:
                ready, _, _ = select.select([controller], [], [], 0.2)
                if not ready:
                    break
                wire += os.read(controller, 4096)
        sent = FrameDecoder().feed(wire)
        expected = Packet(0x20, 0x12, request_.command, request_.data)
        assert sent == [expected] * frames
    finally:
        os.close(controller)
        os.close(device)
