"""The server process: `alpaca-focuser serve` with its options and configuration file, clean
shutdown on SIGINT and SIGTERM, one-line start failures, a focuser that does not answer, several
focusers, discovery wired in, and the setup pages."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from conftest import free_port, wait_for
from server_support import running_server, sim_port

from alpaca_focuser.settings import FocuserSettings

STOP_TIMEOUT_S = 15


def config_text(*ports: str, http_port: int, extra_server: str = "") -> str:
    focusers = "".join(f'\n[[focuser]]\nname = "Focuser {i}"\nport = "{port}"\n' for i, port in enumerate(ports))
    return (
        "# test configuration\n[server]\n"
        f'name = "Test Server"\nbind = "127.0.0.1"\nhttp_port = {http_port}\ndiscovery = false\nmdns = false\n{extra_server}'
        f"{focusers}"
    )


@contextmanager
def serve(*args: str, cwd: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """`alpaca-focuser serve ARGS` as its own process; killed if the test leaves it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "alpaca_focuser", "serve", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=STOP_TIMEOUT_S)


def answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/management/apiversions", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def wait_until_serving(process: subprocess.Popen[str], url: str) -> None:
    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {process.communicate()[1]}")
        return answers(url)

    wait_for(ready, timeout=20, what=f"the server to answer at {url}")


def start_failure(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", "alpaca_focuser", "serve", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    return result.returncode, result.stderr


# ----------------------------------------------------------------------- the process


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serves_from_the_config_file_and_stops_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim_url, _ = sim_port()
    config = tmp_path / "config.toml"
    config.write_text(config_text(sim_url, http_port=port))
    with serve("--config", str(config)) as process:
        wait_until_serving(process, url)
        wait_for(lambda: requests.get(f"{url}/api/v1/focuser/0/connected").json()["Value"], what="the focuser to connect")
        requests.put(f"{url}/api/v1/focuser/0/move", data={"Position": "1000"})
        process.send_signal(signum)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0
        stderr = process.communicate()[1]
    assert "Traceback" not in stderr
    assert "shutting down" in stderr and "Server stopped" in stderr
    assert not answers(url)


def test_unique_id_is_generated_once_and_kept_in_the_config_file(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "config.toml"
    config.write_text(config_text(sim_port()[0], http_port=port))
    seen = []
    for _ in range(2):
        with serve("--config", str(config)) as process:
            wait_until_serving(process, url)
            seen.append(requests.get(f"{url}/management/v1/configureddevices").json()["Value"][0]["UniqueID"])
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=STOP_TIMEOUT_S) == 0
    assert seen[0] and seen[0] == seen[1]
    assert seen[0] in config.read_text()
    assert config.read_text().startswith("# test configuration")


def test_command_line_overrides_the_config_file(tmp_path: Path) -> None:
    config_port = free_port()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first, second = sim_port()[0], sim_port()[0]
    config = tmp_path / "config.toml"
    config.write_text(config_text(f"socket://127.0.0.1:{free_port()}", http_port=config_port))
    with serve("--config", str(config), "--http-port", str(port), "--port", first, "--port", second, "--log-level", "debug") as process:
        wait_until_serving(process, url)
        devices = requests.get(f"{url}/management/v1/configureddevices").json()["Value"]
        assert [device["DeviceNumber"] for device in devices] == [0, 1]
        for number, sim in enumerate((first, second)):
            assert sim in requests.get(f"{url}/setup/v1/focuser/{number}/setup").text
        requests.get(f"{url}/api/v1/focuser/0/name", params={"ClientID": "9", "ClientTransactionID": "77"})
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0
        stderr = process.communicate()[1]
    assert not answers(f"http://127.0.0.1:{config_port}")
    assert "ClientID=9 ClientTransactionID=77 GET focuser 0 name" in stderr


def test_without_config_uses_config_toml_here_or_one_simulated_focuser(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    options = ("--http-port", str(port), "--bind", "127.0.0.1", "--no-discovery", "--no-mdns")
    with serve(*options, "--port", sim_port()[0], cwd=tmp_path) as process:
        wait_until_serving(process, url)
        assert [d["DeviceName"] for d in requests.get(f"{url}/management/v1/configureddevices").json()["Value"]] == ["Celestron Focuser (simulated)"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0
    (tmp_path / "config.toml").write_text(config_text(sim_port()[0], sim_port()[0], http_port=port))
    with serve(cwd=tmp_path) as process:
        wait_until_serving(process, url)
        assert len(requests.get(f"{url}/management/v1/configureddevices").json()["Value"]) == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0


def test_a_focuser_that_does_not_answer_does_not_stop_the_server(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "config.toml"
    config.write_text(config_text(f"socket://127.0.0.1:{free_port()}", sim_port()[0], http_port=port))
    with serve("--config", str(config)) as process:
        wait_until_serving(process, url)
        assert requests.get(f"{url}/api/v1/focuser/0/connected").json()["Value"] is False
        wait_for(lambda: requests.get(f"{url}/api/v1/focuser/1/connected").json()["Value"], what="the other focuser to connect")
        wait_for(lambda: "127.0.0.1" in requests.get(f"{url}/setup/v1/focuser/0/setup").text.split("Port")[-1], what="the reason on the setup page")
        page = requests.get(f"{url}/setup").text
        assert 'class="bad state">not connected' in page and 'class="good state">connected' in page
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0


# ---------------------------------------------------------------------- start failures


def test_http_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, stderr = start_failure("--http-port", str(port), "--bind", "127.0.0.1", "--no-discovery", "--no-mdns", "--port", sim_port()[0], cwd=tmp_path)
    assert code != 0
    assert "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]
    assert "already in use" in message and str(port) in message and "--http-port" in message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ["no configuration file"]),
        ("[server\nname = 1", ["line"]),
        ("[server]\nhttp_port = 'eleven'\n", ["http_port"]),
    ],
    ids=["missing", "not-toml", "bad-value"],
)
def test_an_unreadable_config_is_one_clear_line(tmp_path: Path, content: str | None, words: list[str]) -> None:
    config = tmp_path / "config.toml"
    if content is not None:
        config.write_text(content)
    code, stderr = start_failure("--config", str(config))
    assert code != 0
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and str(config) in lines[0]
    assert all(word in lines[0] for word in words)


@pytest.mark.parametrize("args", [["--http-port", "70000"], ["--discovery-port", "0"], ["--log-level", "loud"]])
def test_bad_options_are_refused(args: list[str]) -> None:
    code, stderr = start_failure(*args)
    assert code == 2
    assert args[0] in stderr and "Traceback" not in stderr


# ------------------------------------------------------------------ in-process server


def test_discovery_answers_with_the_http_port_until_stopped() -> None:
    discovery_port = free_port(socket.SOCK_DGRAM)
    with running_server(discovery=True, discovery_port=discovery_port) as running:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(5)
            probe.sendto(b"alpacadiscovery1", ("127.0.0.1", discovery_port))
            reply, _ = probe.recvfrom(1024)
        assert reply == b'{"AlpacaPort":%d}' % running.port
        assert f"UDP port {discovery_port}" in requests.get(f"{running.url}/setup").text
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.5)
        probe.sendto(b"alpacadiscovery1", ("127.0.0.1", discovery_port))
        with pytest.raises(OSError):
            probe.recvfrom(1024)


