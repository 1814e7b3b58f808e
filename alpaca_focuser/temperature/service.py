"""One focuser's temperature service: its source, compensation, focus log and coefficient.

It is a client of the device like any other: it reads the published snapshots and calls
``move``; it never reaches into the device model. One thread watches the focuser and the
temperature a few times a second: with TempComp on and the focuser idle and connected it moves by
the coefficient when the temperature has changed by more than the threshold; it notices the end of
every client move (which re-anchors compensation and may start a rest for the focus log); and a
stale or failed source pauses compensation until it is back.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.temperature_spec import parse_camera
from ..device import Focuser, FocuserState
from ..errors import AlpacaError, DriverError, InvalidOperation, InvalidValue, NotImplementedAlpaca
from .camera import CameraWatch
from .compensation import Compensator
from .fit import Fit, fit
from .focus_log import FocusLog, RestWatcher
from .motion import Motion, MotionTracker
from .reader import TemperatureHealth, TemperatureReader, clock_text

log = logging.getLogger(__name__)

TEMPERATURE_UNAVAILABLE = 0x11  # driver error 0x511
SAVE_FAILED = 0x01  # driver error 0x501, as for every setting that could not be saved
COEFFICIENT_LIMIT = 100_000.0  # steps per °C; the same bound as the configuration rule
OBSERVE_S = 0.1


@dataclass(frozen=True)
class Compensation:
    """One compensation move, as the log and the status action show it."""

    at: float
    from_c: float
    to_c: float
    from_position: int
    to_position: int
    capped: bool = False  # tempcomp_max_step cut it short

    def as_dict(self) -> dict[str, object]:
        return {
            "time": clock_text(self.at), "from_c": round(self.from_c, 2), "to_c": round(self.to_c, 2),
            "from": self.from_position, "to": self.to_position, "capped": self.capped,
        }  # fmt: skip


class TemperatureService:
    def __init__(
        self,
        device: Focuser,
        reader: TemperatureReader,
        *,
        steps_per_c: float | None,
        threshold_c: float,
        max_step: int,
        rest_s: float,
        log_path: Path | None,
        save_coefficient: Callable[[float], None] | None,
        observe_s: float = OBSERVE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.device = device
        self.reader = reader
        self.focus_log = FocusLog(log_path)
        self._save_coefficient = save_coefficient
        self._observe_s = observe_s
        self._clock = clock
        self._lock = threading.RLock()
        self._compensator = Compensator(steps_per_c or None, threshold_c, max_step)
        self._tracker = MotionTracker()
        self._rests = RestWatcher(rest_s)
        self._moves: collections.deque[Compensation] = collections.deque(maxlen=20)
        self._pause = ""  # why compensation waits, for the status and the log
        self.observations = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._camera: CameraWatch | None = None
        self._held = ""  # why a due compensation move waits for the camera, "" when it does not

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.reader.start()
        self._thread = threading.Thread(target=self._run, name=f"tempcomp {self.device.name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self._camera is not None:
            self._camera.close()
        self.reader.close()

    def _run(self) -> None:
        while not self._stop.wait(self._observe_s):
            try:
                self.observe()
            except Exception:  # the watcher must outlive any single bad moment
                log.exception("Temperature compensation of %s failed to follow the focuser", self.device.name)

    # ------------------------------------------------------------- Alpaca members

    def health(self) -> TemperatureHealth:
        return self.reader.health()

    def temperature(self) -> float:
        health = self.reader.health()
        if health.celsius is None:
            raise DriverError(f"No temperature for {self.device.name}: {health.message}", TEMPERATURE_UNAVAILABLE)
        return round(health.celsius, 2)

    @property
    def coefficient(self) -> float | None:
        return self._compensator.steps_per_c

    @property
    def available(self) -> bool:
        return bool(self._compensator.steps_per_c)

    @property
    def enabled(self) -> bool:
        return self._compensator.enabled

    def set_enabled(self, enabled: bool) -> None:
        if enabled and not self.available:
            raise NotImplementedAlpaca(
                f"{self.device.name} has a temperature source but no compensation coefficient: set tempcomp_steps_per_c in the "
                "configuration, or learn it from the focus log (Action TemperatureFit, then TemperatureApply)"
            )
        with self._lock:
            if enabled != self._compensator.enabled:
                log.info("Temperature compensation of %s switched %s", self.device.name, "on" if enabled else "off")
            self._compensator.switch(enabled)

    # -------------------------------------------------------------- watching

    def observe(self) -> None:
        """Follow one snapshot: note the end of moves, log rests, compensate when due."""
        with self._lock:
            now = self._clock()
            state = self.device.state
            health = self.reader.health()
            celsius = health.celsius
            self.observations += 1
            motion = self._tracker.observe(state, now)
            if motion is Motion.CLIENT_MOVE_ENDED:
                self._compensator.reanchor(celsius, state.position)
                self._rests.client_move_ended(state.position, now, celsius)
            elif motion is Motion.OWN_MOVE_ENDED or self._tracker.busy:
                self._rests.cancel()
            if state.connected and not self._tracker.busy:
                self._log_rest(state, now, celsius)
            self._compensate(state, health, now)

    def _log_rest(self, state: FocuserState, now: float, celsius: float | None) -> None:
        rest = self._rests.due(state.position, now, celsius)
        if rest is None or rest.celsius is None:
            return
        point = self.focus_log.append(rest.began, rest.celsius, rest.position)
        log.info("Focus log of %s: position %d at %.2f °C (point %d)", self.device.name, point.position, point.celsius, point.id)

    def _compensate(self, state: FocuserState, health: TemperatureHealth, now: float) -> None:
        if not self._compensator.enabled:
            self._set_pause("")
            self._held = ""
            return
        self._camera_watch()  # watched from the moment compensation is on, so its state is known when a move is due
        if not state.connected:
            self._set_pause(f"waiting for the focuser to connect ({state.last_error or 'not connected'})")
            return
        if health.celsius is None:
            self._set_pause(f"paused: {health.message}")
            return
        self._set_pause("")
        if self._tracker.busy:
            return
        step = self._compensator.target(health.celsius, state.position, state.max_step)
        if step is None:
            self._held = ""
            return
        if self._waits_for_camera():
            return
        reference = self._compensator.reference_c
        try:
            if not self.device.move_if_idle(step.target):
                return  # a client's move came first: it is never replaced
        except AlpacaError as exc:
            self._compensator.moved(health.celsius)  # do not retry the same step every moment
            log.warning("Temperature compensation of %s could not move to %d: %s", self.device.name, step.target, exc.message)
            return
        self._tracker.issued(step.target, now)
        self._compensator.moved(health.celsius)
        move = Compensation(now, reference if reference is not None else health.celsius, health.celsius, state.position, step.target, step.capped)
        self._moves.append(move)
        log.info(
            "Temperature compensation of %s: %.2f °C -> %.2f °C, moving %d -> %d (%+d steps)",
            self.device.name, move.from_c, move.to_c, move.from_position, move.to_position, step.target - state.position,
        )  # fmt: skip
        if step.capped:
            log.warning(
                "Temperature compensation of %s asked for %+d steps, more than tempcomp_max_step (%d), so it moved %+d only; "
                "if the temperature is right, raise tempcomp_max_step, else check the sensor",
                self.device.name, step.wanted - state.position, self._compensator.max_step, step.target - state.position,
            )  # fmt: skip

    def _camera_watch(self) -> CameraWatch | None:
        """The camera of the settings in force (a client may change it on the settings form)."""
        wanted = self.device.settings.camera
        if self._camera is not None and self._camera.spec.text != wanted:
            self._camera.close(wait=False)  # under the service's lock: never wait on a camera
            self._camera = None
        if self._camera is None and wanted:
            self._camera = CameraWatch(parse_camera(wanted), lambda: self._compensator.enabled)
            self._camera.start()
        return self._camera

    def _waits_for_camera(self) -> bool:
        """A due move waits while the camera takes a frame, and while it cannot be read when
        camera_unreachable is "wait"; the reason shows in the status as "held: ..."."""
        camera = self._camera_watch()
        view = camera.view if camera is not None else None
        held = ""
        if view is not None and not view.read_at:
            held = "held: waiting for the camera's first answer"
        elif view is not None and view.busy:
            held = f"held: camera {view.busy}"
        elif view is not None and view.problem and self.device.settings.camera_unreachable == "wait":
            held = f"held: the camera cannot be read ({view.problem})"
        if held != self._held:
            log.debug("Temperature compensation of %s: %s", self.device.name, held or "the camera is between frames")
        self._held = held
        return bool(held)

    def _set_pause(self, reason: str) -> None:
        if reason == self._pause:
            return
        if reason and not self._pause:
            log.warning("Temperature compensation of %s is %s", self.device.name, reason)
        elif self._pause and not reason and self._compensator.enabled:
            log.info("Temperature compensation of %s resumed", self.device.name)
        self._pause = reason

    # -------------------------------------------------------------- actions

    def status(self) -> dict[str, Any]:
        with self._lock:
            anchor = self._compensator.anchor
            return {
                "temperature": self.reader.health().as_dict(),
                "tempcomp": {
                    "available": self.available,
                    "on": self._compensator.enabled,
                    "steps_per_c": self.coefficient,
                    "threshold_c": self._compensator.threshold_c,
                    "max_step": self._compensator.max_step,
                    "state": self._pause or self._held or ("following the temperature" if self._compensator.enabled else "off"),
                    "camera": self._camera_status(),
                    "anchor": None if anchor is None else {"celsius": round(anchor.celsius, 2), "position": anchor.position},
                    "recent_moves": [move.as_dict() for move in self._moves],
                },
                "focus_log": {"points": len(self.focus_log.points()), "file": str(self.focus_log.path) if self.focus_log.path else None, "rest_s": self._rests.rest_s},
            }

    def _camera_status(self) -> dict[str, Any] | None:
        camera = self._camera
        if camera is None:
            return None
        view = camera.view
        return {"address": camera.spec.text, "busy": view.busy, "problem": view.problem, "read": clock_text(view.read_at) if view.read_at else None}

    def log_points(self) -> list[dict[str, Any]]:
        return [{"id": p.id, "time": clock_text(p.time), "celsius": p.celsius, "position": p.position} for p in self.focus_log.points()]

    def fit(self) -> Fit:
        return fit(self.focus_log.points())

    def apply(self, steps_per_c: float | None) -> dict[str, Any]:
        """Use and save a coefficient: the one given, or the fit's when it is trustworthy."""
        if steps_per_c is None:
            result = self.fit()
            if result.verdict != "ok" or result.steps_per_c is None:
                raise InvalidOperation(f"The focus log gives no coefficient to trust: {result.message} To use one anyway, give it: Parameters 25.5.")
            steps_per_c = round(result.steps_per_c, 2)
        if not math.isfinite(steps_per_c) or not 0 < abs(steps_per_c) <= COEFFICIENT_LIMIT:
            raise InvalidValue(f"A coefficient of {steps_per_c} steps per °C is not usable: give a non-zero number from -{COEFFICIENT_LIMIT:g} to {COEFFICIENT_LIMIT:g}.")
        saved = self._save_coefficient is not None
        if self._save_coefficient is not None:
            try:
                self._save_coefficient(steps_per_c)
            except Exception as exc:
                raise DriverError(f"The coefficient was not changed because it could not be saved: {exc}", SAVE_FAILED) from exc
        with self._lock:
            self._compensator.steps_per_c = steps_per_c
            self._compensator.anchor = self._compensator.reference_c = None
        log.info("Temperature compensation of %s now uses %+.2f steps per °C%s", self.device.name, steps_per_c, "" if saved else " (not saved: no configuration file)")
        return {"steps_per_c": steps_per_c, "saved": saved}

    def clear_log(self) -> dict[str, Any]:
        return {"cleared": self.focus_log.clear()}

    def drop_points(self, ids: list[int]) -> dict[str, Any]:
        dropped = self.focus_log.drop(ids)
        missing = sorted(set(ids) - set(dropped))
        if missing and not dropped:
            raise InvalidValue(f"The focus log has no point {', '.join(map(str, missing))}; TemperatureLog lists the points and their ids.")
        return {"dropped": dropped, "not_found": missing}
