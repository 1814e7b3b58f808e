"""Reading a temperature source in the background: screening, averaging, staleness, and its health.

Clients never wait on a sensor: a thread reads the source every few seconds and keeps the recent
readings; ``health()`` answers from them at once. The readings are averaged over a window, since a
DS18B20 or a weather station jitters by a tenth of a degree and compensation should not chase that;
first, a reading far from its neighbours is set aside (screen.py), so one glitch cannot move the
focuser. A source whose newest reading is older than the staleness limit is reported as stale (it
answered, but nothing new) or failed (it raised an error), with the reason and since when, so
Temperature can say so and compensation can pause. A reading dated in the future (a file written
by a computer whose clock is ahead) has no known age, so it counts as stale too: taken as new, it
never would go stale. Each failure is logged once, when it begins, not at every read.
"""

from __future__ import annotations

import collections
import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .inputs import SourceError
from .screen import SCREEN_READINGS, screen
from .sources import Reading, Source

log = logging.getLogger(__name__)

POLL_MIN_S = 0.02
POLL_MAX_S = 5.0
CLOSE_WAIT_S = 0.2
FUTURE_TOLERANCE_S = 5.0  # a reading dated later than now by more than this has no known age


def clock_text(seconds: float) -> str:
    """A local wall-clock time as a person reads it in a message."""
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def default_poll_s(stale_s: float, average_s: float) -> float:
    """Read four times per averaging window and per staleness limit, but no more than every 5 s."""
    shortest = min(stale_s, average_s) if average_s > 0 else stale_s
    return min(POLL_MAX_S, max(POLL_MIN_S, shortest / 4))


@dataclass(frozen=True)
class TemperatureHealth:
    source: str  # the configured ``temperature`` setting
    status: str  # "ok", "starting", "stale" or "failed"
    message: str  # for a person: the temperature, or why there is none and since when
    since: float | None  # time.time() since which it is not ok; None while ok
    celsius: float | None  # the averaged temperature, only while ok
    last_celsius: float | None  # the newest reading, however old
    last_reading_at: float | None
    last_error: str  # the newest failure, even while ok (a blip within the staleness limit)
    samples: int  # readings averaged
    reads: int
    failures: int
    set_aside: int = 0  # readings in the averaging window set aside as outliers
    newest_set_aside: bool = False  # the newest reading (last_celsius) is one of them

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "status": self.status,
            "message": self.message,
            "since": clock_text(self.since) if self.since is not None else None,
            "celsius": None if self.celsius is None else round(self.celsius, 3),
            "last_celsius": self.last_celsius,
            "last_reading": clock_text(self.last_reading_at) if self.last_reading_at is not None else None,
            "last_error": self.last_error,
            "samples": self.samples,
            "reads": self.reads,
            "failures": self.failures,
            "set_aside": self.set_aside,
            "newest_set_aside": self.newest_set_aside,
        }


