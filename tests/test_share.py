"""The shared port's rules, with real sockets on loopback, a real pty and the simulated mount: a
mount program gets whole answers to its own commands and the bus traffic, never the focuser's;
a second program is refused with a message saying who has the port; a program that vanishes in
the middle of an exchange, floods the port with garbage, stalls half-way through a command or
stops reading never disturbs the focuser, whose moves all land exactly."""

from __future__ import annotations

import random
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import serial
from conftest import wait_for
from share_support import move_exactly, share_status, shared_focuser, tcp_share

from alpaca_focuser.celestron.commands import DeviceId
from alpaca_focuser.celestron.packet import FrameDecoder, Packet
from alpaca_focuser.celestron.sharing import endpoints, shared_status
from alpaca_focuser.simulator.mount_axes import ALT_MOTOR, AZM_MOTOR, GOTO_FAST
from alpaca_focuser.simulator.mount_bus import HAND_CONTROLLER

VERSION_REPLY = b"\x05\x1f#"
PRECISE = re.compile(rb"[0-9A-F]{8},[0-9A-F]{8}#")


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"the shared port closed the connection after {data!r}"
        data += chunk
    return data


def _ask(sock: socket.socket, command: bytes, size: int) -> bytes:
    sock.sendall(command)
    return _receive(sock, size)


def test_a_second_mount_program_is_refused_with_a_message_saying_who_has_the_port() -> None:
    share, port = tcp_share()
    with shared_focuser("hc", share) as rig, _connect(port) as first, _connect(port) as second:
        assert _ask(first, b"V", 3) == VERSION_REPLY
        refusal = second.recv(400)
        assert b"is in use by 127.0.0.1:" in refusal and refusal.endswith(b"one mount program at a time\r\n")
        assert second.recv(10) == b""  # and closed
        status = share_status(rig)
        assert status["refused"] == 1 and status["mount_program"] == f"127.0.0.1:{first.getsockname()[1]} over TCP"
        assert _ask(first, b"e", 18) == b"40000000,20000000#"  # the first one is served as before


def test_a_mount_program_that_vanishes_mid_exchange_or_stalls_half_way_does_not_disturb_the_focuser() -> None:
    share, port = tcp_share()
    with shared_focuser("hc", share) as rig:
        rig.mount.hc_delay_s = 0.5  # a slow hand controller: the program is gone before its answer comes
        with _connect(port) as vanishing:
            vanishing.sendall(bytes([0x50, 1, DeviceId.FOCUSER, 0xFE, 0, 0, 0, 4]))
            wait_for(lambda: share_status(rig)["mount"]["exchanges"] == 1, 5, "its command to reach the line")
        wait_for(lambda: share_status(rig)["mount_program"] is None, 5, "the hub to see the program leave")
        move_exactly(rig, rig.focuser.state.position + 2000)
        rig.mount.hc_delay_s = 0.0
        with _connect(port) as stalled:
            stalled.sendall(b"P\x01\x12")  # half a command, and nothing more
            move_exactly(rig, rig.focuser.state.position - 3000)
            assert share_status(rig)["mount"]["exchanges"] == 1  # half a command never reached the line
        wait_for(lambda: share_status(rig)["mount_program"] is None, 5, "the hub to see the program leave")
        with _connect(port) as next_one:
            assert _ask(next_one, b"V", 3) == VERSION_REPLY  # nothing left over from the ones before
        status = share_status(rig)
        assert status["focuser"]["timed_out"] == 0 and rig.focuser.reconnects == 0


def test_a_flood_of_garbage_from_the_mount_program_does_not_disturb_the_focuser() -> None:
    share, port = tcp_share()
    with shared_focuser("hc", share) as rig:
        stop = threading.Event()
        garbage = random.Random(23)

        def flood() -> None:
            with _connect(port) as sock:
                sock.setblocking(False)
                while not stop.is_set():
                    try:
                        sock.send(garbage.randbytes(512))
                        sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        time.sleep(0.001)

        flooding = threading.Thread(target=flood)
        flooding.start()
        try:
            wait_for(lambda: share_status(rig)["mount"]["garbage_bytes"] > 10_000, 10, "the flood to begin")
            for offset in (2500, -4000, 1234):
                move_exactly(rig, rig.focuser.state.position + offset)
        finally:
            stop.set()
            flooding.join()
        status = share_status(rig)
        assert status["focuser"]["timed_out"] == 0 and rig.focuser.reconnects == 0
        wait_for(lambda: share_status(rig)["mount_program"] is None, 5, "the hub to see the flood end")
        with _connect(port) as sock:
            assert _ask(sock, b"V", 3) == VERSION_REPLY


