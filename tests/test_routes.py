"""The links of each route against the simulated mount on real ptys and TCP: what a shared bus,
a WiFi bridge and a hand controller do to the bytes, and how the links keep replies straight."""

from __future__ import annotations

import argparse
import socket
import termios
import time

import pytest
from conftest import wait_for
from mount_support import running_mount

from alpaca_focuser.celestron import commands
from alpaca_focuser.celestron.bus_link import BusLink
from alpaca_focuser.celestron.commands import Limits
from alpaca_focuser.celestron.faults import AuxError, MalformedReply, NoReply
from alpaca_focuser.celestron.hc_link import HandControllerLink, pass_through
from alpaca_focuser.celestron.routes import Route
from alpaca_focuser.celestron.serial_lines import open_port
from alpaca_focuser.celestron.usb_probe import PortNotFound, find_focuser, identify
from alpaca_focuser.cli import ports
from alpaca_focuser.config import check_focuser_setting
from alpaca_focuser.simulator.mount_bus import HAND_CONTROLLER

APP = 0x20


def test_baud_follows_the_route_unless_set() -> None:
    assert Route("/dev/ttyACM0").speed == 9600
    assert Route("/dev/ttyUSB0", route="mount").speed == 19200
    assert Route("/dev/ttyUSB0", route="hc").speed == 9600
    assert Route("/dev/ttyUSB0", 115200, route="mount").speed == 115200
    with pytest.raises(ValueError, match="unknown route 'wifi'; choose one of usb, mount, hc"):
        Route("socket://1.2.3.4:2000", route="wifi")


def test_settings_rules_for_route_and_source() -> None:
    assert check_focuser_setting("route", "Mount") == "mount"
    with pytest.raises(ValueError, match='route is "wifi", but it must be one of "usb", "mount", "hc"'):
        check_focuser_setting("route", "wifi")
    assert check_focuser_setting("source", 0x22) == 0x22
    with pytest.raises(ValueError, match="other than the focuser's own 0x12"):
        check_focuser_setting("source", 0x12)


@pytest.mark.parametrize("where", ["usb", "wifi"])
def test_bus_link_skips_echo_and_chatter_and_uses_its_source_address(where: str) -> None:
    with running_mount() as mount:
        url = mount.usb_path if where == "usb" else mount.wifi_url
        with BusLink(url, baud=19200, source=0x22, timeout=0.5) as link:
            assert str(link.request(commands.get_version())) == "7.15.8240"
            assert link.request(commands.get_position()) == mount.motor.position
            wait_for(lambda: mount.bus.frames_by_source.get(HAND_CONTROLLER, 0) > 5, 5, "the hand controller to chatter")
            assert link.request(commands.get_limits()) == Limits(*mount.motor.limits)
            assert link.stats.echoes_ignored == link.stats.frames_sent == 3
            assert link.stats.foreign_frames > 0
        assert mount.bus.frames_by_source.get(0x22) == 3 and APP not in mount.bus.frames_by_source


def test_a_late_reply_never_answers_a_later_request() -> None:
    with running_mount() as mount:
        motor = mount.motor
        with BusLink(mount.usb_path, baud=19200, timeout=0.3) as link:
            old = motor.position
            motor.set_fault("late", delay=0.5)
            assert link.request(commands.get_position()) == old  # the first try's answer, late but to this request
            motor.clear_faults()
            motor.goto_fast(old + 3000)
            wait_for(lambda: not motor.moving, 5, "the motor to move on")
            # The second try's answer, with the old position, is still on its way: it must not be taken.
            assert link.request(commands.get_position()) == old + 3000
            assert link.stats.late_replies_ignored >= 1


def test_a_focuser_silent_for_a_while_is_heard_again_at_once() -> None:
    with running_mount() as mount, BusLink(mount.usb_path, baud=19200, timeout=0.2) as link:
        mount.motor.set_fault("silent")
        for _ in range(3):
            with pytest.raises(NoReply, match="heard only other traffic"):
                link.request(commands.get_position())
        mount.motor.clear_faults()
        assert link.request(commands.get_position()) == mount.motor.position


def test_a_goto_whose_acknowledge_is_late_is_not_sent_again() -> None:
    with running_mount() as mount:
        motor = mount.motor
        with BusLink(mount.usb_path, baud=19200, timeout=0.3) as link:
            motor.set_fault("late", delay=0.5)
            sent = mount.bus.frames_by_source.get(APP, 0)
            with pytest.raises(NoReply, match="GOTO_FAST"):
                link.request(commands.goto_fast(motor.position + 500))
            assert mount.bus.frames_by_source.get(APP, 0) - sent == 1
            assert link.stats.retries == 0


def test_bus_link_never_writes_the_wifi_escape_sequence() -> None:
    with running_mount() as mount, BusLink(mount.wifi_url, baud=19200, timeout=0.3) as link:
        sent = mount.bus.frames_by_source.get(APP, 0)
        with pytest.raises(MalformedReply, match=r"\$\$\$"):
            link.request(commands.goto_fast(0x242424))
        assert mount.bus.frames_by_source.get(APP, 0) == sent
        assert mount.command_mode_entries == 0