class TemperatureReader:
    def __init__(
        self,
        source: Source,
        average_s: float,
        stale_s: float,
        poll_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.average_s = average_s
        self.stale_s = stale_s
        self.poll_s = poll_s if poll_s is not None else default_poll_s(stale_s, average_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: collections.deque[Reading] = collections.deque()
        self._started_at = clock()
        self._error = ""
        self._error_status = "failed"  # or "stale", for a reading of unknown age
        self._failing_since: float | None = None
        self._reads = 0
        self._failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged_status = "starting"
        self._traceback_logged = False  # of an unexpected failure, once until a good reading
        self._logged_outlier: Reading | None = None

    def start(self) -> None:
        self._started_at = self._clock()
        self._thread = threading.Thread(target=self._run, name=f"temperature {self.source.description}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop reading; a read in progress (a slow weather station) is left to finish on its own."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(CLOSE_WAIT_S)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.poll_s)

    def poll_once(self) -> None:
        """Read the source once and keep the reading (or the failure)."""
        reading, error = self._read()
        now = self._clock()
        undated = reading is not None and reading.measured_at > now + FUTURE_TOLERANCE_S
        if reading is not None and undated:
            error = (
                f"the reading from {self.source.description} is dated {clock_text(reading.measured_at)}, ahead of this computer's "
                "clock, so its age is unknown; check the clock of whatever writes it"
            )
            reading = None
        with self._lock:
            self._reads += 1
            began_failing = reading is None and self._failing_since is None
            if reading is None:
                self._failures += 1
                self._failing_since = self._failing_since or now
                self._error, self._error_status = error, "stale" if undated else "failed"
            else:
                self._failing_since = None
                self._error = ""
                self._traceback_logged = False
                self._keep(Reading(reading.celsius, min(reading.measured_at, now)), now)
        self._log_change(error if began_failing else "")

    def _read(self) -> tuple[Reading | None, str]:
        try:
            return self.source.read(), ""
        except SourceError as exc:
            return None, str(exc)
        except Exception as exc:  # a source must never kill the reader thread
            if not self._traceback_logged:  # one is enough to report it; one at every read buries the log
                log.exception("Reading the temperature from %s failed unexpectedly", self.source.description)
                self._traceback_logged = True
            return None, f"unexpected failure reading it: {exc}"

    def _keep(self, reading: Reading, now: float) -> None:
        newest = self._samples[-1] if self._samples else None
        if newest is None or reading != newest:
            self._samples.append(reading)
        while len(self._samples) > SCREEN_READINGS and self._samples[0].measured_at < now - max(self.average_s, self.stale_s):
            self._samples.popleft()

    def health(self) -> TemperatureHealth:
        now = self._clock()
        with self._lock:
            samples = list(self._samples)
            error, error_status, failing_since = self._error, self._error_status, self._failing_since
            reads, failures = self._reads, self._failures
        newest = samples[-1] if samples else None

        def make(status: str, message: str, since: float | None, celsius: float | None = None, samples: int = 0, set_aside: int = 0,
                 newest_set_aside: bool = False) -> TemperatureHealth:
            return TemperatureHealth(
                source=self.source.description, status=status, message=message, since=since, celsius=celsius,
                last_celsius=newest.celsius if newest else None, last_reading_at=newest.measured_at if newest else None,
                last_error=error, samples=samples, reads=reads, failures=failures, set_aside=set_aside, newest_set_aside=newest_set_aside,
            )  # fmt: skip

        if newest is not None and now - newest.measured_at <= self.stale_s:
            screened = screen(samples, now - self.average_s)
            message = f"{screened.celsius:.2f} °C"
            if screened.newest_set_aside:
                message += f" (the newest reading, {newest.celsius:g} °C, is set aside: it is far from the readings around it)"
            return make("ok", message, None, screened.celsius, screened.used, screened.set_aside, screened.newest_set_aside)
        if error:
            since = newest.measured_at if newest is not None else (failing_since or now)
            return make(error_status, f"{error} (no temperature since {clock_text(since)})", since)
        if newest is None:
            status = "starting" if now - self._started_at <= self.stale_s else "stale"
            return make(status, f"no reading from {self.source.description} yet (started {clock_text(self._started_at)})", self._started_at)
        message = (
            f"no new reading from {self.source.description} since {clock_text(newest.measured_at)} "
            f"({now - newest.measured_at:.0f} s ago, more than the {self.stale_s:g} s of temperature_stale_s)"
        )
        return make("stale", message, newest.measured_at)

    def _log_change(self, new_failure: str) -> None:
        """Log a change of status, or else a failure that has just begun (while the last reading
        still serves): once each, so a source that keeps failing does not fill the log."""
        health = self.health()
        self._log_outlier(health)
        if health.status == self._logged_status:
            if new_failure and health.ok:
                log.warning(
                    "Reading the temperature from %s failed: %s (the last reading stays in use until it is %g s old)",
                    health.source, new_failure, self.stale_s,
                )  # fmt: skip
            return
        previous, self._logged_status = self._logged_status, health.status
        if health.ok:
            log.info("Temperature from %s: %s", health.source, health.message)
        elif previous != "starting" or health.status != "starting":
            log.warning("Temperature from %s is %s: %s", health.source, health.status, health.message)

    def _log_outlier(self, health: TemperatureHealth) -> None:
        """Say once when the newest reading was set aside, so a glitching sensor shows in the log."""
        if not health.newest_set_aside or health.last_celsius is None or health.last_reading_at is None or health.celsius is None:
            return
        newest = Reading(health.last_celsius, health.last_reading_at)
        if newest != self._logged_outlier:
            self._logged_outlier = newest
            log.warning(
                "Temperature from %s: a reading of %g °C is set aside, far from the readings around it (the temperature stays %.2f °C)",
                health.source, health.last_celsius, health.celsius,
            )  # fmt: skip
