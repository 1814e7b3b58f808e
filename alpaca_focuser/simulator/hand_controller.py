"""HandController: a NexStar hand controller's serial port (9600 8N1), in front of a MountBus.

It answers the NexStar serial commands a mount driver sends when it connects and polls (echo
``K``, version ``V``, variant ``v``, model ``m``, positions, tracking, alignment, time, location,
goto in progress) with an aligned mount whose coordinates are the motor controllers' positions on
the bus. Gotos (``R``/``r``, ``B``/``b``), syncs (``S``/``s``) and cancel (``M``) go onto the bus
as the AUX frames a hand controller sends the motor controllers, so a slew takes time and is seen
by every port. It carries the pass-through command ``P`` onto
the AUX bus: ``P n dest cmd d1 d2 d3 rlen`` goes out as a frame from the hand controller (0x0D),
and the device's reply data comes back as rlen bytes and ``#``. A device that does not answer
within ``pass_through_timeout_s`` gives rlen bytes, one error byte and ``#``, as the real one does.
``reply_delay_s`` makes it a slow one: a real hand controller may take up to 3.5 s to answer.

Commands are served one at a time: the next is read only when the previous one was answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..celestron.packet import FrameDecoder, Packet
from .mount_axes import ALT_MOTOR, AZM_MOTOR, GOTO_FAST, MOVE_POS, SET_POSITION
from .mount_bus import HAND_CONTROLLER, MountBus

log = logging.getLogger(__name__)

VERSION = bytes([5, 31])  # NexStar+ 5.31 (a minor of 35 would be "#", the end marker)
VARIANT = 0x11  # NexStar
MODEL = 22  # Evolution
PASS_THROUGH_TIMEOUT_S = 1.0
END = b"#"
ERROR_BYTE = b"\x01"
LOCATION = bytes([48, 51, 30, 0, 2, 21, 0, 0])  # 48°51'30" N, 2°21'0" E
# Commands taking arguments, by their first byte: how many bytes the whole command has.
COMMAND_LENGTHS = {
    ord("K"): 2, ord("P"): 8, ord("T"): 2, ord("W"): 9, ord("H"): 9, ord("I"): 9,
    ord("R"): 10, ord("S"): 10, ord("B"): 10, ord("r"): 18, ord("s"): 18, ord("b"): 18,
}


@dataclass
class _PassThrough:
    destination: int
    command: int
    reply_length: int
    deadline: float  # the device has not answered by then: report the failure
    due: float  # not answered before then, however fast the device was (a slow hand controller)
    answer: bytes | None = None


class HandController:
    """One hand controller's serial port; ``feed``/``take`` as the pty server expects."""

    def __init__(self, bus: MountBus, *, pass_through_timeout_s: float = PASS_THROUGH_TIMEOUT_S, reply_delay_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bus = bus
        self.clock = clock
        self.pass_through_timeout_s = pass_through_timeout_s
        self.reply_delay_s = reply_delay_s
        self.pass_throughs = 0  # pass-through commands carried, for tests
        self._port = bus.port("hand controller")
        self._frames = FrameDecoder()
        self._input = bytearray()
        self._out = bytearray()
        self._pending: _PassThrough | None = None
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self._lock:
            self._input += data
            self._serve()

    def take(self) -> bytes:
        with self._lock:
            self._serve()
            out, self._out = bytes(self._out), bytearray()
        return out

    def next_due(self) -> float | None:
        with self._lock:
            if self._out:
                return 0.0
            if self._pending is not None:
                return max(0.0, min(0.01, self._pending.due - self.clock()))
            return None

    def reset(self) -> None:
        with self._lock:
            self._input.clear()
            self._out.clear()
            self._pending = None

    def _serve(self) -> None:
        """Finish a pending pass-through if its reply came, then run the commands waiting."""
        self._check_pass_through()
        while self._pending is None and self._input:
            length = COMMAND_LENGTHS.get(self._input[0], 1)
            if len(self._input) < length:
                return
            command = bytes(self._input[:length])
            del self._input[:length]
            self._run(command)

    def _check_pass_through(self) -> None:
        bus_traffic = self._frames.feed(self._port.take())
        pending = self._pending
        if pending is None:
            return
        for packet in bus_traffic:
            if pending.answer is None and (packet.source, packet.destination, packet.command) == (pending.destination, HAND_CONTROLLER, pending.command):
                pending.answer = packet.data[: pending.reply_length].ljust(pending.reply_length, b"\0") + END
        now = self.clock()
        if now < pending.due:
            return
        if pending.answer is not None:
            self._out += pending.answer
            self._pending = None
        elif now >= pending.deadline:
            log.debug("hand controller: device %#04x did not answer command %#04x", pending.destination, pending.command)
            self._out += bytes(pending.reply_length) + ERROR_BYTE + END
            self._pending = None

    def _run(self, command: bytes) -> None:
        code = chr(command[0])
        if code == "P":
            self._pass_through(command)
        elif code == "K":
            self._out += command[1:2] + END
        elif code == "V":
            self._out += VERSION + END
        elif code == "v":
            self._out += bytes([VARIANT]) + END
        elif code == "m":
            self._out += bytes([MODEL]) + END
        elif code in "eEzZ":
            self._out += self._coordinates(precise=code in "ez")
        elif code in "RrBb":
            self._axes_command(command, GOTO_FAST)
        elif code in "Ss":
            self._axes_command(command, SET_POSITION)
        elif code == "M":
            for axis in (AZM_MOTOR, ALT_MOTOR):
                self.bus.transmit(Packet(HAND_CONTROLLER, axis, MOVE_POS, b"\0"), origin="hand controller")
            self._out += END
        elif code == "t":
            self._out += b"\x02" + END  # tracking: equatorial north
        elif code == "L":
            self._out += (b"1" if any(axis.moving for axis in self.bus.axes.values()) else b"0") + END
        elif code == "J":
            self._out += b"\x01" + END  # aligned
        elif code == "p":
            self._out += b"W" + END
        elif code == "w":
            self._out += LOCATION + END
        elif code in "hi":
            now = time.gmtime()
            self._out += bytes([now.tm_hour, now.tm_min, now.tm_sec, now.tm_mon, now.tm_mday, now.tm_year - 2000, 0, 0]) + END
        elif code in "KTWHIxyYu":
            self._out += END  # setters, gotos, syncs, cancel, hibernate: acknowledged
        else:
            log.debug("hand controller: unknown command %r", command)

    def _coordinates(self, *, precise: bool) -> bytes:
        """The two axes' positions, as 32-bit (precise) or 16-bit fractions of a turn in hex."""
        first, second = (self.bus.axes[axis].position for axis in (AZM_MOTOR, ALT_MOTOR))
        if precise:
            return f"{first << 8:08X},{second << 8:08X}#".encode()
        return f"{first >> 8:04X},{second >> 8:04X}#".encode()

    def _axes_command(self, command: bytes, aux_command: int) -> None:
        """A goto or a sync to ``HEX,HEX``: one AUX frame to each motor controller."""
        try:
            first, second = (int(part, 16) for part in command[1:].decode("ascii").split(","))
        except ValueError:
            log.debug("hand controller: bad coordinates in %r", command)
            self._out += END
            return
        shift = 8 if len(command) == 18 else -8  # 32-bit values lose their low byte, 16-bit ones gain one
        for axis, value in ((AZM_MOTOR, first), (ALT_MOTOR, second)):
            position = value >> shift if shift > 0 else value << -shift
            self.bus.transmit(Packet(HAND_CONTROLLER, axis, aux_command, position.to_bytes(3, "big")), origin="hand controller")
        self._out += END

    def _pass_through(self, command: bytes) -> None:
        count, destination, aux_command = command[1], command[2], command[3]
        data = command[4 : 4 + max(0, min(3, count - 1))]
        self.pass_throughs += 1
        now = self.clock()
        self._pending = _PassThrough(destination, aux_command, command[7], now + max(self.pass_through_timeout_s, self.reply_delay_s), now + self.reply_delay_s)
        self.bus.transmit(Packet(HAND_CONTROLLER, destination, aux_command, data), origin="hand controller pass-through")
        self._check_pass_through()
