"""The hub's turns, on a line that answers only when the test lets it: what reaches the line, in
which order, and when. When both sides wait, they take turns, so a focuser command never waits
behind more than one mount exchange however many the mount program queued; a command goes out
only after the previous one's answer is complete; an exchange whose answer never comes holds the
line no longer than the turn limit."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest
from conftest import wait_for

from alpaca_focuser.celestron.packet import FrameDecoder, Packet
from alpaca_focuser.celestron.sharing.framing import AuxFraming
from alpaca_focuser.celestron.sharing.hub import FOCUSER, MOUNT, PortHub
from alpaca_focuser.celestron.sharing.spec import ShareSpec


class HeldLine:
    """A port whose device answers a frame only when ``answer`` is called; ``sent`` lists what came."""

    def __init__(self) -> None:
        self.sent: list[Packet] = []
        self.timeout: float | None = 0.05
        self._incoming: queue.Queue[bytes] = queue.Queue()
        self._frames = FrameDecoder()

    def write(self, data: bytes) -> int:
        self.sent += self._frames.feed(data)
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        return 0

    def read(self, size: int = 1) -> bytes:
        try:
            return self._incoming.get(timeout=self.timeout)
        except queue.Empty:
            return b""

    def answer(self, request: Packet) -> None:
        self._incoming.put(Packet(request.destination, request.source, request.command).encode())

    def close(self) -> None:
        pass


class Collected:
    def __init__(self) -> None:
        self.data = b""

    def send(self, data: bytes) -> None:
        self.data += data


@pytest.fixture
def line() -> Iterator[tuple[PortHub, HeldLine]]:
    held = HeldLine()
    hub = PortHub("held", baud=19200, framing=AuxFraming(), turn_limit_s=0.5, spec=ShareSpec("tcp", port=1), opener=lambda *_, **__: held)
    hub.start()
    assert hub.wait_open(5)
    try:
        yield hub, held
    finally:
        hub.stop()


def test_a_focuser_command_waits_for_one_mount_exchange_however_many_are_queued(line: tuple[PortHub, HeldLine]) -> None:
    hub, held = line
    hub.attach(MOUNT, Collected(), "a test program")
    focuser = Collected()
    hub.attach(FOCUSER, focuser, "the focuser")
    mount_frames = [Packet(0x20, 0x10, command) for command in (0x01, 0x13, 0xFE)]
    hub.submit(MOUNT, b"".join(frame.encode() for frame in mount_frames))
    wait_for(lambda: len(held.sent) == 1, 5, "the first mount command on the line")
    focuser_frame = Packet(0x20, 0x12, 0x01)
    sent = threading.Thread(target=lambda: hub.submit(FOCUSER, focuser_frame.encode()))
    sent.start()
    sent.join()
    for expected in (mount_frames[0], focuser_frame, mount_frames[1], mount_frames[2]):
        wait_for(lambda expected=expected: held.sent[-1] == expected, 5, f"{expected} on the line")
        assert held.sent.count(expected) == 1  # nothing goes out before the previous answer is complete
        held.answer(expected)
    assert held.sent == [mount_frames[0], focuser_frame, mount_frames[1], mount_frames[2]]
    wait_for(lambda: focuser.data == Packet(0x12, 0x20, 0x01).encode(), 5, "the focuser's answer, and only it, to the focuser")


def test_an_exchange_that_gets_no_answer_holds_the_line_only_for_the_turn_limit(line: tuple[PortHub, HeldLine]) -> None:
    hub, held = line
    hub.attach(MOUNT, Collected(), "a test program")
    hub.submit(MOUNT, Packet(0x20, 0x10, 0x01).encode())
    wait_for(lambda: len(held.sent) == 1, 5, "the mount command on the line")
    pending = hub.submit(FOCUSER, Packet(0x20, 0x12, 0x01).encode())[0]
    assert pending.sent.wait(5) and not pending.failed  # the unanswered mount exchange gave the line up
    assert held.sent[-1] == Packet(0x20, 0x12, 0x01)
    assert hub.status()["mount"]["timed_out"] == 1


def test_a_frame_that_would_put_a_wifi_module_into_command_mode_never_reaches_the_line(line: tuple[PortHub, HeldLine]) -> None:
    hub, held = line
    hub.attach(MOUNT, Collected(), "a test program")
    escape = Packet(0x20, 0x10, 0x02, b"$$$")
    assert hub.submit(MOUNT, escape.encode()) == []
    assert hub.status()["mount"]["garbage_bytes"] == len(escape.encode())
    hub.submit(MOUNT, Packet(0x20, 0x10, 0x01).encode())
    wait_for(lambda: held.sent == [Packet(0x20, 0x10, 0x01)], 5, "the next command, and only it, on the line")