def test_stop_closes_the_http_port_and_the_focuser_ports() -> None:
    with running_server(focusers=2) as running:
        url, focusers = running.url, running.server.focusers
    assert not answers(url)
    assert [focuser.link_stats for focuser in focusers] == [None, None]


def test_setup_pages() -> None:
    url, _ = sim_port()
    with running_server([FocuserSettings(name="Main <Focuser>", port=url, step_size_um=2.5)], name="Backyard Server") as running:
        server_page = requests.get(f"{running.url}/setup")
        assert server_page.status_code == 200 and server_page.headers["Content-Type"].startswith("text/html")
        for text in ["Backyard Server", "1.0.0", "Main &lt;Focuser&gt;", f"127.0.0.1:{running.port}", "/setup/v1/focuser/0/setup"]:
            assert text in server_page.text
        device_page = requests.get(f"{running.url}/setup/v1/focuser/0/setup")
        assert device_page.status_code == 200 and device_page.headers["Content-Type"].startswith("text/html")
        state = running.focuser().state
        for text in ["connected", url, state.firmware, str(state.max_step), "calibrated", "2.5"]:
            assert text in device_page.text
        for path in ["/setup/v1/camera/0/setup", "/setup/v1/focuser/1/setup", "/setup/v1/focuser/x/setup"]:
            refused = requests.get(running.url + path)
            assert refused.status_code == 403 and refused.headers["Content-Type"].startswith("text/html")


def test_two_focusers_are_devices_zero_and_one() -> None:
    with running_server(focusers=2) as running:
        requests.put(running.api("move", 1), data={"Position": "3000"})
        wait_for(lambda: not requests.get(running.api("ismoving", 1)).json()["Value"], what="focuser 1 to stop")
        assert requests.get(running.api("position", 1)).json()["Value"] == 3000
        assert requests.get(running.api("position", 0)).json()["Value"] != 3000
        assert requests.get(running.api("name", 1)).json()["Value"] == "Test Focuser 1 (simulated)"
        assert requests.get(running.api("name", 2)).status_code == 400
