"""The conformance run's methods (ConformU FocuserTester CheckMethods): Halt and Move.

A part of ConformanceRun, kept apart because moves are the longest part of the run: a move a
tenth of the range out and back, with temperature compensation off and then on, and the limit moves
(0, -10, MaxStep/2, MaxStep, MaxStep+10), which run for every absolute focuser, where ConformU only
runs them when temperature compensation can be switched on.
"""

from __future__ import annotations

from . import field_checks
from .client import CALL_FAILURES
from .options import MOVE_TOLERANCE, STANDARD
from .run_base import RunBase


class MoveChecks(RunBase):
    """Needs the range and the TempComp switches the property checks found."""

    def check_methods(self) -> None:
        self.check_halt()
        if self.max_step is None or self.max_increment is None:
            self.log.issue("Move", "The move tests were skipped because MaxStep or MaxIncrement could not be read")
            return
        start = None
        if self.absolute:
            try:
                start = self.client.get("position", int)
            except CALL_FAILURES as exc:
                self.report_failure("Move", exc, advice="the move tests need the current Position")
                return
        self.check_move("Move - TempComp False", tempcomp=False)
        if self.tempcomp_true_ok:
            self.check_move("Move - TempComp True", tempcomp=True)
        if self.absolute:
            self.set_tempcomp("Move", False)
            self.check_limit_moves()
            field_checks.check_halt_during_move(self)
            self.restore_tempcomp()
            if start is not None:
                self.move_to("Move - Restore position", start, expected=start, quiet=True)

    def check_halt(self) -> None:
        test = "Halt"
        try:
            self.client.put("halt")
        except CALL_FAILURES as exc:
            self.report_failure(test, exc, optional=True)
            return
        self.log.timing(test, self.client.last_elapsed, STANDARD)
        self.log.ok(test, "Halt while idle succeeded")

    def set_tempcomp(self, test: str, value: bool) -> bool:
        """Switch TempComp where A.4 showed it can be; False only when a switch that worked there fails now."""
        if not (self.tempcomp_true_ok if value else self.tempcomp_false_ok):
            return True
        try:
            self.client.put("tempcomp", TempComp=value)
        except CALL_FAILURES as exc:
            self.report_failure(test, exc, advice=f"TempComp={value} could be set before, but not now")
            return False
        return True

    def check_move(self, test: str, *, tempcomp: bool) -> None:
        """ConformU MoveFocuser: a move a tenth of the range away and back, with TempComp as given."""
        if not self.set_tempcomp(test, tempcomp):
            return
        assert self.max_step is not None and self.max_increment is not None
        if not self.absolute:
            steps = min(max(round(self.max_increment / 10), 1), self.max_increment)
            if self.move_to(test, steps, expected=None):
                self.move_to(test, -steps, expected=None, quiet=True)
            return
        try:
            start = self.client.get("position", int)
        except CALL_FAILURES as exc:
            self.report_failure(test, exc)
            return
        target = start + self.max_step // 10
        if target >= self.max_step:
            target = start - self.max_step // 10
        if abs(target - start) > self.max_increment:
            target = start + self.max_increment
        if self.move_to(test, target, expected=None if tempcomp else target):
            self.move_to(test, start, expected=None, quiet=True)

    def check_limit_moves(self) -> None:
        assert self.max_step is not None
        top, middle = self.max_step, self.max_step // 2
        graceful = "Move should fail gracefully by just moving to position {}; it should not throw an exception"
        for test, target, expected, advice in (
            ("Move - To 0", 0, 0, ""),
            ("Move - Below 0", -10, 0, graceful.format(0)),
            ("Move - To MidPoint", middle, middle, ""),
            ("Move - To MaxStep", top, top, ""),
            ("Move - Above MaxStep", top + 10, top, graceful.format("MaxStep")),
        ):
            self.move_to(test, target, expected=expected, advice=advice)

    def move_to(self, test: str, target: int, *, expected: int | None, quiet: bool = False, advice: str = "") -> bool:
        """ConformU MoveFocuserToPosition: idle first, Move returns within 1 s, IsMoving ends, accuracy."""
        sent = f"PUT move Position={target}"
        try:
            if self.client.get("ismoving", bool):
                self.log.issue(test, f"Focuser is already moving before {sent}; IsMoving must be false when idle. Test skipped")
                return False
            self.client.put("move", Position=target)
            took = self.client.last_elapsed
            if took > STANDARD:
                if self.client.get("ismoving", bool):
                    self.log.issue(
                        test,
                        f"The Move method took {took:.2f} s, exceeding Conform's standard response time of {STANDARD:g} s: "
                        f"{sent} must return as soon as the move has started",
                    )
                else:
                    self.log.issue(
                        test,
                        f"The focuser moved synchronously and the Move() method exceeded the standard response time: "
                        f"{sent} returned after {took:.2f} s with the move finished; Move must return within {STANDARD:g} s "
                        "and report progress through IsMoving",
                    )
            waited = self.wait_until_false("ismoving", self.options.move_timeout)
            if waited is None:
                self.log.issue(
                    test,
                    f"IsMoving was still true {self.options.move_timeout:g} s after {sent} (the move timeout; raise it "
                    "with --move-timeout for slow focusers)",
                )
                return False
            if expected is not None:
                position = self.client.get("position", int)
                if abs(position - expected) > MOVE_TOLERANCE:
                    self.log.issue(
                        test,
                        f"Move ended at {position}: after {sent}, IsMoving read false after {waited:.2f} s, and Position "
                        f"should then be {expected} ± {MOVE_TOLERANCE}",
                    )
                    return False
                if not quiet:
                    clamped = " (the move was clamped to the range, as required)" if expected != target else ""
                    self.log.ok(test, f"Absolute move OK: {sent} ended at {position} in {took + waited:.2f} s{clamped}")
            elif not quiet:
                kind = "Absolute" if self.absolute else "Relative"
                self.log.ok(test, f"{kind} move OK: {sent} completed in {took + waited:.2f} s")
            return True
        except CALL_FAILURES as exc:
            self.report_failure(test, exc, advice=advice)
            return False
