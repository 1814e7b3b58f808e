"""10. Abuse: what a hostile or careless client costs the server and the other clients.

The server runs as its own process with the built-in simulator. One Alpaca client polls Position
on its keep-alive connection throughout (as N.I.N.A. does) and its reply times are compared:
quiet; while oversized bodies arrive (10 MiB and 40 MiB with a Content-Length, 10 MiB chunked, and
60 KiB action Parameters); while 110 idle and 380 stalled connections are held open. Resident
memory is read from /proc before and after. Finally, how long the server keeps a silent
connection open (its idle timeout), so the figure in the README is measured, not assumed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from .report import Outcome, Row, ms
from .rig import LOOPBACK, AlpacaClient, ServerOptions, ServerProcess, rss_mb
from .stats import percentile

MIB = 1024 * 1024
POLL_S = 4.0  # each phase's polling time
ROUND_MIB = 5 * 10 + 40 + 10  # the bodies of one round of oversized_bodies, in MiB
IDLE_CONNECTIONS = 110
STALLED_CONNECTIONS = 380  # with the idle ones and the pollers, just under the limit of 500
TARGET_GROWTH_MB = 10.0
TARGET_P99_MS = 50.0
IDLE_WAIT_LIMIT_S = 90.0


class Poller:
    """Polls Position on one keep-alive connection until stopped; keeps each reply time in ms."""

    def __init__(self, port: int) -> None:
        self.samples: list[float] = []
        self.failures = 0
        self._client = AlpacaClient(port, timeout=10)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                self._client.get("position")
            except Exception:
                self.failures += 1
                self._client.close()
                continue
            self.samples.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(15)
        self._client.close()

    def summary(self) -> str:
        if not self.samples:
            return f"no replies ({self.failures} failures)"
        failed = f", {self.failures} failed" if self.failures else ""
        return f"p50 {ms(percentile(self.samples, 0.5))}, p99 {ms(percentile(self.samples, 0.99))}, max {ms(max(self.samples))}{failed}"


def refused_body(port: int, head: bytes, size: int, chunked: bool = False) -> int:
    """Send ``head`` and up to ``size`` bytes of body; the HTTP status the server answered."""
    with socket.create_connection((LOOPBACK, port), timeout=30) as sock:
        sock.sendall(head)

        def feed() -> None:
            block = b"x" * 65536
            with contextlib.suppress(OSError):
                for _ in range(size // len(block)):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        answer = b""
        with contextlib.suppress(OSError):
            while b"\r\n" not in answer and (chunk := sock.recv(4096)):
                answer += chunk
        feeder.join(30)
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def oversized_bodies(port: int) -> list[int]:
    move = b"PUT /api/v1/focuser/0/move HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
    chunked = b"PUT /api/v1/focuser/0/action HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    statuses = [refused_body(port, move % (10 * MIB), 10 * MIB) for _ in range(5)]
    statuses.append(refused_body(port, move % (40 * MIB), 40 * MIB))
    statuses.append(refused_body(port, chunked, 10 * MIB, chunked=True))
    with AlpacaClient(port) as client:
        for _ in range(20):
            statuses.append(client.request("PUT", "/api/v1/focuser/0/action", {"Action": "Nope", "Parameters": "x" * 60_000})[0])
    return statuses


def open_connections(port: int, count: int, stalled: bool) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((LOOPBACK, port), timeout=10)
        if stalled:
            sock.sendall(b"GET /api/v1/focuser/0/position HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        sockets.append(sock)
    return sockets


def idle_timeout_s(port: int) -> float:
    """Seconds until the server closes a connection that sends nothing."""
    with socket.create_connection((LOOPBACK, port)) as sock:
        sock.settimeout(IDLE_WAIT_LIMIT_S)
        started = time.monotonic()
        with contextlib.suppress(OSError):
            sock.recv(1)
        return time.monotonic() - started


def run(_: dict) -> Outcome:
    outcome = Outcome()
    with ServerProcess(ServerOptions(port="sim://")) as server:
        port = server.http_port
        with Poller(port) as quiet:
            time.sleep(POLL_S)
        rss_before = rss_mb(server.pid)
        with Poller(port) as during_bodies:
            started = time.monotonic()
            statuses: list[int] = []
            rounds = 0
            while time.monotonic() - started < POLL_S:  # round after round, for as long as the quiet poll ran
                statuses += oversized_bodies(port)
                rounds += 1
            bodies_s = time.monotonic() - started
        rss_after = rss_mb(server.pid)
        with Poller(port) as during_connections:  # connected first, as a client that was polling already
            time.sleep(0.2)
            sockets = open_connections(port, IDLE_CONNECTIONS, stalled=False) + open_connections(port, STALLED_CONNECTIONS, stalled=True)
            try:
                with Poller(port) as newcomer:  # a client that connects while they are held
                    time.sleep(POLL_S)
            finally:
                for sock in sockets:
                    sock.close()
        idle_s = idle_timeout_s(port)
    growth = rss_after - rss_before
    refused = sum(1 for status in statuses if status == 413)
    outcome.details = {
        "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1), "bodies_sent": len(statuses),
        "bodies_refused_413": refused, "bodies_s": round(bodies_s, 2), "idle_timeout_s": round(idle_s, 1),
        "poll_quiet_ms": quiet.samples[-200:], "poll_during_bodies_ms": during_bodies.samples[-200:],
        "poll_during_connections_ms": during_connections.samples[-200:], "poll_newcomer_ms": newcomer.samples[-200:],
    }  # fmt: skip
    announced_gib = rounds * ROUND_MIB / 1024
    outcome.rows.append(Row("10", f"resident memory before / after {len(statuses)} oversized bodies ({announced_gib:.1f} GiB announced)",
                            f"{rss_before:.1f} MB / {rss_after:.1f} MB (+{growth:.1f} MB); {refused} refused with 413 in {bodies_s:.1f} s",
                            f"growth <= {TARGET_GROWTH_MB:g} MB, all 413", growth <= TARGET_GROWTH_MB and refused == len(statuses)))
    outcome.rows.append(Row("10", "a polling client's reply time, quiet", quiet.summary()))
    outcome.rows.append(Row("10", "the same while the oversized bodies arrive", during_bodies.summary(),
                            f"p99 <= {TARGET_P99_MS:g} ms, none failed",
                            bool(during_bodies.samples) and percentile(during_bodies.samples, 0.99) <= TARGET_P99_MS and not during_bodies.failures))
    outcome.rows.append(Row("10", f"the same with {IDLE_CONNECTIONS} idle and {STALLED_CONNECTIONS} stalled connections open",
                            during_connections.summary(), f"p99 <= {TARGET_P99_MS:g} ms, none failed",
                            bool(during_connections.samples) and percentile(during_connections.samples, 0.99) <= TARGET_P99_MS
                            and not during_connections.failures))  # fmt: skip
    outcome.rows.append(Row("10", "a client that connects while they are held", newcomer.summary(), "served, none failed",
                            bool(newcomer.samples) and not newcomer.failures))  # fmt: skip
    outcome.rows.append(Row("10", "a silent connection is closed by the server after", f"{idle_s:.1f} s", "30 to 40 s (channel_timeout 30 s, checked every 5 s)",
                            30.0 <= idle_s <= 40.0))  # fmt: skip
    outcome.notes.append("10: the server is its own process (sim:// focuser); the poller reads Position every 20 ms on one keep-alive connection")
    return outcome
