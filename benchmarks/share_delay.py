"""12. The delay sharing the mount's port adds to each side's exchanges.

On the simulated mount at real speed, through the hand controller (``route = "hc"``, NexStar
commands) and the mount's USB port (``route = "mount"``, AUX frames), each side is timed alone on
the port and then through the hub while the other side works:

* the mount program: round trips of a coordinates read (``e``) or a motor controller's position
  (AUX GET_POSITION to 0x10), first straight on the port with nothing else on it, then on the
  shared TCP endpoint while the server moves the focuser;
* the focuser: round trips of GET_POSITION on its own link, first straight on the port, then
  through the hub while a mount program sends its reads back to back (the worst case for it).

The difference is what sharing costs each side: the hub's own hand-over plus, at most, one
exchange of the other side.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Callable

import serial

from alpaca_focuser.celestron import commands as c
from alpaca_focuser.celestron.packet import FrameDecoder, Packet
from alpaca_focuser.celestron.routes import Route, open_link
from alpaca_focuser.celestron.sharing import shared_status, stop_all
from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.settings import FocuserSettings
from alpaca_focuser.simulator import FocusMotor
from alpaca_focuser.simulator.mount import SimulatedMount

from .report import Outcome, Row, ms
from .rig import free_port, wait_until
from .stats import Summary

SAMPLES = 60
FOCUSER_GAP_S = 0.12  # past the link's own pacing (at most ten exchanges a second on a mount)
AZM = 0x10


class Program:
    """A mount program's read, on any byte stream: ``ask`` returns when its whole answer is in."""

    def __init__(self, route: str, write: Callable[[bytes], object], read: Callable[[], bytes]) -> None:
        self.route, self._write, self._read = route, write, read
        self._frames = FrameDecoder()

    def ask(self) -> None:
        if self.route == "hc":
            self._write(b"e")
            answer = b""
            while not answer.endswith(b"#"):
                answer += self._read()
            return
        request = Packet(0x20, AZM, c.Command.GET_POSITION)
        self._write(request.encode())
        while not any(frame.source == AZM and frame.destination == 0x20 for frame in self._frames.feed(self._read())):
            pass


def _timed(action: Callable[[], object], count: int, gap_s: float = 0.0) -> Summary:
    action()  # the first exchange of a link waits for a quiet line: not what is measured
    time.sleep(gap_s)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
        if gap_s:
            time.sleep(gap_s)
    return Summary.of(samples).scaled(1000)


def _mount_program_alone(mount: SimulatedMount, route: str) -> Summary:
    with serial.Serial(mount.hc_path if route == "hc" else mount.usb_path, timeout=1) as port:
        program = Program(route, port.write, lambda: port.read(max(1, port.in_waiting)))
        return _timed(program.ask, SAMPLES)


def _focuser_alone(mount: SimulatedMount, route: str) -> Summary:
    link = open_link(Route(port=mount.hc_path if route == "hc" else mount.usb_path, route=route))
    try:
        return _timed(lambda: link.request(c.get_position()), SAMPLES, FOCUSER_GAP_S)
    finally:
        link.close()


def _shared(mount: SimulatedMount, route: str) -> tuple[Summary, Summary, dict]:
    tcp_port = free_port()
    port = mount.hc_path if route == "hc" else mount.usb_path
    focuser = CelestronFocuser(FocuserSettings(name="bench", port=port, route=route, share=f"tcp:{tcp_port}"))
    try:
        focuser.connect()
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            program = Program(route, sock.sendall, lambda: sock.recv(4096))
            position = focuser.state.position
            focuser.move(position + 4000 if position + 4000 <= focuser.state.max_step else 0)
            wait_until(lambda: mount.motor.moving, 5, "the focuser to move")
            mount_side = _timed(program.ask, SAMPLES)
            focuser.halt()
            wait_until(lambda: not focuser.state.moving, 10, "the focuser to stop")
            stop = threading.Event()

            def busy_program() -> None:
                while not stop.is_set():
                    program.ask()

            busy = threading.Thread(target=busy_program)
            busy.start()
            link = open_link(Route(port=port, route=route, share=f"tcp:{tcp_port}"))
            try:
                focuser_side = _timed(lambda: link.request(c.get_position()), SAMPLES, FOCUSER_GAP_S)
            finally:
                stop.set()
                busy.join()
                link.close()
        status = shared_status(port) or {}
    finally:
        focuser.close()
        stop_all()
    return mount_side, focuser_side, status


def run(_: dict) -> Outcome:
    outcome = Outcome()
    for route, title in (("hc", "hand controller"), ("mount", "mount's USB port")):
        motor = FocusMotor(time_scale=1.0)
        with tempfile.TemporaryDirectory(prefix="bench-share-") as folder, SimulatedMount(motor, folder) as mount:
            program_alone = _mount_program_alone(mount, route)
            focuser_alone = _focuser_alone(mount, route)
            program_shared, focuser_shared, status = _shared(mount, route)
        outcome.details[route] = {"mount_program": {"alone": program_alone.__dict__, "shared": program_shared.__dict__},
                                  "focuser": {"alone": focuser_alone.__dict__, "shared": focuser_shared.__dict__},
                                  "hub": {side: status.get(side) for side in ("mount", "focuser")}}
        for side, alone, shared in (("a mount program's read", program_alone, program_shared),
                                    ("a focuser read", focuser_alone, focuser_shared)):
            outcome.rows.append(Row("12", f"{side} through the shared {title}",
                                    f"p50 {ms(shared.p50)} (alone {ms(alone.p50)}), p95 {ms(shared.p95)} (alone {ms(alone.p95)}), "
                                    f"max {ms(shared.max)} (alone {ms(alone.max)})"))
    outcome.notes.append("The simulated ports pass bytes at once, so these figures are the hub's own cost and the other "
                         "side's exchanges on an instant line; on a real 9600-baud hand controller line, one exchange of "
                         "the other side adds its own 10 to 20 ms at most.")
    outcome.notes.append("Shared: the mount program's reads while the server moves the focuser, and the focuser's reads while a "
                         "mount program reads back to back; alone: the same reads straight on the port with nothing else on it. "
                         "The difference is the hub's hand-over plus at most one exchange of the other side.")
    return outcome
