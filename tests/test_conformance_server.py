"""Our server, with a simulated focus motor behind it, passes all three conformance checker runs:
no errors and no issues anywhere, no information messages in the protocol run, and in the
conformance run only the ones no focuser of ours can avoid."""

from __future__ import annotations

import socket

import pytest
from conftest import free_port
from server_support import running_server

from conformance import CheckerOptions, Finding, Report, Verdict, run_all

# ConformU cannot call Action, and the Celestron focus motor has no temperature sensor.
EXPECTED_CONFORMANCE_INFO = {
    ("Action", "Conform cannot test the Action method"),
    ("DeviceState", "Operational property Temperature was not included in DeviceState"),
}
TIME_SCALE = 50.0  # full travel in about 2.5 s instead of about two minutes


def describe(findings: list[Finding]) -> str:
    return "\n".join(f.line() for f in findings) or "(none)"


@pytest.fixture(scope="module")
def report() -> Report:
    discovery_port = free_port(socket.SOCK_DGRAM)
    with running_server(time_scale=TIME_SCALE, discovery=True, discovery_port=discovery_port) as running:
        options = CheckerOptions(discovery_port=discovery_port, move_timeout=30.0)
        return run_all(f"{running.url}/api/v1/focuser/0", options=options)


@pytest.mark.parametrize("run", ["conformance", "protocol", "discovery"])
def test_no_errors_and_no_issues(report: Report, run: str) -> None:
    failures = report.select(run, Verdict.ERROR) + report.select(run, Verdict.ISSUE)
    assert not failures, describe(failures)
    assert report.select(run, Verdict.OK), f"the {run} run passed nothing, so it did not run"


def test_the_protocol_run_has_no_information_messages(report: Report) -> None:
    infos = report.select("protocol", Verdict.INFO)
    assert not infos, describe(infos)


def test_the_conformance_run_has_only_the_expected_information_messages(report: Report) -> None:
    infos = report.select("conformance", Verdict.INFO)
    unexpected = [f for f in infos if (f.test, f.message) not in EXPECTED_CONFORMANCE_INFO]
    assert not unexpected, describe(unexpected)


def test_the_discovery_run_has_no_information_messages(report: Report) -> None:
    infos = report.select("discovery", Verdict.INFO)
    assert not infos, describe(infos)


def test_every_move_of_the_conformance_run_passed(report: Report) -> None:
    moves = {"Move - TempComp False", "Move - To 0", "Move - Below 0", "Move - To MidPoint", "Move - To MaxStep", "Move - Above MaxStep"}
    passed = {f.test for f in report.select("conformance", Verdict.OK)}
    assert moves <= passed, f"moves not passed: {sorted(moves - passed)}"


def test_the_checks_beyond_conformu_passed(report: Report) -> None:
    """They must have run and passed, not merely found nothing (see conformance/README.md)."""
    beyond = {
        ("conformance", "Connect - Already connected"), ("conformance", "Action - Unknown name"),
        ("conformance", "Halt - During a move"), ("discovery", "Discovery - Broadcast"),
        ("discovery", "Discovery - Not a probe"), ("discovery", "Discovery - After bad datagrams"),
        ("discovery", "Discovery - Port sharing"), ("discovery", "Setup page - Server"), ("discovery", "Setup page - Device"),
    }
    passed = {(f.run, f.test) for f in report.select(verdict=Verdict.OK)}
    assert beyond <= passed, f"not passed: {sorted(beyond - passed)}"
