"""What monitoring reads: ``/metrics`` for Prometheus and ``/health`` for watchdogs.

Both are built at request time from what is already in memory (each focuser's published snapshot,
its connection count, its move history, the temperature reader's last value, the request
counters), so a scrape never touches a serial line nor waits on the worker: scraping every few
seconds costs the focuser nothing. Both are pages, so a password set for the pages covers them too.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterator

import falcon
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..device.history import REASONS
from .served import ServedDevice

UNKNOWN = "unknown"  # the label of a path that names no member or no device: clients cannot grow the label set


class RequestCounts:
    """HTTP requests by focuser, member, method and status, and Alpaca errors by focuser, member
    and error number; counted in one place, the device resource."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
        self.errors: collections.Counter[tuple[str, str, str]] = collections.Counter()

    def count(self, focuser: str, member: str, method: str, status: int, error: int | None = None) -> None:
        with self._lock:
            self.requests[(focuser, member, method, str(status))] += 1
            if error is not None:
                self.errors[(focuser, member, f"0x{error:X}")] += 1

    def copy(self) -> tuple[dict[tuple[str, str, str, str], int], dict[tuple[str, str, str], int]]:
        with self._lock:
            return dict(self.requests), dict(self.errors)


class FocuserCollector(Collector):
    """Every metric, read from the focusers' snapshots at scrape time."""

    def __init__(self, focusers: list[ServedDevice], counts: RequestCounts) -> None:
        self.focusers = focusers
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        label = ["focuser"]
        position = GaugeMetricFamily("alpaca_focuser_position", "Alpaca Position (steps)", labels=label)
        moving = GaugeMetricFamily("alpaca_focuser_moving", "1 while IsMoving is true", labels=label)
        clients = GaugeMetricFamily("alpaca_focuser_clients", "Clients holding the focuser now", labels=label)
        link_up = GaugeMetricFamily("alpaca_focuser_link_up", "1 while the serial link to the focuser is open and answering", labels=label)
        reconnects = CounterMetricFamily("alpaca_focuser_link_reconnects", "Times the link was lost and found again", labels=label)
        frames = CounterMetricFamily("alpaca_focuser_aux_frames", "AUX frames on the current link", labels=[*label, "direction"])
        moves = CounterMetricFamily("alpaca_focuser_moves", "Moves begun since the server started, by reason", labels=[*label, "reason"])
        celsius = GaugeMetricFamily("alpaca_focuser_temperature_celsius", "The temperature source's averaged reading", labels=label)
        for served in self.focusers:
            number = str(served.number)
            state = served.device.state
            position.add_metric([number], state.position)
            moving.add_metric([number], int(state.moving))
            clients.add_metric([number], served.connection.clients)
            link_up.add_metric([number], int(state.link_ok))
            reconnects.add_metric([number], state.reconnects)
            stats = getattr(served.device, "link_stats", None)
            if stats is not None:
                frames.add_metric([number, "sent"], stats.frames_sent)
                frames.add_metric([number, "received"], stats.frames_received)
            counts = served.device.history.counts()
            for reason in REASONS:
                moves.add_metric([number, reason], counts.get(reason, 0))
            reading = served.temperature.health().celsius if served.temperature is not None else None
            if reading is not None:
                celsius.add_metric([number], round(reading, 3))
        yield from (position, moving, moves, clients, link_up, reconnects, frames, celsius)
        yield from self._requests()

    def _requests(self) -> Iterator[Metric]:
        requests, errors = self.counts.copy()
        served = CounterMetricFamily(
            "alpaca_focuser_http_requests", "Alpaca API requests by member and HTTP status", labels=["focuser", "member", "method", "status"]
        )
        for key, value in sorted(requests.items()):
            served.add_metric(list(key), value)
        refused = CounterMetricFamily("alpaca_focuser_alpaca_errors", "Alpaca error replies by member and ErrorNumber", labels=["focuser", "member", "error"])
        for error_key, value in sorted(errors.items()):
            refused.add_metric(list(error_key), value)
        yield served
        yield refused


class MetricsPage:
    """``GET /metrics``: the Prometheus text format."""

    def __init__(self, focusers: list[ServedDevice], counts: RequestCounts) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(FocuserCollector(focusers, counts))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(self.registry)


class HealthPage:
    """``GET /health``: 200 when every focuser answers, 503 otherwise, with each one's state.

    A focuser answers when its link is up, or when it stands released on purpose (the last client
    left); one the server wants but cannot reach (connecting, link lost) does not.
    """

    def __init__(self, focusers: list[ServedDevice]) -> None:
        self.focusers = focusers

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        focusers = []
        for served in self.focusers:
            state = served.device.state
            answers = state.link_ok or state.activity == "off"
            focusers.append({
                "focuser": served.number, "name": served.device.name, "ok": answers, "link": state.link_ok,
                "connected": state.connected, "moving": state.moving, "activity": state.activity, "last_error": state.last_error,
            })  # fmt: skip
        healthy = all(entry["ok"] for entry in focusers)
        resp.status = falcon.HTTP_200 if healthy else falcon.HTTP_503
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps({"status": "ok" if healthy else "failing", "focusers": focusers})
