"""`alpaca-focuser doctor` on a healthy setup and on each broken case it claims to detect, with
the advice it gives asserted.

The healthy run happens in a network namespace of its own, where the server may listen on
0.0.0.0 and the real discovery port 32227 and reach nothing but loopback."""

from __future__ import annotations

import grp
import http.server
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port
from mount_support import running_mount
from sim_support import running_pty_simulator
from test_discovery import run_in_net_namespace

from alpaca_focuser.cli import main
from alpaca_focuser.cli.doctor import examine
from alpaca_focuser.doctor import Level

FAST = "0.3"


def write_config(folder: Path, port: str, *, bind: str = "127.0.0.1", http_port: int | None = None, discovery_port: int | None = None, extra: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'[server]\nbind = "{bind}"\nhttp_port = {http_port or free_port()}\n'
        f"discovery_port = {discovery_port or free_port(socket.SOCK_DGRAM)}\nmdns = false\n"
        f'[[focuser]]\nport = "{port}"\n{extra}'
    )
    return config


def doctor(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, list[str]]:
    code = main(["doctor", "--config", str(config), "--timeout", FAST])
    return code, capsys.readouterr().out.splitlines()


def line_about(lines: list[str], words: str) -> str:
    found = [line for line in lines if words in line]
    assert found, f"no line about {words!r} in:\n" + "\n".join(lines)
    return found[0]


@pytest.fixture
def simulator() -> Iterator[str]:
    with running_pty_simulator() as (_, path):
        yield path


HEALTHY = """
    import subprocess, sys, tempfile, time, urllib.request
    from pathlib import Path
    from sim_support import running_pty_simulator
    from alpaca_focuser.cli import main
    with running_pty_simulator() as (motor, pty), tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(f'[server]\\nmdns = false\\n[[focuser]]\\nport = "{pty}"\\n')
        server = subprocess.Popen([sys.executable, "-P", "-m", "alpaca_focuser", "serve", "--config", str(config)], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen("http://127.0.0.1:11111/management/apiversions", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            time.sleep(0.3)  # discovery starts just after HTTP
            print("EXIT", main(["doctor", "--config", str(config), "--timeout", "1"]))
        finally:
            server.terminate()
            server.wait(15)
"""


def test_a_healthy_setup_is_all_ok() -> None:
    lines = run_in_net_namespace(HEALTHY, timeout=90).stdout.splitlines()
    report = "\n".join(lines)
    assert "EXIT 0" in lines, report
    assert "Everything checked is ok." in lines
    assert not [line for line in lines if line.startswith("FIX")], report
    assert line_about(lines, "Configuration").startswith("ok")
    assert line_about(lines, 'bind = "0.0.0.0"').startswith("ok")
    assert line_about(lines, "HTTP port 11111: the alpaca-focuser server is running there").startswith("ok")
    assert line_about(lines, "answers its own discovery probe").startswith("ok")
    assert line_about(lines, "in use by the running alpaca-focuser").startswith("ok"), "the server's own port is not probed behind its back"


