"""`alpaca-focuser service` and `udev` into a temporary root: the files land where a system looks
for them, with what makes the server start at boot and the port keep its name; installing twice
changes nothing; uninstall removes them; systemd itself accepts the unit."""

from __future__ import annotations

import contextlib
import getpass
import io
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from cli_support import serving, user_env
from conftest import require_tool

from alpaca_focuser.cli import main
from alpaca_focuser.cli.system_files import own_command
from alpaca_focuser.config import ConfigFile
from alpaca_focuser.config import locations as config_locations

UNIT = Path("etc/systemd/system/alpaca-focuser.service")
RULE = Path("etc/udev/rules.d/99-celestron-focuser.rules")
SYSTEM_CONFIG = Path("etc/alpaca-focuser/config.toml")


@pytest.fixture(autouse=True)
def own_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This user's configuration folder, empty unless a test runs init into it."""
    home = tmp_path / "config-home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("ALPACA_FOCUSER_CONFIG", raising=False)
    return home


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root``: its text and inode (a rewrite with the same text changes the inode)."""
    return {str(path.relative_to(root)): (path.read_text(), path.stat().st_ino) for path in root.rglob("*") if path.is_file()}


def test_a_system_service_with_its_udev_rule_and_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    account = getpass.getuser()
    code, out = cli(capsys, "service", "install", "--root", str(tmp_path), "--as", account)
    assert code == 0, out
    unit = (tmp_path / UNIT).read_text()
    for line in (
        "After=network-online.target",
        "Wants=network-online.target",
        f"User={account}",
        "SupplementaryGroups=dialout",
        "Restart=on-failure",
        "WantedBy=multi-user.target",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "PrivateTmp=yes",
        "ReadWritePaths=/etc/alpaca-focuser",
    ):
        assert line in unit.splitlines(), f"{line!r} missing from the unit:\n{unit}"
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith("serve --config /etc/alpaca-focuser/config.toml") and exec_start.startswith("ExecStart=/")
    rule = (tmp_path / RULE).read_text()
    assert 'ATTRS{idVendor}=="15a2", ATTRS{idProduct}=="a50f"' in rule and 'SYMLINK+="celestron_focuser"' in rule and 'GROUP="dialout"' in rule
    config = ConfigFile.load(tmp_path / SYSTEM_CONFIG)
    assert config.settings.focusers[0].port == "/dev/celestron_focuser"
    assert "journalctl -u alpaca-focuser.service" in out and "the service reads it" in out
    assert f"Undo: sudo {shlex.join(own_command())} service uninstall" in out, "the undo line works for a pipx install too"
    assert "Not run, since the files went to" in out and "systemctl enable --now alpaca-focuser.service" in out

    before = snapshot(tmp_path)
    code, again = cli(capsys, "service", "install", "--root", str(tmp_path), "--as", account)
    assert code == 0
    assert snapshot(tmp_path) == before, "installing twice changed a file"
    assert "already as it should be" in again and "daemon-reload" not in again

    code, out = cli(capsys, "service", "uninstall", "--root", str(tmp_path), "--as", account)
    assert code == 0, out
    assert not (tmp_path / UNIT).exists() and not (tmp_path / RULE).exists()
    assert (tmp_path / SYSTEM_CONFIG).exists() and "is kept" in out
    code, out = cli(capsys, "service", "uninstall", "--root", str(tmp_path), "--as", account)
    assert code == 0 and "was not there" in out


def test_systemd_accepts_the_units(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    analyze = require_tool("systemd-analyze", "systemd")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    assert cli(capsys, "service", "install", "--root", str(tmp_path / "system"), "--as", getpass.getuser())[0] == 0
    assert cli(capsys, "service", "install", "--user", "--root", str(tmp_path / "user"))[0] == 0
    units = sorted(tmp_path.rglob("alpaca-focuser.service"))
    assert len(units) == 2
    for unit in units:
        result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "alpaca-focuser.service" not in result.stderr, result.stderr


def test_a_user_service_needs_no_root_and_reads_the_users_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    config_home = tmp_path / "home" / ".config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    root = tmp_path / "root"
    code, out = cli(capsys, "service", "install", "--user", "--root", str(root))
    assert code == 0, out
    unit_path = root / config_home.relative_to("/") / "systemd" / "user" / "alpaca-focuser.service"
    unit = unit_path.read_text()
    assert "WantedBy=default.target" in unit and "User=" not in unit and "Restart=on-failure" in unit
    assert f"--config {config_home}/alpaca-focuser/config.toml" in unit
    assert "systemctl --user enable --now alpaca-focuser.service" in out and "loginctl enable-linger" in out
    assert not (root / RULE).exists(), "a user service cannot install a udev rule"


def test_dry_run_prints_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = cli(capsys, "service", "install", "--dry-run", "--root", str(tmp_path), "--as", getpass.getuser())
    assert code == 0
    assert "--- /etc/systemd/system/alpaca-focuser.service" in out and "Restart=on-failure" in out
    assert "Would run: systemctl enable --now alpaca-focuser.service" in out
    assert "Would write the configuration template to /etc/alpaca-focuser/config.toml" in out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["install", "dry run"])
def test_an_unknown_account_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], dry_run: list[str]) -> None:
    root = tmp_path / "root"
    root.mkdir()
    code, out = cli(capsys, "service", "install", *dry_run, "--root", str(root), "--as", "no-such-user-here")
    assert code == 2 and "there is no account 'no-such-user-here'" in out and "--as NAME" in out
    assert list(root.iterdir()) == []


def test_from_a_root_shell_the_account_must_be_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "root")
    root = tmp_path / "root"
    root.mkdir()
    code, out = cli(capsys, "service", "install", "--root", str(root))
    assert code == 2 and "would run as root" in out and "--as NAME" in out
    assert list(root.iterdir()) == []
    code, out = cli(capsys, "service", "install", "--root", str(root), "--as", "root")
    assert code == 0 and "Warning: the service runs as root" in out and "User=root" in (root / UNIT).read_text()


def test_udev_run_with_sudo_names_the_callers_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    callers_file = tmp_path / "stargazer" / "config.toml"
    callers_file.parent.mkdir()
    callers_file.write_text('[[focuser]]\nport = "/dev/ttyUSB3"\n')
    account_file = config_locations.account_config_path
    monkeypatch.setattr(config_locations, "account_config_path", lambda account: callers_file if account == "stargazer" else account_file(account))
    monkeypatch.setenv("SUDO_USER", "stargazer")
    monkeypatch.chdir(tmp_path)  # root's own search finds nothing here
    code, out = cli(capsys, "udev", "install", "--root", str(tmp_path / "root"))
    assert code == 0 and f"in the [[focuser]] table in {callers_file}" in out, out


def test_the_service_reads_the_file_init_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], own_config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = cli(capsys, "init", "--port", "/dev/ttyUSB3")
    assert code == 0, out
    own_file = own_config_home / "alpaca-focuser" / "config.toml"
    root = tmp_path / "root"
    code, out = cli(capsys, "service", "install", "--root", str(root), "--as", getpass.getuser())
    assert code == 0, out
    assert f"The service reads {own_file} (the file 'alpaca-focuser init' wrote for {getpass.getuser()}" in out
    unit = (root / UNIT).read_text().splitlines()
    assert next(line for line in unit if line.startswith("ExecStart=")).endswith(f"serve --config {own_file}")
    assert f"ReadWritePaths={own_file.parent}" in unit, "the service may save into the folder of the file it reads"
    assert not (root / SYSTEM_CONFIG).exists(), "no second file to edit"
    assert ConfigFile.load(own_file).settings.focusers[0].port == "/dev/ttyUSB3", "init's port is kept"
    code, out = cli(capsys, "udev", "install", "--root", str(root))
    assert code == 0 and f'port = "/dev/celestron_focuser" in the [[focuser]] table in {own_file}' in out
    code, out = cli(capsys, "service", "uninstall", "--root", str(root), "--as", getpass.getuser())
    assert f"The configuration file {own_file} is kept" in out and own_file.is_file()


def test_the_udev_rule_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = cli(capsys, "udev", "install", "--root", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / RULE).is_file() and 'port = "/dev/celestron_focuser"' in out
    before = snapshot(tmp_path)
    assert cli(capsys, "udev", "install", "--root", str(tmp_path))[0] == 0
    assert snapshot(tmp_path) == before
    code, out = cli(capsys, "udev", "uninstall", "--root", str(tmp_path))
    assert code == 0 and not (tmp_path / RULE).exists() and "Removed /etc/udev/rules.d/99-celestron-focuser.rules" in out


def as_nobody(args: list[str]) -> tuple[int, str]:
    """Run the command line in a child process as the user "nobody"; its exit status and output.
    The child may not be able to read the interpreter's own files (they can sit in root's home), so
    the same command runs first as a dry run here, which imports everything it needs."""
    with contextlib.redirect_stdout(io.StringIO()):
        main([*args, "--dry-run"])
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        code, text = 99, ""
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(out):
                code = main(args)
            text = out.getvalue()
        except BaseException as error:  # the child must never return into pytest
            text = f"failed: {error!r}"
        os.write(writer, f"{code}\n{text}".encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as stream:
        status, _, text = stream.read().partition("\n")
    os.waitpid(child, 0)
    return int(status), text


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
@pytest.mark.parametrize("command", [["service", "install", "--as", "nobody"], ["udev", "install"]])
def test_without_root_it_says_to_use_sudo(command: list[str]) -> None:
    root = Path(tempfile.mkdtemp(prefix="system-root-"))  # root's, and others may not write in it
    root.chmod(0o755)
    try:
        code, text = as_nobody([*command, "--root", str(root)])
        assert list(root.iterdir()) == []
    finally:
        shutil.rmtree(root)
    assert code == 1, text
    assert f"sudo {shlex.join(own_command())} {command[0]} install" in text
    assert "Traceback" not in text


def test_the_units_command_serves_its_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "service", "install", "--root", str(tmp_path), "--as", getpass.getuser())[0] == 0
    exec_start = next(line for line in (tmp_path / UNIT).read_text().splitlines() if line.startswith("ExecStart="))
    command = shlex.split(exec_start.removeprefix("ExecStart="))
    assert command[-2:] == ["--config", "/etc/alpaca-focuser/config.toml"]
    command[-1] = str(tmp_path / SYSTEM_CONFIG)  # the file as written under the test's root
    with serving(env=user_env(tmp_path), cwd=tmp_path, command=command) as served:
        assert f"Configuration from {tmp_path / SYSTEM_CONFIG}" in served.lines[0]
        devices = requests.get(f"{served.url}/management/v1/configureddevices", timeout=5).json()["Value"]
        assert [device["DeviceType"] for device in devices] == ["Focuser"]
