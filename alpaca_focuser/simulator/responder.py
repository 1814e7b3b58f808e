"""AuxResponder: the focuser's AUX firmware, bytes in and reply bytes out.

One responder per connection (it holds that connection's partial frame), all sharing one motor.
Replies are queued with the instant they are due, so a "late" device is modelled without the
transport knowing why: it only asks what is due now and how long until the next.

``reply_delay_s`` makes a motor that takes that long to answer, as a real one does (its USB
bridge and controller loop take a few ms): each request is carried out, and its reply composed,
when the delay is over, so the reply tells how the motor is when it answers. The ``late`` fault is
another thing: a reply composed at once that then arrives seconds late.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..celestron.commands import Command, DeviceId
from ..celestron.packet import FrameDecoder, Packet
from .motor import FocusMotor

log = logging.getLogger(__name__)

VERSION = bytes([0x07, 0x0F, 0x20, 0x30])  # 7.15.8240, captured from a real focuser
MODEL = bytes([0x1B, 0xA8])  # "Focus Motor" as HBG3 decodes it


@dataclass(frozen=True)
class _Outgoing:
    due: float
    data: bytes = b""
    request: Packet | None = None  # a request still to be carried out when due (``reply_delay_s``)


def _command_name(code: int) -> str:
    try:
        return Command(code).name
    except ValueError:
        return f"unknown command {code:#04x}"


class AuxResponder:
    def __init__(
        self,
        motor: FocusMotor,
        *,
        address: int = DeviceId.FOCUSER,
        clock: Callable[[], float] = time.monotonic,
        reply_delay_s: float = 0.0,
    ) -> None:
        if reply_delay_s < 0:
            raise ValueError(f"the reply delay must be 0 or more seconds, got {reply_delay_s}")
        self.motor = motor
        self.address = address
        self.clock = clock
        self.reply_delay_s = reply_delay_s
        self._decoder = FrameDecoder()
        self._queue: list[_Outgoing] = []
        self._replies = 0
        self._random = random.Random(0)

    def feed(self, data: bytes) -> None:
        """Take bytes from the host; queue the echo and the replies they call for."""
        now = self.clock()
        for packet in self._decoder.feed(data):
            log.debug("host -> %02x: %s (%s)", packet.destination, packet, _command_name(packet.command))
            if self.motor.fault("echo") is not None:
                self._queue.append(_Outgoing(now, packet.encode()))
            if packet.destination != self.address or self.motor.fault("silent") is not None:
                continue
            late = self.motor.fault("late")
            if late is None and self.reply_delay_s > 0:
                self._queue.append(_Outgoing(now + self.reply_delay_s, request=packet))
                continue
            reply = self._reply(packet)
            if reply:
                self._queue.append(_Outgoing(now + float(late["delay"]) if late is not None else now, reply))

    def _reply(self, packet: Packet) -> bytes:
        """Carry out ``packet`` now: its reply frame, or b"" when it gets none."""
        reply = self._answer(packet)
        if reply is None:
            return b""
        log.debug("focuser -> %02x: %s", reply.destination, reply)
        return self._maybe_corrupt(reply.encode())

    def take(self) -> bytes:
        """Everything due to be sent by now, in order; delayed requests are carried out now."""
        now = self.clock()
        ready = [item for item in self._queue if item.due <= now]
        if not ready:
            return b""
        self._queue = [item for item in self._queue if item.due > now]
        ready.sort(key=lambda item: item.due)
        return b"".join(item.data if item.request is None else self._reply(item.request) for item in ready)

    def next_due(self) -> float | None:
        """Seconds until the next queued output is due (0 if already due), or None if none is queued."""
        if not self._queue:
            return None
        return max(0.0, min(item.due for item in self._queue) - self.clock())

    def exchange(self, data: bytes) -> bytes:
        """Feed ``data`` and return what is due at once (late replies stay queued)."""
        self.feed(data)
        return self.take()

    def reset(self) -> None:
        """Forget partial input and queued output, as a power cycle does."""
        self._decoder.reset()
        self._queue.clear()

    def _maybe_corrupt(self, frame: bytes) -> bytes:
        corrupt = self.motor.fault("corrupt")
        if corrupt is None:
            return frame
        self._replies += 1
        if self._replies % max(1, int(corrupt["every"])):
            return frame
        damaged = bytearray(frame)
        index = self._random.randrange(1, len(damaged))
        damaged[index] ^= 1 << self._random.randrange(8)
        return bytes(damaged)

    def _answer(self, request: Packet) -> Packet | None:
        data = self._execute(request.command, request.data)
        if data is None:
            log.debug("no reply to %s with data %s", _command_name(request.command), request.data.hex(" ") or "none")
            return None
        return Packet(self.address, request.source, request.command, data)

    def _execute(self, command: int, data: bytes) -> bytes | None:
        """Carry out one command; the reply data (b"" is an ACK), or None for no reply at all."""
        motor = self.motor
        if data and command in _NO_DATA:
            return None
        if command == Command.GET_VER:
            return VERSION
        if command == Command.GET_MODEL:
            return MODEL
        if command == Command.GET_POSITION:
            return motor.position.to_bytes(3, "big")
        if command == Command.SLEW_DONE:
            return b"\x00" if motor.moving else b"\xff"
        if command == Command.CALIB_DONE:
            return bytes([int(motor.calibrated), motor.calibration_state])
        if command == Command.GET_HS_POSITIONS:
            low, high = motor.limits
            return low.to_bytes(4, "big") + high.to_bytes(4, "big")
        if command == Command.GET_POS_BACKLASH:
            return bytes([motor.positive_backlash])
        if command == Command.GET_NEG_BACKLASH:
            return bytes([motor.negative_backlash])
        if command in (Command.GOTO_FAST, Command.GOTO_SLOW):
            target = _goto_target(data)
            if target is None:
                return None
            (motor.goto_fast if command == Command.GOTO_FAST else motor.goto_slow)(target)
            return b""
        if len(data) != 1:
            return None
        value = data[0]
        if command in (Command.MOVE_POS, Command.MOVE_NEG) and value <= 9:
            motor.move(value, positive=command == Command.MOVE_POS)
            return b""
        if command == Command.CALIB_ENABLE:
            if value:
                motor.start_calibration()
            else:
                motor.abort_calibration()
            return b""
        if command in (Command.SET_POS_BACKLASH, Command.SET_NEG_BACKLASH) and value <= 99:
            if command == Command.SET_POS_BACKLASH:
                motor.positive_backlash = value
            else:
                motor.negative_backlash = value
            return b""
        return None


_NO_DATA = {
    Command.GET_VER,
    Command.GET_MODEL,
    Command.GET_POSITION,
    Command.SLEW_DONE,
    Command.CALIB_DONE,
    Command.GET_HS_POSITIONS,
    Command.GET_POS_BACKLASH,
    Command.GET_NEG_BACKLASH,
}


def _goto_target(data: bytes) -> int | None:
    """24-bit target, or the legacy 16-bit form that carries the top 16 bits."""
    if len(data) == 3:
        return int.from_bytes(data, "big")
    if len(data) == 2:
        return int.from_bytes(data, "big") << 8
    return None
