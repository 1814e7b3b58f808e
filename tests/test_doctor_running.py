"""`alpaca-focuser doctor` beside a running server: it reads the note the server leaves (pid, the
ports it really serves on, its configuration file), so a port given on the command line and a
service that reads another file than the user's are both checked as they run. The note is gone
when the server stops."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_support import serving, user_env
from conftest import wait_for
from sim_support import running_pty_simulator
from test_doctor import line_about, write_config

from alpaca_focuser.cli import main
from alpaca_focuser.config import locations as config_locations


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["doctor", "--timeout", "0.3", *args])
    return code, capsys.readouterr().out.splitlines()


def served_port(url: str) -> int:
    found = re.search(r":(\d+)$", url)
    assert found, url
    return int(found.group(1))


def test_a_server_on_ports_from_the_command_line_is_seen_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_pty_simulator() as (_, pty):
        config = write_config(tmp_path, pty)  # its http_port is not the one the server gets with --http-port 0
        with serving("--config", str(config), env=user_env(tmp_path), cwd=tmp_path) as served:
            wait_for(lambda: list(tmp_path.glob("running-*.json")), 10, "the server's note beside its configuration file")
            notes = list(tmp_path.glob("running-*.json"))
            assert len(notes) == 1
            note = json.loads(notes[0].read_text())
            assert (note["pid"], note["config"]) == (served.process.pid, str(config.resolve()))
            port = served_port(served.url)
            _, lines = doctor(capsys, "--config", str(config))
            report = "\n".join(lines)
            assert line_about(lines, f"HTTP port {port}: the alpaca-focuser server is running there").startswith("ok"), report
            assert "the server is not running" not in report
            assert line_about(lines, "discovery is off").startswith("note"), "the server runs with --no-discovery"
            held = line_about(lines, "in use by the running alpaca-focuser")
            assert held.startswith("ok") and f"pid {served.process.pid}" in held
            assert served.stop() == 0
        assert list(tmp_path.glob("running-*.json")) == [], "the note is removed when the server stops"


def test_without_config_the_doctor_checks_the_file_the_running_service_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    system_file = tmp_path / "etc" / "alpaca-focuser" / "config.toml"
    system_file.parent.mkdir(parents=True)
    write_config(system_file.parent, "sim://service")
    monkeypatch.setattr(config_locations, "system_config_path", lambda: system_file)
    user_home = tmp_path / "home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user_home / ".config"))
    user_file = config_locations.user_config_path()
    user_file.parent.mkdir(parents=True)
    write_config(user_file.parent, "sim://users-own")  # found first by the search order, but not what the service reads
    monkeypatch.chdir(tmp_path)
    with serving("--config", str(system_file), env=user_env(user_home), cwd=tmp_path) as served:
        wait_for(lambda: list(system_file.parent.glob("running-*.json")), 10, "the server's note")
        _, lines = doctor(capsys)
        report = "\n".join(lines)
        first = line_about(lines, "Configuration")
        assert first.startswith("ok") and str(system_file.resolve()) in first and f"the running server, pid {served.process.pid}" in first, report
        assert "sim://service" in report and "sim://users-own" not in report
        assert line_about(lines, f"HTTP port {served_port(served.url)}: the alpaca-focuser server is running there").startswith("ok")


def test_a_note_left_by_a_killed_server_is_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "sim://")
    with serving("--config", str(config), env=user_env(tmp_path), cwd=tmp_path) as served:
        wait_for(lambda: list(tmp_path.glob("running-*.json")), 10, "the server's note")
        served.process.kill()
        served.process.wait(timeout=20)
    assert list(tmp_path.glob("running-*.json")), "a killed server cannot remove its note"
    _, lines = doctor(capsys, "--config", str(config))
    assert line_about(lines, "is free for the server").startswith("ok")