def test_the_simulated_wifi_bridge_enters_command_mode_on_a_guarded_escape() -> None:
    """The check that the server never trips command mode is only worth something if it can trip."""
    with running_mount() as mount:
        host, port = mount.wifi.address
        with socket.create_connection((host, port), timeout=2) as client:
            time.sleep(0.3)
            client.sendall(b"$$$")
            wait_for(lambda: mount.command_mode_entries == 1, 3, "the bridge to enter command mode")
            reply = b""
            while b"CMD" not in reply:
                reply += client.recv(4096)


def test_pass_through_command_bytes() -> None:
    assert pass_through(0x12, 0x01, b"", 3) == bytes.fromhex("50 01 12 01 00 00 00 03")
    assert pass_through(0x12, 0x02, (33700).to_bytes(3, "big"), 0) == bytes.fromhex("50 04 12 02 00 83 a4 00")
    with pytest.raises(ValueError, match="at most 3 data bytes"):
        pass_through(0x12, 0x02, b"\0\0\0\0", 0)


def test_hand_controller_link_reads_and_moves_the_focuser() -> None:
    with running_mount() as mount, HandControllerLink(mount.hc_path) as link:
        motor = mount.motor
        assert str(link.request(commands.get_version())) == "7.15.8240"
        assert link.request(commands.get_limits()) == Limits(*motor.limits)
        link.request(commands.goto_fast(motor.position - 1234))
        wait_for(lambda: link.request(commands.slew_done()), 5, "the goto to end")
        assert link.request(commands.get_position()) == motor.position


def test_hand_controller_reports_a_focuser_that_does_not_answer() -> None:
    with running_mount() as mount, HandControllerLink(mount.hc_path) as link:
        mount.motor.set_fault("silent")
        with pytest.raises(AuxError, match="the hand controller says the focuser did not answer GET_POSITION"):
            link.request(commands.get_position())
        mount.motor.clear_faults()
        assert link.request(commands.get_position()) == mount.motor.position


def test_identify_tells_a_hand_controller_from_a_mount() -> None:
    with running_mount() as mount:
        hc = identify(mount.hc_path, timeout=0.5)
        assert hc.route == "hc" and "hand controller, version 5.31" in hc.description
        bus = identify(mount.usb_path, timeout=0.5)
        assert bus.route == "mount" and "firmware 7.15.8240" in bus.description


def test_ports_command_shows_the_route_to_each_door(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    ports.add_arguments(parser)
    with running_mount() as mount:
        status = ports.run(parser.parse_args(["--probe", mount.usb_path, "--probe", mount.hc_path, "--timeout", "0.5"]))
    output = capsys.readouterr().out
    assert status == 0
    rows = {line.split()[0]: line for line in output.splitlines() if line.strip()}
    assert "on a mount's AUX bus" in rows[mount.usb_path]
    assert "a NexStar hand controller, version 5.31" in rows[mount.hc_path]
    advice = output[output.index("Put this"):]
    assert f'port = "{mount.usb_path}"\n  route = "mount"' in advice
    assert f'port = "{mount.hc_path}"\n  route = "hc"' in advice
    assert "rtscts = true" in advice


def test_aux_port_needs_the_rts_cts_handshake() -> None:
    with running_mount() as mount:
        with BusLink(mount.aux_url, baud=19200, timeout=0.3) as link:
            with pytest.raises(NoReply, match="our own request did not come back either: .* set rtscts = true"):
                link.request(commands.get_position())
        with BusLink(mount.aux_url, baud=19200, timeout=0.3, rtscts=True) as link:
            assert link.request(commands.get_position()) == mount.motor.position
            assert link.stats.echoes_ignored == 1


def test_port_auto_tells_the_user_it_found_a_hand_controller_instead() -> None:
    with running_mount() as mount:
        with pytest.raises(PortNotFound, match=f'a NexStar hand controller, version 5.31: set route = "hc" and port = "{mount.hc_path}"'):
            find_focuser([mount.hc_path], timeout=0.5)


def test_a_mount_port_is_opened_without_hang_up_on_close() -> None:
    """Closing must not drop the modem lines: that resets ESP32 and CP210x AUX adapters."""
    with running_mount() as mount:
        port = open_port(mount.usb_path, 19200, 0.5)
        try:
            assert not termios.tcgetattr(port.fileno())[2] & termios.HUPCL
        finally:
            port.close()


def test_a_slow_hand_controller_is_waited_for() -> None:
    """A hand controller may take seconds to answer a pass-through: longer than the reply timeout."""
    with running_mount() as mount, HandControllerLink(mount.hc_path, timeout=0.5) as link:
        for controller in mount.hand_controllers:
            controller.reply_delay_s = 1.2
        assert link.request(commands.get_position()) == mount.motor.position
        assert link.stats.retries == 0  # waited for, not given up on and asked again
