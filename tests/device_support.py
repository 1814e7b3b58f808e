"""A fake clock and an in-memory motor for the device model's fast tests.

The motor is the project's simulator (FocusMotor and its AUX responder) running on the fake clock;
the real AuxLink speaks AUX frames to it over an in-memory port (``MemoryPort``) and takes fake
time for each exchange, so a move of several seconds is run through in milliseconds,
deterministically. ``Bench`` is one focuser on that motor
without a worker thread: tests drive it with ``run_until``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import serial

from alpaca_focuser.celestron.commands import Command
from alpaca_focuser.celestron.link import AuxLink
from alpaca_focuser.celestron.packet import FrameDecoder, Packet
from alpaca_focuser.celestron.routes import Route
from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.device.journal import MotionJournal
from alpaca_focuser.settings import FocuserSettings
from alpaca_focuser.simulator import AuxResponder, FocusMotor

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


class MemoryPort:
    """An in-memory serial port to a simulated motor, on the fake clock: the little of pyserial's
    Serial that the real AuxLink uses (write, read within ``timeout``, in_waiting). The link above
    it is the real one, so its rules (a motion command sent once, a read sent again, late replies
    dropped) are what the device tests exercise; the port only carries bytes and lets fake time pass."""

    def __init__(self, motor: FocusMotor, clock: FakeClock, sent: list[Packet], sent_at: list[float]) -> None:
        self._motor = motor
        self._clock = clock
        self._sent = sent
        self._sent_at = sent_at
        self._responder = AuxResponder(motor, clock=clock.monotonic)
        self._decoder = FrameDecoder()
        self._buffer = bytearray()
        self.timeout: float | None = 0.0
        self.is_open = True
        self._present()

    def _present(self) -> None:
        if self._motor.unplugged or not self.is_open:
            self.is_open = False
            raise serial.SerialException("the device went away")

    @property
    def in_waiting(self) -> int:
        self._present()
        self._buffer += self._responder.take()
        return len(self._buffer)

    def read(self, size: int = 1) -> bytes:
        self._present()
        self._buffer += self._responder.take()
        if not self._buffer:
            due = self._responder.next_due()
            wait = self.timeout or 0.0
            self._clock.sleep(wait if due is None else min(wait, due))
            self._buffer += self._responder.take()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def write(self, data: bytes) -> int:
        self._present()
        frames = self._decoder.feed(bytes(data))
        self._sent.extend(frames)
        self._sent_at.extend([self._clock.now] * len(frames))
        self._responder.feed(bytes(data))
        self._clock.sleep(EXCHANGE_S)
        return len(data)

    def flush(self) -> None:
        self._present()

    def close(self) -> None:
        self.is_open = False


@dataclasses.dataclass
class Bench:
    """One focuser on an in-memory motor, on a fake clock, with no worker thread."""

    focuser: CelestronFocuser
    motors: list[FocusMotor]  # every motor put behind the port, the one there now last
    clock: FakeClock
    sent: list[Packet]  # every frame the focuser sent, in order
    sent_at: list[float]  # the fake time each of them reached the motor
    settings: dict[str, object]  # what make_bench was given beyond the usual, to start the same focuser again
    journal: MotionJournal | None

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

    def port(url: str, baud: int, timeout: float, rtscts: bool = False) -> MemoryPort:
        if url == "memory://nowhere":
            raise serial.SerialException("no such device")
        return MemoryPort(motors[-1], clock, sent, sent_at)

    def opener(route: Route) -> AuxLink:
        link = AuxLink(route.port, timeout=route.reply_timeout_s, opener=port, clock=clock.monotonic)  # type: ignore[arg-type]
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
    bench = Bench(focuser, motors, clock, sent, sent_at, settings, journal)
    if connect:
        focuser.connect()
    return bench
