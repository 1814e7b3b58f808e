"""The conformance checker against our server with a temperature source and a coefficient, so
TempCompAvailable is true and it runs the TempComp checks too: TempComp on and off, a move with
TempComp on, Temperature, and Temperature in DeviceState. No errors and no issues."""

from __future__ import annotations

import pytest
from server_support import running_server, sim_port
from temperature_support import write_temperature

from alpaca_focuser.settings import FocuserSettings
from conformance import CheckerOptions, Finding, Report, Verdict, run_all

TIME_SCALE = 50.0
EXPECTED_CONFORMANCE_INFO = {("Action", "Conform cannot test the Action method")}


def describe(findings: list[Finding]) -> str:
    return "\n".join(f.line() for f in findings) or "(none)"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    temperature = tmp_path_factory.mktemp("temperature") / "temperature"
    write_temperature(temperature, 11.5)
    url, _ = sim_port(TIME_SCALE)
    settings = FocuserSettings(
        name="Temperature Focuser", port=url, temperature=f"file:{temperature}", tempcomp_steps_per_c=40.0,
        temperature_average_s=0.5, temperature_stale_s=3600,
    )  # fmt: skip
    with running_server([settings], time_scale=TIME_SCALE) as running:
        return run_all(f"{running.url}/api/v1/focuser/0", options=CheckerOptions(move_timeout=30.0), runs=("conformance", "protocol"))


@pytest.mark.parametrize("run", ["conformance", "protocol"])
def test_no_errors_and_no_issues(report: Report, run: str) -> None:
    failures = report.select(run, Verdict.ERROR) + report.select(run, Verdict.ISSUE)
    assert not failures, describe(failures)
    assert report.select(run, Verdict.OK), f"the {run} run passed nothing, so it did not run"


def test_only_the_action_information_message(report: Report) -> None:
    infos = report.select("conformance", Verdict.INFO)
    unexpected = [f for f in infos if (f.test, f.message) not in EXPECTED_CONFORMANCE_INFO]
    assert not unexpected, describe(unexpected)


def test_the_tempcomp_checks_ran_and_passed(report: Report) -> None:
    passed = {f.test for f in report.select("conformance", Verdict.OK)}
    assert {"TempComp Write", "Move - TempComp True", "Temperature"} <= passed, sorted(passed)
