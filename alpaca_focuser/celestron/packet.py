"""AUX frames: ``3B LEN SRC DST CMD DATA... CK``.

LEN counts SRC through the last DATA byte; CK makes the sum of LEN..CK zero modulo 256.
The stream decoder is the only place that looks at raw bytes coming off a link, so it must
survive anything a noisy USB cable, a mount bus or a WiFi bridge can produce.
"""

from __future__ import annotations

from dataclasses import dataclass

START = 0x3B
HEADER_LENGTH = 3  # SRC, DST, CMD
# No focuser reply carries more than 8 data bytes; a generous cap keeps a corrupted length
# byte from making the decoder wait for hundreds of bytes that will never come.
MAX_DATA_LENGTH = 32


class MalformedFrame(ValueError):
    """A byte string that is not exactly one valid AUX frame."""


def checksum(body: bytes) -> int:
    """Two's complement of the 8-bit sum of LEN..last data byte."""
    return (-sum(body)) & 0xFF


@dataclass(frozen=True)
class Packet:
    source: int
    destination: int
    command: int
    data: bytes = b""

    def encode(self) -> bytes:
        if len(self.data) > MAX_DATA_LENGTH:
            raise ValueError(f"AUX packets carry at most {MAX_DATA_LENGTH} data bytes, got {len(self.data)}")
        body = bytes([HEADER_LENGTH + len(self.data), self.source, self.destination, self.command]) + self.data
        return bytes([START]) + body + bytes([checksum(body)])

    def reply_to(self, request: Packet) -> bool:
        """True if this packet answers ``request``: same command, addresses swapped."""
        return (
            self.command == request.command
            and self.source == request.destination
            and self.destination == request.source
        )

    def __str__(self) -> str:
        return self.encode().hex(" ")


def decode(frame: bytes) -> Packet:
    """Decode exactly one frame, or raise MalformedFrame saying what is wrong with it."""
    if len(frame) < HEADER_LENGTH + 3:
        raise MalformedFrame(f"frame too short ({len(frame)} bytes): {frame.hex(' ')}")
    if frame[0] != START:
        raise MalformedFrame(f"frame does not start with 3b: {frame.hex(' ')}")
    length = frame[1]
    if length < HEADER_LENGTH or length - HEADER_LENGTH > MAX_DATA_LENGTH:
        raise MalformedFrame(f"impossible length byte {length}: {frame.hex(' ')}")
    if len(frame) != length + 3:
        raise MalformedFrame(f"length byte says {length + 3} bytes, frame has {len(frame)}: {frame.hex(' ')}")
    if sum(frame[1:]) & 0xFF:
        raise MalformedFrame(f"bad checksum: {frame.hex(' ')}")
    return Packet(frame[2], frame[3], frame[4], bytes(frame[5:-1]))


class FrameDecoder:
    """Turns a byte stream into packets, dropping garbage and resynchronising on the next 0x3B.

    ``feed`` never raises on input bytes. ``dropped_bytes`` counts every byte that was not part of
    a valid frame, ``bad_frames`` the candidate frames rejected (bad length or checksum).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.dropped_bytes = 0
        self.bad_frames = 0

    def feed(self, data: bytes) -> list[Packet]:
        self._buffer.extend(data)
        packets: list[Packet] = []
        while True:
            start = self._buffer.find(START)
            if start < 0:
                self._drop(len(self._buffer))
                return packets
            self._drop(start)
            if len(self._buffer) < 2:
                return packets
            length = self._buffer[1]
            if length < HEADER_LENGTH or length - HEADER_LENGTH > MAX_DATA_LENGTH:
                self.bad_frames += 1
                self._drop(1)
                continue
            size = length + 3
            if len(self._buffer) < size:
                return packets
            frame = bytes(self._buffer[:size])
            if sum(frame[1:]) & 0xFF:
                self.bad_frames += 1
                self._drop(1)
                continue
            del self._buffer[:size]
            packets.append(Packet(frame[2], frame[3], frame[4], frame[5:-1]))

    def pending(self) -> int:
        """Bytes held back as the beginning of a frame that has not fully arrived."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget a partial frame (after the link's input was flushed)."""
        self._drop(len(self._buffer))

    def _drop(self, count: int) -> None:
        if count:
            del self._buffer[:count]
            self.dropped_bytes += count
