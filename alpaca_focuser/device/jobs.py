"""What the focuser's worker can be busy with: a move, a jog or a calibration.

Each job owns its behaviour: how it starts, what one poll does, how it is stopped and what it does
when the line comes back after a drop-out. The state machine (machine.py) runs any job the same
way, through the ``Drive`` it is given, so a new kind of job needs no change there.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ..celestron import commands
from ..celestron.commands import Request
from ..celestron.routes import USB
from ..settings import FocuserSettings
from .clock import Clock
from .positions import PositionMap, plan_legs

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CORRECTIONS = 3
NEAR_ARRIVAL_S = 0.05  # from this close to the predicted arrival, slew-done is polled back to back
MAX_CRUISE_POLL_S = 0.5  # while cruising, Position is still refreshed at least this often (a shared bus)
LIVE_POLL_S = 0.1  # the same on the focuser's own USB line, where frames cost nobody: a live Position
UNCALIBRATED_JOG_RATE_MAX = 5  # an uncalibrated focuser's hard stops are unknown: never run into them fast
# Counts per second at each manual rate: only rate 9 is measured (about GOTO_FAST's 300/s); the
# slower ones are the protocol notes' estimates, rounded down, so a stop is never judged done early.
JOG_SPEEDS = {1: 1.0, 2: 2.0, 3: 4.0, 4: 8.0, 5: 12.0, 6: 20.0, 7: 30.0, 8: 100.0, 9: 300.0}
STANDING_COUNTS = 2.5  # a position unchanged for the time this many counts take means standing
STANDING_MAX_S = 2.5


class Drive(Protocol):
    """What a job may use: the link, the time, the settings and the latest position."""

    clock: Clock
    raw: int

    @property
    def settings(self) -> FocuserSettings: ...

    @property
    def positions(self) -> PositionMap: ...

    def send(self, request: Request[T]) -> T: ...

    def read_position(self) -> int: ...


@dataclass(frozen=True)
class Finished:
    """How a job ended; ``failed`` ends with ``message`` as the focuser's last error.

    A job that ends with the motor possibly still turning (``stop``), and every failed one, is
    ended by the machine's stopping protocol, as Halt is: the stop stays pending until the motor
    is seen standing, and is sent again when it does not take.
    """

    message: str = ""
    failed: bool = False
    stop: bool = False

    @property
    def needs_stop(self) -> bool:
        return self.stop or self.failed


@dataclass(eq=False)
class Progress:
    """Watches a reading for change, to tell a stalled motor from a working one."""

    value: object = None
    changed_at: float = 0.0

    def update(self, value: object, now: float) -> None:
        if value != self.value:
            self.value = value
            self.changed_at = now

    def restart(self, value: object, now: float) -> None:
        self.value = value
        self.changed_at = now

    def idle_for(self, now: float) -> float:
        return now - self.changed_at


class Job(ABC):
    kind: str  # what IsMoving is true for, in words: "moving", "jogging", "calibrating"
    target: int | None  # the Alpaca position a move ends at
    resumable = True  # carried on after a line drop-out (a jog is not: nobody may hold the button)

    @abstractmethod
    def begin(self, drive: Drive) -> None:
        """Send what starts the job."""

    @abstractmethod
    def advance(self, drive: Drive) -> Finished | None:
        """One poll: read the focuser, send what comes next; ``Finished`` once it is over."""

    @abstractmethod
    def interval(self, drive: Drive) -> float:
        """Seconds until the next poll."""

    def stop(self, drive: Drive) -> None:
        """Send what stops the motor for this job."""
        drive.send(commands.stop())

    def resume(self, drive: Drive) -> Finished | None:
        """The line is back after a drop-out and the focuser is the same one: carry on."""
        self.begin(drive)
        return None

    def standing_s(self) -> float:
        """How long the position must stay unchanged after a stop before the motor counts as
        standing: a slow motor moves less than a count between two quick polls."""
        return 0.0


@dataclass(eq=False)
class MoveJob(Job):
    """An absolute move, possibly in two legs (backlash overshoot, then the final approach).

    Polling follows the predicted arrival: while the motor cruises only Position is read, every
    0.1 s on the focuser's own line (clients show it live) and at most every 0.5 s on a mount's
    shared bus. Closing in on the arrival, slew-done alone is read back to back, and once it says
    done one Position read ends the leg: the motor's own word is the end of a GOTO, so the end is
    seen within one round trip of it. Two equal position readings prove a stop only where the
    motor gives no word (a jog, a halt, motion the server did not start).
    """

    target: int  # Alpaca position where the move must end
    legs: list[int] = field(default_factory=list)  # raw device targets in turn, planned at the start
    kind: str = "moving"
    leg: int = 0
    corrections: int = 0
    settle_until: float | None = None
    speed: float = 0.0  # counts per second, learned from the position samples
    sample: tuple[float, int] | None = None
    near: bool = True  # slew-done is polled: no speed known yet, close to arrival, or no progress
    closing: bool = False  # moving, with the predicted arrival near: slew-done alone is polled
    read_at: float = 0.0  # when Position was last read
    progress: Progress = field(default_factory=Progress)

    @property
    def raw_target(self) -> int:
        return self.legs[-1]

    def begin(self, drive: Drive) -> None:
        if not self.legs:
            self._plan(drive)
        now = drive.clock.monotonic()
        self.progress.restart(drive.raw, now)
        self.sample = (now, drive.raw)
        self.read_at = now
        self.near = True
        self.closing = False
        log.debug("Moving to %d (device counts %s, leg %d)", self.target, self.legs, self.leg + 1)
        if self.corrections:
            drive.send(commands.goto_slow(self.raw_target))
        else:
            drive.send(commands.goto_fast(self.legs[self.leg]))

    def _plan(self, drive: Drive) -> None:
        """The legs from where the motor is now and the limits the worker holds now."""
        positions, settings = drive.positions, drive.settings
        self.target = positions.clamp(self.target)
        legs = plan_legs(positions.to_alpaca(drive.raw), self.target, positions.max_step, settings.backlash_steps, settings.backlash_direction)
        self.legs = [positions.to_raw(leg) for leg in legs]

    def advance(self, drive: Drive) -> Finished | None:
        now = drive.clock.monotonic()
        if self.settle_until is not None:
            return Finished() if now >= self.settle_until else None
        # Slew-done before position: a position read after "done" is the final one.
        done = drive.send(commands.slew_done()) if self.near else False
        if not done and self.closing and now - self.read_at < self._cruise_s(drive):
            return None  # closing in: the next slew-done comes sooner without a Position read between
        raw = drive.read_position()
        self.read_at = now
        self._learn(now, raw)
        if not done:
            self.progress.update(raw, now)
            if self.progress.idle_for(now) > drive.settings.stall_s:
                return Finished(
                    f"The motor stalled at position {drive.positions.to_alpaca(raw)}: it did not move for "
                    f"{drive.settings.stall_s:g} s while a move to {self.target} was under way. The move was stopped; "
                    "check the focuser for mechanical binding.",
                    failed=True,
                )
            return None
        if self.leg < len(self.legs) - 1:
            self.leg += 1
            self.begin(drive)
            return None
        if raw == self.raw_target:
            if drive.settings.settle_ms > 0:
                self.settle_until = now + drive.settings.settle_ms / 1000
                return None
            return Finished()
        if self.corrections < MAX_CORRECTIONS:
            self.corrections += 1
            log.debug("Stopped %d counts from the target; correcting slowly (try %d)", raw - self.raw_target, self.corrections)
            self.begin(drive)
            return None
        return Finished(
            f"The focuser stopped at {drive.positions.to_alpaca(raw)}, {abs(raw - self.raw_target)} steps "
            f"from the target {self.target}, after {MAX_CORRECTIONS} slow corrections.",
            failed=True,
        )

    def _learn(self, now: float, raw: int) -> None:
        """Update the speed estimate and decide whether the next poll must read slew-done."""
        previous = self.sample
        self.sample = (now, raw)
        if previous is None or now <= previous[0]:
            return
        moved = abs(raw - previous[1])
        if moved == 0:
            self.near = True  # stopped, slowing or stalled: only slew-done can tell
            self.closing = False  # and Position is read with it, to see progress or a stall
            return
        measured = moved / (now - previous[0])
        self.speed = measured if self.speed == 0 else (self.speed + measured) / 2
        self.near = self.closing = self._eta(raw) <= NEAR_ARRIVAL_S

    def _eta(self, raw: int) -> float:
        remaining = abs(self.legs[self.leg] - raw)
        return remaining / self.speed if self.speed > 0 else 0.0

    def interval(self, drive: Drive) -> float:
        floor = drive.settings.poll_min_ms / 1000
        if self.settle_until is not None:
            return max(floor, self.settle_until - drive.clock.monotonic())
        if self.speed == 0:
            return max(floor, drive.settings.poll_moving_ms / 1000)
        if self.near:
            return floor
        # Half the predicted time left: a speed misjudged by a few percent cannot make the poll late.
        return max(floor, min(self._cruise_s(drive), self._eta(drive.raw) / 2))

    @staticmethod
    def _cruise_s(drive: Drive) -> float:
        """The longest a moving Position may go unread: a mount's bus is shared, so it is read sparingly there."""
        return LIVE_POLL_S if drive.settings.route == USB else MAX_CRUISE_POLL_S


