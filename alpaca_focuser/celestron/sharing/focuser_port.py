"""FocuserPort: the focuser's link's side of a shared port, a pyserial port object in this process.

The focuser's links (``BusLink``, ``HandControllerLink``) run on it unchanged, with every rule of
theirs (echo filter, late replies, what may be sent again). A write returns once the hub has put
its command on the line, so the link's reply timeout counts from the moment the command left, not
from the wait for the turn; a command the hub could not send in time is taken back before it
reaches the line, so a move is never sent after its link gave up on it.
"""

from __future__ import annotations

import threading
from typing import Any

from serial import SerialException, SerialTimeoutException
from serial.serialutil import PortNotOpenError, SerialBase, Timeout

from .hub import FOCUSER, PortHub

TURN_WAIT_FACTOR = 2  # a command may wait this many of the hub's turns for the line
BLOCKING_S = 3600.0  # a read without a timeout (the links always set one)


class FocuserPort(SerialBase):
    """Opened by ``PortHub.focuser_opener``; one at a time per hub."""

    def __init__(self, hub: PortHub, **options: Any) -> None:
        self._hub = hub
        self._buffer = bytearray()
        self._arrived = threading.Condition()
        super().__init__(**options)

    def open(self) -> None:
        problem = self._hub.line_error()
        if problem is not None:
            raise SerialException(f"the mount's port {self._hub.url} is not open: {problem}")
        self._hub.attach(FOCUSER, self, "the focuser")
        self.is_open = True

    def close(self) -> None:
        if self.is_open:
            self._hub.detach(FOCUSER, self)
        self.is_open = False

    def send(self, data: bytes) -> None:
        """The hub's delivery of what came back for the focuser."""
        with self._arrived:
            self._buffer += data
            self._arrived.notify_all()

    def _reconfigure_port(self) -> None:
        """The hub set the real port's speed; nothing to do on this side."""

    def _update_rts_state(self) -> None:
        """The hub does the real port's RTS/CTS handshake."""

    def _update_dtr_state(self) -> None:
        """No modem lines on this side."""

    def _check(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()

    @property
    def in_waiting(self) -> int:
        self._check()
        with self._arrived:
            return len(self._buffer)

    def read(self, size: int = 1) -> bytes:
        self._check()
        timeout = Timeout(self.timeout if self.timeout is not None else BLOCKING_S)
        with self._arrived:
            while not self._buffer:
                if timeout.expired() or not self.is_open:
                    return b""
                left = timeout.time_left()
                self._arrived.wait(left)
            chunk = bytes(self._buffer[:size])
            del self._buffer[:size]
            return chunk

    def write(self, data: Any) -> int:  # any buffer, as pyserial takes
        self._check()
        payload = bytes(data)
        wait_s = self._hub.turn_limit_s * TURN_WAIT_FACTOR + (self.write_timeout or 0)
        for pending in self._hub.submit(FOCUSER, payload):
            if not pending.sent.wait(wait_s) and self._hub.withdraw(pending):
                raise SerialTimeoutException(f"the shared mount port {self._hub.url} gave the focuser no turn within {wait_s:g} s")
            pending.sent.wait()
            if pending.failed:
                raise SerialException(pending.failed)
        return len(payload)

    def flush(self) -> None:
        self._check()

    def reset_input_buffer(self) -> None:
        self._check()
        with self._arrived:
            self._buffer.clear()

    def reset_output_buffer(self) -> None:
        self._check()

    @property
    def out_waiting(self) -> int:
        return 0
