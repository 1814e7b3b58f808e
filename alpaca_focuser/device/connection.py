"""The line half of the worker's state machine: opening the port, telling whether the focuser that
answers is the one we had, losing the line and finding it again, releasing the port.

``Machine`` (machine.py) adds what the motor does; both halves are one object driven by one
thread, so every field here is the worker's alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from ..celestron import commands
from ..celestron.commands import CalibrationReport, Limits, Request
from ..celestron.faults import AuxError
from ..celestron.port_names import CLIENT_SCHEMES
from ..celestron.routes import Link, Route
from ..settings import FocuserSettings
from .clock import Clock
from .jobs import CalibrationJob, Finished, Job
from .journal import MotionJournal
from .line import Line, route_of, unreachable
from .orders import Order, Probe
from .positions import PositionMap
from .states import TRANSITIONS, Identity, Phase

log = logging.getLogger(__name__)

T = TypeVar("T")


class LineSide:
    def __init__(self, settings: Callable[[], FocuserSettings], opener: Callable[[Route], Link], clock: Clock, journal: MotionJournal) -> None:
        self._settings = settings
        self._opener = opener
        self.line = Line(opener)
        self.clock = clock
        self.journal = journal
        self.phase = Phase.OFF
        self.wanted = False
        self.job: Job | None = None
        self.queued: Order | None = None
        self.ending: Finished | None = None  # how the job ends once the stop asked for is seen done
        self.stop_reason: str | None = None
        self.stop_sent = False
        self.stop_sent_at = 0.0
        self.still_since = 0.0  # when the position last changed while a stop is confirmed
        self.external_motion = False  # the position changes though no job runs (a hand controller)
        self.relink = False  # the port's settings changed: reopen the line with them
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
        self.started = False  # the first connect of this run has happened

    @property
    def link(self) -> Link | None:
        return self.line.link

    @property
    def failed_attempts(self) -> int:
        return self.line.failed_attempts

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

    def motor_may_run(self) -> bool:
        """The one set of facts IsMoving comes from (with an order waiting to start): a job of ours,
        a stop not yet seen done, or motion we did not start. Each survives a line drop-out, so a
        motor that ran when the line dropped reads as moving until it is seen again."""
        return self.job is not None or self.stop_reason is not None or self.external_motion

    def go(self, phase: Phase) -> None:
        if phase not in TRANSITIONS[self.phase]:
            raise RuntimeError(f"no transition from {self.phase} to {phase}")
        log.debug("%s: %s -> %s", self.settings.port, self.phase, phase)
        self.phase = phase

    def ask_stop(self, reason: str, ending: Finished | None = None) -> None:
        """Make a stop pending (the first reason given wins); ``ending`` is how the job ends once
        the motor is seen standing."""
        self.stop_reason = self.stop_reason or reason
        self.ending = self.ending or ending

    # ------------------------------------------------------------------ opening

    def begin_session(self) -> None:
        """OFF -> CONNECTING: a new session may find another focuser on the port. On the run's
        first connect, motion a killed earlier run left behind is stopped before anything else."""
        self.line.start_over(self.clock.monotonic())
        self.identity = None
        if not self.started:
            self.started = True
            left = self.journal.left_running()
            if left is not None:
                log.warning(
                    "The previous run of the server ended while the focuser was %s: the motor it may have left "
                    "running is stopped first",
                    left,
                )
                self.ask_stop(f"the previous run of the server ended while the focuser was {left}")
        self.go(Phase.CONNECTING)

    def open_line(self) -> None:
        """Open the port; a pending stop goes out first, then the focuser is read."""
        self.line.open(self.settings)
        try:
            if self.stop_reason is not None:
                self.send_stop()
                self.stop_sent = True
                self.stop_sent_at = self.still_since = self.clock.monotonic()
            version = self.send(commands.get_version())
            self.read_position()
            limits = self.send(commands.get_limits())
            report = self.send(commands.calibration_status())
        except AuxError as exc:
            self.line.keep_or_close(exc)
            raise
        self.firmware = str(version)
        self.learn_calibration(limits, report)
        if report.running and not isinstance(self.job, CalibrationJob) and self.stop_reason is None:
            self.job = CalibrationJob(started_at=self.clock.monotonic(), started=True, state=report.state)

    def send_stop(self) -> None:
        if self.job is not None:
            self.job.stop(self)
        else:
            self.send(commands.stop())

    def learn_calibration(self, limits: Limits, report: CalibrationReport) -> None:
        self.limits = limits
        self.calibrated = report.done and limits.valid

    def opened(self) -> None:
        identity = Identity(self.firmware, self.limits.low, self.limits.high, self.calibrated)
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
        self.next_poll = self.clock.monotonic()

    def _not_the_same(self, found: Identity) -> None:
        """Nothing checked against the focuser we had may reach this one: the running job is
        stopped and ended, and an order not yet started is dropped."""
        what = found.change_from(self.identity)
        dropped = [f"the interrupted {self.job.kind} job was ended, not resumed"] if self.job else []
        if self.queued is not None:
            dropped.append(f"the {self.queued.kind} order waiting to start was dropped")
            self.queued = None
        self.last_error = (
            f"After reconnecting, {self.settings.port} answers as a different focuser or one whose calibration changed "
            f"({what}).{' ' + '; '.join(dropped).capitalize() + '.' if dropped else ''} Check which focuser is plugged in before moving it."
        )
        log.warning("%s", self.last_error)
        if self.job is not None:
            self.ask_stop("a different focuser answered after reconnecting")
            self.ending = Finished(self.last_error, failed=True)  # the likelier cause of any earlier reason

    def open_failed(self, exc: AuxError) -> None:
        if self.line.attempt_failed(self.clock.monotonic()) or self.last_error != str(exc):
            log.warning("%s Retrying in the background.", self.explain(exc))
        self.last_error = str(exc)

    # ------------------------------------------------------------- losing it

    def line_failed(self, exc: AuxError) -> None:
        self.line.keep_or_close(exc)
        if self.phase in (Phase.CONNECTING, Phase.LINK_LOST):
            self.open_failed(exc)
            return
        now = self.clock.monotonic()
        self.last_error = str(exc)
        self.stop_sent = False
        if self.job is not None and not self.job.resumable:
            self.ask_stop(
                f"the line dropped while {self.job.kind}",
                Finished(f"Stopped {self.job.kind}: the line to the focuser dropped, and nobody may be holding the button any more.", failed=True),
            )
        self.line.lost(now)
        self.go(Phase.LINK_LOST)
        log.warning(
            "Lost contact with the focuser: %s. Reconnecting in the background; clients see the last known state "
            "for %g s and an unfinished move completes after reconnecting.",
            exc,
            self.settings.grace_s,
        )

    def check_grace(self, now: float) -> None:
        if self.phase is not Phase.LINK_LOST or not self.line.grace_ends(now, self.settings.grace_s):
            return
        if self.job is not None or self.external_motion:
            self.ask_stop("the line was down longer than the grace period")
            log.warning(
                "The focuser stayed unreachable for more than %g s: Connected now reads false, and a stop will be "
                "sent as soon as the line comes back",
                self.settings.grace_s,
            )

    def release(self) -> None:
        if self.link is not None:
            log.info("Disconnected from the focuser on %s; the port is free for other programs", self.link.url)
        self.line.close()
        self.line.found()
        self.job = None
        self.queued = None
        self.go(Phase.OFF)

    def reopen(self) -> None:
        """The port's settings changed while no motor runs: a new session on the new port."""
        self.relink = False
        if self.phase is Phase.OFF:
            return
        log.info("The port settings changed: reopening the line on %s", self.settings.port)
        self.line.close()
        self.queued = None
        self.identity = None
        self.line.start_over(self.clock.monotonic())
        if self.phase is not Phase.CONNECTING:
            self.go(Phase.CONNECTING)

    def probe(self, probe: Probe) -> None:
        """Open the port a client wants to switch to, ask its firmware version, close it."""
        try:
            link = self._opener(route_of(probe.settings, CLIENT_SCHEMES))
        except AuxError as exc:
            probe.done.set_exception(exc)
            return
        try:
            probe.done.set_result(str(link.request(commands.get_version())))
        except AuxError as exc:
            probe.done.set_exception(exc)
        finally:
            link.close()

    def explain_last(self) -> str:
        return self.explain(self.last_error)

    def close(self) -> None:
        self.line.close()

    def explain(self, exc: AuxError | str) -> str:
        return unreachable(self.settings.port, exc)
