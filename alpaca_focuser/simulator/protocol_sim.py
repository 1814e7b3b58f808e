"""pyserial handler for ``sim://[NAME][?time_scale=N&uncalibrated=1&state_file=PATH&landing_error=N&slow_landing_error=N&echo=1]``.

An in-process port onto a simulated focuser: what the server runs when no hardware is configured.
pyserial finds this module because importing ``alpaca_focuser.simulator`` adds the package to
``serial.protocol_handler_packages``.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, Timeout

from . import registry
from .responder import AuxResponder

_NUMBER_OPTIONS = {"time_scale": float, "landing_error": int, "slow_landing_error": int, "seed": int}
_FLAG_OPTIONS = ("uncalibrated", "echo")
_TEXT_OPTIONS = ("state_file",)
_KNOWN = (*_NUMBER_OPTIONS, *_FLAG_OPTIONS, *_TEXT_OPTIONS)
_UNPLUG_CHECK = 0.1  # a blocked read notices an unplug within this many seconds


def _flag(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on", ""):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"sim:// option {name}={value!r} must be 1 or 0")


def parse_url(url: str) -> tuple[str, dict[str, Any], bool]:
    """(motor name, FocusMotor options, echo) from a ``sim://`` URL; a clear ValueError if wrong."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sim":
        raise ValueError(f"{url!r} is not a sim:// URL")
    name = parts.netloc or parts.path.strip("/") or registry.DEFAULT_NAME
    options: dict[str, Any] = {}
    echo = False
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        value = values[-1]
        if key not in _KNOWN:
            raise ValueError(f"unknown sim:// option {key!r} in {url!r}; known options: {', '.join(_KNOWN)}")
        if key in _NUMBER_OPTIONS:
            try:
                options[key] = _NUMBER_OPTIONS[key](value)
            except ValueError:
                raise ValueError(f"sim:// option {key}={value!r} must be a number") from None
        elif key == "uncalibrated":
            options["calibrated"] = not _flag(key, value)
        elif key == "echo":
            echo = _flag(key, value)
        else:
            options[key] = value
    return name, options, echo


class Serial(SerialBase):
    """A pyserial port whose far end is a simulated focuser in this process."""

    def open(self) -> None:
        if self.port is None:
            raise SerialException("port must be configured before it can be used")
        if self.is_open:
            raise SerialException("port already open")
        try:
            name, options, echo = parse_url(self.port)
            self.motor = registry.motor(name, **options)
        except ValueError as exc:
            raise SerialException(str(exc)) from exc
        if echo:
            self.motor.set_fault("echo")
        if self.motor.unplugged:
            raise SerialException(f"could not open port {self.port}: the simulated focuser is unplugged")
        self._responder = AuxResponder(self.motor)
        self._ready = threading.Condition()
        self._buffer = b""
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def _reconfigure_port(self) -> None:
        """Baud, parity and the like mean nothing to a simulated device."""

    def _check(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
        if self.motor.unplugged:
            self._responder.reset()
            raise SerialException(f"{self.port}: device disconnected (the simulated focuser is unplugged)")

    @property
    def in_waiting(self) -> int:
        self._check()
        with self._ready:
            return len(self._pending())

    def _pending(self) -> bytes:
        """Bytes due now, kept in a buffer so a short read leaves the rest for the next."""
        self._buffer += self._responder.take()
        return self._buffer

    def read(self, size: int = 1) -> bytes:
        self._check()
        timeout = Timeout(self.timeout if self.timeout is not None else float("inf"))
        with self._ready:
            while True:
                available = self._pending()
                if available:
                    chunk, self._buffer = available[:size], available[size:]
                    return chunk
                if timeout.expired():
                    return b""
                waits = [_UNPLUG_CHECK, self._responder.next_due(), timeout.time_left()]
                self._ready.wait(min(wait for wait in waits if wait is not None))
                self._check()

    def write(self, data: Any) -> int:  # any buffer, as pyserial takes
        self._check()
        payload = bytes(data)
        with self._ready:
            self._responder.feed(payload)
            self._ready.notify_all()
        return len(payload)

    def flush(self) -> None:
        self._check()

    def reset_input_buffer(self) -> None:
        self._check()
        with self._ready:
            self._pending()
            self._buffer = b""

    def reset_output_buffer(self) -> None:
        self._check()

    @property
    def out_waiting(self) -> int:
        return 0
