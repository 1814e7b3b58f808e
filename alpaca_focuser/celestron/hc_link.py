"""HandControllerLink: the focuser through a NexStar hand controller's pass-through command.

The hand controller's serial port (9600 8N1) speaks NexStar's serial protocol, not AUX frames.
Its ``P`` command carries one AUX command onto the bus and brings back the answer:

    host -> HC   'P', n, device, command, d1, d2, d3, reply length   (always 8 bytes; n = 1 + data bytes)
    HC -> host   the reply's data bytes, then '#'; one extra byte before '#' means the device did not answer

The exchange carries no addresses, so a reply can only be told from a late one by order: after a
timeout the link waits for the line to fall quiet and drops what came, before the next command.
The hand controller may take up to 3.5 s, so the timeout is at least that; commands that make the
motor act are sent once, reads are retried once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import serial

from .commands import Command, DeviceId, Request
from .faults import RECEIVE_ERRORS, LinkClosed, MalformedReply, NoReply
from .port_link import LinkStats, PortLink
from .serial_lines import open_port

T = TypeVar("T")
log = logging.getLogger(__name__)

PASS_THROUGH = 0x50  # 'P'
END = 0x23  # '#'
MAX_DATA = 3
HC_REPLY_TIMEOUT_S = 3.5  # "the hand controller may take up to 3.5 s"
QUIET_S = 0.3  # after a timeout: the line is back in step once nothing came for this long
READ_TRIES = 2
# Reply data length of each focuser command (the pass-through must be told); the rest acknowledge with none.
REPLY_LENGTHS = {
    Command.GET_VER: 4,
    Command.GET_MODEL: 2,
    Command.GET_POSITION: 3,
    Command.SLEW_DONE: 1,
    Command.CALIB_DONE: 2,
    Command.GET_HS_POSITIONS: 8,
    Command.GET_POS_BACKLASH: 1,
    Command.GET_NEG_BACKLASH: 1,
}


class DeviceDidNotAnswer(NoReply):
    """The hand controller answered, saying the device on the bus did not."""


def pass_through(device: int, command: int, data: bytes, reply_length: int) -> bytes:
    """The 8-byte ``P`` command carrying ``command`` with ``data`` (at most 3 bytes) to ``device``."""
    if len(data) > MAX_DATA:
        raise ValueError(f"the hand controller's pass-through carries at most {MAX_DATA} data bytes, not {len(data)}")
    return bytes([PASS_THROUGH, 1 + len(data), device, command]) + data.ljust(MAX_DATA, b"\0") + bytes([reply_length])


class HandControllerLink(PortLink):
    def __init__(self, url: str, *, baud: int = 9600, device: int = DeviceId.FOCUSER, timeout: float = HC_REPLY_TIMEOUT_S,
                 opener: Callable[..., serial.Serial] = open_port) -> None:
        super().__init__(url, baud=baud, timeout=max(timeout, HC_REPLY_TIMEOUT_S), opener=opener)
        self.device = device
        self.stats = LinkStats()
        self._lock = threading.Lock()
        self._out_of_step = False

    def _opened(self) -> None:
        self._out_of_step = True  # whatever a previous owner left on the line goes first

    def request(self, request: Request[T]) -> T:
        length = REPLY_LENGTHS.get(request.command, 0)
        try:
            command = pass_through(self.device, request.command, request.data, length)
        except ValueError as exc:
            raise MalformedReply(f"{self.url}: cannot send {request.name} through the hand controller: {exc}") from exc
        with self._lock:
            self.stats.requests += 1
            self._pace()  # each pass-through is a frame and its reply on the mount's bus
            try:
                return self._tried(request, READ_TRIES, lambda: self._send(command, request.name), lambda: self._receive(command, length, request.name))
            finally:
                self._exchanged()

    def _send(self, command: bytes, name: str) -> None:
        port = self._port_or_raise(name)
        try:
            if self._out_of_step:
                self._wait_for_quiet(port)
            port.write(command)
            port.flush()
        except RECEIVE_ERRORS as exc:
            self.close()
            raise LinkClosed(f"{self.url}: link lost while sending {name}: {exc}") from exc
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(command)

    def _receive(self, command: bytes, length: int, name: str) -> bytes:
        port = self._port_or_raise(name)
        try:
            reply = self._read_reply(port, length, name, command)
        except DeviceDidNotAnswer:
            raise
        except NoReply:
            self._out_of_step = True  # its reply may still come: wait for quiet before the next command
            raise
        except RECEIVE_ERRORS as exc:
            self.close()
            raise LinkClosed(f"{self.url}: link lost during {name}: {exc}") from exc
        self.stats.frames_received += 1
        if len(reply) > length + 1:
            raise DeviceDidNotAnswer(
                f"{self.url}: the hand controller says the focuser did not answer {name} "
                f"(reply {reply.hex(' ')}); is the focuser plugged into the mount's AUX port and powered?"
            )
        return reply[:length]

    def _read_reply(self, port: serial.Serial, length: int, name: str, command: bytes) -> bytes:
        """``length`` data bytes and '#', or more bytes up to the '#' when the device failed."""
        deadline = time.monotonic() + self.timeout
        reply = bytearray()
        while len(reply) < length + 1 or reply[-1] != END:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                heard = f"; got {reply.hex(' ')} without the closing '#'" if reply else "; nothing came back"
                raise NoReply(f"{self.url}: no reply from the hand controller to {name} ({command.hex(' ')}) within {self.timeout:g} s{heard}")
            port.timeout = remaining
            chunk = port.read(length + 1 - len(reply) if len(reply) < length + 1 else 1)
            self.stats.bytes_received += len(chunk)
            reply += chunk
        return bytes(reply)

    def _wait_for_quiet(self, port: serial.Serial) -> None:
        """Drop bytes until none came for ``QUIET_S`` (a late reply), so the next reply is ours."""
        deadline = time.monotonic() + self.timeout
        port.timeout = QUIET_S
        dropped = 0
        while time.monotonic() < deadline:
            chunk = port.read(256)
            if not chunk:
                break
            dropped += len(chunk)
        if dropped:
            log.debug("%s: dropped %d late bytes before the next command", self.url, dropped)
        self._out_of_step = False
