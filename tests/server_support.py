"""A running alpaca-focuser for tests: the real server (waitress on a free port, bound to
127.0.0.1) with in-process simulated focus motors behind it. Discovery and mDNS stay off unless a
test asks for them.

Use the context manager::

    from server_support import running_server

    with running_server(focusers=2) as running:
        requests.get(running.api("position", number=1))
        running.motor(1)          # the simulated motor of focuser 1

or the fixtures ``alpaca_server`` (one focuser) and ``two_focuser_server``, imported into the
test module: ``from server_support import alpaca_server  # noqa: F401``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import wait_for

from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.server import AlpacaServer
from alpaca_focuser.settings import FocuserSettings, ServerSettings, Settings
from alpaca_focuser.simulator import registry
from alpaca_focuser.simulator.motor import FocusMotor


@dataclass
class RunningServer:
    server: AlpacaServer
    motor_names: list[str | None]  # the simulator name behind each focuser, None if not simulated

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.http_port

    def api(self, member: str, number: int = 0) -> str:
        return f"{self.url}/api/v1/focuser/{number}/{member}"

    def focuser(self, number: int = 0) -> CelestronFocuser:
        return self.server.focusers[number]

    def motor(self, number: int = 0) -> FocusMotor:
        name = self.motor_names[number]
        assert name is not None, f"focuser {number} is not simulated"
        return registry.motor(name)


def sim_port(time_scale: float = 50.0, **options: Any) -> tuple[str, str]:
    """A ``sim://`` URL to a motor of its own, and the motor's name."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    query = "&".join(f"{key}={value}" for key, value in {"time_scale": time_scale, **options}.items())
    return f"sim://{name}?{query}", name


@contextmanager
def running_server(
    focusers: int | list[FocuserSettings] = 1,
    *,
    time_scale: float = 50.0,
    discovery: bool = False,
    mdns: bool = False,
    wait_connected: bool = True,
    config_file: Any = None,
    **server_options: Any,
) -> Iterator[RunningServer]:
    """A started server; ``focusers`` is a count of simulated ones or full settings (their ports
    as given). ``server_options`` override ServerSettings fields."""
    if isinstance(focusers, int):
        ports = [sim_port(time_scale) for _ in range(focusers)]
        focuser_settings = [FocuserSettings(name=f"Test Focuser {i}", port=url) for i, (url, _) in enumerate(ports)]
    else:
        focuser_settings = [dataclasses.replace(fs) for fs in focusers]
    names = [_sim_name(fs.port) for fs in focuser_settings]
    options = {"bind": "127.0.0.1", "http_port": 0, "discovery": discovery, "mdns": mdns, **server_options}
    settings = Settings(ServerSettings(**options), focuser_settings)
    server = AlpacaServer(settings, config_file)
    server.start()
    try:
        running = RunningServer(server, names)
        if wait_connected:
            for number, focuser in enumerate(server.focusers):
                wait_for(lambda: focuser.state.connected, what=f"focuser {number} to connect")
        yield running
    finally:
        server.stop()
        for name in names:
            if name is not None:
                registry.remove(name)


def _sim_name(port: str) -> str | None:
    if not port.startswith("sim://"):
        return None
    return port[len("sim://") :].split("?", 1)[0] or registry.DEFAULT_NAME


@pytest.fixture
def alpaca_server() -> Iterator[RunningServer]:
    with running_server() as running:
        yield running


@pytest.fixture
def two_focuser_server() -> Iterator[RunningServer]:
    with running_server(focusers=2) as running:
        yield running
