"""What the benchmarks run against: a simulated focuser on a real pty at real speed, the server as
a separate process (as users run it), and a keep-alive Alpaca client. Everything is on loopback.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.simulator import AuxResponder, FocusMotor
from alpaca_focuser.simulator.pty_server import PtySimulator

LOOPBACK = "127.0.0.1"
FOCUSER = "/api/v1/focuser/0"
SERVER_START_TIMEOUT_S = 20.0
CONNECT_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


class BenchmarkError(RuntimeError):
    """A benchmark could not run (not a missed target); the message says why."""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.01) -> Any:
    """Poll ``condition`` until it returns something truthy; BenchmarkError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise BenchmarkError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@contextlib.contextmanager
def pty_focuser(reply_delay_s: float = 0.0, **motor_options: Any) -> Iterator[tuple[FocusMotor, str]]:
    """A simulated focus motor at real speed behind a pty in this process: (motor, tty path).

    The motor lives here so a benchmark reads the exact instant each motion ended (``stops``)
    on the same monotonic clock as its own client. ``reply_delay_s`` makes it answer that much
    later, as a real motor does; 0 answers at once.
    """
    motor = FocusMotor(time_scale=1.0, **motor_options)
    with tempfile.TemporaryDirectory(prefix="bench-focuser-") as folder:
        def responder() -> AuxResponder:
            return AuxResponder(motor, reply_delay_s=reply_delay_s)

        with PtySimulator(motor, Path(folder) / "focuser", responder) as simulator:
            yield motor, str(simulator.path)


@dataclass(frozen=True)
class LiveMove:
    """What a client saw of Position during one move, and the line's traffic meanwhile."""

    seconds: float
    largest_gap_s: float  # the longest Position stayed unchanged between two changes
    frames: int  # both ways, from ``frames`` before and after

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def watch_move(focuser: CelestronFocuser, target: int, frames: Callable[[], int], poll_s: float = 0.002) -> LiveMove:
    """Move ``focuser`` to ``target`` and read its Position, as GET Position
    does, every ``poll_s`` until the move ends; ``frames()`` counts the frames on the line."""
    before, started = frames(), time.monotonic()
    focuser.move(target)
    changes: list[float] = []
    last = focuser.state.position
    while True:
        state = focuser.state
        if state.position != last:
            changes.append(time.monotonic())
            last = state.position
        if not state.moving:
            break
        if time.monotonic() - started > 60:
            raise BenchmarkError(f"the move to {target} did not end in time")
        time.sleep(poll_s)
    elapsed = time.monotonic() - started
    gaps = [later - earlier for earlier, later in zip(changes, changes[1:])]
    return LiveMove(elapsed, max(gaps, default=elapsed), frames() - before)


class AlpacaClient:
    """One keep-alive HTTP connection, as alpyca's requests.Session and N.I.N.A. keep one."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self._connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
        self._transaction = 0

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> AlpacaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, path: str, params: dict[str, Any] | None = None) -> tuple[int, bytes]:
        self._transaction += 1
        fields = {"ClientID": 7, "ClientTransactionID": self._transaction, **(params or {})}
        body = urlencode(fields)
        if method == "GET":
            self._connection.request("GET", f"{path}?{body}")
        else:
            self._connection.request(method, path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = self._connection.getresponse()
        return response.status, response.read()

    def get(self, member: str) -> Any:
        return self._value("GET", member, None)

    def put(self, member: str, **params: Any) -> Any:
        return self._value("PUT", member, params)

    def _value(self, method: str, member: str, params: dict[str, Any] | None) -> Any:
        status, body = self.request(method, f"{FOCUSER}/{member}", params)
        if status != 200:
            raise BenchmarkError(f"{method} {member} answered HTTP {status}: {body[:200]!r}")
        reply = json.loads(body)
        if reply.get("ErrorNumber"):
            raise BenchmarkError(f"{method} {member} failed: {reply['ErrorMessage']} ({reply['ErrorNumber']:#x})")
        return reply.get("Value")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchmarkError(f"no VmRSS for process {pid}")


@dataclass
class ServerOptions:
    port: str  # the focuser's serial port or pyserial URL
    backlash_steps: int = 0
    backlash_direction: str = "none"
    threads: int = 16
    extra: dict[str, Any] = field(default_factory=dict)  # more [[focuser]] keys


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))


def write_config(folder: Path, options: ServerOptions, http_port: int) -> Path:
    server = {"name": "Benchmark server", "bind": LOOPBACK, "http_port": http_port, "discovery": False,
              "mdns": False, "log_level": "WARNING", "threads": options.threads}
    focuser = {"name": "Benchmark focuser", "port": options.port, "backlash_steps": options.backlash_steps,
               "backlash_direction": options.backlash_direction, **options.extra}
    lines = ["[server]", *(f"{k} = {_toml_value(v)}" for k, v in server.items()), "", "[[focuser]]",
             *(f"{k} = {_toml_value(v)}" for k, v in focuser.items())]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class ServerProcess:
    """``alpaca-focuser serve`` as a child process bound to loopback, with its log kept aside."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.http_port = free_port()
        self._folder = tempfile.TemporaryDirectory(prefix="bench-server-")
        self.config = write_config(Path(self._folder.name), options, self.http_port)
        self.log_path = Path(self._folder.name) / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.first_reply_s = 0.0

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "alpaca_focuser", "serve", "--config", str(self.config),
                "--bind", LOOPBACK, "--http-port", str(self.http_port), "--no-discovery", "--no-mdns"]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, wait_connected: bool = True) -> ServerProcess:
        with self.log_path.open("wb") as log:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        self.first_reply_s = wait_until(self._first_reply, SERVER_START_TIMEOUT_S, "the server's first HTTP 200", 0.002) - self.started_at
        if wait_connected:
            with AlpacaClient(self.http_port) as client:
                wait_until(lambda: client.get("connected"), CONNECT_TIMEOUT_S, "the server to connect to the focuser", 0.02)
        return self

    def _first_reply(self) -> float | None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise BenchmarkError(f"the server exited with code {self.process.returncode}:\n{self.log_tail()}")
        try:
            with contextlib.closing(http.client.HTTPConnection(LOOPBACK, self.http_port, timeout=2)) as connection:
                connection.request("GET", "/management/apiversions")
                if connection.getresponse().status == 200:
                    return time.monotonic()
        except OSError:
            return None
        return None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._folder.cleanup()

    def __enter__(self) -> ServerProcess:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def machine() -> dict[str, Any]:
    """Where the figures come from: they mean little without it."""
    import platform

    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


class BareAppProcess:
    """The bare Falcon + waitress app (bare_app.py) as a child process on loopback."""

    def __init__(self, threads: int = 16) -> None:
        self.threads = threads
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BareAppProcess:
        # Its log goes to a file, as the server's does: a pipe nobody reads would block it when full.
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.bare_app", str(self.http_port), str(self.threads)],
                                        cwd=Path(__file__).parent.parent, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_until(self._ready, SERVER_START_TIMEOUT_S, "the bare app to answer", 0.01)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            self._log.seek(0)
            raise BenchmarkError(f"the bare app exited: {self._log.read().decode(errors='replace')[-2000:]}")
        try:
            with AlpacaClient(self.http_port, timeout=2) as client:
                return client.get("position") is not None
        except OSError:
            return False

    def __exit__(self, *exc_info: object) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log.close()
