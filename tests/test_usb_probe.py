"""Finding the focuser among serial ports (port = "auto") and the ``ports`` subcommand, over real ptys."""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sim_support import running_pty_simulator

from alpaca_focuser.celestron.commands import Command, DeviceId
from alpaca_focuser.celestron.packet import FrameDecoder, Packet
from alpaca_focuser.celestron.usb_probe import PortNotFound, find_focuser
from alpaca_focuser.cli import ports

PROBE_TIMEOUT = 0.3


@pytest.fixture
def silent_pty() -> Iterator[str]:
    """A pty nobody answers on, like a serial port with some other, quiet device behind it."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


@pytest.fixture
def bogus_port(tmp_path: Path) -> str:
    return str(tmp_path / "ttyACM9")


@contextlib.contextmanager
def two_byte_version_device() -> Iterator[str]:
    """A pty device that answers GET_VER with 2 bytes, as a PlaneWave EFA on the same protocol does."""
    master, slave = os.openpty()
    stop = threading.Event()

    def answer() -> None:
        decoder = FrameDecoder()
        while not stop.is_set():
            if not select.select([master], [], [], 0.05)[0]:
                continue
            for packet in decoder.feed(os.read(master, 256)):
                if packet.command == Command.GET_VER and packet.destination == DeviceId.FOCUSER:
                    os.write(master, Packet(DeviceId.FOCUSER, packet.source, Command.GET_VER, b"\x01\x02").encode())

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        thread.join()
        os.close(master)
        os.close(slave)


def test_the_simulated_focuser_is_found_among_a_silent_port_and_a_missing_one(silent_pty: str, bogus_port: str) -> None:
    with running_pty_simulator() as (_motor, simulator_port):
        assert find_focuser([bogus_port, silent_pty, simulator_port], timeout=PROBE_TIMEOUT) == simulator_port


def test_the_focuser_is_found_behind_a_link_that_echoes(silent_pty: str) -> None:
    with running_pty_simulator() as (motor, simulator_port):
        motor.set_fault("echo")
        assert find_focuser([silent_pty, simulator_port], timeout=PROBE_TIMEOUT) == simulator_port


def test_when_nothing_answers_the_error_lists_every_port_and_why(silent_pty: str, bogus_port: str) -> None:
    with running_pty_simulator() as (motor, simulator_port):
        motor.set_fault("silent")
        with pytest.raises(PortNotFound) as error:
            find_focuser([simulator_port, silent_pty, bogus_port], timeout=PROBE_TIMEOUT)
    lines = str(error.value).splitlines()
    assert "15A2:A50F" in lines[0]
    listed = {port: next(line for line in lines if line.strip().startswith(port + " ")) for port in (simulator_port, silent_pty, bogus_port)}
    for line in listed.values():
        assert "(no USB id)" in line
    assert "no reply to GET_VER" in listed[simulator_port]
    assert "no reply to GET_VER" in listed[silent_pty]
    assert "cannot open it: No such file or directory" in listed[bogus_port]


def test_a_device_with_a_two_byte_version_is_not_taken_for_the_focuser() -> None:
    with two_byte_version_device() as port:
        with pytest.raises(PortNotFound) as error:
            find_focuser([port], timeout=PROBE_TIMEOUT)
    assert "2-byte version (01 02)" in str(error.value)


def parse_ports_arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ports.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_ports_command_marks_the_focuser_and_says_what_to_configure(silent_pty: str, capsys: pytest.CaptureFixture[str]) -> None:
    with running_pty_simulator() as (_motor, simulator_port):
        status = ports.run(parse_ports_arguments("--probe", silent_pty, "--probe", simulator_port, "--timeout", str(PROBE_TIMEOUT)))
    output = capsys.readouterr().out
    assert status == 0
    rows = {line.split()[0]: line for line in output.splitlines() if line.strip()}
    assert "the Celestron focuser (firmware 7.15.8240)" in rows[simulator_port]
    assert "did not answer as the focuser" in rows[silent_pty]
    assert f'port = "{simulator_port}"' in output


def test_ports_command_without_a_focuser_fails_and_suggests_other_ports(silent_pty: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = ports.run(parse_ports_arguments("--probe", silent_pty, "--timeout", str(PROBE_TIMEOUT)))
    output = capsys.readouterr().out
    assert status == 1
    assert "No focuser answered" in output and 'port = "sim://"' in output
