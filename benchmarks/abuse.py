"""10. Abuse: what a hostile or careless client costs the server and the other clients.

The server runs as its own process with the built-in simulator. One Alpaca client polls Position
on its keep-alive connection from 127.0.0.1 throughout (as N.I.N.A. does) and its reply times are
compared: quiet; while oversized bodies arrive (10 MiB and 40 MiB with a Content-Length, 10 MiB
chunked, and 60 KiB action Parameters); while 110 idle and 380 stalled connections are held open
from four other addresses (127.0.0.2 to .5, each within one address's share); while 500
connections from 127.0.0.2 each trickle a byte every 8 s (how they end: refused at once beyond the
address's share, or closed by the request deadline); and, on a server whose password every request
needs, while 32 loops send wrong passwords from one address, then from 32 (the poller sends the
right one, as N.I.N.A. does once it is set). Resident memory is read from /proc before and after
the bodies. Finally, how long the server keeps a silent connection open (its idle timeout), so
the figure in the README is measured, not assumed.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import math
import multiprocessing
import selectors
import socket
import threading
import time
from collections import Counter
from typing import Any

from alpaca_focuser.alpaca.guard import SERVER_LIMITS
from alpaca_focuser.alpaca.socket_guard import SHARE_DIVISOR
from alpaca_focuser.passwords import hash_password

from .report import Outcome, Row, ms
from .rig import FOCUSER, LOOPBACK, AlpacaClient, BenchmarkError, ServerOptions, ServerProcess, rss_mb, wait_until
from .stats import percentile

MIB = 1024 * 1024
POLL_S = 4.0  # each phase's polling time
ROUND_MIB = 5 * 10 + 40 + 10  # the bodies of one round of oversized_bodies, in MiB
IDLE_CONNECTIONS = 110
STALLED_CONNECTIONS = 380  # with the idle ones and the pollers, just under the limit of 500
HOLDERS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")  # 490 / 4 is within one address's share of 125
SHARE = int(SERVER_LIMITS["connection_limit"]) // SHARE_DIVISOR  # connections one address may hold
TRICKLER = "127.0.0.2"
TRICKLING_CONNECTIONS = 500
TRICKLE_EVERY_S = 8.0
TRICKLE_LIMIT_S = 30.0  # the trickling phase ends when every connection has ended, or after this
FLOOD_LOOPS = 32
FRESH_LOGINS = 5
PASSWORD = "benchmark-password"
TARGET_GROWTH_MB = 10.0
TARGET_P99_MS = 50.0
TARGET_FIRST_REPLY_S = 1.0
TARGET_FLOOD_P50_MS = 20.0
IDLE_WAIT_LIMIT_S = 90.0
STALLED_HEAD = b"GET /api/v1/focuser/0/position HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # never finished


def authorization(password: str, user: str = "observer") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Poller:
    """Polls Position on one keep-alive connection from 127.0.0.1 until stopped; keeps each reply
    time in ms, and how long after it started the first reply came."""

    def __init__(self, port: int, password: str | None = None) -> None:
        self.samples: list[float] = []
        self.failures = 0
        self.first_reply_s = math.nan
        self._connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
        self._headers = {"Authorization": authorization(password)} if password else {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began, transaction = time.perf_counter(), 0
        while not self._stop.is_set():
            transaction += 1
            started = time.perf_counter()
            try:
                self._connection.request("GET", f"{FOCUSER}/position?ClientID=7&ClientTransactionID={transaction}", headers=self._headers)
                response = self._connection.getresponse()
                response.read()
                if response.status != 200:
                    raise BenchmarkError(f"HTTP {response.status}")
            except Exception:
                self.failures += 1
                self._connection.close()
                self._stop.wait(0.02)
                continue
            now = time.perf_counter()
            if math.isnan(self.first_reply_s):
                self.first_reply_s = now - began
            self.samples.append((now - started) * 1000)
            time.sleep(0.02)

    def reset(self) -> None:  # what follows is the phase measured
        self.samples, self.failures = [], 0

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(15)
        self._connection.close()

    def summary(self) -> str:
        if not self.samples:
            return f"no replies ({self.failures} failures)"
        failed = f", {self.failures} failed" if self.failures else ""
        return f"p50 {ms(percentile(self.samples, 0.5))}, p99 {ms(percentile(self.samples, 0.99))}, max {ms(max(self.samples))}{failed}"

    def held_up(self, target_ms: float, fraction: float = 0.99) -> bool:
        return bool(self.samples) and percentile(self.samples, fraction) <= target_ms and not self.failures


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


def open_connections(port: int, count: int, stalled: bool, sources: tuple[str, ...] = HOLDERS) -> list[socket.socket]:
    sockets = []
    for index in range(count):
        sock = socket.create_connection((LOOPBACK, port), timeout=10, source_address=(sources[index % len(sources)], 0))
        if stalled:
            sock.sendall(STALLED_HEAD)
        sockets.append(sock)
    return sockets


class Trickler:
    """TRICKLING_CONNECTIONS connections from TRICKLER, each sending the start of a request and then
    one byte every TRICKLE_EVERY_S, as a slow-loris attack does; notes how and when each ended."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ended: list[tuple[int, float]] = []  # (HTTP status answered or 0, seconds it stayed open)
        self.still_open = 0
        self._opened: dict[socket.socket, float] = {}

    def open(self) -> None:
        for _ in range(TRICKLING_CONNECTIONS):
            sock = socket.create_connection((LOOPBACK, self.port), timeout=10, source_address=(TRICKLER, 0))
            self._opened[sock] = time.monotonic()
            with contextlib.suppress(OSError):  # it may be answered and closed already
                sock.sendall(STALLED_HEAD)
            sock.setblocking(False)

    def run(self) -> None:
        """Trickle until the server has answered (and so ended) every connection or TRICKLE_LIMIT_S
        has passed; then close the rest."""
        with selectors.DefaultSelector() as selector:
            for sock in self._opened:
                selector.register(sock, selectors.EVENT_READ)
            deadline, next_byte = time.monotonic() + TRICKLE_LIMIT_S, time.monotonic() + TRICKLE_EVERY_S
            while self._opened and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=min(0.5, max(0.0, next_byte - time.monotonic()))):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    answer = b""
                    with contextlib.suppress(OSError):
                        answer = sock.recv(4096)
                    selector.unregister(sock)
                    sock.close()
                    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
                    self.ended.append((status, time.monotonic() - self._opened.pop(sock)))
                if time.monotonic() >= next_byte:
                    next_byte += TRICKLE_EVERY_S
                    for sock in self._opened:
                        with contextlib.suppress(OSError):
                            sock.send(b"x")
        self.still_open = len(self._opened)
        for sock in self._opened:
            sock.close()

    def summary(self) -> str:
        statuses = Counter(status for status, _ in self.ended)
        closed = [seconds for status, seconds in self.ended if status == 408]
        after = f" after {percentile(closed, 0.5):.1f} s (median; {min(closed):.1f} to {max(closed):.1f} s)" if closed else ""
        return (f"{statuses[429]} refused at once (429), {len(closed)} closed by the deadline (408){after}, "
                f"{self.still_open} still open after {TRICKLE_LIMIT_S:g} s")  # fmt: skip


