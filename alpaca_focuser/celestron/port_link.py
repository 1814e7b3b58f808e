"""PortLink: what every link shares: one port, opened without resetting the adapter behind it,
closed quietly, refused for I/O once it is closed or lost; one rule for trying a request again;
and, for the links through a mount, paced, so the frames they put on the mount's shared bus stay
few whatever the polling asks for."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self, TypeVar

import serial

from .commands import ReplyError, Request
from .faults import RECEIVE_ERRORS, AuxError, LinkClosed, MalformedReply, NoReply
from .serial_lines import open_port

T = TypeVar("T")
log = logging.getLogger(__name__)

MIN_GAP_S = 0.1  # at most ten exchanges a second of ours on the mount's bus


@dataclass
class LinkStats:
    """Traffic counters, read by diagnostics and the wire-traffic benchmark."""

    requests: int = 0
    frames_sent: int = 0
    bytes_sent: int = 0
    frames_received: int = 0
    bytes_received: int = 0
    retries: int = 0
    echoes_ignored: int = 0


class PortLink:
    """``opener`` and ``clock`` are the transport seam: tests give the real link an in-memory port
    on a fake clock, so the link's own rules (what is sent again, how long it waits) are the ones
    under test, never a copy of them."""

    stats: LinkStats

    def __init__(
        self,
        url: str,
        *,
        baud: int,
        timeout: float,
        rtscts: bool = False,
        min_gap_s: float = MIN_GAP_S,
        opener: Callable[..., serial.Serial] = open_port,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._opener = opener  # open_port, or the focuser's side of a shared port
        self.baud = baud
        self.timeout = timeout
        self.rtscts = rtscts
        self.min_gap_s = min_gap_s
        self.clock = clock
        self._port: serial.Serial | None = None
        self._last_exchange = 0.0

    @property
    def is_open(self) -> bool:
        return self._port is not None and self._port.is_open

    def open(self) -> None:
        if self.is_open:
            return
        try:
            self._port = self._opener(self.url, self.baud, self.timeout, rtscts=self.rtscts)
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

    def _tried(self, request: Request[T], tries: int, send: Callable[[], None], receive: Callable[[], bytes], *, wait_again: bool = False) -> T:
        """The one retry loop of every link: ``send`` the request, ``receive`` its reply data, and
        after a timeout or a malformed reply try again, up to ``tries`` times in all.

        Only a repeatable request (a read, a stop) is sent again: a motion command reaches the wire
        once, because a late acknowledge would otherwise start the same move twice. With
        ``wait_again`` the link keeps listening for the single motion command's reply through the
        other tries instead of giving up after the first timeout.
        """
        attempts = tries if request.repeatable or wait_again else 1
        failure: AuxError | None = None
        for attempt in range(attempts):
            if attempt == 0 or request.repeatable:
                if attempt:
                    self.stats.retries += 1
                    log.debug("%s: retrying %s (%s)", self.url, request.name, failure)
                send()
            try:
                data = receive()
            except NoReply as exc:
                failure = exc
                continue
            try:
                return request.parse(data)
            except ReplyError as exc:
                failure = MalformedReply(f"{self.url}: malformed reply to {request.name}: {exc}")
        assert failure is not None
        raise failure

    def _pace(self) -> None:
        """Wait until ``min_gap_s`` has passed since the end of the previous exchange."""
        wait = self._last_exchange + self.min_gap_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def _exchanged(self) -> None:
        self._last_exchange = time.monotonic()

    def _read(self, port: serial.Serial, wait_s: float, name: str) -> bytes:
        """What the port has, waiting up to ``wait_s``; a port that fails is closed and reported lost."""
        try:
            port.timeout = wait_s
            return port.read(max(1, port.in_waiting))
        except RECEIVE_ERRORS as exc:
            self.close()
            raise LinkClosed(f"{self.url}: link lost while waiting for the reply to {name}: {exc}") from exc

    def _port_or_raise(self, name: str) -> serial.Serial:
        if self._port is None or not self._port.is_open:
            raise LinkClosed(f"{self.url}: cannot send {name}, the port is not open")
        return self._port