def test_a_mount_program_that_stops_reading_does_not_disturb_the_focuser_and_loses_only_whole_answers(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(endpoints, "OUTBOX_LIMIT", 1024)
    path = tmp_path / "mount"
    with shared_focuser("hc", f"pty:{path}") as rig, serial.Serial(str(path), 9600, timeout=0.5) as program:
        asked = 0
        deadline = time.monotonic() + 60  # a bounded load, whatever happens
        while share_status(rig)["mount"]["answered"] < 8000:  # far more than the pty's buffers and the outbox hold
            assert time.monotonic() < deadline, "the hub stopped answering a program that does not read"
            program.write(b"e" * 16)
            asked += 16
            time.sleep(0.002)
        for offset in (2500, -4000):
            move_exactly(rig, rig.focuser.state.position + offset)
        received = b""
        while chunk := program.read(4096):
            received += chunk
        status = share_status(rig)
    answers = re.findall(PRECISE, received)
    assert b"".join(answers) == received  # whole answers only, never a part of one
    assert 0 < len(answers) < status["mount"]["answered"] <= asked
    assert status["focuser"]["timed_out"] == 0 and rig.focuser.reconnects == 0


def test_a_mount_program_on_the_aux_bus_gets_its_answers_and_the_bus_traffic_but_never_the_focusers_exchanges() -> None:
    share, port = tcp_share()
    with shared_focuser("mount", share) as rig, _connect(port) as sock:
        frames: list[Packet] = []
        decoder = FrameDecoder()
        sock.settimeout(0.2)
        sock.sendall(Packet(0x20, AZM_MOTOR, 0xFE).encode() + Packet(0x20, ALT_MOTOR, GOTO_FAST, (0x123456).to_bytes(3, "big")).encode())
        for offset in (2500, -4000):
            move_exactly(rig, rig.focuser.state.position + offset)
        wait_for(lambda: rig.mount.bus.axes[ALT_MOTOR].position == 0x123456, 10, "the goto the mount program sent")
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            try:
                frames += decoder.feed(sock.recv(65536))
            except TimeoutError:
                pass
        assert Packet(AZM_MOTOR, 0x20, 0xFE, bytes([7, 11])) in frames
        assert Packet(ALT_MOTOR, 0x20, GOTO_FAST) in frames
        assert any(frame.source == HAND_CONTROLLER for frame in frames)  # the hand controller's polling: bus traffic
        ours = {(0x20, DeviceId.FOCUSER), (DeviceId.FOCUSER, 0x20)}
        assert not [frame for frame in frames if (frame.source, frame.destination) in ours]
        assert decoder.dropped_bytes == 0
        assert share_status(rig)["focuser"]["timed_out"] == 0


def test_on_an_aux_port_cable_the_server_does_the_handshake_for_both() -> None:
    share, port = tcp_share()
    with shared_focuser("mount", share, rtscts=True) as rig, _connect(port) as sock:
        sock.settimeout(5)
        sock.sendall(Packet(0x20, AZM_MOTOR, 0xFE).encode())
        frames: list[Packet] = []
        decoder = FrameDecoder()
        wait_for(lambda: frames.extend(decoder.feed(sock.recv(4096))) or Packet(AZM_MOTOR, 0x20, 0xFE, bytes([7, 11])) in frames, 10,
                 "the motor controller's answer through the AUX port's handshake")
        move_exactly(rig, rig.focuser.state.position + 2000)
        assert share_status(rig)["focuser"]["timed_out"] == 0


def test_a_pty_endpoint_names_the_program_that_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "mount"
    with shared_focuser("hc", f"pty:{path}") as rig:
        assert path.is_symlink() and share_status(rig)["mount_program"] is None
        with serial.Serial(str(path), 9600, timeout=2) as program:
            program.write(b"V")
            assert program.read(3) == VERSION_REPLY
            who = wait_for(lambda: share_status(rig)["mount_program"], 5, "the hub to name the program")
            assert f"(pid {__import__('os').getpid()}) on {path}" in who
        wait_for(lambda: share_status(rig)["mount_program"] is None, 5, "the hub to see the program leave")
        move_exactly(rig, rig.focuser.state.position + 1000)
    assert not path.exists()  # the server removes its link when it stops


def test_a_new_share_or_none_closes_the_old_endpoint_and_frees_the_port() -> None:
    first, first_port = tcp_share()
    second, second_port = tcp_share()
    with shared_focuser("hc", first) as rig:
        rig.focuser.configure(share=second)
        wait_for(lambda: rig.focuser.state.link_ok and rig.focuser.settings.share == second
                 and (shared_status(rig.focuser.state.port) or {}).get("endpoint") == second, 20, "the focuser on the new share")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", first_port), timeout=5)
        with _connect(second_port) as program:
            assert _ask(program, b"V", 3) == VERSION_REPLY
        rig.focuser.configure(share="")
        wait_for(lambda: not rig.focuser.settings.share and shared_status(rig.focuser.state.port) is None, 20, "the port unshared")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", second_port), timeout=5)
        wait_for(lambda: rig.focuser.state.connected and rig.focuser.state.link_ok and shared_status(rig.focuser.state.port) is None,
                 20, "the focuser answering on its port alone")


def test_when_the_mount_cable_is_pulled_the_mount_program_stays_connected_and_both_sides_work_again() -> None:
    share, port = tcp_share()
    with shared_focuser("hc", share) as rig, _connect(port) as program:
        assert _ask(program, b"V", 3) == VERSION_REPLY
        rig.mount.hc.unplug(1.0)
        wait_for(lambda: share_status(rig)["line"].startswith("down"), 10, "the hub to see the port gone")
        wait_for(lambda: share_status(rig)["line"] == "open", 20, "the hub to open the port again")
        assert _ask(program, b"V", 3) == VERSION_REPLY  # the same connection, served again
        wait_for(lambda: rig.focuser.state.link_ok, 20, "the focuser to reconnect")
        move_exactly(rig, rig.focuser.state.position + 1500)
