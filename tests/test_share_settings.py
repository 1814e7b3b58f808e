"""The ``share`` setting: what the configuration file, the command line and a client may set, the
refusal of sharing on the focuser's own USB route, and the server a user runs with ``serve
--share``: the mount program (libnexstar) reads the mount through it while a client moves the
focuser over HTTP, and FocuserInfo and the log say who uses the shared port."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import pytest
import requests
from cli_support import run_command, serving, user_env
from conftest import wait_for
from mount_support import running_mount
from nexstar_support import libnexstar
from share_support import tcp_share

from alpaca_focuser.celestron.routes import Route
from alpaca_focuser.celestron.sharing import parse_share, share_problem
from alpaca_focuser.config import ConfigError, ConfigFile


@pytest.mark.parametrize(("text", "normal"), [
    ("tcp:2000", "tcp:2000"), ("TCP:127.0.0.1:2000", "tcp:2000"), ("tcp:0.0.0.0:2000", "tcp:0.0.0.0:2000"),
    ("tcp:[::1]:2000", "tcp:::1:2000"), ("pty:/tmp/mount", "pty:/tmp/mount"),
])
def test_the_owner_may_share_on_a_tcp_port_or_a_pty(text: str, normal: str) -> None:
    assert share_problem(text, client=False) is None
    spec = parse_share(text)
    assert spec is not None and spec.text == normal


@pytest.mark.parametrize(("text", "says"), [
    ("tcp:", "port from 1 to 65535"), ("tcp:70000", "port from 1 to 65535"), ("tcp:２０００", "port from 1 to 65535"),
    ("udp:2000", '"tcp:PORT"'), ("2000", '"tcp:PORT"'), ("pty:mount", "absolute path"), ("pty:/tmp/../etc/x", "absolute path"),
    ("tcp:2000\n", "control characters"), ("tcp:bad host!:2000", "IP address or a host name"),
])
def test_a_bad_share_says_what_it_must_be(text: str, says: str) -> None:
    problem = share_problem(text, client=False)
    assert problem is not None and says in problem


@pytest.mark.parametrize("text", ["tcp:0.0.0.0:2000", "tcp:192.168.1.5:2000", "pty:/tmp/mount"])
def test_a_client_may_share_only_on_this_computers_tcp_port(text: str) -> None:
    assert share_problem(text, client=True) == '"tcp:PORT" (this computer only) or "" (not shared); a host or a pty path is set in the configuration file'
    assert share_problem("tcp:2000", client=True) is None and share_problem("", client=True) is None


def test_sharing_the_focusers_own_usb_port_is_refused_in_the_file_and_the_route(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[focuser]]\nport = "/dev/ttyACM0"\nroute = "usb"\nshare = "tcp:2000"\n')
    with pytest.raises(ConfigError, match=r'line 4: share in \[\[focuser\]\] number 1 is "tcp:2000", but share needs route = "mount" or "hc"'):
        ConfigFile.load(path)
    with pytest.raises(ValueError, match='share needs route = "mount" or "hc"'):
        Route(port="/dev/ttyACM0", share="tcp:2000")
    path.write_text('[[focuser]]\nport = "/dev/ttyUSB0"\nroute = "hc"\nshare = "tcp:2000"\n')
    assert ConfigFile.load(path).settings.focusers[0].share == "tcp:2000"


def test_serve_share_without_a_mount_route_says_what_to_add(tmp_path: Path) -> None:
    result = run_command("serve", "--port", "sim://", "--share", "tcp:2000", env=user_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert 'share needs route = "mount" or "hc"' in result.stderr and "give --route mount or --route hc" in result.stderr
    result = run_command("serve", "--port", "auto", "--route", "hc", "--share", "tcp:2000", env=user_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "share needs the port's own name, not auto" in result.stderr
    result = run_command("serve", "--share", "udp:2000", env=user_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "--share" in result.stderr and '"tcp:PORT"' in result.stderr


def test_a_user_runs_the_mount_program_and_the_focuser_on_one_cable(tmp_path: Path) -> None:
    library = libnexstar()
    library.tc_get_version.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char), ctypes.POINTER(ctypes.c_char)]
    share, port = tcp_share()
    with running_mount(50) as mount, serving("serve", "--port", mount.hc_path, "--route", "hc", "--share", share,
                                             env=user_env(tmp_path), cwd=tmp_path) as served:
        api = f"{served.url}/api/v1/focuser/0"
        requests.put(f"{api}/connect", data={"ClientID": 7}, timeout=10).raise_for_status()
        wait_for(lambda: requests.get(f"{api}/connected", timeout=5).json()["Value"], 20, "the focuser to connect")
        fd = wait_for(lambda: (found := library.open_telescope(f"tcp://127.0.0.1:{port}".encode())) >= 0 and found + 1, 10,
                      "the shared port to accept the mount program") - 1
        try:
            requests.put(f"{api}/move", data={"Position": 12345, "ClientID": 7}, timeout=10).raise_for_status()
            major, minor = ctypes.c_char(), ctypes.c_char()
            assert library.tc_get_version(fd, ctypes.byref(major), ctypes.byref(minor)) > 0 and major.value == b"\x05"
            wait_for(lambda: not requests.get(f"{api}/ismoving", timeout=5).json()["Value"], 30, "the move to end")
            assert requests.get(f"{api}/position", timeout=5).json()["Value"] == 12345
            info = json.loads(served.action("FocuserInfo")["Value"])
            assert info["share"]["endpoint"] == share and "over TCP" in info["share"]["mount_program"]
            assert info["share"]["mount"]["answered"] > 0 and info["share"]["focuser"]["timed_out"] == 0
        finally:
            library.close_telescope(fd)
        wait_for(lambda: "left the shared port" in served.log, 10, "the log to say the mount program left")
        assert "now uses the shared port" in served.log
        assert served.stop() == 0
