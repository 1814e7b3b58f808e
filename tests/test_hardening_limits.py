"""Bounded resources: oversized bodies and queries are refused without the server holding them,
idle and stalled connections do not lock out a polling client, and interrupted settings saves
leave nothing behind. The memory test runs the server as its own process, as users run it."""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import free_port, wait_for
from server_support import RunningServer, running_server

from alpaca_focuser.alpaca.guard import BODY_LIMIT, QUERY_LIMIT, SERVER_LIMITS, WAITING_LIMIT
from alpaca_focuser.config import ConfigFile, atomic_write

MIB = 1024 * 1024
IDLE_CONNECTIONS = 110  # more than waitress's default limit of 100, which locked everyone out
MEMORY_GROWTH_LIMIT_MB = 25.0  # without the limits a single 40 MiB body left the server 600 MB larger


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


def send_raw(port: int, head: bytes, body_bytes: int = 0, chunked: bool = False) -> bytes:
    """Send ``head`` and then up to ``body_bytes`` of body while reading the answer; the answer.

    The server may answer and close before the body is sent: that is the point, so send errors
    are expected and the answer is read either way.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)

        def feed() -> None:
            block = b"x" * 65536
            sent = 0
            with contextlib.suppress(OSError):
                while sent < body_bytes:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                    sent += len(block)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and len(answer) > 200:
                    break
        feeder.join(10)
        return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# ------------------------------------------------------------------- bodies and queries


def test_a_body_over_the_limit_is_a_413_that_says_the_limit(running: RunningServer) -> None:
    response = requests.put(running.api("move"), data={"Position": "1", "Padding": "x" * 20_000})
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/plain")
    assert f"at most {BODY_LIMIT}" in response.text


def test_a_body_just_under_the_limit_is_still_read(running: RunningServer) -> None:
    response = requests.put(running.api("halt"), data={"Padding": "x" * (BODY_LIMIT - 100)})
    assert response.status_code == 200 and response.json()["ErrorNumber"] == 0


@pytest.mark.parametrize("chunked", [False, True])
def test_a_10_mib_body_is_refused_without_being_read(running: RunningServer, chunked: bool) -> None:
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % (10 * MIB)
    head = b"PUT /api/v1/focuser/0/move HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n%s\r\n\r\n" % length
    answer = send_raw(running.port, head, 10 * MIB, chunked=chunked)
    assert status_of(answer) == 413
    assert b"text/plain" in answer.split(b"\r\n\r\n")[0]
    assert requests.get(running.api("position")).status_code == 200


def test_a_query_over_the_limit_is_a_414(running: RunningServer) -> None:
    response = requests.get(running.api("position"), params={"Padding": "x" * (QUERY_LIMIT + 10)})
    assert response.status_code == 414
    assert f"at most {QUERY_LIMIT}" in response.text


def test_headers_over_waitress_limit_are_refused(running: RunningServer) -> None:
    response = requests.get(running.api("position"), params={"Padding": "x" * int(SERVER_LIMITS["max_request_header_size"])})
    assert 400 <= response.status_code < 500


# -------------------------------------------------------------------- memory, as a process


@contextlib.contextmanager
def server_process(config: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``alpaca-focuser serve --config CONFIG`` as a child process on loopback; its log goes to
    CONFIG with the suffix .log. Stopped with SIGTERM at the end unless a test killed it first."""
    port = free_port()
    command = [sys.executable, "-m", "alpaca_focuser", "serve", "--config", str(config), "--bind", "127.0.0.1",
               "--http-port", str(port), "--no-discovery", "--no-mdns"]  # fmt: skip
    with config.with_suffix(".log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _answers(port, process, config), timeout=30, what="the server process to answer")
        yield process, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(port: int, process: subprocess.Popen[bytes], config: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"the server exited: {config.with_suffix('.log').read_text()}")
    try:
        return requests.get(f"http://127.0.0.1:{port}/management/apiversions", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident memory from /proc (Linux)")
def test_oversized_bodies_leave_the_servers_memory_bounded(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[server]\nlog_level = "WARNING"\n\n[[focuser]]\nname = "Memory test"\nport = "sim://memory-test"\n')
    with server_process(config) as (process, port):
        pid = process.pid
        requests.get(f"http://127.0.0.1:{port}/api/v1/focuser/0/position")
        before = rss_mb(pid)
        move = b"PUT /api/v1/focuser/0/move HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
        action = b"PUT /api/v1/focuser/0/action HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        answers = [send_raw(port, move % (10 * MIB), 10 * MIB) for _ in range(3)]
        answers.append(send_raw(port, move % (40 * MIB), 40 * MIB))
        answers.append(send_raw(port, action, 10 * MIB, chunked=True))
        answers += [requests.put(f"http://127.0.0.1:{port}/api/v1/focuser/0/action", data={"Action": "Nope", "Parameters": "x" * 60_000}).status_code
                    for _ in range(20)]  # fmt: skip
        after = rss_mb(pid)
    assert [status_of(a) if isinstance(a, bytes) else a for a in answers] == [413] * len(answers)
    print(f"server resident memory {before:.1f} MB before, {after:.1f} MB after 100 MiB of refused bodies")
    assert after - before < MEMORY_GROWTH_LIMIT_MB


# -------------------------------------------------------------------------- connections


def test_110_idle_and_stalled_connections_do_not_lock_out_a_polling_client(running: RunningServer) -> None:
    sockets: list[socket.socket] = []
    try:
        for index in range(IDLE_CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", running.port), timeout=5)
            if index % 2:
                sock.sendall(b"GET /api/v1/focuser/0/position HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            sockets.append(sock)
        with requests.Session() as client:
            for _ in range(5):
                response = client.get(running.api("position"), timeout=5)
                assert response.status_code == 200 and response.json()["ErrorNumber"] == 0
        fresh = http.client.HTTPConnection("127.0.0.1", running.port, timeout=5)
        fresh.request("GET", "/api/v1/focuser/0/ismoving")
        assert fresh.getresponse().status == 200
        fresh.close()
    finally:
        for sock in sockets:
            sock.close()


def test_the_connection_limit_exceeds_the_idle_connections_tested() -> None:
    assert int(SERVER_LIMITS["connection_limit"]) > IDLE_CONNECTIONS * 2


# ----------------------------------------------------------------- interrupted saves


CONFIG = '# my focuser\n[server]\nname = "Saved"\n\n[[focuser]]\nport = "sim://saves"\nunique_id = "a1"\n'


def test_leftovers_of_interrupted_saves_are_removed_at_start_and_the_log_says_what_they_were(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    complete = tmp_path / ".config.toml.k2j4h5g6.tmp"
    complete.write_text(CONFIG.replace("Saved", "Newer"))
    unfinished = tmp_path / ".config.toml.a_b_c_d_.tmp"
    unfinished.write_text('[server]\nname = "Cut')
    unrelated = tmp_path / ".other.toml.k2j4h5g6.tmp"
    unrelated.write_text("not ours")
    with caplog.at_level(logging.INFO, logger="alpaca_focuser.config"):
        loaded = ConfigFile.load(config)
    assert loaded.settings.server.name == "Saved"
    assert not complete.exists() and not unfinished.exists() and unrelated.exists()
    messages = [record.getMessage() for record in caplog.records]
    assert any(complete.name in m and "a complete copy" in m and "interrupted" in m for m in messages), messages
    assert any(unfinished.name in m and "an unfinished copy" in m for m in messages), messages


def test_successful_saves_leave_no_temp_files(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    for number in range(20):
        atomic_write(config, CONFIG.replace("Saved", f"Saved {number}"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.toml"]
    assert 'name = "Saved 19"' in config.read_text()


SAVER = """
import sys
from pathlib import Path
from alpaca_focuser.config import atomic_write
path = Path(sys.argv[1])
text = path.read_text()
print("saving", flush=True)
number = 0
while True:
    number += 1
    atomic_write(path, text.replace("Saved", "Saved %d" % number) + "# padding\\n" * 2000)
"""


def test_sigkill_during_saves_leaves_a_whole_file_and_the_next_start_cleans_up(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    left = 0
    for _attempt in range(5):
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(config)], stdout=subprocess.PIPE)
        assert saver.stdout is not None and saver.stdout.readline().strip() == b"saving"
        time.sleep(0.05)
        os.kill(saver.pid, signal.SIGKILL)
        saver.wait()
        left += len([path for path in tmp_path.iterdir() if path.suffix == ".tmp"])
        loaded = ConfigFile.load(config)  # a start: the file parses whole, and leftovers go
        assert loaded.settings.server.name.startswith("Saved")
        assert not [path.name for path in tmp_path.iterdir() if path.suffix == ".tmp"]
    print(f"{left} temp file(s) left by 5 killed savers, all removed at the next start")


def test_a_flood_of_refused_requests_logs_a_line_now_and_then_not_one_each(caplog: pytest.LogCaptureFixture) -> None:
    with running_server() as fresh, caplog.at_level(logging.INFO, logger="alpaca_focuser.alpaca.guard"), requests.Session() as session:
        for _ in range(50):
            assert session.get(fresh.api("position"), params={"Padding": "x" * (QUERY_LIMIT + 1)}).status_code == 414
    refused = [record for record in caplog.records if "Refused" in record.getMessage()]
    assert 1 <= len(refused) <= 2, [record.getMessage() for record in refused]


def test_clients_repeating_a_waiting_connected_change_cannot_take_every_thread() -> None:
    """PUT Connected waits for the device; 20 of them at once must leave the polling client served."""
    answers: list[int | str] = []

    with running_server() as fresh:

        def change() -> None:
            try:
                answers.append(requests.put(fresh.api("connected"), data={"Connected": "false"}, timeout=3).status_code)
            except requests.Timeout:
                answers.append("still waiting")  # the server answers it later; the test does not wait for that

        changers = [threading.Thread(target=change, daemon=True) for _ in range(20)]
        for changer in changers:
            changer.start()
        time.sleep(0.5)
        with requests.Session() as poller:
            for _ in range(5):
                assert poller.get(fresh.api("position"), timeout=5).status_code == 200
        for changer in changers:
            changer.join(10)
    assert len(answers) == 20 and set(answers) <= {200, 429, "still waiting"}, answers
    assert answers.count("still waiting") <= WAITING_LIMIT, answers  # never more threads held than the limit
    assert answers.count(429) >= 20 - WAITING_LIMIT - answers.count(200), answers


def test_a_server_killed_while_saving_settings_starts_again_with_a_whole_file_and_cleans_up(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('# kept comment\n[server]\nlog_level = "INFO"\n\n[[focuser]]\nname = "Kill test"\nport = "sim://kill-test"\n')
    left = 0
    for _attempt in range(5):
        with server_process(config) as (process, port):
            stop = threading.Event()

            def save_settings() -> None:
                with requests.Session() as client:
                    steps = 0
                    while not stop.is_set():
                        steps += 1
                        parameters = f'{{"steps": {steps % 500}, "direction": "out"}}'
                        with contextlib.suppress(requests.RequestException):
                            client.put(f"http://127.0.0.1:{port}/api/v1/focuser/0/action", data={"Action": "SetBacklash", "Parameters": parameters}, timeout=5)

            savers = [threading.Thread(target=save_settings, daemon=True) for _ in range(4)]
            for saver in savers:
                saver.start()
            time.sleep(0.4)
            process.kill()  # SIGKILL, in the middle of the saves
            process.wait()
            stop.set()
            for saver in savers:
                saver.join(10)
        left += len([path for path in tmp_path.iterdir() if path.suffix == ".tmp"])
        if left:
            break
    with server_process(config) as (process, port):
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/focuser/0/name").json()["Value"] == "Kill test (simulated)"
    assert config.read_text().startswith("# kept comment")
    assert not [path.name for path in tmp_path.iterdir() if path.suffix == ".tmp"]
    log = config.with_suffix(".log").read_text()
    print(f"{left} temp file(s) left by killed servers")
    if left:
        assert "left by a save that was interrupted" in log
