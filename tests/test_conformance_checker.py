"""The conformance checker against deliberately broken focusers: it must find every defect, and
must find nothing wrong with a correct one (so its findings against our server mean something)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from broken_focuser import BrokenFocuser, Defects
from test_discovery import LOOPBACK_ONLY, run_in_net_namespace

from conformance import RUNS, CheckerOptions, Finding, Report, Verdict, run_all

REPO = Path(__file__).resolve().parent.parent
FAILURES = (Verdict.ISSUE, Verdict.ERROR)


def check(
    defects: Defects = Defects(),
    runs: tuple[str, ...] = RUNS,
    timeout: float = 5.0,
    discovery_duration: float = 0.25,
    **fixture: object,
) -> Report:
    with BrokenFocuser(defects, **fixture) as server:  # type: ignore[arg-type]
        options = CheckerOptions(
            timeout=timeout, discovery_port=server.discovery_port, discovery_duration=discovery_duration, move_timeout=10.0
        )
        return run_all(server.url, runs, options)


def failures(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.verdict in FAILURES]


def describe(findings: list[Finding]) -> str:
    return "\n".join(f.line() for f in findings) or "(none)"


# The checks beyond ConformU that a correct absolute focuser must pass, not merely not fail.
FIELD_CHECKS = {
    ("conformance", "Connect - Already connected"), ("conformance", "Action - Unknown name"),
    ("conformance", "Halt - During a move"), ("discovery", "Discovery - Broadcast"), ("discovery", "Discovery - Not a probe"),
    ("discovery", "Discovery - After bad datagrams"), ("discovery", "Discovery - Port sharing"),
    ("discovery", "Setup page - Server"), ("discovery", "Setup page - Device"),
}


@pytest.mark.parametrize(
    "fixture, runs, expected_info",
    [
        ({}, RUNS, {("conformance", "Action")}),
        ({"absolute": False, "move_seconds": 0.05}, ("conformance", "protocol"), {("conformance", "Action"), ("conformance", "DeviceState")}),
        ({"temp_comp_available": True}, ("conformance", "protocol"), {("conformance", "Action")}),
    ],
    ids=["absolute", "relative", "temperature-compensation"],
)
def test_a_correct_focuser_passes(fixture: dict[str, object], runs: tuple[str, ...], expected_info: set[tuple[str, str]]) -> None:
    report = check(runs=runs, **fixture)  # type: ignore[arg-type]
    assert not failures(report), describe(failures(report))
    infos = report.select(verdict=Verdict.INFO)
    assert {(f.run, f.test) for f in infos} == expected_info, describe(infos)
    assert {f.run for f in report.findings} == set(runs)
    assert report.exit_status == 0
    if fixture.get("absolute", True):
        passed = {f.test for f in report.select("conformance", Verdict.OK)}
        assert set(LIMIT_MOVES) <= passed, "the limit moves must run even without temperature compensation"
    if runs == RUNS:
        passed_anywhere = {(f.run, f.test) for f in report.select(verdict=Verdict.OK)}
        assert FIELD_CHECKS <= passed_anywhere, f"not passed: {sorted(FIELD_CHECKS - passed_anywhere)}"


LIMIT_MOVES = ("Move - To 0", "Move - Below 0", "Move - To MidPoint", "Move - To MaxStep", "Move - Above MaxStep")
QUICK = {"move_seconds": 0.02}  # for defects that have nothing to do with motion

# Each defect: the runs to do, the findings (run, test, words of the message) that must be failures,
# and the fixture's settings. A test of "" matches any test.
DEFECTS: dict[str, tuple[tuple[str, ...], list[tuple[str, str, str]], dict[str, object]]] = {
    "miscased_keys": (
        ("conformance", "protocol"),
        [("protocol", "GET Description", "must be cased exactly"), ("conformance", "InterfaceVersion", "no 'Value' key")],
        QUICK,
    ),
    "no_content_type": (
        ("conformance", "protocol"),
        [("conformance", "InterfaceVersion", "application/json"), ("protocol", "GET Name", "no Content-Type header")],
        QUICK,
    ),
    "rejects_out_of_range": (
        ("conformance",),
        [("conformance", "Move - Below 0", "should fail gracefully"), ("conformance", "Move - Above MaxStep", "should fail gracefully")],
        QUICK,
    ),
    "echoes_miscased_put_id": (("protocol",), [("protocol", "PUT Move", "expected ClientTransactionID 0 but received 67890")], QUICK),
    "unknown_member_200": (("protocol",), [("protocol", "Bad URI", "Unknown member")], QUICK),
    # Moves long enough that the checker reads Position while the lying focuser is still far from
    # the target, however loaded the machine; the checker does not wait for them, so they cost no time.
    "is_moving_lies": (("conformance",), [("conformance", "Move - To MaxStep", "Move ended at")], {"move_seconds": 3.0}),
    "nonstandard_state_name": (("conformance",), [("conformance", "DeviceState", "non-operational property")], QUICK),
    "server_transaction_zero": (("protocol",), [("protocol", "GET Position", "ServerTransactionID is 0")], QUICK),
    "spaced_discovery_reply": (("discovery",), [("discovery", "Discovery reply", "white-space")], {}),
    "halt_ignored": (("conformance",), [("conformance", "Halt - During a move", "kept moving to its target")], {"move_seconds": 0.08}),
    "long_description": (("conformance",), [("conformance", "Description", "more than 64")], QUICK),
    "unknown_action_succeeds": (
        ("conformance",), [("conformance", "Action - Unknown name", "must return ActionNotImplemented (0x40C)")], QUICK,
    ),
    "interface_version_3": (("conformance",), [("conformance", "InterfaceVersion - Members", "so report 4")], QUICK),
    "null_error_message": (("protocol",), [("protocol", "", "ErrorMessage is null on a successful reply")], QUICK),
    "connect_twice_fails": (
        ("conformance",), [("conformance", "Connect - Already connected", "A second PUT connect while connected failed")], QUICK,
    ),
    "repeated_server_transaction": (("protocol",), [("protocol", "", "was already given to the reply to")], QUICK),
    "relative_position": (
        ("conformance",), [("conformance", "Position", "relative focuser but it didn't raise")], {**QUICK, "absolute": False},
    ),
    "json_setup_pages": (
        ("discovery",),
        [("discovery", "Setup page - Server", "must be an HTML page"), ("discovery", "Setup page - Device", "must be an HTML page")],
        {},
    ),
    "answers_garbage": (("discovery",), [("discovery", "Discovery - Not a probe", "that are not the probe")], {}),
    "dies_after_garbage": (("discovery",), [("discovery", "Discovery - After bad datagrams", "no longer answered")], {}),
    "unicast_only": (("discovery",), [("discovery", "Discovery - Broadcast", "not the same probe broadcast to 127.255.255.255")], {}),
    "exclusive_port": (("discovery",), [("discovery", "Discovery - Port sharing", "holds UDP port")], {}),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_is_reported_as_a_failure(defect: str) -> None:
    runs, expected, fixture = DEFECTS[defect]
    report = check(Defects(**{defect: True}), runs=runs, **fixture)  # type: ignore[arg-type]
    for run, test, words in expected:
        found = [f for f in failures(report) if f.run == run and test in (f.test, "") and words in f.message]
        assert found, f"no {run} ISSUE or ERROR under {test!r} mentioning {words!r}; failures were:\n{describe(failures(report))}"
    assert report.exit_status == min(len(failures(report)), 255)


def test_a_move_that_blocks_until_done_is_reported() -> None:
    # A relative focuser makes only two moves, so the deliberately slow moves keep the test short.
    report = check(Defects(blocking_move=True), runs=("conformance",), move_seconds=1.1, absolute=False)
    found = [f for f in failures(report) if f.test == "Move - TempComp False" and "moved synchronously" in f.message]
    assert found, describe(failures(report))


def test_a_hung_server_gives_errors_and_the_checker_finishes() -> None:
    report = check(Defects(hangs=True), timeout=0.1, discovery_duration=0.15)
    for run in RUNS:
        errors = report.select(run, Verdict.ERROR)
        assert errors, f"the {run} run reported no error against a server that never answers"
    assert any("no complete reply within the 0.1 s request timeout" in f.message for f in report.select(verdict=Verdict.ERROR))


def test_a_server_that_trickles_its_replies_is_an_error_naming_the_member() -> None:
    """One byte every half second satisfies every read's timeout; only a deadline on the whole reply ends it."""
    report = check(Defects(trickles=True), runs=("conformance",), timeout=0.7)
    errors = report.select("conformance", Verdict.ERROR)
    assert any(
        "GET /api/v1/focuser/0/interfaceversion: no complete reply within the 0.7 s request timeout" in f.message for f in errors
    ), describe(errors)