def wrong_guesses(port: int, sources: list[str], seconds: float, ready: Any, results: Any) -> None:
    """FLOOD_LOOPS loops, each on a keep-alive connection from one of ``sources``, sending wrong
    passwords as fast as they are answered; puts the count of each HTTP status on ``results``.
    Runs in a process of its own, so its threads do not compete with the poller's."""
    counts: list[Counter[int]] = [Counter() for _ in range(FLOOD_LOOPS)]  # one per loop: no lock needed
    header = {"Authorization": authorization("not-the-password", "intruder")}
    end = time.monotonic() + seconds

    def loop(source: str, statuses: Counter[int]) -> None:
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10, source_address=(source, 0))
        while time.monotonic() < end:
            try:
                connection.request("GET", f"{FOCUSER}/position", headers=header)
                response = connection.getresponse()
                response.read()
                status = response.status
            except Exception:
                status = 0
                connection.close()
            statuses[status] += 1
        connection.close()

    loops = [threading.Thread(target=loop, args=(sources[index % len(sources)], counts[index])) for index in range(FLOOD_LOOPS)]
    for thread in loops:
        thread.start()
    ready.set()
    for thread in loops:
        thread.join()
    results.put(dict(sum(counts, Counter())))


def fresh_logins(port: int, tag: str) -> list[tuple[int, float]]:
    """FRESH_LOGINS clients that give the right password for the first time (each a user name of
    its own, so none is remembered yet), each trying every 0.1 s until taken: (tries, seconds)."""
    logins = []
    for index in range(FRESH_LOGINS):
        header = {"Authorization": authorization(PASSWORD, f"newcomer-{tag}-{index}")}
        started, tries = time.monotonic(), 0
        while time.monotonic() - started < 10:
            tries += 1
            with contextlib.closing(http.client.HTTPConnection(LOOPBACK, port, timeout=10)) as connection:
                connection.request("GET", f"{FOCUSER}/position", headers=header)
                if connection.getresponse().status == 200:
                    break
            time.sleep(0.1)
        logins.append((tries, time.monotonic() - started))
    return logins


