"""The worker's state machine: what each state does with the orders callers gave and the motor.

The states and their transitions are the table in states.py; the line half (opening, losing and
finding the port) is connection.py. One thread drives the machine (focuser.py); it is given its
link opener and clock, so tests run it on a fake clock against an in-memory motor.

Every stop, whoever asks for it (Halt, the last Disconnect, shutdown, the jog's dead-man, a stall,
a calibration timeout, a failed job, an unexpected fault), goes through one protocol: the stop is
pending until the motor is seen standing, sent again while it does not take, and sent first when a
lost line comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..celestron import commands
from ..celestron.faults import AuxError
from ..celestron.routes import Link, Route
from ..settings import FocuserSettings
from .clock import Clock
from .connection import LineSide
from .history import MoveHistory
from .jobs import CalibrationJob, Finished, Job, JogJob, MoveJob
from .journal import MotionJournal
from .orders import CalibrateOrder, JogOrder, MoveOrder, Order, Orders
from .states import Identity, Phase

log = logging.getLogger(__name__)

RESEND_STOP_AFTER_S = 0.2  # a motor still turning this long after a stop was sent gets it again


class Machine(LineSide):
    """Worker-owned: every field is read and written by the worker thread only."""

    def __init__(
        self,
        settings: Callable[[], FocuserSettings],
        opener: Callable[[Route], Link],
        clock: Clock,
        journal: MotionJournal | None = None,
        history: MoveHistory | None = None,
    ) -> None:
        super().__init__(settings, opener, clock, journal or MotionJournal(None))
        self.history = history or MoveHistory()

    def accept(self, orders: Orders) -> None:
        """Take what callers asked for; a stop always wins over an order given before it."""
        self.wanted = orders.wanted and not orders.closing
        if orders.stop is not None:
            self.ask_stop(orders.stop)
            self.queued = None
        if orders.order is not None:
            self.queued = orders.order
        if orders.relink:
            self.relink = True
        for probe in orders.probes:
            self.probe(probe)
        if not self.wanted and self.motor_may_run():
            self.ask_stop("the server is shutting down" if orders.closing else "the last client left")

    def step(self) -> None:
        """One round: whatever the current state calls for, at most a few exchanges on the line."""
        try:
            HANDLERS[self.phase](self)
        except AuxError as exc:
            self.line_failed(exc)
        except Exception as exc:  # a bug must not leave the motor running nor kill the worker
            log.exception("Unexpected fault in the focuser worker for %s", self.settings.port)
            self.last_error = f"Unexpected fault in the focuser worker: {exc!r}. The motor is stopped to be safe."
            if self.phase in (Phase.CONNECTING, Phase.LINK_LOST):
                self.line.close()
                self.open_failed(AuxError(self.last_error))  # a Connect waiting on it gets the reason
            if self.motor_may_run() or self.queued is not None:
                self.queued = None
                self.ask_stop("an unexpected fault", Finished(self.last_error, failed=True))
                if self.link is not None and self.phase in (Phase.IDLE, Phase.BUSY):
                    self.go(Phase.STOPPING)
                    self.stop_sent = False
            self.next_poll = self.clock.monotonic() + self.settings.poll_idle_ms / 1000

    def next_wake(self) -> float:
        now = self.clock.monotonic()
        if self.phase is Phase.OFF:
            return now if self.wanted else now + 3600
        if self.phase in (Phase.CONNECTING, Phase.LINK_LOST):
            return self.line.retry_at
        if self.phase is Phase.STOPPING:
            return self.next_poll if self.stop_sent else now
        if self.stop_reason is not None or self.queued is not None or self.relink or not self.wanted:
            return now
        return self.next_poll

    @property
    def connected(self) -> bool:
        """What Alpaca Connected reports: true through a link drop-out shorter than the grace period."""
        if not self.wanted and not self.motor_may_run():
            return False
        if self.phase in (Phase.IDLE, Phase.BUSY, Phase.STOPPING):
            return True
        return self.phase is Phase.LINK_LOST and not self.line.grace_over

    @property
    def moving(self) -> bool:
        """IsMoving: false only when the motor was seen standing and Position read after it stopped,
        and no order waits to start."""
        return self.motor_may_run() or self.queued is not None

    # ------------------------------------------------------------------ the states

    def _off(self) -> None:
        if self.wanted:
            self.begin_session()
            self._connecting()

    def _connecting(self) -> None:
        now = self.clock.monotonic()
        if not self.wanted and not self.motor_may_run():
            self.release()
            return
        if self.relink:
            self.reopen()
        self.check_grace(now)
        if now < self.line.retry_at:
            return
        try:
            self.open_line()
        except AuxError as exc:
            self.open_failed(exc)
            return
        self.opened()
        if self.stop_reason is not None:
            self.go(Phase.STOPPING)
        elif self.job is not None:
            self.go(Phase.BUSY)
            self._settle_job(self.job.resume(self))
        else:
            self.go(Phase.IDLE)

    def _orders_first(self) -> bool:
        """A stop, then a port change, then a new order, come before polling; True when the step
        is over (an order was acted on, or the next poll is not due yet)."""
        if self.stop_reason is not None:
            self.go(Phase.STOPPING)
            self._stopping()
        elif self.phase is Phase.IDLE and not self.wanted:
            self.release()
        elif self.relink and self.job is None:
            self.reopen()
        elif self.relink:
            self.ask_stop("the port settings changed")
            self._orders_first()
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
        self.history.external(self.external_motion, self._alpaca(previous), self._alpaca(self.raw), now=self.clock.time(), mono=self.clock.monotonic())
        interval = self.settings.poll_moving_ms if self.external_motion else self.settings.poll_idle_ms
        self.next_poll = self.clock.monotonic() + interval / 1000

    def _busy(self) -> None:
        job = self.job
        assert job is not None
        if self._orders_first():
            return
        self._settle_job(job.advance(self))
        if self.phase is Phase.BUSY:
            self._schedule(job)

    def _settle_job(self, finished: Finished | None) -> None:
        """A job that ended normally is over; one that may leave the motor turning is stopped."""
        if finished is None:
            return
        if finished.needs_stop:
            self.ask_stop(finished.message, finished)
            self.go(Phase.STOPPING)
            self._stopping()
            return
        self._end_job(finished)
        self.go(Phase.IDLE)

    def _stopping(self) -> None:
        """Seen standing: the position unchanged for the job's standing time (at least two polls)."""
        standing_s = self.job.standing_s() if self.job is not None else 0.0
        interval = max(self.settings.poll_moving_ms / 1000, standing_s / 5)
        if not self.stop_sent:
            log.info("Stopping the focuser: %s", self.stop_reason)
            self.send_stop()
            self.stop_sent = True
            self.read_position()
            self.stop_sent_at = self.still_since = self.clock.monotonic()
            self.next_poll = self.still_since + interval
            return
        now = self.clock.monotonic()
        if now < self.next_poll:
            return
        previous = self.raw
        self.read_position()
        if self.raw != previous:
            self.still_since = now
            if now - self.stop_sent_at >= RESEND_STOP_AFTER_S:
                log.warning("The motor still turns after the stop; sending the stop again")
                self.send_stop()
                self.stop_sent_at = now
        elif now - self.still_since >= standing_s:
            self._stopped()
            return
        self.next_poll = now + interval

    def _stopped(self) -> None:
        """The motor acknowledged the stop and stands still: the stop is no longer pending."""
        reason, ending = self.stop_reason, self.ending
        log.info("Stopped at position %d (%s)", self.positions.to_alpaca(self.raw), reason)
        self.stop_reason = None
        self.ending = None
        self.stop_sent = False
        self.external_motion = False
        if self.job is not None:
            asked = reason if ending is None else None  # the stop came from outside the job: Halt, the last client leaving...
            if ending is None and isinstance(self.job, CalibrationJob):
                ending = Finished(f"Calibration aborted: {reason}." if reason else "Calibration aborted.", failed=True)
            self._end_job(ending or Finished(), asked)
        self.journal.standing()
        self.go(Phase.IDLE)
        self.next_poll = self.clock.monotonic() + self.settings.poll_idle_ms / 1000
        if not self.wanted:
            self.release()

    # ---------------------------------------------------------------------- jobs

    def _start_queued(self) -> None:
        order, self.queued = self.queued, None
        assert order is not None
        if order.identity != self.identity:
            self.last_error = (
                f"A {order.kind} order was dropped: it was checked against a focuser that is no longer on the line "
                f"({order.identity.change_from(self.identity) if order.identity else 'unknown'}). Check the position and send it again."
            )
            log.warning("%s", self.last_error)
            return
        running = self.job
        if isinstance(order, JogOrder) and isinstance(running, JogJob) and running.rate == order.rate:
            running.renew(order.at)
            return
        if isinstance(order, JogOrder) and self._at_range_end(order.rate):
            log.info("A jog towards the end of the range was ignored: the focuser is already there")
            return
        job = self._job_for(order)
        if running is not None:
            log.debug("A new %s job replaces the running %s job", job.kind, running.kind)
        self.job = job
        self.external_motion = False
        if self.phase is not Phase.BUSY:
            self.go(Phase.BUSY)
        self.journal.running(job.kind)
        self.history.began(order.reason, order.client, self._alpaca(self.raw), order.target, now=self.clock.time(), mono=self.clock.monotonic(), reconnects=self.reconnects)
        job.begin(self)
        self._schedule(job)

    def _alpaca(self, raw: int) -> int:
        return self.positions.to_alpaca(raw)

    def _at_range_end(self, rate: int) -> bool:
        if not self.calibrated:
            return False
        position = self.positions.to_alpaca(self.raw)
        return rate > 0 and position >= self.positions.max_step or rate < 0 and position <= 0

    def _job_for(self, order: Order) -> Job:
        if isinstance(order, MoveOrder):
            return MoveJob(target=order.target)
        if isinstance(order, JogOrder):
            return JogJob(rate=order.rate, renewed_at=order.at)
        assert isinstance(order, CalibrateOrder)
        return CalibrationJob(started_at=self.clock.monotonic())

    def _schedule(self, job: Job) -> None:
        interval = job.interval(self) if self.job is job else self.settings.poll_idle_ms / 1000
        self.next_poll = self.clock.monotonic() + interval

    def _end_job(self, finished: Finished, stopped_for: str | None = None) -> None:
        job, self.job = self.job, None
        self.history.finished(finished.failed, finished.stop, finished.message, stopped_for, self._alpaca(self.raw), mono=self.clock.monotonic(), reconnects=self.reconnects)
        if finished.failed:
            log.warning("%s", finished.message)
            self.last_error = finished.message
        if isinstance(job, CalibrationJob):
            self._end_calibration(job, finished)
        self.journal.standing()

    def _end_calibration(self, job: CalibrationJob, finished: Finished) -> None:
        """However a calibration ends, what the focuser now reports is read before any move."""
        self.calibration_took = job.elapsed(self.clock.monotonic())
        self.learn_calibration(self.send(commands.get_limits()), self.send(commands.calibration_status()))
        self.calibration_note = finished.message if finished.failed else ""
        if self.identity is not None:
            self.identity = Identity(self.firmware, self.limits.low, self.limits.high, self.calibrated)
        if self.calibrated:
            log.info("Calibration complete: limits %d..%d, MaxStep %d", self.limits.low, self.limits.high, self.positions.max_step)


HANDLERS: dict[Phase, Callable[[Machine], None]] = {
    Phase.OFF: Machine._off,
    Phase.CONNECTING: Machine._connecting,
    Phase.LINK_LOST: Machine._connecting,
    Phase.IDLE: Machine._idle,
    Phase.BUSY: Machine._busy,
    Phase.STOPPING: Machine._stopping,
}
