"""AuxLink: one serial port (any pyserial URL) speaking AUX request/reply to one device.

The link is deliberately synchronous and single-threaded: the focuser's worker thread is its only
user, so two requests can never interleave bytes on the wire.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import serial

from .commands import DeviceId, Request
from .faults import PORT_ERRORS, LinkClosed, MalformedReply, NoReply
from .packet import FrameDecoder, Packet
from .port_link import LinkStats, PortLink
from .serial_lines import open_port

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_BAUD = 9600
DEFAULT_TIMEOUT = 1.0
DEFAULT_TRIES = 3
MAX_TIMEOUT = 8.0
__all__ = ["DEFAULT_BAUD", "AuxLink", "LinkStats"]


class AuxLink(PortLink):
    """The focuser's own line: nothing else talks on it, so requests go out unpaced."""

    def __init__(
        self,
        url: str,
        *,
        baud: int = DEFAULT_BAUD,
        source: int = DeviceId.APP,
        device: int = DeviceId.FOCUSER,
        timeout: float = DEFAULT_TIMEOUT,
        tries: int = DEFAULT_TRIES,
        opener: Callable[..., serial.Serial] = open_port,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(url, baud=baud, timeout=timeout, min_gap_s=0.0, opener=opener, clock=clock)
        self.source = source
        self.device = device
        self.tries = tries
        self.stats = LinkStats()
        self._decoder = FrameDecoder()
        self._lock = threading.Lock()
        self._unanswered: Packet | None = None  # the last request that got no reply
        self._late_for: Packet | None = None  # that request, while the next one watches for its reply

    @property
    def dropped_bytes(self) -> int:
        return self._decoder.dropped_bytes

    def _opened(self) -> None:
        self._decoder.reset()

    def request(self, request: Request[T]) -> T:
        """Send ``request`` and return its parsed reply, waiting up to ``tries`` reply timeouts.

        A read or a stop is sent again after each timeout; a motion command is sent once and only
        waited for, so a slow line never makes the motor receive a move twice. A reply to any of the
        attempts is taken: it answers the same question, and is newer than the request.
        """
        packet = Packet(self.source, self.device, request.command, request.data)

        def receive() -> bytes:
            reply = self._receive(packet, request.name)
            self._unanswered = None
            return reply.data

        with self._lock:
            self.stats.requests += 1
            self._drain(request.name)
            try:
                return self._tried(request, self.tries, lambda: self._send(packet, request.name), receive, wait_again=True)
            except (NoReply, MalformedReply):
                self._unanswered = packet
                raise

    def _drain(self, name: str) -> None:
        """Drop what arrived between requests, so an old reply is never taken for a new one.

        A reply to the last request that got none shows the line is slower than the timeout: the
        timeout is doubled (up to MAX_TIMEOUT) rather than declaring the focuser gone again and again.
        """
        port = self._port_or_raise(name)
        try:
            waiting = port.in_waiting
            chunk = port.read(waiting) if waiting else b""
        except PORT_ERRORS as exc:
            self.close()
            raise LinkClosed(f"{self.url}: link lost before sending {name}: {exc}") from exc
        self._late_for, self._unanswered = self._unanswered, None
        if not chunk:
            return
        self.stats.bytes_received += len(chunk)
        for stale in self._decoder.feed(chunk):
            self.stats.frames_received += 1
            self._notice_late(stale)

    def _notice_late(self, packet: Packet) -> None:
        late = self._late_for
        if late is None or not packet.reply_to(late):
            return
        self._late_for = None
        if self.timeout < MAX_TIMEOUT:
            self.timeout = min(MAX_TIMEOUT, self.timeout * 2)
            log.warning("%s: replies come later than expected; now waiting up to %g s for each", self.url, self.timeout)

    def _send(self, packet: Packet, name: str) -> None:
        port = self._port_or_raise(name)
        frame = packet.encode()
        try:
            port.write(frame)
            port.flush()
        except PORT_ERRORS as exc:
            self.close()
            raise LinkClosed(f"{self.url}: link lost while sending {name} ({packet}): {exc}") from exc
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(frame)

    def _receive(self, request: Packet, name: str) -> Packet:
        port = self._port_or_raise(name)
        deadline = self.clock() + self.timeout
        seen: list[str] = []
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                heard = f"; heard only {', '.join(seen[:4])}" if seen else ""
                garbage = f"; {self._decoder.dropped_bytes} garbage bytes dropped so far" if self._decoder.dropped_bytes else ""
                raise NoReply(f"{self.url}: no reply to {name} ({request}) within {self.timeout:g} s{heard}{garbage}")
            chunk = self._read(port, remaining, name)
            if not chunk:
                continue
            self.stats.bytes_received += len(chunk)
            for packet in self._decoder.feed(chunk):
                self.stats.frames_received += 1
                if packet.reply_to(request):
                    return packet
                if packet == request:
                    self.stats.echoes_ignored += 1
                    continue
                self._notice_late(packet)
                seen.append(str(packet))
