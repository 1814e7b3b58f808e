"""BusLink: the focuser on a mount's AUX bus, reached through one of the mount's ports (its USB
port, a cable on its AUX or PC port, or its WiFi bridge on TCP port 2000).

What differs from the focuser's own USB port, and how this link deals with it:

* The main board relays every frame to every port: our own frame comes back (echo), and the hand
  controller, the motor controllers, a GPS or the WiFi module talk on the same line. A reply is
  only a frame from the focuser, to our address, with the command we sent; the rest is skipped.
* A reply that comes after we gave up on it must never answer a later request: a late position
  would be published as the current one. AUX frames carry no sequence number, so after a request
  in which a try timed out, the link listens for ``DRAIN_TIMEOUTS`` reply timeouts past its last
  send before the next request, and drops the stragglers. (Counting the replies still owed
  instead never recovers from a focuser that was silent for a while: each fresh reply would pay
  an old debt and its own request would time out, adding a new one.)
* A command that makes the motor act (goto, move, stop, calibration) is sent once per request and
  never repeated on a timeout, because a late acknowledge would then start the same move twice;
  the device model reconnects and resumes instead. Reads are retried.
* The bus is shared, so requests are paced (``PortLink``, at least ``MIN_GAP_S`` between two
  exchanges): the server's frames stay a small share of the bus whatever the polling asks for.
* A WiFi bridge enters its command mode on ``$$$`` between silences; every AUX frame starts with
  0x3B, and a frame holding ``$$$`` anywhere is refused before it reaches the wire all the same.
* A dead TCP link is only noticed by a timeout: every request has one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import serial

from .commands import DeviceId, Request
from .faults import PORT_ERRORS, RECEIVE_ERRORS, LinkClosed, MalformedReply, NoReply
from .packet import FrameDecoder, Packet
from .port_link import MIN_GAP_S, LinkStats, PortLink
from .serial_lines import open_port, write_with_handshake

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 1.0
READ_TRIES = 3
DRAIN_TIMEOUTS = 2.0  # after a timeout, stragglers are awaited this many reply timeouts past the last send
WIFI_COMMAND_MODE = b"$$$"


@dataclass
class BusStats(LinkStats):
    """LinkStats plus what a shared bus adds: other devices' frames and replies that came late."""

    foreign_frames: int = 0
    late_replies_ignored: int = 0


class BusLink(PortLink):
    stats: BusStats

    def __init__(
        self,
        url: str,
        *,
        baud: int,
        source: int = DeviceId.APP,
        device: int = DeviceId.FOCUSER,
        timeout: float = DEFAULT_TIMEOUT,
        rtscts: bool = False,
        min_gap_s: float = MIN_GAP_S,
        opener: Callable[..., serial.Serial] = open_port,
    ) -> None:
        super().__init__(url, baud=baud, timeout=timeout, rtscts=rtscts, min_gap_s=min_gap_s, opener=opener)
        self.source = source
        self.device = device
        self.stats = BusStats()
        self._decoder = FrameDecoder()
        self._lock = threading.Lock()
        self._drain_until = 0.0  # after a request with a timeout: drop what comes until then

    def _opened(self) -> None:
        self._decoder.reset()
        self._drain_until = 0.0

    def request(self, request: Request[T]) -> T:
        """Send ``request`` to the focuser on the bus and return its parsed reply."""
        packet = Packet(self.source, self.device, request.command, request.data)
        with self._lock:
            self.stats.requests += 1
            self._pace()
            self._drain(request.name)
            sent = 0.0
            timed_out = False

            def send() -> None:
                nonlocal sent
                self._send(packet, request.name)
                sent = time.monotonic()

            def receive() -> bytes:
                nonlocal timed_out
                try:
                    return self._receive(packet, request.name).data
                except NoReply:
                    timed_out = True
                    raise

            try:
                return self._tried(request, READ_TRIES, send, receive)
            finally:
                self._exchanged()
                if timed_out:  # a try's answer may still be on its way
                    self._drain_until = sent + self.timeout * DRAIN_TIMEOUTS

    def _send(self, packet: Packet, name: str) -> None:
        port = self._port_or_raise(name)
        frame = packet.encode()
        if WIFI_COMMAND_MODE in frame:
            raise MalformedReply(f"{self.url}: refusing to send {name} ({packet}): its bytes hold $$$, which would put a WiFi bridge into command mode")
        try:
            if self.rtscts:
                write_with_handshake(port, frame, self.baud)
            else:
                port.write(frame)
                port.flush()
        except PORT_ERRORS as exc:
            self.close()
            raise LinkClosed(f"{self.url}: link lost while sending {name} ({packet}): {exc}") from exc
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(frame)

    def _drain(self, name: str) -> None:
        """Drop what came before this request (nothing in it can answer a request not yet sent),
        and the replies still on their way to an earlier request whose try timed out."""
        port = self._port_or_raise(name)
        try:
            while True:
                left = self._drain_until - time.monotonic()
                waiting = port.in_waiting
                if left <= 0 and not waiting:
                    break
                port.timeout = max(left, 0)
                chunk = port.read(max(1, waiting))
                self.stats.bytes_received += len(chunk)
                for packet in self._decoder.feed(chunk):
                    self.stats.frames_received += 1
                    if packet.source == self.device and packet.destination == self.source:
                        self.stats.late_replies_ignored += 1
                        log.debug("%s: dropped a late reply to an earlier request: %s", self.url, packet)
                    else:
                        self.stats.foreign_frames += 1
        except RECEIVE_ERRORS as exc:
            self.close()
            raise LinkClosed(f"{self.url}: link lost before sending {name}: {exc}") from exc
        self._drain_until = 0.0

    def _receive(self, request: Packet, name: str) -> Packet:
        port = self._port_or_raise(name)
        deadline = time.monotonic() + self.timeout
        heard: list[str] = []
        echoed = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                others = f"; heard only other traffic: {', '.join(heard[:3])}" if heard else "; the line was silent"
                if heard and not echoed and not self.rtscts:
                    others += "; our own request did not come back either: on a mount's AUX or PC port cable, set rtscts = true"
                raise NoReply(f"{self.url}: no reply from the focuser (AUX {self.device:#04x}) to {name} ({request}) within {self.timeout:g} s{others}")
            chunk = self._read(port, remaining, name)
            if not chunk:
                continue
            self.stats.bytes_received += len(chunk)
            for packet in self._decoder.feed(chunk):
                self.stats.frames_received += 1
                if packet == request:
                    self.stats.echoes_ignored += 1
                    echoed = True
                elif packet.reply_to(request):
                    return packet
                else:
                    self.stats.foreign_frames += 1
                    if len(heard) < 3:
                        heard.append(str(packet))
