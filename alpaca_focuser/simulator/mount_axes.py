"""The mount's two motor controllers (0x10 azimuth or RA, 0x11 altitude or Dec), enough for a mount
driver: version, position, set position (a sync), gotos that take time, manual moves, slew done.

Positions are 24-bit fractions of a turn, as on the AUX bus. A goto runs at a real mount's slew
rate (about 4° a second) sped up by the focus motor's time scale, so a test's slew ends soon but
is still seen in progress by a driver that polls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..celestron.packet import Packet

AZM_MOTOR = 0x10
ALT_MOTOR = 0x11
MOTOR_VERSION = bytes([7, 11])  # motor controllers answer GET_VER with major, minor
TURN = 1 << 24
SLEW_COUNTS_PER_S = TURN * 4 / 360  # about 4° a second
RATE_COUNTS_PER_S = SLEW_COUNTS_PER_S / 9  # a manual rate 1..9 is this many times that

GET_POSITION, GOTO_FAST, SET_POSITION, SLEW_DONE, GOTO_SLOW, MOVE_POS, MOVE_NEG, GET_VER = 0x01, 0x02, 0x04, 0x13, 0x17, 0x24, 0x25, 0xFE


class MotorController:
    def __init__(self, address: int, clock: Callable[[], float], time_scale: Callable[[], float]) -> None:
        self.address = address
        self._clock = clock
        self._time_scale = time_scale
        self._position = 0x400000 if address == AZM_MOTOR else 0x200000
        self._since = clock()
        self._target: int | None = None
        self._rate = 0.0  # counts per second of a manual move, signed
        self._lock = threading.Lock()
        self.gotos = 0  # for tests

    @property
    def position(self) -> int:
        with self._lock:
            self._advance()
            return self._position

    @property
    def moving(self) -> bool:
        with self._lock:
            self._advance()
            return self._target is not None or self._rate != 0

    def goto(self, position: int) -> None:
        with self._lock:
            self._advance()
            self._target, self._rate = position % TURN, 0.0
            self.gotos += 1

    def sync(self, position: int) -> None:
        with self._lock:
            self._advance()
            self._position, self._target, self._rate = position % TURN, None, 0.0

    def stop(self) -> None:
        with self._lock:
            self._advance()
            self._target, self._rate = None, 0.0

    def answer(self, packet: Packet) -> Packet:
        command, data = packet.command, packet.data
        reply = b""
        if command == GET_VER:
            reply = MOTOR_VERSION
        elif command == GET_POSITION:
            reply = self.position.to_bytes(3, "big")
        elif command == SLEW_DONE:
            reply = b"\x00" if self.moving else b"\xff"
        elif command in (GOTO_FAST, GOTO_SLOW) and len(data) == 3:
            self.goto(int.from_bytes(data, "big"))
        elif command == SET_POSITION and len(data) == 3:
            self.sync(int.from_bytes(data, "big"))
        elif command in (MOVE_POS, MOVE_NEG) and len(data) == 1:
            with self._lock:
                self._advance()
                self._target = None
                self._rate = data[0] * RATE_COUNTS_PER_S * (1 if command == MOVE_POS else -1)
        return Packet(self.address, packet.source, command, reply)

    def _advance(self) -> None:
        now = self._clock()
        counts = (now - self._since) * self._time_scale()
        self._since = now
        if self._rate:
            self._position = int(self._position + self._rate * counts) % TURN
        elif self._target is not None:
            step = SLEW_COUNTS_PER_S * counts
            distance = (self._target - self._position + TURN // 2) % TURN - TURN // 2  # the short way round
            if abs(distance) <= step:
                self._position, self._target = self._target, None
            else:
                self._position = int(self._position + step * (1 if distance > 0 else -1)) % TURN
