"""Temperature inputs are bounded and strict, through the real server: a huge file is read a few
KiB at a time (its memory measured with the server in a process of its own), /dev/zero and a FIFO
are refused without blocking, and each failure is logged once, in words, without a traceback."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import wait_for
from server_support import RunningServer, running_server, sim_port
from temperature_support import server_process, weather_station, write_temperature

from alpaca_focuser.settings import FocuserSettings
from alpaca_focuser.temperature.inputs import FILE_READ_LIMIT

MB = 1000 * 1000
PEAK_GROWTH_LIMIT_MB = 50.0  # reading the whole 300 MB file took the server to 1.5 GB
POLLS = 20


def status(running: RunningServer) -> dict[str, Any]:
    body = requests.put(running.api("action"), data={"Action": "TemperatureStatus"}).json()
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return dict(json.loads(body["Value"])["temperature"])


def wait_polls(reads: Callable[[], int], count: int = POLLS) -> None:
    """Let the reader read the source ``count`` more times; ``reads`` says how often it has."""
    start = reads()
    wait_for(lambda: reads() >= start + count, what=f"{count} more reads of the source")


@contextlib.contextmanager
def server_reading(spec: str, stale_s: float = 600) -> Iterator[RunningServer]:
    url, _ = sim_port(200)
    settings = FocuserSettings(port=url, temperature=spec, temperature_average_s=0.1, temperature_stale_s=stale_s)
    with running_server([settings]) as running:
        yield running


def problems(caplog: pytest.LogCaptureFixture, words: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if words in record.getMessage()]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak memory from /proc (Linux)")
def test_a_300_mb_file_leaves_the_servers_memory_bounded_and_its_last_line_is_read(tmp_path: Path) -> None:
    temperature = tmp_path / "temperature"
    write_temperature(temperature, 9.25)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nlog_level = "WARNING"\n\n[[focuser]]\nport = "{sim_port(200)[0]}"\n'
        f'temperature = "file:{temperature}"\ntemperature_average_s = 0.1\ntemperature_stale_s = 600\n'
    )
    with server_process(config) as server:
        wait_for(lambda: server.status()["temperature"]["celsius"] == 9.25, what="the first reading")
        before = server.peak_memory_mb()
        os.truncate(temperature, 300 * MB)  # a sparse file: 300 MB of zero bytes after the reading
        wait_for(lambda: "longer than" in server.status()["temperature"]["last_error"], what="the huge file to be refused")
        wait_polls(lambda: server.status()["temperature"]["reads"])
        with temperature.open("a") as appended:
            appended.write("\n9.5\n")  # a script that appends goes on giving its last line
        wait_for(lambda: server.status()["temperature"]["last_celsius"] == 9.5, what="the appended reading")
        wait_polls(lambda: server.status()["temperature"]["reads"])
        after = server.peak_memory_mb()
    print(f"server peak resident memory {before:.1f} MB before, {after:.1f} MB after {POLLS * 2} reads of a 300 MB file")
    assert after - before < PEAK_GROWTH_LIMIT_MB
    assert f"ends in a line longer than {FILE_READ_LIMIT} bytes" in server.log.read_text()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_refused_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="alpaca_focuser.temperature"), server_reading("file:/dev/zero") as running:
        wait_for(lambda: status(running)["status"] == "failed", what="the source to fail")
        wait_polls(lambda: status(running)["reads"])
        health = status(running)
    assert "/dev/zero is a character device, which is never read" in health["message"]
    assert len(problems(caplog, "character device")) == 1
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_is_refused_without_blocking_the_reader(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fifo = tmp_path / "temperature"
    os.mkfifo(fifo)
    try:
        with caplog.at_level(logging.INFO, logger="alpaca_focuser.temperature"), server_reading(f"file:{fifo}") as running:
            wait_for(lambda: status(running)["status"] == "failed", what="the source to fail")
            wait_polls(lambda: status(running)["reads"])
            health = status(running)
    finally:
        with contextlib.suppress(OSError):  # a reader blocked on opening it would otherwise hang on
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert "is a FIFO (named pipe), which is never read" in health["message"]
    assert len(problems(caplog, "FIFO")) == 1


def test_deeply_nested_json_is_refused_without_a_traceback_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    nested = b'{"ErrorNumber": 0, "Value": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    with weather_station(body=nested) as (_, port), caplog.at_level(logging.INFO, logger="alpaca_focuser.temperature"):
        with server_reading(f"alpaca://127.0.0.1:{port}/observingconditions/0", stale_s=1) as running:
            wait_for(lambda: status(running)["status"] == "failed", what="the source to fail")
            wait_polls(lambda: status(running)["reads"])
            health = status(running)
    assert "answered JSON nested deeper than any Alpaca reply" in health["message"]
    assert not [record for record in caplog.records if record.exc_info]
    assert len(problems(caplog, "nested deeper")) == 1


def test_a_redirect_to_another_port_is_not_followed() -> None:
    with weather_station(connected=True, celsius=30.0) as (elsewhere, other_port):
        redirect = f"http://127.0.0.1:{other_port}/api/v1/observingconditions/0/temperature"
        with weather_station(redirect=redirect) as (_, port), server_reading(f"alpaca://127.0.0.1:{port}/observingconditions/0") as running:
            wait_for(lambda: status(running)["status"] == "failed", what="the source to fail")
            health = status(running)
    assert f"redirect (HTTP 302) to {redirect}; redirects are not followed" in health["message"]
    assert elsewhere.requests == []


def test_a_file_written_in_the_future_reads_stale(tmp_path: Path) -> None:
    temperature = tmp_path / "temperature"
    write_temperature(temperature, 9.25, age_s=-3600)  # the writing computer's clock is an hour ahead
    with server_reading(f"file:{temperature}") as running:
        wait_for(lambda: status(running)["status"] == "stale", what="the source to read stale")
        wait_polls(lambda: status(running)["reads"])
        health = status(running)
        body = requests.get(running.api("temperature")).json()
    assert "ahead of this computer's clock, so its age is unknown" in health["message"]
    assert health["status"] == "stale" and health["celsius"] is None
    assert body["ErrorNumber"] == 0x511 and "age is unknown" in body["ErrorMessage"]