def during_flood(port: int, poller: Poller, sources: list[str]) -> tuple[dict[int, int], list[tuple[int, float]]]:
    """Run the wrong guesses for POLL_S while ``poller`` (already served) is measured; the flood's
    statuses and the fresh logins made meanwhile."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Event(), context.Queue()
    flood = context.Process(target=wrong_guesses, args=(port, sources, POLL_S + 1.0, ready, results), daemon=True)
    flood.start()
    try:
        if not ready.wait(30):
            raise BenchmarkError("the process sending wrong passwords did not start")
        poller.reset()
        started = time.monotonic()
        logins = fresh_logins(port, tag=sources[-1])
        time.sleep(max(0.0, POLL_S - (time.monotonic() - started)))
        statuses: dict[int, int] = results.get(timeout=60)
    finally:
        flood.join(30)
        if flood.is_alive():
            flood.kill()
    return statuses, logins


class LockedServer(ServerProcess):
    """The server with a password that every request needs, the Alpaca API's included."""

    def __init__(self, options: ServerOptions) -> None:
        super().__init__(options)
        lines = f'[server]\npassword_hash = "{hash_password(PASSWORD)}"\npassword_for_api = true\n'
        self.config.write_text(self.config.read_text().replace("[server]\n", lines, 1))

    def _first_reply(self) -> float | None:  # rig's, with the password; it also waits for the focuser's connection
        assert self.process is not None
        if self.process.poll() is not None:
            raise BenchmarkError(f"the server exited with code {self.process.returncode}:\n{self.log_tail()}")
        with contextlib.suppress(OSError), contextlib.closing(http.client.HTTPConnection(LOOPBACK, self.http_port, timeout=2)) as connection:
            connection.request("GET", f"{FOCUSER}/connected", headers={"Authorization": authorization(PASSWORD)})
            response = connection.getresponse()
            if response.status == 200 and b'"Value":true' in response.read().replace(b" ", b""):
                return time.monotonic()
        return None

    def start(self, wait_connected: bool = True) -> ServerProcess:
        return super().start(wait_connected=False)


def idle_timeout_s(port: int) -> float:
    """Seconds until the server closes a connection that sends nothing."""
    with socket.create_connection((LOOPBACK, port)) as sock:
        sock.settimeout(IDLE_WAIT_LIMIT_S)
        started = time.monotonic()
        with contextlib.suppress(OSError):
            sock.recv(1)
        return time.monotonic() - started


