"""PortLink: what the links through a mount share: one port, opened without resetting the
adapter behind it, closed quietly, and refused for I/O once it is closed or lost."""

from __future__ import annotations

import logging
from typing import Self

import serial

from .link import LinkClosed
from .serial_lines import open_port

log = logging.getLogger(__name__)


class PortLink:
    def __init__(self, url: str, *, baud: int, timeout: float, rtscts: bool = False) -> None:
        self.url = url
        self.baud = baud
        self.timeout = timeout
        self.rtscts = rtscts
        self._port: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        return self._port is not None and self._port.is_open

    def open(self) -> None:
        if self.is_open:
            return
        try:
            self._port = open_port(self.url, self.baud, self.timeout, rtscts=self.rtscts)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkClosed(f"cannot open {self.url}: {exc}") from exc
        self._opened()
        log.debug("opened %s at %d baud (%s)", self.url, self.baud, type(self).__name__)

    def _opened(self) -> None:
        """Forget what belonged to the previous connection; subclasses add their own state."""

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass
            log.debug("closed %s", self.url)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _port_or_raise(self, name: str) -> serial.Serial:
        if self._port is None or not self._port.is_open:
            raise LinkClosed(f"{self.url}: cannot send {name}, the port is not open")
        return self._port
