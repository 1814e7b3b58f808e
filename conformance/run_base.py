"""What every part of the conformance run shares: the client, the options, the log, what the
property checks learnt about the focuser, and the helpers that report a failure the way ConformU
does. The parts (member_checks, property_checks, move_checks, field_checks) each build on it, and
conformance_run puts them together, so no part imports the run that uses it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from .client import CALL_FAILURES, NOT_IMPLEMENTED, AscomClient, AscomError, Deadline, DeviceUrl, Transport, TransportFailure, poll_pauses
from .options import FAST, CheckerOptions
from .report import Report

RUN = "conformance"
LATEST_FOCUSER_INTERFACE = 4
T = TypeVar("T")


class Abandon(Exception):
    """ConformU stops testing here; the reason has already been reported."""


class RunBase:
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

    def restore_tempcomp(self) -> None:
        """Put TempComp back as it was; like ConformU, a failure here is not a finding."""
        if self.tempcomp_original is None:
            return
        try:
            self.client.put("tempcomp", TempComp=self.tempcomp_original)
        except CALL_FAILURES:
            pass
