"""The findings of a checker run, with ConformU's verdict words and its pass/fail arithmetic.

A finding is one line a person reads: which run, which test, the verdict, and a message that says
what was sent, what came back and what was expected. ISSUE and ERROR are failures; INFO is
reported but does not fail a run; OK is a pass. Slow replies are kept apart as timing notes,
because ConformU treats them as advice, not as failures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

RUNS = ("conformance", "protocol", "discovery")


class Verdict(str, Enum):
    OK = "OK"
    INFO = "INFO"
    ISSUE = "ISSUE"
    ERROR = "ERROR"


@dataclass(frozen=True)
class Finding:
    run: str
    verdict: Verdict
    test: str
    message: str

    def line(self) -> str:
        return f"{self.run:<11} {self.test:<34} {self.verdict.value:<6} {self.message}"


@dataclass(frozen=True)
class TimingNote:
    run: str
    test: str
    seconds: float
    target: float

    def line(self) -> str:
        return f"{self.run:<11} {self.test:<34} took {self.seconds:.3f} s (best practice: under {self.target:g} s)"


@dataclass
class Report:
    """Collects findings; ``on_finding`` lets the command line print each one as it happens."""

    findings: list[Finding] = field(default_factory=list)
    timings: list[TimingNote] = field(default_factory=list)
    on_finding: Callable[[Finding], None] | None = None

    def add(self, run: str, verdict: Verdict, test: str, message: str) -> Finding:
        finding = Finding(run, verdict, test, message)
        self.findings.append(finding)
        if self.on_finding is not None:
            self.on_finding(finding)
        return finding

    def note_timing(self, run: str, test: str, seconds: float, target: float) -> None:
        self.timings.append(TimingNote(run, test, seconds, target))

    def for_run(self, run: str) -> RunLog:
        return RunLog(self, run)

    def select(self, run: str | None = None, verdict: Verdict | None = None) -> list[Finding]:
        return [
            f for f in self.findings if (run is None or f.run == run) and (verdict is None or f.verdict == verdict)
        ]

    def count(self, verdict: Verdict, run: str | None = None) -> int:
        return len(self.select(run, verdict))

    @property
    def failures(self) -> int:
        return self.count(Verdict.ERROR) + self.count(Verdict.ISSUE)

    @property
    def exit_status(self) -> int:
        """Errors plus issues, as ConformU returns, capped so a large count never wraps to 0."""
        return min(self.failures, 255)

    def summary_lines(self) -> list[str]:
        lines = ["", "Summary"]
        for run in RUNS:
            if any(f.run == run for f in self.findings):
                lines.append(
                    f"  {run:<11} {self.count(Verdict.ERROR, run)} errors, {self.count(Verdict.ISSUE, run)} issues, "
                    f"{self.count(Verdict.INFO, run)} information messages, {self.count(Verdict.OK, run)} OK"
                )
        if self.timings:
            lines.append(f"  {len(self.timings)} replies were slower than ConformU's best-practice targets (not failures):")
            lines.extend("    " + note.line() for note in self.timings)
        if self.failures:
            lines.append(f"  FAILED: {self.count(Verdict.ERROR)} errors and {self.count(Verdict.ISSUE)} issues.")
        else:
            lines.append("  PASSED: no errors and no issues.")
        return lines


@dataclass(frozen=True)
class RunLog:
    """The report seen from one run, so check functions need not repeat the run's name."""

    report: Report
    run: str

    def add(self, verdict: Verdict, test: str, message: str) -> None:
        self.report.add(self.run, verdict, test, message)

    def ok(self, test: str, message: str) -> None:
        self.report.add(self.run, Verdict.OK, test, message)

    def info(self, test: str, message: str) -> None:
        self.report.add(self.run, Verdict.INFO, test, message)

    def issue(self, test: str, message: str) -> None:
        self.report.add(self.run, Verdict.ISSUE, test, message)

    def error(self, test: str, message: str) -> None:
        self.report.add(self.run, Verdict.ERROR, test, message)

    def timing(self, test: str, seconds: float, target: float) -> None:
        if seconds > target:
            self.report.note_timing(self.run, test, seconds, target)
