"""FocusMotor: a Celestron focus motor in software: its commands, its state and how a move ends.

Motion is analytic rather than ticked (motion.py): a move is a list of straight legs at constant
speed, and the position at any instant is computed from the monotonic clock times ``time_scale``.
So positions are exact, the instant a move ends is known to the microsecond (benchmarks read it
from ``stops``), and a test can run the motor a thousand times faster without losing anything.
What it keeps over a power cycle is in nvram.py, the faults it can be given in faults.py.

Figures that no source confirms (speeds other than GOTO_FAST, calibration state values) are
estimates from the protocol reference, §5.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..limits import POSITION_MAX
from .faults import FAULTS, ActiveFaults
from .motion import Leg, Plan, cut_path
from .nvram import NvramState, load_nvram, save_nvram

log = logging.getLogger(__name__)

GOTO_FAST_SPEED = 300.0  # counts per second, "empirically ~300 steps/sec"
GOTO_SLOW_SPEED = 30.0
CALIBRATION_SPEED = 300.0
RATE_SPEEDS = {1: 1.0, 2: 2.0, 3: 4.0, 4: 8.0, 5: 12.0, 6: 20.0, 7: 30.0, 8: 100.0, 9: 300.0}
EXTERNAL_RATE = 9  # a hand controller moves the focuser at its fastest button rate

DEFAULT_LOW_STOP = 1000
DEFAULT_HIGH_STOP = 37500
DEFAULT_POSITION = 20000
CALIBRATION_STATES = 12  # the running state byte counts 1..12 over the calibration run

@dataclass(frozen=True)
class StopEvent:
    """One end of motion: when (monotonic seconds) and where the motor came to rest, and why."""

    time: float
    position: int
    kind: str  # goto_fast, goto_slow, manual, external, calibration
    reason: str  # arrived, stopped (rate 0 or abort), hard stop


class FocusMotor:
    """A thread-safe focus motor: the transports' responders and the tests share one instance."""

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        calibrated: bool = True,
        low_stop: int = DEFAULT_LOW_STOP,
        high_stop: int = DEFAULT_HIGH_STOP,
        position: int = DEFAULT_POSITION,
        landing_error: int = 0,
        slow_landing_error: int = 0,
        seed: int = 0,
        state_file: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time scale must be positive, got {time_scale}")
        if not 0 <= low_stop < high_stop <= POSITION_MAX:
            raise ValueError(f"hard stops must satisfy 0 <= low < high <= {POSITION_MAX}, got {low_stop}..{high_stop}")
        if landing_error < 0 or slow_landing_error < 0:
            raise ValueError("landing errors are a number of counts, 0 or more")
        self.time_scale = float(time_scale)
        self.low_stop = low_stop
        self.high_stop = high_stop
        self.landing_error = landing_error
        self.slow_landing_error = slow_landing_error
        self.clock = clock
        self.state_file = Path(state_file) if state_file else None
        self.positive_backlash = 0
        self.negative_backlash = 0
        self._lock = threading.RLock()
        self._random = random.Random(seed)
        self._faults = ActiveFaults()
        self._stops: list[StopEvent] = []
        self._run_time = 0.0
        self._plan_started = 0.0
        self._plan: Plan | None = None
        self._calibrated = calibrated
        self._limits = (low_stop, high_stop) if calibrated else (0, 0)
        self._position = float(self._clamp(position))
        self._calibration_state = 0
        saved = load_nvram(self.state_file) if self.state_file else None
        if saved is not None:
            self._calibrated = saved.calibrated
            self._limits = (saved.low, saved.high) if saved.calibrated else (0, 0)
            self._position = float(self._clamp(saved.position))
        elif self.state_file:
            self.save()

    # ----- what the device reports -------------------------------------------------------------

    @property
    def position(self) -> int:
        with self._lock:
            return round(self._advance())

    @property
    def moving(self) -> bool:
        with self._lock:
            self._advance()
            return self._plan is not None

    @property
    def limits(self) -> tuple[int, int]:
        with self._lock:
            self._advance()
            return self._limits

    @property
    def calibrated(self) -> bool:
        with self._lock:
            self._advance()
            return self._calibrated

    @property
    def calibration_state(self) -> int:
        """0 when no calibration runs, otherwise 1..12 by progress."""
        with self._lock:
            self._advance()
            return self._calibration_state

    @property
    def calibrating(self) -> bool:
        with self._lock:
            self._advance()
            return self._plan is not None and self._plan.kind == "calibration"

    @property
    def stops(self) -> list[StopEvent]:
        """Every end of motion so far, oldest first (a copy)."""
        with self._lock:
            self._advance()
            return list(self._stops)

    @property
    def run_time(self) -> float:
        """Total monotonic seconds the motor has been running (a stalled motor counts as running)."""
        with self._lock:
            self._advance()
            extra = self.clock() - self._plan_started if self._plan is not None else 0.0
            return self._run_time + extra

    # ----- commands ----------------------------------------------------------------------------

    def goto_fast(self, target: int) -> None:
        self._goto("goto_fast", target, GOTO_FAST_SPEED, self.landing_error)

    def goto_slow(self, target: int) -> None:
        self._goto("goto_slow", target, GOTO_SLOW_SPEED, self.slow_landing_error)

    def external_move(self, target: int) -> None:
        """A move made by a hand controller on the mount bus: the host did not ask for it."""
        self._goto("external", target, RATE_SPEEDS[EXTERNAL_RATE], 0)

    def move(self, rate: int, positive: bool) -> None:
        """Manual move towards a hard stop at ``rate`` 1..9; rate 0 stops any motion."""
        if not 0 <= rate <= 9:
            raise ValueError(f"manual rate must be 0..9, got {rate}")
        with self._lock:
            now = self.clock()
            self._advance(now)
            if rate == 0:
                self.stop()
                return
            if self._ignored_while_calibrating("manual move"):
                return
            stop = self.high_stop if positive else self.low_stop
            self._start(now, "manual", [Leg(stop, RATE_SPEEDS[rate])], reason="hard stop")

    def stop(self) -> None:
        """Stop whatever runs, calibration included (which then reads as aborted)."""
        with self._lock:
            now = self.clock()
            self._advance(now)
            if self._plan is None:
                return
            deaf = self._faults.live("deaf_to_stop")
            if deaf is not None and deaf["times"] > 0:
                deaf["times"] -= 1
                log.info("a stop was acknowledged but not done (fault deaf_to_stop)")
                return
            if self._plan.kind == "calibration":
                self._calibration_state = 0
            self._finish(now, "stopped")

    def start_calibration(self) -> None:
        """Run to the high stop, then the low stop, store them as limits, come back."""
        with self._lock:
            now = self.clock()
            here = self._advance(now)
            if self._plan is not None and self._plan.kind == "calibration":
                return
            self._calibrated = False
            self._limits = (0, 0)
            legs = [Leg(self.high_stop, CALIBRATION_SPEED), Leg(self.low_stop, CALIBRATION_SPEED), Leg(here, CALIBRATION_SPEED)]
            total = (self.high_stop - here) + (self.high_stop - self.low_stop) + (here - self.low_stop)
            stuck = self._faults.live("stuck_calibration")
            if stuck is not None:
                legs = cut_path(here, legs, total * float(stuck["at"]))
            self._start(now, "calibration", legs, total_path=total)
            self._calibration_state = 1
            log.info("calibration started at %d", round(here))
            self.save()

    def abort_calibration(self) -> None:
        with self._lock:
            now = self.clock()
            self._advance(now)
            if self._plan is not None and self._plan.kind == "calibration":
                self._calibration_state = 0
                self._finish(now, "stopped")
                log.info("calibration aborted")

    # ----- faults ------------------------------------------------------------------------------

    def set_fault(self, name: str, on: bool = True, **params: Any) -> None:
        """Switch a fault on (with its parameters) or off. Unknown names are an error."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULTS)}")
        with self._lock:
            now = self.clock()
            self._advance(now)
            if not on:
                self._clear(name, now)
                return
            self._faults.switch_on(name, now, params)
            if name == "stall" and self._plan is not None:
                self._plan.freeze(self._position, now)
            if name == "stuck_calibration" and self._plan is not None and self._plan.kind == "calibration":
                self._plan.hang(self._position, now)
            log.info("fault on: %s %s", name, params or "")

    def clear_faults(self) -> None:
        with self._lock:
            now = self.clock()
            self._advance(now)
            for name in self._faults.names():
                self._clear(name, now)

    def fault(self, name: str) -> dict[str, Any] | None:
        """The parameters of an active fault, or None. An unplug whose time is up is over."""
        with self._lock:
            return self._faults.get(name, self.clock())

    @property
    def unplugged(self) -> bool:
        return self.fault("unplug") is not None

    def _clear(self, name: str, now: float) -> None:
        if not self._faults.switch_off(name):
            return
        if name == "stall" and self._plan is not None and self._plan.frozen:
            self._plan.thaw(now)
        log.info("fault off: %s", name)

    # ----- NVRAM -------------------------------------------------------------------------------

    def save(self) -> None:
        """Write calibration, limits and position to the state file, atomically."""
        if self.state_file is None:
            return
        with self._lock:
            state = NvramState(self._calibrated, self._limits[0], self._limits[1], round(self._position_at(self.clock())))
        save_nvram(self.state_file, state)

    # ----- the analytic model ------------------------------------------------------------------

    def _clamp(self, position: float) -> float:
        return min(max(position, self.low_stop), self.high_stop)

    def _goto(self, kind: str, target: int, speed: float, error: int) -> None:
        with self._lock:
            now = self.clock()
            self._advance(now)
            if self._ignored_while_calibrating(kind):
                return
            landing = target + (self._random.randint(-error, error) if error else 0)
            end = self._clamp(landing)
            self._start(now, kind, [Leg(end, speed)], reason="arrived" if end == landing else "hard stop")

    def _ignored_while_calibrating(self, what: str) -> bool:
        if self._plan is not None and self._plan.kind == "calibration":
            log.info("%s ignored: calibration is running", what.replace("_", " "))
            return True
        return False

    def _start(self, now: float, kind: str, legs: list[Leg], *, reason: str = "arrived", total_path: float = 0.0) -> None:
        here = self._position
        if self._plan is None:
            self._plan_started = now
        self._plan = Plan(kind, legs, now, here, reason=reason, total_path=total_path, frozen="stall" in self._faults)
        self._advance(now)

    def _position_at(self, now: float) -> float:
        return self._position if self._plan is None else self._plan.position_at(now, self.time_scale)

    def _advance(self, now: float | None = None) -> float:
        """Bring the model up to ``now``: finish legs whose end has passed, record stops."""
        if now is None:
            now = self.clock()
        while self._plan is not None and not self._plan.frozen:
            plan = self._plan
            leg = plan.legs[0]
            distance = abs(leg.target - plan.start_pos)
            if leg.speed == 0 and distance == 0:
                self._position = plan.start_pos
                break
            duration = distance / (leg.speed * self.time_scale) if distance else 0.0
            end_time = plan.start_time + duration
            if end_time > now:
                self._position = self._position_at(now)
                break
            plan.travelled += distance
            plan.legs.pop(0)
            plan.start_pos = leg.target
            plan.start_time = end_time
            self._position = leg.target
            if not plan.legs:
                self._finish(end_time, plan.reason)
        if self._plan is not None and self._plan.kind == "calibration":
            self._update_calibration_state(now)
        return self._position

    def _update_calibration_state(self, now: float) -> None:
        plan = self._plan
        assert plan is not None
        done = plan.travelled + abs(self._position - plan.start_pos)
        fraction = done / plan.total_path if plan.total_path else 1.0
        self._calibration_state = min(CALIBRATION_STATES, 1 + int(fraction * CALIBRATION_STATES))

    def _finish(self, when: float, reason: str) -> None:
        plan = self._plan
        assert plan is not None
        if not plan.frozen:
            self._position = self._position_at(when)
        else:
            self._position = plan.start_pos
        self._plan = None
        self._run_time += when - self._plan_started
        self._stops.append(StopEvent(when, round(self._position), plan.kind, reason))
        if plan.kind == "calibration":
            if reason == "arrived":
                self._calibrated = True
                self._limits = (self.low_stop, self.high_stop)
                log.info("calibration done: limits %d..%d", self.low_stop, self.high_stop)
            self._calibration_state = 0
        log.debug("%s ended (%s) at %d", plan.kind, reason, round(self._position))
        self.save()
