"""7. Footprint: resident memory after start and after 100 000 requests, and the time from
process start to the first HTTP 200 (what a Raspberry Pi user waits for after boot).

The server runs as its own process with the built-in in-process simulator (``sim://``).
"""

from __future__ import annotations

import statistics
import time

from .load import load_client, run_load
from .report import Outcome, Row, ms
from .rig import ServerOptions, ServerProcess, rss_mb
from .status_load import ENDPOINTS, path

STARTS = 5
REQUESTS = 100_000
BURST_S = 4.0
MAX_BURSTS = 40
CLIENTS = 8
TARGET_RSS_MB = 60.0
TARGET_GROWTH_MB = 5.0
TARGET_START_S = 1.5
SETTLE_S = 1.0


def run(_: dict) -> Outcome:
    starts: list[float] = []
    for _attempt in range(STARTS - 1):
        with ServerProcess(ServerOptions(port="sim://")) as server:
            starts.append(server.first_reply_s)
    with ServerProcess(ServerOptions(port="sim://")) as server:
        starts.append(server.first_reply_s)
        time.sleep(SETTLE_S)
        rss_start = rss_mb(server.pid)
        served = 0
        bursts = 0
        while served < REQUESTS and bursts < MAX_BURSTS:
            served += run_load(server.http_port, path(ENDPOINTS[bursts % len(ENDPOINTS)]), CLIENTS, BURST_S).requests
            bursts += 1
        time.sleep(SETTLE_S)
        rss_after = rss_mb(server.pid)
    start_median = statistics.median(starts)
    growth = rss_after - rss_start
    outcome = Outcome(details={"start_to_first_200_s": [round(s, 3) for s in starts], "rss_start_mb": round(rss_start, 1),
                               "rss_after_mb": round(rss_after, 1), "requests": served, "load_client": load_client()})
    outcome.rows.append(Row("7", f"resident memory after start / after {served:,} requests",
                            f"{rss_start:.1f} MB / {rss_after:.1f} MB (+{growth:.1f} MB)",
                            f"<= {TARGET_RSS_MB:g} MB, growth <= {TARGET_GROWTH_MB:g} MB",
                            max(rss_start, rss_after) <= TARGET_RSS_MB and growth <= TARGET_GROWTH_MB and served >= REQUESTS))
    outcome.rows.append(Row("7", f"process start to first HTTP 200, median of {STARTS} (max)",
                            f"{ms(start_median * 1000)} ({ms(max(starts) * 1000)})", f"<= {TARGET_START_S:g} s",
                            start_median <= TARGET_START_S))
    return outcome
