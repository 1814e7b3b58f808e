"""A fake clock and an in-memory motor for the device model's fast tests.

The motor is the project's simulator (FocusMotor and its AUX responder) running on the fake clock;
the link speaks real AUX frames to it and takes fake time for each exchange, so a move of several
seconds is run through in milliseconds, deterministically. ``Bench`` is one focuser on that motor
without a worker thread: tests drive it with ``run_until``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from alpaca_focuser.celestron.commands import Command, Request
from alpaca_focuser.celestron.faults import LinkClosed, NoReply
from alpaca_focuser.celestron.link import LinkStats
from alpaca_focuser.celestron.packet import FrameDecoder, Packet
from alpaca_focuser.celestron.routes import Route
from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.device.journal import MotionJournal
from alpaca_focuser.settings import FocuserSettings
from alpaca_focuser.simulator import AuxResponder, FocusMotor

T = TypeVar("T")

EXCHANGE_S = 0.002  # fake time one request and its reply take on the line
FAST = {
    "reply_timeout_s": 0.2,
    "poll_moving_ms": 20,
    "poll_idle_ms": 500,
    "poll_calibration_ms": 200,
    "grace_s": 5.0,
    "stall_s": 2.0,
    "calibration_timeout_s": 60.0,
    "jog_timeout_s": 1.0,
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class MemoryLink:
    """A link to an in-memory motor: real frames, fake time, the motor's faults honoured."""

    def __init__(self, motor: FocusMotor, clock: FakeClock, url: str, timeout: float, sent: list[Packet], sent_at: list[float]) -> None:
        self.url = url
        self.stats = LinkStats()
        self._motor = motor
        self._clock = clock
        self._timeout = timeout
        self._sent = sent
        self._sent_at = sent_at
        self._responder = AuxResponder(motor, clock=clock.monotonic)
        self._decoder = FrameDecoder()
        self._open = False

    def open(self) -> None:
        if self._motor.unplugged:
            raise LinkClosed(f"{self.url}: no such device")
        self._open = True

    def close(self) -> None:
        self._open = False

    def request(self, request: Request[T]) -> T:
        packet = Packet(0x20, 0x12, request.command, request.data)
        self._responder.take()  # what came late for an earlier request is dropped, as AuxLink does
        for attempt in range(3):
            if attempt == 0 or request.repeatable:
                self._write(packet)
            self._clock.sleep(EXCHANGE_S)
            reply = self._reply_to(packet)
            if reply is None:
                self._clock.sleep(self._timeout - EXCHANGE_S)
                reply = self._reply_to(packet)
            if reply is not None:
                return request.parse(reply.data)
        raise NoReply(f"{self.url}: no reply to {request.name}")

    def _write(self, packet: Packet) -> None:
        if not self._open or self._motor.unplugged:
            self._open = False
            raise LinkClosed(f"{self.url}: the device went away")
        self._sent.append(packet)
        self._sent_at.append(self._clock.now)
        self.stats.frames_sent += 1
        self._responder.feed(packet.encode())

    def _reply_to(self, packet: Packet) -> Packet | None:
        for frame in self._decoder.feed(self._responder.take()):
            if frame.reply_to(packet):
                return frame
        return None


@dataclasses.dataclass
class Bench:
    """One focuser on an in-memory motor, on a fake clock, with no worker thread."""

    focuser: CelestronFocuser
    motors: list[FocusMotor]  # every motor put behind the port, the one there now last
    clock: FakeClock
    sent: list[Packet]  # every frame the focuser sent, in order
    sent_at: list[float]  # the fake time each of them reached the motor

    @property
    def motor(self) -> FocusMotor:
        """The motor the focuser started with."""
        return self.motors[0]

    @property
    def current(self) -> FocusMotor:
        return self.motors[-1]

    def plug(self, motor: FocusMotor) -> None:
        """Put another motor behind the port (after an unplug): the next open reaches it."""
        self.motors.append(motor)

    def run_until(self, condition: Callable[[], object], seconds: float = 60.0, what: str = "the condition") -> None:
        if not self.focuser.run_until(lambda: bool(condition()), seconds):
            raise AssertionError(f"{what} did not happen within {seconds:g} s of fake time; state: {self.focuser.state}")

    def until_running(self) -> None:
        self.run_until(lambda: self.motor.moving, what="the motor to run")

    def settle(self, seconds: float = 120.0) -> None:
        self.run_until(lambda: not self.focuser.state.moving, seconds, "the end of the motion")

    def sent_commands(self, since: int = 0) -> list[Command]:
        return [Command(packet.command) for packet in self.sent[since:]]

    def commands_from(self, moment: float) -> list[Command]:
        """What the focuser sent from ``moment`` on (fake time), in order."""
        return [Command(packet.command) for packet, at in zip(self.sent, self.sent_at) if at >= moment]


def make_bench(
    save: Callable[[FocuserSettings], None] | None = None,
    connect: bool = True,
    *,
    journal: MotionJournal | None = None,
    motor: FocusMotor | None = None,
    clock: FakeClock | None = None,
    **settings: object,
) -> Bench:
    """A bench on a new motor, or on ``motor`` as an earlier run left it (then pass its ``clock``).
    A port named memory://nowhere has nothing behind it."""
    clock = clock or FakeClock()
    motors = [motor or FocusMotor(clock=clock.monotonic)]
    sent: list[Packet] = []
    sent_at: list[float] = []

    def opener(route: Route) -> MemoryLink:
        if route.port == "memory://nowhere":
            raise LinkClosed(f"{route.port}: no such device")
        link = MemoryLink(motors[-1], clock, route.port, route.reply_timeout_s, sent, sent_at)
        link.open()
        return link

    focuser = CelestronFocuser(
        FocuserSettings(port="memory://focuser", **{**FAST, **settings}),  # type: ignore[arg-type]
        save,
        opener=opener,
        clock=clock,
        threaded=False,
        journal=journal,
    )
    bench = Bench(focuser, motors, clock, sent, sent_at)
    if connect:
        focuser.connect()
    return bench
