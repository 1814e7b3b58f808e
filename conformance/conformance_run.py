"""The conformance run (ConformU ``conformu conformance URL``): the Focuser interface, member by member.

The order and the verdicts follow ConformU's FocuserTester and DeviceTesterBaseClass: read
InterfaceVersion, connect, the common members, the focuser properties, the methods, disconnect.
One deliberate difference: the limit moves (0, -10, MaxStep/2, MaxStep, MaxStep+10) run for every
absolute focuser, where ConformU only runs them when temperature compensation can be switched on.
The checks ConformU does not make at all are in field_checks.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from . import field_checks
from .client import (
    CALL_FAILURES,
    NOT_IMPLEMENTED,
    AscomClient,
    AscomError,
    Deadline,
    DeviceUrl,
    ReplyFault,
    Transport,
    TransportFailure,
    has_json_kind,
    poll_pauses,
)
from .move_checks import MoveChecks
from .options import FAST, STANDARD, CheckerOptions
from .report import Report
from .steps import run_steps

RUN = "conformance"
LATEST_FOCUSER_INTERFACE = 4
SAFETY_ACTIONS = ("SafetyEvents", "SetExternalEvents", "ClearExternalEvents")
STATE_KINDS: dict[str, type] = {"IsMoving": bool, "Position": int, "Temperature": float, "TimeStamp": str}
T = TypeVar("T")


class Abandon(Exception):
    """ConformU stops testing here; the reason has already been reported."""


def run_conformance(url: DeviceUrl, options: CheckerOptions, report: Report, deadline: Deadline) -> None:
    ConformanceRun(url, options, report, deadline).run()


def valid_state_value(name: str, value: Any) -> bool:
    """Whether the ASCOM client keeps this DeviceState item (it silently drops wrongly typed ones)."""
    if not has_json_kind(value, STATE_KINDS[name]):
        return False
    if name == "TimeStamp":
        try:
            datetime.datetime.fromisoformat(value)
        except ValueError:
            return False
    return True


class ConformanceRun(MoveChecks):
    def __init__(self, url: DeviceUrl, options: CheckerOptions, report: Report, deadline: Deadline) -> None:
        self.client = AscomClient(Transport(url.host, url.port, options.timeout, deadline), url)
        self.options = options
        self.log = report.for_run(RUN)
        self.interface_version = LATEST_FOCUSER_INTERFACE
        self.absolute = True
        self.max_step: int | None = None
        self.max_increment: int | None = None
        self.tempcomp_available: bool | None = None
        self.tempcomp_original: bool | None = None
        self.tempcomp_true_ok = False
        self.tempcomp_false_ok = False

    def run(self) -> None:
        steps = [
            ("the interface version", self.check_interface_version_before_connect),
            ("connecting", self.connect),
            ("the common members", self.check_common_members),
            ("the properties", self.check_properties),
            ("the methods", self.check_methods),
            ("disconnecting", self.disconnect),
        ]
        aftermath = " The focuser may still be connected or moving."
        run_steps(steps, self.log, "Conformance", self.options.total_timeout, Abandon, aftermath)

    # --- helpers -------------------------------------------------------------------------------

    def report_failure(self, test: str, exc: Exception, *, optional: bool = False, advice: str = "") -> None:
        """ConformU's HandleException: 0x400 is fine only for optional members; all else is an Issue."""
        suffix = f". {advice}" if advice else ""
        if isinstance(exc, TransportFailure):
            self.log.error(test, f"{exc}{suffix}")
        elif isinstance(exc, AscomError) and exc.number == NOT_IMPLEMENTED and optional:
            self.log.ok(test, f"{exc.sent} returned not implemented (0x400), which is allowed: this member is optional")
        elif isinstance(exc, AscomError) and exc.number == NOT_IMPLEMENTED:
            self.log.issue(test, f"This member is mandatory but {exc.sent} returned not implemented (0x400): {exc.message}{suffix}")
        else:
            self.log.issue(test, f"Unexpected error: {exc}{suffix}")

    def read(self, test: str, member: str, kind: type, *, optional: bool = False) -> Any:
        """A property value, or None after reporting why it could not be read."""
        try:
            value = self.client.get(member, kind)
        except CALL_FAILURES as exc:
            self.report_failure(test, exc, optional=optional)
            return None
        self.log.timing(test, self.client.last_elapsed, FAST)
        return value

    def must(self, test: str, action: Callable[[], T], what: str) -> T:
        """A step of connecting or disconnecting; a failure abandons the run, as in ConformU."""
        try:
            return action()
        except CALL_FAILURES as exc:
            verdict = self.log.error if isinstance(exc, TransportFailure) else self.log.issue
            verdict(test, f"{what} failed: {exc}. Connection exception - further testing abandoned")
            raise Abandon from exc

    def wait_until_false(self, member: str, limit: float) -> float | None:
        """Poll a boolean member until it reads false; the seconds waited, or None at the limit."""
        start = time.monotonic()
        pauses = poll_pauses()
        while self.client.get(member, bool):
            if time.monotonic() - start > limit:
                return None
            time.sleep(next(pauses))
        return time.monotonic() - start

    # --- A.1 and A.2: interface version and connecting ------------------------------------------

    def check_interface_version_before_connect(self) -> None:
        test = "InterfaceVersion"
        version = self.must(test, lambda: self.client.get("interfaceversion", int), "GET InterfaceVersion before connecting")
        if not 1 <= version <= LATEST_FOCUSER_INTERFACE:
            self.log.issue(
                test,
                f"The returned interface version is invalid: GET interfaceversion returned {version}; a focuser's "
                f"interface version is 1..{LATEST_FOCUSER_INTERFACE} (serve {LATEST_FOCUSER_INTERFACE}). Testing abandoned",
            )
            raise Abandon
        if version == 1:
            self.log.issue(test, "Conform Universal can only test focusers that implement IFocuserV2 or later; interface version is 1")
            raise Abandon
        self.interface_version = version
        self.log.ok(test, f"Read {version} before connecting, as clients do")

    def connect(self) -> None:
        test = "Connect"
        get_connected: Callable[[], bool] = lambda: self.client.get("connected", bool)
        if self.interface_version < 4:
            self.must(test, lambda: self.client.put("connected", Connected=True), "PUT Connected=True")
            if not self.must(test, get_connected, "GET Connected"):
                self.log.issue(test, "Connected reads false after PUT Connected=True succeeded. Further testing abandoned")
                raise Abandon
            self.log.ok(test, "PUT Connected=True connected the device")
            return
        if self.must(test, lambda: self.client.get("connecting", bool), "GET Connecting"):
            self.log.info(test, "Connecting is already true before connecting: ignoring this request and not connecting")
            return
        self.must(test, lambda: self.client.put("connected", Connected=True), "PUT Connected=True")
        if not self.must(test, get_connected, "GET Connected after PUT Connected=True"):
            self.log.issue(test, "Connected reads false after PUT Connected=True succeeded. Further testing abandoned")
            raise Abandon
        time.sleep(0.5)
        self.must(test, lambda: self.client.put("connected", Connected=False), "PUT Connected=False")
        if self.must(test, get_connected, "GET Connected after PUT Connected=False"):
            self.log.issue(test, "Connected reads true after PUT Connected=False succeeded. Further testing abandoned")
            raise Abandon
        self.must(test, lambda: self.client.put("connect"), "PUT Connect")
        self.log.timing(test, self.client.last_elapsed, STANDARD)
        waited = self.must(test, lambda: self.wait_until_false("connecting", self.options.connect_timeout), "GET Connecting")
        if waited is None:
            self.log.issue(
                test,
                f"Connecting was still true {self.options.connect_timeout:g} s after PUT Connect; the connection must "
                "complete within that time. Further testing abandoned",
            )
            raise Abandon
        if not self.must(test, get_connected, "GET Connected after Connect completed"):
            self.log.issue(test, "Connected reads false after PUT Connect finished (Connecting false). Further testing abandoned")
            raise Abandon
        self.log.ok(test, f"PUT Connected=True/False worked, and PUT Connect completed in {waited:.2f} s with Connected true")

    # --- A.3: members common to every device ----------------------------------------------------

    def check_common_members(self) -> None:
        version = self.read("InterfaceVersion", "interfaceversion", int)
        if version is not None:
            if version >= 1:
                self.log.ok("InterfaceVersion", f"{version}")
            else:
                self.log.issue("InterfaceVersion", f"GET interfaceversion returned {version}; it must be at least 1")
        connected = self.read("Connected", "connected", bool)
        if connected is not None:
            self.log.ok("Connected", f"{connected}")
        field_checks.check_connect_again(self)
        field_checks.check_version_matches_members(self)
        for test, member in (("Description", "description"), ("DriverInfo", "driverinfo"), ("DriverVersion", "driverversion"), ("Name", "name")):
            self.check_text_member(test, member)
        actions = self.check_supported_actions()
        if not any(a in actions for a in SAFETY_ACTIONS):
            self.log.info("Action", "Conform cannot test the Action method")
        field_checks.check_unknown_action(self, actions)
        if self.interface_version >= 4:
            self.check_device_state()

    def check_text_member(self, test: str, member: str) -> None:
        value = self.read(test, member, str)
        if value is None:
            return
        if test == "Description" and not field_checks.check_description_length(self, value):
            return
        if value:
            self.log.ok(test, value.splitlines()[0] if value.strip() else repr(value))
        else:
            self.log.info(test, f"GET {member} returned an empty string; give it a short descriptive text")

    def check_supported_actions(self) -> list[str]:
        test = "SupportedActions"
        actions = self.read(test, "supportedactions", list)
        if actions is None:
            return []
        bad = [a for a in actions if not isinstance(a, str) or not a]
        safety = [a for a in actions if a in SAFETY_ACTIONS]
        if bad:
            self.log.issue(test, f"GET supportedactions returned the entries {json.dumps(bad)}; every entry must be a non-empty string")
        if safety:
            self.log.issue(
                test,
                f"GET supportedactions lists {safety}: ConformU then runs its SafetyMonitor action tests on this "
                "focuser, and they fail. Never advertise these names on a focuser",
            )
        if not bad and not safety:
            self.log.ok(test, f"{len(actions)} actions: {', '.join(actions)}" if actions else "No actions (an empty list)")
        return [a for a in actions if isinstance(a, str)]

    def check_device_state(self) -> None:
        test = "DeviceState"
        items = self.read(test, "devicestate", list)
        if items is None:
            return
        found: dict[str, Any] = {}
        reported: set[str] = set()
        lowered = {name.lower(): name for name in STATE_KINDS}
        for item in items:
            if not isinstance(item, dict) or "Name" not in item or "Value" not in item:
                self.log.issue(test, f"DeviceState item {json.dumps(item)} lacks the exact-cased keys 'Name' and 'Value'")
                continue
            name, value = item["Name"], item["Value"]
            if name in STATE_KINDS:
                if valid_state_value(name, value):
                    found[name] = value
                else:
                    reported.add(name)
                    self.log.issue(
                        test,
                        f"DeviceState item {name} has the value {json.dumps(value)}, which is not "
                        f"{'an ISO 8601 date-time string' if name == 'TimeStamp' else 'of the right JSON type'}; "
                        "the ASCOM client silently drops it",
                    )
            elif isinstance(name, str) and name.lower() in lowered:
                reported.add(lowered[name.lower()])
                self.log.issue(test, f"DeviceState item name {name!r} has the wrong case; it must be exactly {lowered[name.lower()]!r}")
            else:
                self.log.issue(
                    test,
                    f"A non-operational property was included in DeviceState: {json.dumps(name)}; a focuser's DeviceState "
                    f"may only hold {', '.join(STATE_KINDS)}",
                )
        for name in STATE_KINDS:
            if name not in found and name not in reported:
                self.log.info(test, f"Operational property {name} was not included in DeviceState")
        if found:
            self.log.ok(test, ", ".join(f"{name}={json.dumps(value)}" for name, value in found.items()))

    # --- A.4: focuser properties ----------------------------------------------------------------

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

    def restore_tempcomp(self) -> None:
        """Put TempComp back as it was; like ConformU, a failure here is not a finding."""
        if self.tempcomp_original is None:
            return
        try:
            self.client.put("tempcomp", TempComp=self.tempcomp_original)
        except CALL_FAILURES:
            pass

    def check_temperature(self) -> None:
        value = self.read("Temperature", "temperature", float, optional=True)
        if value is None:
            return
        if -50 < value < 50:
            self.log.ok("Temperature", f"{value} °C")
        else:
            self.log.issue("Temperature", f"GET temperature returned {value} °C, outside -50..+50 (possibly an issue; the unit is Celsius)")

    # --- A.7: disconnecting --------------------------------------------------------------------

    def disconnect(self) -> None:
        test = "Disconnect"
        what = "Exception when setting Connected to False"
        if self.interface_version < 4:
            self.must(test, lambda: self.client.put("connected", Connected=False), what)
        else:
            if self.must(test, lambda: self.client.get("connecting", bool), what):
                self.log.info(test, "Connecting is true before disconnecting: ignoring this request")
                return
            self.must(test, lambda: self.client.put("disconnect"), what)
            self.log.timing(test, self.client.last_elapsed, STANDARD)
            if self.must(test, lambda: self.wait_until_false("connecting", self.options.connect_timeout), what) is None:
                self.log.issue(test, f"Connecting was still true {self.options.connect_timeout:g} s after PUT Disconnect")
                return
        if self.must(test, lambda: self.client.get("connected", bool), what):
            self.log.issue(test, "Connected still reads true after disconnecting")
        else:
            self.log.ok(test, "Disconnected; Connected reads false")
