"""A ConformU-equivalent checker for Alpaca focusers, needing only the Python standard library.

``python -m conformance http://HOST:PORT/api/v1/focuser/0`` runs ConformU's conformance run, its
Alpaca protocol run in strict mode, and its discovery and management diagnostics, and reports
every check with ConformU's verdict words (OK, INFO, ISSUE, ERROR). It also checks, as ISSUEs,
defects ConformU lets through that break clients in the field (field_checks, discovery_field,
setup_pages). Every reply, and the whole check, has a deadline, so no server can hang it. Tests
call ``run_all`` and assert on the returned report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .client import Deadline, DeviceUrl
from .conformance_run import run_conformance
from .discovery_run import run_discovery
from .options import CheckerOptions
from .protocol_run import run_protocol
from .report import RUNS, Finding, Report, Verdict

RUNNERS: dict[str, Callable[[DeviceUrl, CheckerOptions, Report, Deadline], None]] = {
    "conformance": run_conformance,
    "protocol": run_protocol,
    "discovery": run_discovery,
}

__all__ = ["RUNS", "CheckerOptions", "DeviceUrl", "Finding", "Report", "Verdict", "run_all"]


def run_all(url: str, runs: Iterable[str] = RUNS, options: CheckerOptions | None = None, report: Report | None = None) -> Report:
    """Run the chosen runs, in ConformU's order, against one focuser URL; raises ValueError on a bad URL."""
    device = DeviceUrl.parse(url)
    chosen = list(runs)
    unknown = [run for run in chosen if run not in RUNNERS]
    if unknown:
        raise ValueError(f"unknown run {unknown[0]!r}; choose from {', '.join(RUNS)}")
    options = options or CheckerOptions()
    report = report if report is not None else Report()
    deadline = Deadline.after(options.total_timeout)
    for run in RUNS:
        if run not in chosen:
            continue
        if deadline.remaining() <= 0:
            report.add(
                run, Verdict.ERROR, "Not started",
                f"the {options.total_timeout:g} s limit for the whole check ran out before the {run} run could start "
                "(raise it with --total-timeout)",
            )
            continue
        RUNNERS[run](device, options, report, deadline)
    return report
