"""The conformance run's focuser properties (ConformU A.4): Absolute, IsMoving, MaxStep,
MaxIncrement, Position, StepSize, temperature compensation and Temperature. What they find (the
range, whether TempComp can be switched) is kept for the moves."""

from __future__ import annotations

from .client import CALL_FAILURES, NOT_IMPLEMENTED, AscomError, ReplyFault, TransportFailure
from .options import FAST, STANDARD
from .run_base import RunBase


class PropertyChecks(RunBase):
    def check_properties(self) -> None:
        absolute = self.read("Absolute", "absolute", bool)
        if absolute is not None:
            self.absolute = absolute
            self.log.ok("Absolute", f"{absolute}")
        moving = self.read("IsMoving", "ismoving", bool)
        if moving is True:
            self.log.issue("IsMoving", "IsMoving is True at start of tests; it must be false while the focuser is idle")
        elif moving is False:
            self.log.ok("IsMoving", "False")
        self.max_step = self.read("MaxStep", "maxstep", int)
        if self.max_step is not None:
            self.log.ok("MaxStep", f"{self.max_step}")
        self.check_max_increment()
        self.check_position()
        step_size = self.read("StepSize", "stepsize", float, optional=True)
        if step_size is not None:
            if step_size > 0:
                self.log.ok("StepSize", f"{step_size} microns")
            else:
                self.log.issue("StepSize", f"GET stepsize returned {step_size}; it must be greater than 0 (or not implemented, 0x400)")
        self.tempcomp_available = self.read("TempCompAvailable", "tempcompavailable", bool)
        if self.tempcomp_available is not None:
            self.log.ok("TempCompAvailable", f"{self.tempcomp_available}")
        self.check_tempcomp_read()
        self.check_tempcomp_write()
        self.check_temperature()

    def check_max_increment(self) -> None:
        value = self.read("MaxIncrement", "maxincrement", int)
        if value is None:
            return
        self.max_increment = value
        if value < 1:
            self.log.issue("MaxIncrement", f"GET maxincrement returned {value}; it must be at least 1")
        elif self.max_step is not None and value > self.max_step:
            self.log.issue("MaxIncrement", f"GET maxincrement returned {value}, more than MaxStep ({self.max_step}); it must be 1..MaxStep")
        else:
            self.log.ok("MaxIncrement", f"{value}")

    def check_position(self) -> None:
        test = "Position"
        try:
            position = self.client.get("position", int)
        except AscomError as exc:
            if exc.number != NOT_IMPLEMENTED:
                self.report_failure(test, exc)
            elif self.absolute:
                self.log.issue(test, f"Position must be implemented for an absolute focuser: {exc.sent} returned not implemented (0x400)")
            else:
                self.log.ok(test, "This is a relative focuser and Position returned not implemented (0x400), as required")
            return
        except (ReplyFault, TransportFailure) as exc:
            self.report_failure(test, exc)
            return
        self.log.timing(test, self.client.last_elapsed, FAST)
        if not self.absolute:
            self.log.issue(test, f"This is a relative focuser but it didn't raise an exception for Position: it returned {position}; expected not implemented (0x400)")
        elif position < 0 or (self.max_step is not None and position > self.max_step):
            self.log.issue(test, f"GET position returned {position}, outside 0..MaxStep ({self.max_step})")
        else:
            self.log.ok(test, f"{position}")

    def check_tempcomp_read(self) -> None:
        test = "TempComp Read"
        value = self.read(test, "tempcomp", bool)
        if value is None:
            return
        self.tempcomp_original = value
        if value and self.tempcomp_available is False:
            self.log.issue(test, "TempComp reads True although TempCompAvailable is False; it must be False when compensation is unavailable")
        else:
            self.log.ok(test, f"{value}")

    def check_tempcomp_write(self) -> None:
        test = "TempComp Write"
        if self.tempcomp_available:
            for setting in (True, False):
                try:
                    self.client.put("tempcomp", TempComp=setting)
                    self.log.timing(test, self.client.last_elapsed, STANDARD)
                except CALL_FAILURES as exc:
                    self.report_failure(test, exc, advice=f"Temperature compensation is available but TempComp={setting} could not be set")
                    continue
                if setting:
                    self.tempcomp_true_ok = True
                else:
                    self.tempcomp_false_ok = True
            if self.tempcomp_true_ok and self.tempcomp_false_ok:
                self.log.ok(test, "TempComp was switched on and off")
        elif self.tempcomp_available is False:
            try:
                self.client.put("tempcomp", TempComp=True)
            except AscomError as exc:
                if exc.number == NOT_IMPLEMENTED:
                    self.log.ok(test, "Temperature compensation is not available and PUT TempComp=True returned not implemented (0x400), as required")
                else:
                    self.report_failure(test, exc, advice="With compensation unavailable, TempComp=True must return not implemented (0x400)")
            except (ReplyFault, TransportFailure) as exc:
                self.report_failure(test, exc)
            else:
                self.log.issue(test, "Temperature compensation is not available but PUT TempComp=True succeeded; it must return not implemented (0x400)")
        self.restore_tempcomp()

    def check_temperature(self) -> None:
        value = self.read("Temperature", "temperature", float, optional=True)
        if value is None:
            return
        if -50 < value < 50:
            self.log.ok("Temperature", f"{value} °C")
        else:
            self.log.issue("Temperature", f"GET temperature returned {value} °C, outside -50..+50 (possibly an issue; the unit is Celsius)")