def password_floods(outcome: Outcome) -> None:
    """On a server whose password every request needs: FLOOD_LOOPS loops of wrong passwords from
    one address, then from FLOOD_LOOPS addresses, while a client that sends the right one polls."""
    with LockedServer(ServerOptions(port="sim://")) as locked:
        for where, sources in (("one address", [TRICKLER]), (f"{FLOOD_LOOPS} addresses", [f"127.0.0.{2 + n}" for n in range(FLOOD_LOOPS)])):
            with Poller(locked.http_port, PASSWORD) as poller:
                wait_until(lambda: poller.samples, 10, "the polling client's first reply")
                statuses, logins = during_flood(locked.http_port, poller, sources)
            outcome.details[f"flood from {where}"] = {"statuses": statuses, "poll_ms": poller.samples[-200:], "fresh_logins": logins}
            outcome.rows.append(Row("10", f"a polling client that sends the password, while {FLOOD_LOOPS} loops send wrong ones from {where}",
                                    poller.summary(), f"p50 <= {TARGET_FLOOD_P50_MS:g} ms, none failed", poller.held_up(TARGET_FLOOD_P50_MS, 0.5)))
            counts = " / ".join(str(statuses.get(status, 0)) for status in (401, 429, 503, 0))
            outcome.rows.append(Row("10", f"the wrong passwords from {where} in {POLL_S + 1:g} s: hashed (401) / back-off (429) / busy (503) / failed",
                                    f"{sum(statuses.values())} answered: {counts}"))
            tries, seconds = [count for count, _ in logins], [spent for _, spent in logins]
            outcome.rows.append(Row("10", f"{FRESH_LOGINS} clients giving the right password for the first time meanwhile, trying every 0.1 s",
                                    f"{sum(tries) / len(tries):.1f} tries each, median {ms(percentile(seconds, 0.5) * 1000)}, max {ms(max(seconds) * 1000)}"))


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
        trickler = Trickler(port)
        with Poller(port) as during_trickle:
            time.sleep(0.2)
            trickler.open()
            with Poller(port) as trickle_newcomer:
                trickler.run()
        idle_s = idle_timeout_s(port)
    growth = rss_after - rss_before
    refused = sum(1 for status in statuses if status == 413)
    trickle_ends = Counter(status for status, _ in trickler.ended)
    deadline_closed = [seconds for status, seconds in trickler.ended if status == 408]
    outcome.details = {
        "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1), "bodies_sent": len(statuses),
        "bodies_refused_413": refused, "bodies_s": round(bodies_s, 2), "idle_timeout_s": round(idle_s, 1),
        "poll_quiet_ms": quiet.samples[-200:], "poll_during_bodies_ms": during_bodies.samples[-200:],
        "poll_during_connections_ms": during_connections.samples[-200:], "poll_newcomer_ms": newcomer.samples[-200:],
        "poll_during_trickle_ms": during_trickle.samples[-200:], "trickle_newcomer_first_reply_s": trickle_newcomer.first_reply_s,
        "trickle_ended": dict(trickle_ends), "trickle_closed_after_s": [round(seconds, 2) for seconds in deadline_closed],
    }  # fmt: skip
    announced_gib = rounds * ROUND_MIB / 1024
    outcome.rows.append(Row("10", f"resident memory before / after {len(statuses)} oversized bodies ({announced_gib:.1f} GiB announced)",
                            f"{rss_before:.1f} MB / {rss_after:.1f} MB (+{growth:.1f} MB); {refused} refused with 413 in {bodies_s:.1f} s",
                            f"growth <= {TARGET_GROWTH_MB:g} MB, all 413", growth <= TARGET_GROWTH_MB and refused == len(statuses)))
    outcome.rows.append(Row("10", "a polling client's reply time, quiet", quiet.summary()))
    outcome.rows.append(Row("10", "the same while the oversized bodies arrive", during_bodies.summary(),
                            f"p99 <= {TARGET_P99_MS:g} ms, none failed", during_bodies.held_up(TARGET_P99_MS)))
    outcome.rows.append(Row("10", f"the same with {IDLE_CONNECTIONS} idle and {STALLED_CONNECTIONS} stalled connections open from {len(HOLDERS)} other addresses",
                            during_connections.summary(), f"p99 <= {TARGET_P99_MS:g} ms, none failed", during_connections.held_up(TARGET_P99_MS)))
    outcome.rows.append(Row("10", "a client that connects while they are held", newcomer.summary(), "served, none failed",
                            bool(newcomer.samples) and not newcomer.failures))  # fmt: skip
    outcome.rows.append(Row("10", f"the same while {TRICKLING_CONNECTIONS} connections from {TRICKLER} trickle a byte every {TRICKLE_EVERY_S:g} s",
                            during_trickle.summary(), f"p99 <= {TARGET_P99_MS:g} ms, none failed", during_trickle.held_up(TARGET_P99_MS)))
    first_reply = "never" if math.isnan(trickle_newcomer.first_reply_s) else ms(trickle_newcomer.first_reply_s * 1000)
    outcome.rows.append(Row("10", "a client on 127.0.0.1 that connects while they trickle: first reply after; then",
                            f"{first_reply}; {trickle_newcomer.summary()}", f"first reply <= {TARGET_FIRST_REPLY_S:g} s, none failed",
                            trickle_newcomer.first_reply_s <= TARGET_FIRST_REPLY_S and not trickle_newcomer.failures))
    outcome.rows.append(Row("10", f"how the {TRICKLING_CONNECTIONS} trickling connections ended", trickler.summary(),
                            f"beyond {SHARE} refused at once, the rest closed 10 to 12 s after their first byte",
                            trickle_ends[429] == TRICKLING_CONNECTIONS - SHARE and len(deadline_closed) == SHARE and max(deadline_closed, default=99) <= 12.0))
    outcome.rows.append(Row("10", "a silent connection is closed by the server after", f"{idle_s:.1f} s", "30 to 40 s (channel_timeout 30 s, checked every 5 s)",
                            30.0 <= idle_s <= 40.0))  # fmt: skip
    password_floods(outcome)
    outcome.notes.append("10: the server is its own process (sim:// focuser); the poller reads Position every 20 ms on one keep-alive "
                         "connection from 127.0.0.1; the wrong passwords come from a process of their own")  # fmt: skip
    return outcome
