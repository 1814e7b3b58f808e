"""The command line a user meets first: --version, --help, where the configuration is looked
for (and what the first log line says about it), `init`, and that a setting a client changes is
never answered with success and then lost."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import requests
from cli_support import run_command, serving, user_env

from alpaca_focuser import __version__
from alpaca_focuser.config import locations as config_locations


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def user_file(home: Path) -> Path:
    return home / ".config" / "alpaca-focuser" / "config.toml"


def test_version_and_help_show_what_a_user_needs(home: Path, workdir: Path) -> None:
    version = run_command("--version", env=user_env(home), cwd=workdir)
    assert version.returncode == 0 and version.stdout.strip() == f"alpaca-focuser {__version__}"
    help_text = run_command("--help", env=user_env(home), cwd=workdir).stdout
    for option in ("--config", "--port", "--http-port", "--bind", "--no-discovery", "--log-level"):
        assert option in help_text, f"the top-level help does not show the serve option {option}"
    for command in ("serve", "init", "ports", "discover"):
        assert command in help_text


def test_without_a_file_the_first_line_says_so_and_a_changed_setting_is_kept_in_a_new_file(home: Path, workdir: Path) -> None:
    env = user_env(home)
    with serving("--port", "sim://cli-nofile?time_scale=50", env=env, cwd=workdir) as served:
        first = served.lines[0]
        assert "No configuration file" in first and "simulated focuser" in first
        assert str(user_file(home)) in first and "alpaca-focuser init" in first
        assert not user_file(home).exists()
        reply = served.action("SetBacklash", '{"steps": 120, "direction": "in"}')
        assert reply["ErrorNumber"] == 0, reply
        assert user_file(home).is_file()
        assert f"Created the configuration file {user_file(home)}" in served.log
        assert served.stop() == 0
    saved = tomllib.loads(user_file(home).read_text())["focuser"][0]
    assert (saved["backlash_steps"], saved["backlash_direction"], saved["port"]) == (120, "in", "sim://cli-nofile?time_scale=50")
    assert saved["unique_id"], "the UniqueID clients saw is kept"
    assert "# alpaca-focuser configuration." in user_file(home).read_text(), "the new file is the commented template"

    with serving(env=env, cwd=workdir) as served:
        assert f"Configuration from {user_file(home)}" in served.lines[0]
        assert json.loads(served.action("GetBacklash")["Value"]) == {"steps": 120, "direction": "in"}


def test_with_a_real_port_and_no_file_the_log_does_not_claim_a_simulator(home: Path, workdir: Path) -> None:
    missing = str(workdir / "ttyUSB9")
    with serving("--port", missing, env=user_env(home), cwd=workdir) as served:
        first = served.lines[0]
        assert "No configuration file" in first and f"one focuser on {missing}" in first
        assert "simulated" not in first


def test_the_search_order(home: Path, workdir: Path, tmp_path: Path) -> None:
    env = user_env(home)
    user_file(home).parent.mkdir(parents=True)
    user_file(home).write_text('[[focuser]]\nport = "sim://in-home"\n')
    here = workdir / "config.toml"
    here.write_text('[[focuser]]\nport = "sim://here"\n')
    named = tmp_path / "named.toml"
    named.write_text('[[focuser]]\nport = "sim://named"\n')
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('[[focuser]]\nport = "sim://explicit"\n')

    assert config_locations.locate(str(explicit), {config_locations.ENV_VAR: str(named)}, workdir).path == explicit
    assert config_locations.locate(None, {config_locations.ENV_VAR: str(named)}, workdir).path == named
    assert config_locations.locate(None, {}, workdir).path == here

    with serving(env=env, cwd=workdir) as served:
        assert "Configuration from config.toml (found by the current folder)" in served.lines[0]
    here.unlink()
    with serving(env=env, cwd=workdir) as served:
        assert f"Configuration from {user_file(home)} (found by your configuration folder)" in served.lines[0]
    with serving(env={**env, "ALPACA_FOCUSER_CONFIG": str(named)}, cwd=workdir) as served:
        assert f"Configuration from {named} (found by the environment variable ALPACA_FOCUSER_CONFIG)" in served.lines[0]


def test_a_missing_file_named_by_the_environment_is_a_clear_error(home: Path, workdir: Path) -> None:
    missing = workdir / "nowhere.toml"
    result = run_command(env=user_env(home, ALPACA_FOCUSER_CONFIG=str(missing)), cwd=workdir)
    assert result.returncode == 2
    assert str(missing) in result.stderr and "alpaca-focuser init" in result.stderr


def test_the_project_template_in_a_source_checkout_is_never_written(home: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "alpaca_focuser").mkdir(parents=True)
    (checkout / "alpaca_focuser" / "__init__.py").write_text("")
    (checkout / "pyproject.toml").write_text('[project]\nname = "alpaca-focuser"\n')
    template = checkout / "config.toml"
    template.write_text(config_locations.template_text())
    with serving(env=user_env(home), cwd=checkout) as served:
        first = served.lines[0]
        assert "No configuration file" in first and "project's commented template, left alone" in first
        assert served.action("SetBacklash", '{"steps": 10}')["ErrorNumber"] == 0
    assert template.read_text() == config_locations.template_text(), "the tracked template was changed"
    assert user_file(home).is_file()


def test_a_focuser_added_with_port_beyond_the_file_refuses_changes_instead_of_losing_them(home: Path, workdir: Path) -> None:
    (workdir / "config.toml").write_text('[[focuser]]\nport = "sim://cli-one?time_scale=50"\n')
    with serving("--port", "sim://cli-one?time_scale=50", "--port", "sim://cli-two?time_scale=50", env=user_env(home), cwd=workdir) as served:
        refused = served.action("SetBacklash", '{"steps": 50}', number=1)
        assert refused["ErrorNumber"] != 0
        assert "[[focuser]]" in refused["ErrorMessage"] and "config.toml" in refused["ErrorMessage"]
        assert served.action("SetBacklash", '{"steps": 50}', number=0)["ErrorNumber"] == 0


def test_init_writes_the_template_where_the_server_finds_it_and_never_over_a_file(home: Path, workdir: Path) -> None:
    env = user_env(home)
    result = run_command("init", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert f"Wrote the commented configuration template to {user_file(home)}" in result.stdout
    assert "finds it by itself" in result.stdout
    assert user_file(home).read_text() == config_locations.template_text()
    user_file(home).write_text(user_file(home).read_text() + "# mine\n")

    again = run_command("init", env=env, cwd=workdir)
    assert again.returncode == 1
    assert "already exists" in again.stderr and str(user_file(home)) in again.stderr
    assert user_file(home).read_text().endswith("# mine\n")

    elsewhere = workdir / "observatory.toml"
    named = run_command("init", "--config", str(elsewhere), "--port", "/dev/celestron_focuser", env=env, cwd=workdir)
    assert named.returncode == 0
    assert tomllib.loads(elsewhere.read_text())["focuser"][0]["port"] == "/dev/celestron_focuser"
    assert f"--config {elsewhere}" in named.stdout, "init says how to use a file the server does not find by itself"


def test_a_change_that_cannot_be_saved_is_refused_not_lost(home: Path, workdir: Path) -> None:
    blocker = home / "not-a-folder"
    blocker.write_text("")  # no configuration folder can be made under a file, whoever runs the test
    env = {**user_env(home), "XDG_CONFIG_HOME": str(blocker / "config")}
    with serving("--port", "sim://cli-unsaved?time_scale=50", env=env, cwd=workdir) as served:
        refused = served.action("SetBacklash", '{"steps": 30}')
        assert refused["ErrorNumber"] != 0
        assert "not changed" in refused["ErrorMessage"] and str(blocker) in refused["ErrorMessage"]
        assert json.loads(served.action("GetBacklash")["Value"])["steps"] == 0


def test_serve_rejects_a_missing_config_option_file(home: Path, workdir: Path) -> None:
    result = run_command("--config", str(workdir / "absent.toml"), env=user_env(home), cwd=workdir)
    assert result.returncode == 2
    assert "absent.toml" in result.stderr and "alpaca-focuser init" in result.stderr


def test_a_new_file_keeps_every_focuser_served_from_the_command_line(home: Path, workdir: Path) -> None:
    ports = ["sim://cli-first?time_scale=50", "sim://cli-second?time_scale=50"]
    with serving("--port", ports[0], "--port", ports[1], "--route", "usb", env=user_env(home), cwd=workdir) as served:
        assert "2 simulated focusers" in served.lines[0]
        devices = requests.get(f"{served.url}/management/v1/configureddevices", timeout=5).json()["Value"]
        ids = [device["UniqueID"] for device in sorted(devices, key=lambda device: device["DeviceNumber"])]
        assert served.action("SetReverse", "true", number=1)["ErrorNumber"] == 0
    focusers = tomllib.loads(user_file(home).read_text())["focuser"]
    assert [f["port"] for f in focusers] == ports
    assert [f["unique_id"] for f in focusers] == ids, "clients keep seeing the same devices"
    assert [f.get("reverse", False) for f in focusers] == [False, True]
    with serving(env=user_env(home), cwd=workdir) as served:
        assert json.loads(served.action("GetReverse", number=1)["Value"]) == {"reverse": True}
