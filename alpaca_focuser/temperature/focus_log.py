"""The focus log: where the focuser came to rest after a client's move, and the temperature then.

Each line of a small JSON-lines file next to the configuration file is one point (an id, the time,
°C, the Alpaca position). The user's own nights fill it: whenever a client moves the focuser and it
then stays put for a while (``temperature_log_rest_s``, a few minutes), that is almost always the
end of an autofocus run, so the position is the best focus at that temperature. A move that is
followed by another soon after (a filter offset, a focus run in progress) never rests long enough
to be logged. ``fit.py`` learns the coefficient from these points.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, atomic_write
from ..errors import DriverError
from .fit import Point

log = logging.getLogger(__name__)

MAX_POINTS = 2000  # years of nights; the oldest go first
LOG_SAVE_FAILED = 0x01  # driver error 0x501, as for every setting that could not be saved


class FocusLog:
    """The points, in memory and (when there is a configuration file) in ``path``."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._points: list[Point] = self._load()

    def _load(self) -> list[Point]:
        if self.path is None or not self.path.exists():
            return []
        points: list[Point] = []
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            log.warning("Cannot read the focus log %s (%s); starting an empty one", self.path, exc.strerror or exc)
            return []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                point = Point(int(item["id"]), float(item["time"]), float(item["celsius"]), int(item["position"]))
                if not math.isfinite(point.celsius):
                    raise ValueError("not a finite temperature")
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("Skipping line %d of the focus log %s: %s", number, self.path, exc)
                continue
            points.append(point)
        return points[-MAX_POINTS:]

    def points(self) -> list[Point]:
        with self._lock:
            return list(self._points)

    def append(self, time: float, celsius: float, position: int) -> Point:
        with self._lock:
            point = Point(max((p.id for p in self._points), default=0) + 1, time, round(celsius, 3), position)
            self._points.append(point)
            if len(self._points) > MAX_POINTS:
                del self._points[: len(self._points) - MAX_POINTS]
                self._rewrite()
            elif self.path is not None:
                try:
                    with self.path.open("a", encoding="utf-8") as stream:
                        stream.write(_line(point))
                except OSError as exc:
                    log.warning("Could not add a point to the focus log %s: %s", self.path, exc.strerror or exc)
        return point

    def drop(self, ids: Iterable[int]) -> list[int]:
        """Remove the points with these ids; returns the ids that were there."""
        wanted = set(ids)
        with self._lock:
            dropped = [p.id for p in self._points if p.id in wanted]
            if dropped:
                kept = [p for p in self._points if p.id not in wanted]
                self._rewrite(kept)
                self._points = kept
        return dropped

    def clear(self) -> int:
        with self._lock:
            count = len(self._points)
            self._rewrite([])
            self._points = []
        return count

    def _rewrite(self, points: list[Point] | None = None) -> None:
        if self.path is None or not self.path.exists():
            return
        text = "".join(_line(p) for p in (self._points if points is None else points))
        try:
            atomic_write(self.path, text, "the focus log")
        except ConfigError as exc:
            raise DriverError(str(exc), LOG_SAVE_FAILED) from None


def _line(point: Point) -> str:
    return json.dumps({"id": point.id, "time": round(point.time, 1), "celsius": point.celsius, "position": point.position}) + "\n"


@dataclass
class Rest:
    position: int
    began: float
    celsius: float | None  # the temperature when the focus was set


@dataclass
class RestWatcher:
    """Decides when a client's move has come to rest long enough to be logged."""

    rest_s: float
    rest: Rest | None = None

    def client_move_ended(self, position: int, now: float, celsius: float | None) -> None:
        self.rest = Rest(position, now, celsius)

    def cancel(self) -> None:
        self.rest = None

    def due(self, position: int, now: float, celsius: float | None) -> Rest | None:
        """The rest to log now, once; None while it lasts too little or after it was broken."""
        rest = self.rest
        if rest is None:
            return None
        if position != rest.position:
            self.rest = None
            return None
        if now - rest.began < self.rest_s:
            return None
        self.rest = None
        if rest.celsius is None and celsius is None:
            return None
        return Rest(rest.position, rest.began, rest.celsius if rest.celsius is not None else celsius)
