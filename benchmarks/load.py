"""Closed-loop HTTP load: N keep-alive clients, each sending its next request when the last one
is answered, for a fixed time. ``wrk`` (Debian package wrk) when installed, else a Python client;
the result says which, since the Python client is itself slower than the servers it measures."""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .rig import LOOPBACK, BenchmarkError
from .stats import percentile

WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
WRK_THREADS = 2  # the machine may have few cores; the servers under test need them more


@dataclass(frozen=True)
class LoadResult:
    client: str  # "wrk" or "python"
    clients: int
    requests: int
    seconds: float
    errors: int  # failed connections, reads, timeouts and non-2xx replies
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "throughput": round(self.throughput, 1)}


WRK_MISSING = ("wrk is not installed, so the Python load client is used, and it is slower than the servers it "
               "measures: the rates are then the client's. Install wrk for the real figures: sudo apt-get install wrk "
               "(Debian, Ubuntu, Raspberry Pi OS)")


def load_client() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def run_load(port: int, path: str, clients: int, seconds: float) -> LoadResult:
    if load_client() == "wrk":
        return _wrk(port, path, clients, seconds)
    return _python(port, path, clients, seconds)


def _wrk(port: int, path: str, clients: int, seconds: float) -> LoadResult:
    url = f"http://{LOOPBACK}:{port}{path}"
    command = ["wrk", "-t", str(min(clients, WRK_THREADS)), "-c", str(clients), "-d", f"{seconds:g}s",
               "--timeout", "5s", "-s", str(WRK_SCRIPT), url]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    lines = [line for line in finished.stdout.splitlines() if line.startswith("{")]
    if finished.returncode != 0 or not lines:
        raise BenchmarkError(f"wrk failed ({finished.returncode}): {finished.stderr.strip() or finished.stdout.strip()}")
    figures = json.loads(lines[-1])
    errors = sum(figures[key] for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return LoadResult("wrk", clients, figures["requests"], figures["duration_us"] / 1e6, errors,
                      figures["p50_us"] / 1000, figures["p99_us"] / 1000, figures["max_us"] / 1000)


def _python(port: int, path: str, clients: int, seconds: float) -> LoadResult:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = time.monotonic()
    deadline = start + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
        own = latencies[index]
        try:
            while time.monotonic() < deadline:
                sent = time.perf_counter()
                try:
                    connection.request("GET", path)
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    errors[index] += 1
                    connection.close()
                    continue
                own.append(time.perf_counter() - sent)
                if response.status != 200:
                    errors[index] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 10)
    elapsed = time.monotonic() - start
    samples = [value for own in latencies for value in own]
    return LoadResult("python", clients, len(samples), elapsed, sum(errors), percentile(samples, 0.5) * 1000,
                      percentile(samples, 0.99) * 1000, max(samples, default=0.0) * 1000)


def combine(slices: list[LoadResult]) -> LoadResult:
    """One figure from several short runs of the same load: rates from the totals, and the median
    of the slices' percentiles, so one slice hit by a neighbour's burst on a shared machine does
    not decide the figure (the worst slice is kept in ``max_ms``)."""
    first = slices[0]
    median = statistics.median
    return LoadResult(first.client, first.clients, sum(s.requests for s in slices), sum(s.seconds for s in slices),
                      sum(s.errors for s in slices), median(s.p50_ms for s in slices), median(s.p99_ms for s in slices),
                      max(s.max_ms for s in slices))


def interleaved(loads: dict[str, tuple[int, str]], clients: int, seconds: float, rounds: int,
                before: dict[str, Callable[[], None]] | None = None) -> dict[str, LoadResult]:
    """Run each named load (port, path) for ``seconds`` in total, in ``rounds`` short slices taken in
    turn, so that the loads being compared share the machine's good and bad moments alike.
    ``before`` names a function to call before each slice of that load (to switch a fault on...)."""
    slices: dict[str, list[LoadResult]] = {name: [] for name in loads}
    for _ in range(rounds):
        for name, (port, path) in loads.items():
            if before and name in before:
                before[name]()
            slices[name].append(run_load(port, path, clients, seconds / rounds))
    return {name: combine(runs) for name, runs in slices.items()}
