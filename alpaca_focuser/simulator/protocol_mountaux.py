"""pyserial handler for ``mountaux://NAME``: a simulated mount's AUX or PC port, in this process.

A pseudo-terminal has no modem lines, so the AUX/PC port's half-duplex handshake is modelled
here, in a port object pyserial opens like any other: the host's transmitter reaches the bus
only while the board has granted it the line, which it does (raising CTS) when the host raises
RTS, until the host drops RTS. Bytes written without that handshake are lost, as they are on
the real port while the hand controller owns the line. Everything on the bus comes
back, echo included. ``NAME`` is a bus registered with ``register`` (``SimulatedMount`` does).
pyserial finds this module because the simulator package is in ``protocol_handler_packages``.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, Timeout

from .mount_bus import BusPort, MountBus

_buses: dict[str, MountBus] = {}
_lock = threading.Lock()
_WAIT = 0.01  # how often a blocked read looks at the bus


def register(name: str, bus: MountBus) -> str:
    """Make ``bus`` reachable as ``mountaux://name``; returns that URL."""
    with _lock:
        _buses[name] = bus
    return f"mountaux://{name}"


def unregister(name: str) -> None:
    with _lock:
        _buses.pop(name, None)


class Serial(SerialBase):
    """A port onto a simulated mount's AUX bus with the AUX/PC port's RTS/CTS handshake."""

    lost_without_rts = 0  # bytes written while RTS was down, for tests

    def open(self) -> None:
        url = self.port
        if url is None:
            raise SerialException("port must be configured before it can be used")
        name = urlsplit(url).netloc
        with _lock:
            bus = _buses.get(name)
        if bus is None:
            raise SerialException(f"could not open port {url}: no simulated mount called {name!r}")
        if bus.motor.unplugged:
            raise SerialException(f"could not open port {url}: the simulated mount's cable is unplugged")
        self._bus = bus
        self._line: BusPort = bus.port("aux port")
        self._buffer = b""
        self._granted = False  # only a rise of RTS after opening asks for the line
        self.is_open = True

    def close(self) -> None:
        if self.is_open:
            self._bus.detach(self._line)
        self.is_open = False

    def _reconfigure_port(self) -> None:
        """Baud and framing mean nothing to a simulated line."""

    def _update_rts_state(self) -> None:
        """Raising RTS asks for the line (granted at once), dropping it gives the line back."""
        self._granted = bool(self.rts)

    def _update_dtr_state(self) -> None:
        """DTR is not wired on the AUX port."""

    def _check(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
        if self._bus.motor.unplugged:
            raise SerialException(f"{self.port}: device disconnected (the simulated mount's cable is unplugged)")

    @property
    def cts(self) -> bool:
        self._check()
        return self._granted

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True

    @property
    def in_waiting(self) -> int:
        self._check()
        self._buffer += self._line.take()
        return len(self._buffer)

    def read(self, size: int = 1) -> bytes:
        self._check()
        timeout = Timeout(self.timeout if self.timeout is not None else float("inf"))
        while True:
            self._buffer += self._line.take()
            if self._buffer:
                chunk, self._buffer = self._buffer[:size], self._buffer[size:]
                return chunk
            if timeout.expired():
                return b""
            left = timeout.time_left()
            threading.Event().wait(_WAIT if left is None else min(_WAIT, left))
            self._check()

    def write(self, data: Any) -> int:  # any buffer, as pyserial takes
        self._check()
        payload = bytes(data)
        if self._granted:
            self._line.feed(payload)
        else:
            type(self).lost_without_rts += len(payload)
        return len(payload)

    def flush(self) -> None:
        self._check()

    def reset_input_buffer(self) -> None:
        self._check()
        self._line.take()
        self._buffer = b""

    def reset_output_buffer(self) -> None:
        self._check()

    @property
    def out_waiting(self) -> int:
        return 0
