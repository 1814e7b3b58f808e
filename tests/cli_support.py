"""Running the `alpaca-focuser` command as a user does, as its own process, for the CLI, install
and doctor tests: its log is collected line by line, and the URL it serves on is read from it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from conftest import wait_for

PYTHON_COMMAND = [sys.executable, "-P", "-m", "alpaca_focuser"]  # -P: like the installed command, never import from the current folder
QUIET_SERVER = ["--bind", "127.0.0.1", "--http-port", "0", "--no-discovery", "--no-mdns"]
_SERVING = re.compile(r"Alpaca API on (http://\S+) ")


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user whose home is ``home`` (and nothing configured yet)."""
    env = {key: value for key, value in os.environ.items() if key not in ("XDG_CONFIG_HOME", "ALPACA_FOCUSER_CONFIG")}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    return env


def run_command(*args: str, env: dict[str, str], cwd: Path, command: Sequence[str] = PYTHON_COMMAND, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@dataclass
class Served:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    url: str = ""

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def action(self, name: str, parameters: str = "", number: int = 0) -> dict[str, Any]:
        reply = requests.put(f"{self.url}/api/v1/focuser/{number}/action", data={"Action": name, "Parameters": parameters}, timeout=10)
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


@contextmanager
def serving(*args: str, env: dict[str, str], cwd: Path, command: Sequence[str] = PYTHON_COMMAND) -> Iterator[Served]:
    """`alpaca-focuser ARGS` serving on a free loopback port; killed if the test leaves it running."""
    process = subprocess.Popen([*command, *args, *QUIET_SERVER], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    served = Served(process)

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            served.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def started() -> bool:
        if process.poll() is not None:
            reader.join(5)
            raise AssertionError(f"alpaca-focuser exited with {process.returncode}:\n{served.log}")
        found = next((m for m in map(_SERVING.search, served.lines) if m), None)
        if found:
            served.url = found.group(1)
        return found is not None

    try:
        wait_for(started, timeout=30, what="the server to say where it serves")
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=20)
        reader.join(5)
