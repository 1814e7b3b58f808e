"""The server as a user runs it (``alpaca-focuser serve --port ... --route mount|hc``), reaching the
focuser through the simulated mount's WiFi module and through a hand controller, checked by
``python -m conformance``: zero errors and issues, and the WiFi module never put into its
command mode."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import free_port, wait_for
from mount_support import running_mount

from alpaca_focuser.simulator.mount import SimulatedMount

ROOT = Path(__file__).resolve().parent.parent
TIME_SCALE = 50


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/management/apiversions", timeout=1).ok
    except requests.RequestException:
        return False


@contextlib.contextmanager
def served(folder: Path, way: str) -> Iterator[tuple[SimulatedMount, str]]:
    """The server in its own process, reaching the focuser ``way`` ("wifi" or "hc")."""
    port = free_port()
    with running_mount(TIME_SCALE) as mount:
        door, route = (mount.wifi_url, "mount") if way == "wifi" else (mount.hc_path, "hc")
        server = subprocess.Popen(
            [sys.executable, "-m", "alpaca_focuser", "serve", "--port", door, "--route", route, "--bind", "127.0.0.1",
             "--http-port", str(port), "--no-discovery", "--no-mdns"],
            cwd=folder,
            env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(folder), "XDG_CONFIG_HOME": str(folder)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: _answers(url), 20, "the server to answer", interval=0.1)
            yield mount, url
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)


@pytest.fixture(scope="module")
def served_through_wifi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimulatedMount, str]]:
    with served(tmp_path_factory.mktemp("wifi-server"), "wifi") as running:  # no configuration file: the command line decides
        yield running


def test_conformance_through_the_mount_wifi_has_no_errors_or_issues(served_through_wifi: tuple[SimulatedMount, str]) -> None:
    mount, url = served_through_wifi
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "--run", "conformance", "--move-timeout", "30", "--quiet", f"{url}/api/v1/focuser/0"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert mount.bus.frames_by_source.get(0x20, 0) > 0  # the checker's moves went over the mount's bus
    assert mount.command_mode_entries == 0


def test_conformance_through_a_hand_controller_has_no_errors_or_issues(tmp_path: Path) -> None:
    with served(tmp_path, "hc") as (mount, url):
        result = subprocess.run(
            [sys.executable, "-m", "conformance", "--run", "conformance", "--move-timeout", "30", "--quiet", f"{url}/api/v1/focuser/0"],
            cwd=ROOT, capture_output=True, text=True, timeout=240,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert sum(controller.pass_throughs for controller in mount.hand_controllers) > 0  # every command went through the pass-through