def test_a_free_port_is_probed_and_answers_as_the_focuser(tmp_path: Path, simulator: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = doctor(capsys, write_config(tmp_path, simulator))
    assert line_about(lines, "answers as a Celestron focuser").startswith("ok")
    assert line_about(lines, "is free for the server").startswith("ok")
    assert line_about(lines, "the server is not running").startswith("FIX")
    assert code == 1


def test_loopback_only_bind_is_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, lines = doctor(capsys, write_config(tmp_path, "sim://"))
    line = line_about(lines, 'bind = "127.0.0.1"')
    assert line.startswith("FIX") and "N.I.N.A. on another computer cannot reach it" in line and 'bind = "0.0.0.0"' in line


def test_a_configuration_that_does_not_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[server]\nhttp_port = 'eleven'\n")
    code, lines = doctor(capsys, config)
    assert code == 1
    assert lines[0].startswith("FIX") and "does not load" in lines[0] and "http_port" in lines[0] and "line 2" in lines[0]
    missing = tmp_path / "absent.toml"
    code, lines = doctor(capsys, missing)
    assert code == 1 and lines[0].startswith("FIX") and f"alpaca-focuser init --config {missing}" in lines[0]


def test_a_port_that_is_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, lines = doctor(capsys, write_config(tmp_path, str(tmp_path / "ttyACM7")))
    line = line_about(lines, "ttyACM7 does not exist")
    assert line.startswith("FIX") and "power the mount" in line and "alpaca-focuser ports" in line


@pytest.mark.skipif(Path("/dev/celestron_focuser").exists(), reason="this computer has the focuser's stable name")
def test_the_stable_name_without_its_udev_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, lines = doctor(capsys, write_config(tmp_path, "/dev/celestron_focuser"))
    assert "sudo alpaca-focuser udev install" in line_about(lines, "/dev/celestron_focuser does not exist")


def test_a_port_held_by_another_program(tmp_path: Path, simulator: str, capsys: pytest.CaptureFixture[str]) -> None:
    with open(simulator, "rb") as line:
        other = subprocess.Popen(["sleep", "60"], stdin=line)
    try:
        code, lines = doctor(capsys, write_config(tmp_path, simulator))
    finally:
        other.kill()
        other.wait()
    held = line_about(lines, "held by another program")
    assert held.startswith("FIX") and f"sleep (pid {other.pid})" in held and "ModemManager" in held
    assert not [line for line in lines if "answers as a Celestron focuser" in line], "a held port must not be probed"
    assert code == 1


def test_a_hand_controller_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_mount() as mount:
        _, lines = doctor(capsys, write_config(tmp_path, mount.hc_path))
    line = line_about(lines, "hand controller")
    assert line.startswith("FIX") and 'set route = "hc"' in line


def test_a_port_where_nothing_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    controller, device = os.openpty()
    try:
        _, lines = doctor(capsys, write_config(tmp_path, os.ttyname(device)))
    finally:
        os.close(controller)
        os.close(device)
    line = line_about(lines, "does not answer as a Celestron focuser")
    assert line.startswith("FIX") and "power from the mount's AUX port" in line


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_a_port_this_user_may_not_open_gets_the_dialout_advice(simulator: str) -> None:
    device = os.path.realpath(simulator)  # the link sits in a folder only root may enter
    os.chown(device, 0, grp.getgrnam("dialout").gr_gid)
    os.chmod(device, 0o660)  # as udev leaves a USB serial port
    readable = Path(tempfile.mkdtemp(prefix="doctor-"))  # pytest's own folders are for root only
    readable.chmod(0o755)
    config = write_config(readable, device)
    config.chmod(0o644)
    examine(str(config), 0.3)  # as root first: imports all the checks need, for a child that may not read them
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the user "nobody", not in dialout, runs the checks
        try:
            os.environ.update(USER="nobody", LOGNAME="nobody")
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            text = "\n".join(finding.line() for finding in examine(str(config), 0.3) if "Focuser" in finding.text)
        except BaseException as error:  # the child must never return into pytest
            text = f"the checks failed: {error!r}"
        os.write(writer, text.encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as stream:
        output = stream.read()
    os.waitpid(child, 0)
    shutil.rmtree(readable)
    assert output.startswith("FIX"), output
    assert "this user (nobody) may not open it" in output and "sudo usermod -aG dialout nobody" in output


@pytest.fixture
def web_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_http_port_held_by_another_program(tmp_path: Path, web_server: int, capsys: pytest.CaptureFixture[str]) -> None:
    _, lines = doctor(capsys, write_config(tmp_path, "sim://", http_port=web_server))
    line = line_about(lines, f"HTTP port {web_server} is held by another program")
    assert line.startswith("FIX") and "choose another http_port" in line


def test_the_discovery_port_held_without_sharing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.1", 0))
        _, lines = doctor(capsys, write_config(tmp_path, "sim://", discovery_port=other.getsockname()[1]))
    line = line_about(lines, "held by a program that does not share it")
    assert line.startswith("FIX") and "ss -ulpn" in line


def fake_ufw(folder: Path, status: str) -> None:
    """ufw's real status output, from a stand-in: enabling the real ufw would firewall this machine."""
    tool = folder / "ufw"
    tool.write_text(f"#!/bin/sh\ncat <<'EOF'\n{status}EOF\n")
    tool.chmod(0o755)


UFW_ACTIVE = "Status: active\n\nTo                         Action      From\n--                         ------      ----\n22/tcp                     ALLOW       Anywhere\n"


def test_an_active_ufw_without_the_discovery_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ufw(tmp_path, UFW_ACTIVE)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    config = write_config(tmp_path, "sim://", http_port=11111, discovery_port=32227)
    findings = [finding for finding in examine(str(config), 0.3) if finding.text.startswith("ufw")]
    assert [finding.level for finding in findings] == [Level.PROBLEM]
    assert "sudo ufw allow 32227/udp" in findings[0].text and "sudo ufw allow 11111/tcp" in findings[0].text

    fake_ufw(tmp_path, UFW_ACTIVE + "32227/udp                  ALLOW       Anywhere\n11111                      ALLOW       Anywhere\n")
    findings = [finding for finding in examine(str(config), 0.3) if finding.text.startswith("ufw")]
    assert [finding.level for finding in findings] == [Level.OK]