@dataclass(eq=False)
class JogJob(Job):
    """A manual-rate run that stops by itself unless renewed (a dead-man guard)."""

    rate: int  # signed -9..9 in Alpaca terms: positive runs outward (Position grows)
    renewed_at: float
    kind: str = "jogging"
    target: int | None = None
    progress: Progress = field(default_factory=Progress)
    resumable = False

    def renew(self, now: float) -> None:
        self.renewed_at = now

    def begin(self, drive: Drive) -> None:
        """An uncalibrated focuser may be jogged (to bring it near the middle before calibrating)
        but only slowly, since its hard stops are unknown."""
        self.progress.restart(drive.raw, drive.clock.monotonic())
        raise_counts = (self.rate > 0) != drive.positions.reverse
        speed = abs(self.rate) if drive.positions.calibrated else min(abs(self.rate), UNCALIBRATED_JOG_RATE_MAX)
        drive.send(commands.move_positive(speed) if raise_counts else commands.move_negative(speed))

    def advance(self, drive: Drive) -> Finished | None:
        now = drive.clock.monotonic()
        position = drive.positions.to_alpaca(drive.read_position())
        expired = self.expired(now, drive.settings)
        if expired is not None:
            return Finished(expired, stop=True)
        if self.rate > 0 and position >= drive.positions.max_step or self.rate < 0 and position <= 0:
            return Finished(f"the jog reached the end of the range (position {position})", stop=True)
        self.progress.update(drive.raw, now)
        if self.progress.idle_for(now) > drive.settings.stall_s:  # a hard stop, or binding: it must not push on
            return Finished(
                f"The jog was stopped at position {position}: the focuser did not turn for {drive.settings.stall_s:g} s "
                "(it reached a hard stop, or something binds).",
                failed=True,
            )
        return None

    def standing_s(self) -> float:
        return min(STANDING_MAX_S, STANDING_COUNTS / JOG_SPEEDS[abs(self.rate)])

    def expired(self, now: float, settings: FocuserSettings) -> str | None:
        """The dead-man: why the jog must stop now, or None while its renewals keep coming."""
        if now - self.renewed_at > settings.jog_timeout_s:
            return f"the jog was not renewed within {settings.jog_timeout_s:g} s"
        return None

    def interval(self, drive: Drive) -> float:
        return max(drive.settings.poll_min_ms, drive.settings.poll_moving_ms) / 1000


