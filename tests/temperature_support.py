"""Temperature sources for tests: a small Alpaca ObservingConditions server on loopback, a fake
Linux 1-wire folder, and a temperature file whose age a test controls."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests
from conftest import free_port, wait_for
from server_support import RunningServer, running_server, sim_port

from alpaca_focuser.config import ConfigFile
from alpaca_focuser.temperature.assembly import focus_log_path

UNIQUE_ID = "5d2c8f0e-3b7a-4c1e-9f00-123456789abc"
SLOPE = -37.0  # steps per °C in the synthetic focus log
SENSOR = "28-0123456789ab"
OTHER_SENSOR = "28-00000a1b2c3d"


@dataclass
class WeatherStation:
    """An ObservingConditions device 0 whose Temperature the test scripts."""

    celsius: float = 12.5
    connected: bool = False
    error: tuple[int, str] | None = None  # (ErrorNumber, ErrorMessage) to answer instead of a value
    body: bytes | None = None  # answered as it is to every request, instead of an Alpaca reply
    redirect: str | None = None  # a URL every request is redirected to
    trickle_s: float = 0.0  # send ``body`` a byte at a time, this long apart
    requests: list[str] = field(default_factory=list)

    def app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        self.requests.append(f"{method} {path}")
        if self.redirect is not None:
            start_response("302 Found", [("Location", self.redirect), ("Content-Type", "text/plain")])
            return [b"moved"]
        if self.body is not None:
            start_response("200 OK", [("Content-Type", "application/json")])
            return self._trickle(self.body) if self.trickle_s else [self.body]
        if method == "PUT":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = urllib.parse.parse_qs(environ["wsgi.input"].read(length).decode())
        else:
            form = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        transaction = int(form.get("ClientTransactionID", ["0"])[0])
        body: dict[str, Any] = {"ClientTransactionID": transaction, "ServerTransactionID": len(self.requests), "ErrorNumber": 0, "ErrorMessage": ""}
        if (method, path) == ("PUT", "/api/v1/observingconditions/0/connected"):
            self.connected = form.get("Connected", [""])[0].lower() == "true"
        elif (method, path) == ("GET", "/api/v1/observingconditions/0/temperature"):
            if self.error is not None:
                body["ErrorNumber"], body["ErrorMessage"] = self.error
            elif not self.connected:
                body["ErrorNumber"], body["ErrorMessage"] = 0x407, "Not connected"
            else:
                body["Value"] = self.celsius
        else:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [f"no such member {path}".encode()]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


    def _trickle(self, body: bytes) -> Iterator[bytes]:
        for index in range(len(body)):
            time.sleep(self.trickle_s)
            yield body[index : index + 1]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def weather_station(**options: Any) -> Iterator[tuple[WeatherStation, int]]:
    """A running station on a free loopback port; yields (station, port)."""
    station = WeatherStation(**options)
    server: WSGIServer = make_server("127.0.0.1", 0, station.app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield station, server.server_port
    finally:
        server.shutdown()
        server.server_close()


def write_w1(root: Path, sensor: str, millidegrees: int, crc_ok: bool = True) -> None:
    """Write a sensor's w1_slave file the way the Linux w1_therm driver presents it."""
    folder = root / sensor
    folder.mkdir(parents=True, exist_ok=True)
    verdict = "YES" if crc_ok else "NO"
    (folder / "w1_slave").write_text(f"72 01 4b 46 7f ff 0e 10 57 : crc=57 {verdict}\n72 01 4b 46 7f ff 0e 10 57 t={millidegrees}\n")


def w1_folder(root: Path, *sensors: str) -> Path:
    """A fake /sys/bus/w1/devices with its bus master entry and the given sensors at 20 °C."""
    (root / "w1_bus_master1").mkdir(parents=True, exist_ok=True)
    for sensor in sensors:
        write_w1(root, sensor, 20000)
    return root


def write_temperature(path: Path, celsius: float, age_s: float = 0.0) -> None:
    """Write a temperature file as a script would; ``age_s`` back-dates it, as if written earlier."""
    temp = path.with_suffix(".tmp")
    temp.write_text(f"{celsius}\n")
    os.replace(temp, path)
    if age_s:
        when = time.time() - age_s
        os.utime(path, (when, when))


@dataclass
class Setup:
    running: RunningServer
    config: Path
    log: Path
    temperature: Path


def write_log(path: Path, count: int = 24) -> None:
    """A focus log of ``count`` nights from 2 to 16 °C along SLOPE, with one outlier (point 6)."""
    rng = random.Random(3)
    lines = []
    for index in range(count):
        celsius = 2.0 + 14.0 * index / (count - 1)
        position = round(22000 + SLOPE * celsius + rng.gauss(0, 3)) + (700 if index == 5 else 0)  # a filter offset
        lines.append(json.dumps({"id": index + 1, "time": 1.7e9 + 86400 * index, "celsius": round(celsius, 2), "position": position}))
    path.write_text("\n".join(lines) + "\n")


@contextmanager
def configured_server(folder: Path, stale_s: float = 120) -> Iterator[Setup]:
    """The server started from a configuration file in ``folder``: one simulated focuser with a
    temperature file at 9.25 °C and no coefficient, and a focus log of 24 points beside it."""
    temperature = folder / "temperature"
    write_temperature(temperature, 9.25)
    port, _ = sim_port(200)
    config = folder / "config.toml"
    config.write_text(
        '# my observatory\n[server]\nname = "Test"\n\n[[focuser]]\n'
        f'port = "{port}"\nunique_id = "{UNIQUE_ID}"\n'
        "# the file my weather script writes\n"
        f'temperature = "file:{temperature}"\ntemperature_average_s = 0.1\ntemperature_stale_s = {stale_s}\n'
    )
    log = focus_log_path(folder, UNIQUE_ID)
    write_log(log)
    config_file = ConfigFile.load(config)
    with running_server(config_file.settings.focusers, config_file=config_file) as running:
        yield Setup(running, config, log, temperature)


@dataclass
class ServerProcess:
    """The server run as users run it, in a process of its own, so its memory can be measured."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def status(self) -> dict[str, Any]:
        """TemperatureStatus of focuser 0."""
        response = requests.put(f"http://127.0.0.1:{self.port}/api/v1/focuser/0/action", data={"Action": "TemperatureStatus"}, timeout=10)
        body = response.json()
        assert body["ErrorNumber"] == 0, body["ErrorMessage"]
        return dict(json.loads(body["Value"]))

    def peak_memory_mb(self) -> float:
        """The most resident memory the process has ever had (VmHWM), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError(f"no VmHWM for process {self.process.pid}")


@contextmanager
def server_process(config: Path) -> Iterator[ServerProcess]:
    """``alpaca-focuser serve --config CONFIG`` on loopback; its log goes to CONFIG with the
    suffix .log. Stopped with SIGTERM at the end."""
    port = free_port()
    log = config.with_suffix(".log")
    command = [sys.executable, "-m", "alpaca_focuser", "serve", "--config", str(config), "--bind", "127.0.0.1",
               "--http-port", str(port), "--no-discovery", "--no-mdns"]  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    running = ServerProcess(process, port, log)
    try:
        wait_for(lambda: _answers(running), timeout=30, what="the server process to answer")
        yield running
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(running: ServerProcess) -> bool:
    if running.process.poll() is not None:
        raise AssertionError(f"the server exited: {running.log.read_text()}")
    try:
        return requests.get(f"http://127.0.0.1:{running.port}/management/apiversions", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
