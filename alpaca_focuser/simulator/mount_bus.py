"""MountBus: a Celestron mount's AUX bus in software, with the focus motor plugged into it.

The main board relays every frame to every attached port, the sender's own included (the echo
a host reads back before the reply). On the bus: the focus motor (0x12, the same firmware model
as on its own USB port), two motor controllers (0x10 azimuth/RA, 0x11 altitude/Dec), and a
hand controller (0x0D) that polls the motor controllers and the focuser all the time, as a
NexStar+ hand controller does. So a host on any port hears its echo, other devices' chatter and,
in between, the focuser's reply to it.

Ports are ``BusPort`` objects, each the far end of one connection (the mount's USB port on a
pty, the WiFi bridge on TCP, the hand controller's serial port); the pty and TCP servers of the
simulator serve them like the focuser's own firmware.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..celestron.commands import Command
from ..celestron.packet import FrameDecoder, Packet
from .motor import FocusMotor
from .mount_axes import ALT_MOTOR, AZM_MOTOR, MotorController
from .responder import AuxResponder

log = logging.getLogger(__name__)

HAND_CONTROLLER = 0x0D  # NexStar+ hand controller
CHATTER_INTERVAL_S = 0.05  # the hand controller's polling, one frame per interval
PORT_BUFFER_LIMIT = 16 * 1024  # a port nobody read this much from is gone (a closed TCP client, an old pty)
PUMP_INTERVAL_S = 0.01


class BusPort:
    """One port onto the bus: frames a host writes go onto the bus; everything on it comes back."""

    def __init__(self, bus: MountBus, name: str) -> None:
        self.bus = bus
        self.name = name
        self._decoder = FrameDecoder()
        self._out = bytearray()
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        for packet in self._decoder.feed(data):
            self.bus.transmit(packet, origin=self.name)

    def deliver(self, frame: bytes) -> None:
        with self._lock:
            self._out += frame
            abandoned = len(self._out) > PORT_BUFFER_LIMIT
            if abandoned:
                self._out.clear()
        if abandoned:
            self.bus.detach(self)

    def take(self) -> bytes:
        with self._lock:
            out, self._out = bytes(self._out), bytearray()
        return out

    def next_due(self) -> float | None:
        with self._lock:
            return 0.0 if self._out else None

    def reset(self) -> None:
        self._decoder.reset()
        with self._lock:
            self._out.clear()


class MountBus:
    """The main board and its devices; ``port`` attaches a new connection to it."""

    def __init__(self, motor: FocusMotor, *, chatter_interval_s: float | None = CHATTER_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.motor = motor
        self.chatter_interval_s = chatter_interval_s
        self.clock = clock
        self.frames: int = 0  # frames relayed, for tests and benchmarks
        self.bytes: int = 0
        self.frames_by_source: dict[int, int] = {}
        self.frames_by_destination: dict[int, int] = {}
        self.bytes_by_source: dict[int, int] = {}
        self.bytes_by_destination: dict[int, int] = {}
        self._ports: list[BusPort] = []
        self._lock = threading.RLock()
        self._focuser = AuxResponder(motor, clock=clock)
        self.axes = {address: MotorController(address, clock, lambda: motor.time_scale) for address in (AZM_MOTOR, ALT_MOTOR)}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def port(self, name: str) -> BusPort:
        """A new port onto the bus (one per pty, TCP client or hand controller)."""
        port = BusPort(self, name)
        with self._lock:
            self._ports.append(port)
        return port

    def detach(self, port: BusPort) -> None:
        with self._lock:
            if port in self._ports:
                self._ports.remove(port)

    def start(self) -> MountBus:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="mount bus", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> MountBus:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def transmit(self, packet: Packet, origin: str = "bus") -> None:
        """Put ``packet`` on the bus: every port hears it, then the device it is for answers."""
        frame = packet.encode()
        with self._lock:
            self.frames += 1
            self.bytes += len(frame)
            self.frames_by_source[packet.source] = self.frames_by_source.get(packet.source, 0) + 1
            self.frames_by_destination[packet.destination] = self.frames_by_destination.get(packet.destination, 0) + 1
            self.bytes_by_source[packet.source] = self.bytes_by_source.get(packet.source, 0) + len(frame)
            self.bytes_by_destination[packet.destination] = self.bytes_by_destination.get(packet.destination, 0) + len(frame)
            for port in list(self._ports):
                port.deliver(frame)
            log.debug("bus (%s): %s", origin, packet)
            if packet.destination in self.axes:
                self.transmit(self.axes[packet.destination].answer(packet), origin=f"motor {packet.destination:#04x}")
            elif packet.destination == self._focuser.address:
                self._focuser.feed(frame)
                self._relay_focuser()

    def _relay_focuser(self) -> None:
        """Put the focuser's replies that are due on the bus (a late one waits in its queue)."""
        decoder = FrameDecoder()
        for reply in decoder.feed(self._focuser.take()):
            self.transmit(reply, origin="focuser")

    def _run(self) -> None:
        """Relay the focuser's late replies when due, and let the hand controller poll."""
        targets = [AZM_MOTOR, ALT_MOTOR, AZM_MOTOR, ALT_MOTOR, self._focuser.address]
        turn = 0
        next_chatter = self.clock()
        while not self._stopping.wait(PUMP_INTERVAL_S):
            with self._lock:
                self._relay_focuser()
            if self.chatter_interval_s is None or self.motor.unplugged:
                continue
            now = self.clock()
            if now >= next_chatter:
                self.transmit(Packet(HAND_CONTROLLER, targets[turn % len(targets)], Command.GET_POSITION), origin="hand controller")
                turn += 1
                next_chatter = now + self.chatter_interval_s
