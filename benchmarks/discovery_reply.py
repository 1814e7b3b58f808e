"""8. Discovery: how fast the responder answers a loopback probe, over 1000 probes.

The responder limits replies per source address (a token bucket, so it cannot be used to flood
anyone). A client sends a handful of probes per search, so the probes here come from 40 loopback
addresses (127.0.0.x), 25 each, to measure the reply time a client sees without tripping that
limit and without changing the product's settings.
"""

from __future__ import annotations

import socket
import time

from alpaca_focuser.network.responder import DISCOVERY_MESSAGE, DiscoveryResponder

from .report import Outcome, Row, ms
from .rig import LOOPBACK, BenchmarkError, free_port
from .stats import Summary

PROBES = 1000
SOURCES = 40
REPLY_TIMEOUT_S = 1.0
TARGET_P99_MS = 5.0


def _probe_from(source: str, port: int, count: int, expected: bytes) -> tuple[list[float], int]:
    times: list[float] = []
    lost = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(REPLY_TIMEOUT_S)
        for _ in range(count):
            sent = time.perf_counter()
            sock.sendto(DISCOVERY_MESSAGE, (LOOPBACK, port))
            try:
                reply = sock.recv(1024)
            except TimeoutError:
                lost += 1
                continue
            times.append(time.perf_counter() - sent)
            if reply != expected:
                raise BenchmarkError(f"unexpected discovery reply {reply!r}")
    return times, lost


def run(_: dict) -> Outcome:
    http_port = 11111
    port = free_port(socket.SOCK_DGRAM)
    responder = DiscoveryResponder(http_port, port=port, bind=LOOPBACK, ipv6=False)
    responder.start()
    try:
        times: list[float] = []
        lost = 0
        per_source = PROBES // SOURCES
        for index in range(SOURCES):
            got, missing = _probe_from(f"127.0.0.{index + 2}", port, per_source, b'{"AlpacaPort":%d}' % http_port)
            times += got
            lost += missing
    finally:
        responder.stop()
    summary = Summary.of(times).scaled(1000)
    outcome = Outcome(details={"reply_ms": summary.as_dict(3), "probes": PROBES, "lost": lost})
    outcome.rows.append(Row("8", f"discovery reply, {PROBES} loopback probes, p50 / p99",
                            f"{ms(summary.p50)} / {ms(summary.p99)}" + (f", {lost} lost" if lost else ""),
                            f"p99 <= {TARGET_P99_MS:g} ms", summary.p99 <= TARGET_P99_MS and not lost))
    return outcome