def test_no_discovery_reply_is_information_and_management_is_checked_at_the_url_port() -> None:
    with BrokenFocuser() as server:
        silent_port = server.discovery_port + 1 if server.discovery_port < 65535 else server.discovery_port - 1
        report = run_all(server.url, ("discovery",), CheckerOptions(discovery_port=silent_port, discovery_duration=0.3))
    assert [f.test for f in report.select("discovery", Verdict.INFO)] == ["Discovery"]
    assert {f.test for f in report.select("discovery", Verdict.OK)} == {
        "Management apiversions", "Management description", "Management devices", "Setup page - Server", "Setup page - Device"
    }


def run_command(*args: str) -> subprocess.CompletedProcess[str]:
    """The checker as a user runs it, with -S so that only the standard library is importable."""
    return subprocess.run(
        [sys.executable, "-S", "-m", "conformance", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_the_command_exits_with_errors_plus_issues() -> None:
    with BrokenFocuser(Defects(echoes_miscased_put_id=True)) as server:
        options = ("--run", "protocol", "--discovery-port", str(server.discovery_port))
        result = run_command(server.url, *options)
        expected = run_all(server.url, ("protocol",), CheckerOptions(discovery_port=server.discovery_port))
    assert result.returncode == expected.exit_status > 0, result.stdout + result.stderr
    assert "ISSUE" in result.stdout and "FAILED" in result.stdout


def test_the_command_exits_0_for_a_correct_focuser_and_prints_one_line_per_check() -> None:
    with BrokenFocuser() as server:
        result = run_command(
            server.url, "--run", "discovery", "--discovery-port", str(server.discovery_port), "--discovery-duration", "0.25"
        )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("discovery ")]
    assert lines and all(any(f" {v.value} " in line for v in Verdict) for line in lines), result.stdout
    assert any(" OK " in line and "Management apiversions" in line for line in lines)
    assert "PASSED" in result.stdout


def test_the_whole_check_stops_at_its_time_limit_and_says_what_it_left_undone() -> None:
    """The conformance run gives up at its first failed request; the protocol run goes on until the limit."""
    with BrokenFocuser(Defects(trickles=True)) as server:
        result = run_command(server.url, "--timeout", "0.6", "--total-timeout", "1.5", "--discovery-port", str(server.discovery_port))
    assert result.returncode > 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("protocol ") and " ERROR " in line and "The 1.5 s limit for the whole check ran out during PUT" in line
        and "not finished: connecting, the common members, the focuser members" in line for line in lines
    ), result.stdout
    assert any(line.startswith("discovery ") and "Not started" in line and " ERROR " in line for line in lines), result.stdout


