"""The worker's state machine: the link to the focuser and what the motor is doing.

The states and their transitions are the table in states.py. One thread drives the machine
(focuser.py); it is given its link opener and clock, so tests run it on a fake clock against an
in-memory motor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from ..celestron import commands
from ..celestron.commands import CalibrationReport, Limits, Request
from ..celestron.faults import AuxError
from ..celestron.routes import Link, Route
from ..settings import FocuserSettings
from .clock import Clock
from .jobs import CalibrationJob, Finished, Job
from .line import Line, unreachable
from .positions import PositionMap
from .states import TRANSITIONS, Identity, Orders, Phase

log = logging.getLogger(__name__)

T = TypeVar("T")

RESEND_STOP_EVERY = 10  # confirming polls after which a stop that did not take is sent again


class Machine:
    """Worker-owned: every field here is read and written by the worker thread only."""

    def __init__(self, settings: Callable[[], FocuserSettings], opener: Callable[[Route], Link], clock: Clock) -> None:
        self._settings = settings
        self.line = Line(opener)
        self.clock = clock
        self.phase = Phase.OFF
        self.wanted = False
        self.job: Job | None = None
        self.queued: Job | None = None
        self.stop_reason: str | None = None
        self.stop_sent = False
        self.stop_polls = 0
        self.motion_unknown = False  # the line dropped while the motor may have been moving
        self.external_motion = False  # the position changes though no job runs (a hand controller)
        self.identity: Identity | None = None
        self.limits = Limits(0, 0)
        self.calibrated = False
        self.raw = 0
        self.firmware = ""
        self.measured_at = 0.0
        self.last_error = ""
        self.next_poll = 0.0
        self.calibration_note = ""
        self.calibration_took = 0.0
        self.reconnects = 0

    @property
    def link(self) -> Link | None:
        return self.line.link

    @property
    def failed_attempts(self) -> int:
        return self.line.failed_attempts

    # -------------------------------------------------------------- what jobs use (Drive)

    @property
    def settings(self) -> FocuserSettings:
        return self._settings()

    @property
    def positions(self) -> PositionMap:
        return PositionMap(self.limits.low, self.limits.high, self.settings.reverse, self.calibrated)

    def send(self, request: Request[T]) -> T:
        if self.link is None:
            raise AuxError(f"{self.settings.port}: not connected, cannot send {request.name}")
        return self.link.request(request)

    def read_position(self) -> int:
        self.raw = self.send(commands.get_position())
        self.measured_at = self.clock.time()
        return self.raw

    # -------------------------------------------------------------------- driving

    def accept(self, orders: Orders) -> None:
        """Take what callers asked for; a stop always wins over a job handed over before it."""
        self.wanted = orders.wanted and not orders.closing
        if orders.stop is not None:
            self.stop_reason = orders.stop
            self.queued = None
        if orders.job is not None:
            self.queued = orders.job
        if not self.wanted and self.stop_reason is None and self._motor_may_run():
            self.stop_reason = "the server is shutting down" if orders.closing else "the last client disconnected"

    def step(self) -> None:
        """One round: whatever the current state calls for, at most a few exchanges on the line."""
        try:
            HANDLERS[self.phase](self)
        except AuxError as exc:
            self._line_failed(exc)
        except Exception as exc:  # a bug must not leave the motor running nor kill the worker
            log.exception("Unexpected fault in the focuser worker for %s", self.settings.port)
            self.last_error = f"Unexpected fault in the focuser worker: {exc!r}. The motor is stopped to be safe."
            if self.phase in (Phase.CONNECTING, Phase.LINK_LOST):
                self.line.close()
                self._open_failed(AuxError(self.last_error))  # a Connect waiting on it gets the reason
            if self._motor_may_run():
                self.stop_reason = self.stop_reason or "an unexpected fault"
                if self.link is not None and self.phase in (Phase.IDLE, Phase.BUSY):
                    self._go(Phase.STOPPING)
            self.next_poll = self.clock.monotonic() + self.settings.poll_idle_ms / 1000

    def next_wake(self) -> float:
        now = self.clock.monotonic()
        if self.phase is Phase.OFF:
            return now if self.wanted else now + 3600
        if self.phase in (Phase.CONNECTING, Phase.LINK_LOST):
            return self.line.retry_at
        if self.phase is Phase.STOPPING:
            return self.next_poll if self.stop_sent else now
        if self.stop_reason is not None or self.queued is not None or not self.wanted:
            return now
        return self.next_poll

    @property
    def connected(self) -> bool:
        """What Alpaca Connected reports: true through a link drop-out shorter than the grace period."""
        if not self.wanted and not self._motor_may_run():
            return False
        if self.phase in (Phase.IDLE, Phase.BUSY, Phase.STOPPING):
            return True
        return self.phase is Phase.LINK_LOST and not self.line.grace_over

    @property
    def moving(self) -> bool:
        """IsMoving: false only when the motor was seen standing and Position read after it stopped."""
        return (
            self.job is not None
            or self.queued is not None
            or self.stop_reason is not None
            or self.motion_unknown
            or self.external_motion
        )

    def _motor_may_run(self) -> bool:
        return self.job is not None or self.motion_unknown or self.external_motion or self.phase is Phase.STOPPING

    def _go(self, phase: Phase) -> None:
        if phase not in TRANSITIONS[self.phase]:
            raise RuntimeError(f"no transition from {self.phase} to {phase}")
        log.debug("%s: %s -> %s", self.settings.port, self.phase, phase)
        self.phase = phase

    # ------------------------------------------------------------------ the states

    def _off(self) -> None:
        if self.wanted:
            self.line.start_over(self.clock.monotonic())
            self.identity = None  # a new session may find another focuser on the port
            self._go(Phase.CONNECTING)
            self._connecting()

    def _connecting(self) -> None:
        now = self.clock.monotonic()
        if not self.wanted and not self._motor_may_run() and self.stop_reason is None:
            self._release()
            return
        self._check_grace(now)
        if now < self.line.retry_at:
            return
        try:
            self._open()
        except AuxError as exc:
            self._open_failed(exc)
            return
        self._opened()

    def _orders_first(self) -> bool:
        """A stop, then a new job, come before polling; True when the step is over (an order was
        acted on, or the next poll is not due yet)."""
        if self.stop_reason is not None:
            self._go(Phase.STOPPING)
            self._stopping()
        elif self.phase is Phase.IDLE and not self.wanted:
            self._release()
        elif self.queued is not None:
            self._start_queued()
        else:
            return self.clock.monotonic() < self.next_poll
        return True

    def _idle(self) -> None:
        if self._orders_first():
            return
        previous = self.raw
        self.read_position()
        # Motion the server did not start (a hand controller): reported until the position settles.
        self.external_motion = self.raw != previous
        interval = self.settings.poll_moving_ms if self.external_motion else self.settings.poll_idle_ms
        self.next_poll = self.clock.monotonic() + interval / 1000

    def _busy(self) -> None:
        job = self.job
        assert job is not None
        if self._orders_first():
            return
        finished = job.advance(self)
        if finished is not None:
            self._end_job(finished)
            self._go(Phase.IDLE)
        self._schedule(job)

    def _stopping(self) -> None:
        if not self.stop_sent:
            log.info("Stopping the focuser: %s", self.stop_reason)
            self._send_stop()
            self.stop_sent = True
            self.stop_polls = 0
            self.read_position()
            self.next_poll = self.clock.monotonic() + self.settings.poll_moving_ms / 1000
            return
        if self.clock.monotonic() < self.next_poll:
            return
        previous = self.raw
        self.read_position()
        self.stop_polls += 1
        if self.raw != previous:
            if self.stop_polls % RESEND_STOP_EVERY == 0:
                self._send_stop()
            self.next_poll = self.clock.monotonic() + self.settings.poll_moving_ms / 1000
            return
        self._stopped()

    def _send_stop(self) -> None:
        if self.job is not None:
            self.job.stop(self)
        else:
            self.send(commands.stop())

    def _stopped(self) -> None:
        """The motor acknowledged the stop and stands still: the stop is no longer pending."""
        reason = self.stop_reason
        log.info("Stopped at position %d (%s)", self.positions.to_alpaca(self.raw), reason)
        self.stop_reason = None
        self.stop_sent = False
        self.motion_unknown = False
        self.external_motion = False
        job, self.job = self.job, None
        if isinstance(job, CalibrationJob):
            note = f"Calibration aborted: {reason}." if reason else "Calibration aborted."
            self._end_calibration(job, Finished(note, failed=True))
        self._go(Phase.IDLE)
        self.next_poll = self.clock.monotonic() + self.settings.poll_idle_ms / 1000
        if not self.wanted:
            self._release()

    # ---------------------------------------------------------------------- jobs

    def _start_queued(self) -> None:
        job, self.queued = self.queued, None
        assert job is not None
        if self.job is not None:
            log.debug("A new %s job replaces the running %s job", job.kind, self.job.kind)
        self.job = job
        self.external_motion = False
        if self.phase is not Phase.BUSY:
            self._go(Phase.BUSY)
        job.begin(self)
        self._schedule(job)

    def _schedule(self, job: Job) -> None:
        interval = job.interval(self) if self.job is job else self.settings.poll_idle_ms / 1000
        self.next_poll = self.clock.monotonic() + interval

    def _end_job(self, finished: Finished) -> None:
        job, self.job = self.job, None
        if finished.failed:
            log.warning("%s", finished.message)
            self.last_error = finished.message
        if isinstance(job, CalibrationJob):
            self._end_calibration(job, finished)

    def _end_calibration(self, job: CalibrationJob, finished: Finished) -> None:
        """However a calibration ends, what the focuser now reports is read before any move."""
        self.calibration_took = job.elapsed(self.clock.monotonic())
        self._learn_calibration(self.send(commands.get_limits()), self.send(commands.calibration_status()))
        self.calibration_note = finished.message if finished.failed else ""
        if self.identity is not None:
            self.identity = self._identity()
        if self.calibrated:
            log.info("Calibration complete: limits %d..%d, MaxStep %d", self.limits.low, self.limits.high, self.positions.max_step)

    def _learn_calibration(self, limits: Limits, report: CalibrationReport) -> None:
        self.limits = limits
        self.calibrated = report.done and limits.valid

    # ------------------------------------------------------------------ the line

    def _open(self) -> None:
        """Open the port; a pending stop goes out first, then the focuser is read."""
        self.line.open(self.settings)
        try:
            if self.stop_reason is not None:
                self._send_stop()
                self.stop_sent = True
                self.stop_polls = 0
            version = self.send(commands.get_version())
            self.read_position()
            limits = self.send(commands.get_limits())
            report = self.send(commands.calibration_status())
        except AuxError as exc:
            self.line.keep_or_close(exc)
            raise
        self.firmware = str(version)
        self._learn_calibration(limits, report)
        if report.running and not isinstance(self.job, CalibrationJob) and self.stop_reason is None:
            self.job = CalibrationJob(started_at=self.clock.monotonic(), started=True, state=report.state)

    def _opened(self) -> None:
        identity = self._identity()
        was_lost = self.phase is Phase.LINK_LOST
        if was_lost:
            self.reconnects += 1
            log.info("Reconnected to the focuser on %s", self.link.url if self.link else self.settings.port)
            if not identity.same_as(self.identity, calibrating=isinstance(self.job, CalibrationJob)):
                self._not_the_same(identity)
        else:
            log.info("Connected to the focuser on %s (firmware %s)", self.link.url if self.link else self.settings.port, self.firmware)
        self.identity = identity
        self.line.found()
        self.last_error = "" if not was_lost else self.last_error
        self.motion_unknown = False
        self.next_poll = self.clock.monotonic()
        if self.stop_reason is not None:
            self._go(Phase.STOPPING)
        elif self.job is not None:
            self._go(Phase.BUSY)
            finished = self.job.resume(self)
            if finished is not None:
                self._end_job(finished)
                self._go(Phase.IDLE)
        else:
            self._go(Phase.IDLE)

    def _not_the_same(self, found: Identity) -> None:
        what = found.change_from(self.identity)
        interrupted = f" The interrupted {self.job.kind} job was ended, not resumed." if self.job else ""
        self.last_error = (
            f"After reconnecting, {self.settings.port} answers as a different focuser or one whose calibration changed "
            f"({what}).{interrupted} Check which focuser is plugged in before moving it."
        )
        log.warning("%s", self.last_error)
        if self.job is not None:
            self.stop_reason = self.stop_reason or "a different focuser answered after reconnecting"

    def _identity(self) -> Identity:
        return Identity(self.firmware, self.limits.low, self.limits.high, self.calibrated)

    def _open_failed(self, exc: AuxError) -> None:
        if self.line.attempt_failed(self.clock.monotonic()) or self.last_error != str(exc):
            log.warning("%s Retrying in the background.", self.explain(exc))
        self.last_error = str(exc)

    def _line_failed(self, exc: AuxError) -> None:
        self.line.keep_or_close(exc)
        if self.phase in (Phase.CONNECTING, Phase.LINK_LOST):
            self._open_failed(exc)
            return
        now = self.clock.monotonic()
        self.last_error = str(exc)
        self.motion_unknown = self.job is not None or self.phase is Phase.STOPPING or self.external_motion
        self.stop_sent = False
        self.line.lost(now)
        self._go(Phase.LINK_LOST)
        log.warning(
            "Lost contact with the focuser: %s. Reconnecting in the background; clients see the last known state "
            "for %g s and an unfinished move completes after reconnecting.",
            exc,
            self.settings.grace_s,
        )

    def _check_grace(self, now: float) -> None:
        if self.phase is not Phase.LINK_LOST or not self.line.grace_ends(now, self.settings.grace_s):
            return
        if self.job is not None or self.motion_unknown:
            self.stop_reason = self.stop_reason or "the line was down longer than the grace period"
            log.warning(
                "The focuser stayed unreachable for more than %g s: Connected now reads false, and a stop will be "
                "sent as soon as the line comes back",
                self.settings.grace_s,
            )

    def _release(self) -> None:
        if self.link is not None:
            log.info("Disconnected from the focuser on %s; the port is free for other programs", self.link.url)
        self.line.close()
        self.line.found()
        self.job = None
        self.queued = None
        self._go(Phase.OFF)

    def explain_last(self) -> str:
        return self.explain(self.last_error)

    def close(self) -> None:
        self.line.close()

    def explain(self, exc: AuxError | str) -> str:
        return unreachable(self.settings.port, exc)


HANDLERS: dict[Phase, Callable[[Machine], None]] = {
    Phase.OFF: Machine._off,
    Phase.CONNECTING: Machine._connecting,
    Phase.LINK_LOST: Machine._connecting,
    Phase.IDLE: Machine._idle,
    Phase.BUSY: Machine._busy,
    Phase.STOPPING: Machine._stopping,
}