@dataclass(eq=False)
class CalibrationJob(Job):
    """The focuser's own calibration run, watched for progress and a time limit."""

    started_at: float
    started: bool = False  # the start command reached the focuser
    state: int = 0
    kind: str = "calibrating"
    target: int | None = None
    progress: Progress = field(default_factory=Progress)

    def elapsed(self, now: float) -> float:
        return now - self.started_at

    def begin(self, drive: Drive) -> None:
        self.progress.restart(None, drive.clock.monotonic())
        if not self.started:
            drive.send(commands.calibration_start())
            self.started = True
            log.info("Calibration started: the focuser runs to both hard stops, which takes a few minutes")

    def resume(self, drive: Drive) -> Finished | None:
        self.progress.restart(None, drive.clock.monotonic())
        return None  # the focuser calibrates on its own; the next poll reads where it is

    def advance(self, drive: Drive) -> Finished | None:
        now = drive.clock.monotonic()
        report = drive.send(commands.calibration_status())
        raw = drive.read_position()
        self.state = report.state
        self.progress.update((raw, report.state), now)
        settings = drive.settings
        if report.running:
            reason = None
            if self.elapsed(now) > settings.calibration_timeout_s:
                reason = f"it did not finish within {settings.calibration_timeout_s:g} s"
            elif self.progress.idle_for(now) > settings.stall_s:
                reason = f"it made no progress for {settings.stall_s:g} s (stuck at state {report.state})"
            if reason is None:
                return None
            log.warning("Calibration aborted: %s", reason)
            return Finished(
                f"Calibration failed: {reason}, so it was aborted. Check that the focuser is fitted firmly, its "
                "screws tight, and that it turns freely over its whole travel; then calibrate again.",
                failed=True,
            )
        if report.done:
            return Finished("Calibration complete.")
        return Finished("Calibration ended without completing (aborted on the focuser); the focuser is not calibrated.", failed=True)

    def stop(self, drive: Drive) -> None:
        drive.send(commands.calibration_abort())
        drive.send(commands.stop())

    def interval(self, drive: Drive) -> float:
        return drive.settings.poll_calibration_ms / 1000
