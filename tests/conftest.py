"""Shared test helpers: waiting for conditions, and tools that CI must have."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

IN_CI = os.environ.get("CI", "").lower() == "true"

# Tests never read or write the real user's configuration file (the server looks there and creates
# one when a client changes a setting); every process a test starts inherits these.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="alpaca-focuser-test-config-")
os.environ.pop("ALPACA_FOCUSER_CONFIG", None)


@pytest.fixture(autouse=True)
def own_configuration_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own configuration folder, so a file one test's server created is never
    found by the next one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))


def wait_for(condition: Callable[[], T], timeout: float = 10.0, what: str = "condition", interval: float = 0.005) -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def require_tool(name: str, package: str) -> str:
    """The path of ``name``; skipped when missing, except in CI where a missing tool is a failure."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package {package})"
        if IN_CI:
            pytest.fail(message + "; .ci/run must install it")
        pytest.skip(message)
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
