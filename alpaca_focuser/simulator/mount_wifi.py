"""WifiBridge: a mount's WiFi module (SkyPortal, Evolution's built-in) as one TCP client sees it.

The module is a serial-to-WiFi bridge onto the mount's AUX bus: raw AUX frames both ways, the
echo and the bus traffic included. Like the RN-171 WiFly inside it, it enters its command mode
when it gets ``$$$`` with ``GUARD_S`` of silence before and after: it then answers ``CMD`` and
stops relaying AUX frames until ``exit``. ``command_mode_entries`` counts those, so a test can
prove that a client never trips it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .mount_bus import MountBus

log = logging.getLogger(__name__)

GUARD_S = 0.25
ESCAPE = b"$$$"


class WifiBridge:
    def __init__(self, bus: MountBus, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.command_mode = False
        self.command_mode_entries = 0
        self._port = bus.port("wifi")
        self._burst = bytearray()  # bytes since the last silence of GUARD_S
        self._last_byte = float("-inf")
        self._out = bytearray()
        self._held = bytearray()
        self._command = bytearray()
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self._lock:
            now = self.clock()
            if now - self._last_byte >= GUARD_S:
                self._burst.clear()
            self._burst += data
            self._last_byte = now
            if self.command_mode:
                self._command_line(data)
            elif self._burst == ESCAPE[: len(self._burst)]:
                self._held += data  # a possible escape sequence is held back until it is decided
            else:
                self._port.feed(bytes(self._held) + data)
                self._held.clear()

    def take(self) -> bytes:
        with self._lock:
            self._check_escape()
            relayed = self._port.take()
            out = bytes(self._out) + (b"" if self.command_mode else relayed)
            self._out.clear()
            return out

    def next_due(self) -> float | None:
        with self._lock:
            if self._burst == ESCAPE and not self.command_mode:
                return max(0.0, self._last_byte + GUARD_S - self.clock())
            return 0.0 if self._out else self._port.next_due()

    def reset(self) -> None:
        with self._lock:
            self._burst.clear()
            self._out.clear()
            self._port.reset()

    def _check_escape(self) -> None:
        if self.command_mode or self._burst != ESCAPE or self.clock() - self._last_byte < GUARD_S:
            return
        self.command_mode = True
        self.command_mode_entries += 1
        self._burst.clear()
        self._held.clear()
        self._out += b"CMD\r\n"
        log.warning("WiFi bridge: command mode entered ($$$ between silences); AUX relaying stopped")

    def _command_line(self, data: bytes) -> None:
        self._command += data
        while b"\r" in self._command:
            line, _, rest = bytes(self._command).partition(b"\r")
            self._command = bytearray(rest)
            if line.strip() == b"exit":
                self.command_mode = False
                self._out += b"EXIT\r\n"
            else:
                self._out += b"ERR: ?-Cmd\r\n<2.40-CEL> "