def test_the_command_explains_a_bad_url() -> None:
    result = run_command("http://127.0.0.1:11111/api/v1/telescope/0")
    assert result.returncode == 2
    assert "only tests focusers" in result.stderr


def test_broadcast_probes_the_whole_network_as_clients_do() -> None:
    """--broadcast sends to 255.255.255.255, so only inside a network namespace that has nothing but loopback."""
    result = run_in_net_namespace(f"""
        import json, sys
        sys.path.insert(0, {str(REPO)!r})
        from broken_focuser import BrokenFocuser
        from conformance import CheckerOptions, run_all
        with BrokenFocuser() as server:
            options = CheckerOptions(discovery_port=server.discovery_port, discovery_duration=0.3, broadcast=True)
            report = run_all(server.url, ("discovery",), options)
        print(json.dumps([[f.test, f.verdict.value, f.message] for f in report.findings]))
    """, setup=LOOPBACK_ONLY + " && ip route add 255.255.255.255/32 dev lo src 127.0.0.1")
    findings = json.loads(result.stdout.strip().splitlines()[-1])
    assert ["Discovery - Broadcast", "OK", "The probe broadcast to 255.255.255.255 was answered, as clients need"] in findings
    assert not [f for f in findings if f[1] in ("ISSUE", "ERROR")], findings
