"""The conformance run (ConformU ``conformu conformance URL``): the Focuser interface, member by member.

The order and the verdicts follow ConformU's FocuserTester and DeviceTesterBaseClass: read
InterfaceVersion, connect, the common members, the focuser properties, the methods, disconnect.
One deliberate difference: the limit moves (0, -10, MaxStep/2, MaxStep, MaxStep+10) run for every
absolute focuser, where ConformU only runs them when temperature compensation can be switched on.
The checks ConformU does not make at all are in field_checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .client import Deadline, DeviceUrl
from .member_checks import MemberChecks
from .move_checks import MoveChecks
from .options import STANDARD, CheckerOptions
from .property_checks import PropertyChecks
from .report import Report
from .run_base import LATEST_FOCUSER_INTERFACE, Abandon
from .steps import run_steps


def run_conformance(url: DeviceUrl, options: CheckerOptions, report: Report, deadline: Deadline) -> None:
    ConformanceRun(url, options, report, deadline).run()


class ConformanceRun(MemberChecks, PropertyChecks, MoveChecks):
    """The run in ConformU's order; connecting and disconnecting (A.1, A.2, A.7) are its own."""

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
