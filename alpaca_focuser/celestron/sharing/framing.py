"""Where one exchange begins and ends on a shared port, in each of the two protocols shared.

The hub gives the line to one exchange at a time; to do that it must cut each program's bytes
into whole commands and know when the answer to one is complete:

* ``AuxFraming`` (route ``mount``): AUX frames. A command is one frame; its exchange ends with
  the frame that answers it (from its destination, to its source, with its command). The bus
  relays everything to every port, so while the line waits for that answer, other devices'
  frames are bus traffic for the mount program, not for the one who asked.
* ``NexStarFraming`` (route ``hc``): the hand controller's serial protocol. A command is one
  letter and a fixed number of argument bytes; its reply ends with ``#``, after the binary bytes
  some replies carry (which may hold a ``#`` themselves). Bytes that start no known command are
  garbage and never reach the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..packet import FrameDecoder

WIFI_COMMAND_MODE = b"$$$"
END = 0x23  # '#'
# NexStar commands by their first byte: the whole command's length.
NEXSTAR_LENGTHS = {
    **{ord(letter): 1 for letter in "VvmeEzZtLJpwhiMxyu"},
    ord("K"): 2, ord("T"): 2, ord("P"): 8, ord("W"): 9, ord("H"): 9, ord("I"): 9,
    ord("R"): 10, ord("S"): 10, ord("B"): 10, ord("r"): 18, ord("s"): 18, ord("b"): 18,
}
# Binary bytes before the closing '#' of a reply (the rest read up to the first '#').
NEXSTAR_REPLY_DATA = {ord("V"): 2, ord("v"): 1, ord("m"): 1, ord("t"): 1, ord("J"): 1, ord("p"): 1, ord("w"): 8, ord("h"): 8,
                      ord("i"): 8, ord("K"): 1}


@dataclass
class Routed:
    """What came off the line during one exchange, split by who gets it."""

    asker: bytes = b""
    others: bytes = b""
    done: bool = False


class Exchange(Protocol):
    command: bytes

    def route(self, data: bytes) -> Routed: ...

    def answers(self, data: bytes) -> bool: ...


class Framing(Protocol):
    """How a program's bytes become commands, and how each command's exchange is followed."""

    name: str
    quiet_after_timeout_s: float  # after an exchange got no answer, the line must be quiet this long

    def split(self, stream: Splitter) -> list[bytes]: ...

    def exchange(self, command: bytes) -> Exchange: ...

    def idle(self, data: bytes, last: Exchange | None) -> Routed:
        """Bytes between exchanges: ``asker`` for the asker of ``last`` (its late answer),
        ``others`` for the mount program (bus traffic)."""
        ...


@dataclass
class Splitter:
    """One program's input: bytes that do not yet make a whole command, and the garbage dropped."""

    buffer: bytearray = field(default_factory=bytearray)
    decoder: FrameDecoder = field(default_factory=FrameDecoder)
    garbage: int = 0


class AuxFraming:
    name = "AUX"
    quiet_after_timeout_s = 0.0  # frames carry addresses: a late answer is told by them

    def __init__(self) -> None:
        self._line = FrameDecoder()

    def split(self, stream: Splitter) -> list[bytes]:
        before = stream.decoder.dropped_bytes
        packets = stream.decoder.feed(bytes(stream.buffer))
        stream.buffer.clear()
        stream.garbage += stream.decoder.dropped_bytes - before
        commands = []
        for packet in packets:
            frame = packet.encode()
            if WIFI_COMMAND_MODE in frame:  # would put a WiFi module into its command mode
                stream.garbage += len(frame)
            else:
                commands.append(frame)
        return commands

    def exchange(self, command: bytes) -> AuxExchange:
        return AuxExchange(command, self._line)

    def idle(self, data: bytes, last: Exchange | None) -> Routed:
        routed = Routed()
        for packet in self._line.feed(data):
            frame = packet.encode()
            if last is not None and last.answers(frame):
                routed.asker += frame
            else:
                routed.others += frame
        return routed


class AuxExchange:
    def __init__(self, command: bytes, line: FrameDecoder) -> None:
        self.command = command
        self._request = FrameDecoder().feed(command)[0]
        self._line = line

    def route(self, data: bytes) -> Routed:
        routed = Routed()
        asker, others = bytearray(), bytearray()
        for packet in self._line.feed(data):
            if routed.done:
                others += packet.encode()
            elif packet == self._request or packet.reply_to(self._request):
                asker += packet.encode()
                routed.done = packet != self._request
            else:
                others += packet.encode()
        routed.asker, routed.others = bytes(asker), bytes(others)
        return routed

    def answers(self, data: bytes) -> bool:
        return any(packet.reply_to(self._request) for packet in FrameDecoder().feed(data))


class NexStarFraming:
    name = "NexStar"
    quiet_after_timeout_s = 0.3  # replies carry no addresses: a late one is only told by its order

    def split(self, stream: Splitter) -> list[bytes]:
        commands = []
        buffer = stream.buffer
        while buffer:
            length = NEXSTAR_LENGTHS.get(buffer[0])
            if length is None:
                stream.garbage += 1
                del buffer[0]
                continue
            if len(buffer) < length:
                break
            commands.append(bytes(buffer[:length]))
            del buffer[:length]
        return commands

    def exchange(self, command: bytes) -> NexStarExchange:
        return NexStarExchange(command)

    def idle(self, data: bytes, last: Exchange | None) -> Routed:
        """Nothing on a hand controller's port speaks unasked: it is the last asker's late reply."""
        return Routed(asker=data) if last is not None else Routed()


class NexStarExchange:
    def __init__(self, command: bytes) -> None:
        self.command = command
        self._data = command[7] if command[0] == ord("P") else NEXSTAR_REPLY_DATA.get(command[0], 0)
        self._reply = bytearray()

    def route(self, data: bytes) -> Routed:
        """The reply is the asker's up to its '#'; what follows belongs to nobody yet."""
        for index, byte in enumerate(data):
            self._reply.append(byte)
            if byte == END and len(self._reply) > self._data:
                return Routed(asker=data[: index + 1], others=data[index + 1 :], done=True)
        return Routed(asker=data)

    def answers(self, data: bytes) -> bool:
        return True
