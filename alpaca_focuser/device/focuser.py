"""CelestronFocuser: the Celestron Focus Motor as a device, with no HTTP in it.

One worker thread owns the link and drives the state machine (machine.py); callers never wait on
the line. They check a request against the current snapshot and hand it over as orders, both under
one lock, and read the immutable ``FocuserState`` the snapshot module composes.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from ..celestron import commands
from ..celestron.link import LinkStats
from ..celestron.routes import Link, Route, open_link
from ..errors import InvalidOperation, InvalidValue, NotConnected
from ..settings import Direction, FocuserSettings, Preset
from .clock import Clock, SystemClock
from .interface import FocuserState
from .jobs import CalibrationJob, Job, JogJob, MoveJob
from .machine import Machine
from .positions import PositionMap, plan_legs
from .presets import LINE_SETTINGS, SettingsStore
from .snapshot import compose, view_of
from .states import Orders, Phase

log = logging.getLogger(__name__)

CONNECT_WAIT_S = 30.0
SHUTDOWN_STOP_WAIT_S = 2.0
HALT_WAIT_S = 1.0
UNCALIBRATED_JOG_RATE_MAX = 5  # an uncalibrated focuser's hard stops are unknown: never run into them fast

NOT_CALIBRATED = (
    "The focuser is not calibrated, so it refuses to move (its hard stops are unknown). "
    "Calibrate it first: open the control page (/control/v1/focuser/N/, linked from /setup), tick the two "
    "checks under Calibration and press 'Start calibration'; or run the Alpaca action 'Calibrate'. Then wait "
    "a few minutes until 'CalibrationStatus' reports calibrated."
)


@dataclasses.dataclass
class _Waiter:
    """A Connect or Disconnect that a caller waits for; failed attempts are counted from its start."""

    connect: bool
    attempts: int
    done: Future[None] = dataclasses.field(default_factory=Future)


class CelestronFocuser:
    def __init__(
        self,
        settings: FocuserSettings,
        save: Callable[[FocuserSettings], None] | None = None,
        *,
        opener: Callable[[Route], Link] = open_link,
        clock: Clock | None = None,
        threaded: bool = True,
    ) -> None:
        self.description = "Celestron Focus Motor for SCT and EdgeHD"
        self._store = SettingsStore(settings, save)
        self._clock = clock or SystemClock()
        self._machine = Machine(lambda: self._store.current, opener, self._clock)
        self._cond = threading.Condition()
        self._orders = Orders()
        self._waiters: list[_Waiter] = []
        self._threaded = threaded
        self._thread: threading.Thread | None = None
        self._exit = False
        self._view = view_of(self._machine)
        self._state = compose(self._view, settings.reverse, self._orders)

    # ----------------------------------------------------------------- reading

    @property
    def name(self) -> str:
        return self._store.current.name

    @property
    def unique_id(self) -> str:
        return self._store.current.unique_id

    @property
    def state(self) -> FocuserState:
        return self._state

    @property
    def step_size_um(self) -> float | None:
        return self._store.current.step_size_um

    @property
    def link_stats(self) -> LinkStats | None:
        link = self._machine.link
        return dataclasses.replace(link.stats) if link is not None else None

    @property
    def backlash(self) -> tuple[int, Direction]:
        return self._store.current.backlash_steps, self._store.current.backlash_direction

    @property
    def reverse(self) -> bool:
        return self._store.current.reverse

    @property
    def settings(self) -> FocuserSettings:
        return self._store.current

    @property
    def reconnects(self) -> int:
        return self._state.reconnects

    # ------------------------------------------------------------- connection

    def start(self) -> None:
        """Begin working and keep trying to reach the focuser in the background; never raises."""
        with self._cond:
            self._orders.wanted = True
            self._post()
        self._ensure_worker()

    def connect(self) -> None:
        self._wait(connect=True)

    def disconnect(self) -> None:
        """Stop the motor if it runs (acknowledged), then release the port for other programs."""
        self._wait(connect=False)

    def close(self) -> None:
        """Server shutdown: stop the motor first (waiting up to about 2 s), then end the worker."""
        with self._cond:
            moving = self._state.moving
            self._orders.closing = True
            self._orders.wanted = False
            self._post()
        stopped = self._await(self._released, SHUTDOWN_STOP_WAIT_S)
        if moving:
            if stopped:
                log.info("%s: the motor was stopped before exit", self.name)
            else:
                log.warning("%s: the stop could not be confirmed before exit (%s)", self.name, self._state.last_error or "no answer")
        with self._cond:
            self._exit = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._machine.close()

    def _released(self) -> bool:
        machine = self._machine
        return machine.phase is Phase.OFF or machine.phase in (Phase.CONNECTING, Phase.LINK_LOST) and not machine.wanted

    def _wait(self, *, connect: bool) -> None:
        waiter = _Waiter(connect, self._machine.failed_attempts)
        with self._cond:
            self._orders.wanted = connect
            self._waiters.append(waiter)
            self._post()
            self._resolve_waiters()  # already there (a second Disconnect): no need to wait for the worker
        self._ensure_worker()
        if not self._threaded:
            self.run_until(waiter.done.done, CONNECT_WAIT_S)
        try:
            waiter.done.result(timeout=CONNECT_WAIT_S)
        except FutureTimeout:
            if connect:
                raise NotConnected(
                    f"The focuser on {self._store.current.port} did not answer within {CONNECT_WAIT_S:g} s. "
                    "The server keeps trying in the background; check the cable and the port."
                ) from None
            log.warning("%s: the disconnect is still waiting for the motor's stop to be confirmed", self.name)

    def _resolve_waiters(self) -> None:
        machine = self._machine
        for waiter in list(self._waiters):
            if waiter.connect != self._orders.wanted:
                waiter.done.set_result(None)  # overtaken by a later request
            elif waiter.connect and machine.connected:
                waiter.done.set_result(None)
            elif waiter.connect and machine.failed_attempts > waiter.attempts:
                waiter.done.set_exception(NotConnected(machine.explain_last()))
            elif not waiter.connect and self._released():
                waiter.done.set_result(None)
            else:
                continue
            self._waiters.remove(waiter)

    # ------------------------------------------------------------------ motion

    def move(self, position: int) -> None:
        with self._cond:
            state = self._require_movable()
            positions = self._positions(state)
            target = positions.clamp(position)
            legs = plan_legs(state.position, target, state.max_step, *self.backlash)
            self._give(MoveJob(target=target, legs=[positions.to_raw(leg) for leg in legs]))

    def move_if_idle(self, position: int) -> bool:
        """Start a move only when nothing moves and no move waits to start: for moves the server
        makes by itself (temperature compensation), which must never replace a client's."""
        with self._cond:
            if self._state.moving or self._orders.job is not None:
                return False
            self.move(position)
            return True

    def move_relative(self, steps: int) -> None:
        with self._cond:
            self.move(self._require_movable().position + steps)

    def jog(self, rate: int) -> None:
        if not -commands.RATE_MAX <= rate <= commands.RATE_MAX:
            raise InvalidValue(f"Jog rate {rate} is out of range: give a whole number from -9 to 9 (0 stops).")
        if rate == 0:
            self.halt("Jog 0")
            return
        with self._cond:
            rate = self._jog_rate(rate)
            running = self._machine.job
            if isinstance(running, JogJob) and running.rate == rate and self._orders.stop is None and self._machine.stop_reason is None:
                running.renew(self._clock.monotonic())
                return
            self._give(JogJob(rate=rate, renewed_at=self._clock.monotonic()))

    def _jog_rate(self, rate: int) -> int:
        """The rate a jog may run at. An uncalibrated focuser may be jogged (to bring it near the
        middle before calibrating) but only slowly, since its hard stops are unknown."""
        state = self._require_connected()
        if state.calibration.running:
            raise InvalidOperation("A calibration is running, so jogging is refused until it ends; stop it with Halt or 'AbortCalibration'.")
        if state.calibrated or abs(rate) <= UNCALIBRATED_JOG_RATE_MAX:
            return rate
        return UNCALIBRATED_JOG_RATE_MAX if rate > 0 else -UNCALIBRATED_JOG_RATE_MAX

    def halt(self, reason: str = "Halt") -> None:
        """Stop the motor; returns once it is seen standing, or after HALT_WAIT_S with the stop
        still pending (a line drop-out), which IsMoving then shows."""
        with self._cond:
            self._require_connected()
            self._orders.job = None
            self._orders.stop = reason
            self._post()
        self._await(lambda: not self._state.stop_pending, HALT_WAIT_S)

    def _await(self, condition: Callable[[], bool], limit_s: float) -> bool:
        if not self._threaded:
            return self.run_until(condition, limit_s)
        with self._cond:
            return self._cond.wait_for(condition, limit_s)

    def start_calibration(self) -> None:
        with self._cond:
            state = self._require_connected()
            if state.calibration.running:
                raise InvalidOperation(
                    "A calibration is already running; watch it with 'CalibrationStatus' or stop it with 'AbortCalibration'."
                )
            self._refuse_while_moving(state, "Calibrate")
            self._give(CalibrationJob(started_at=self._clock.monotonic()))

    def abort_calibration(self) -> None:
        with self._cond:
            if not self._require_connected().calibration.running:
                raise InvalidOperation("No calibration is running, so there is nothing to abort.")
            self.halt("AbortCalibration")

    def _give(self, job: Job) -> None:
        self._orders.job = job
        self._post()

    def _post(self) -> None:
        """Recompose the snapshot with the orders just given and wake the worker; ``_cond`` held."""
        self._state = compose(self._view, self._store.current.reverse, self._orders)
        self._cond.notify_all()

    def _positions(self, state: FocuserState) -> PositionMap:
        return PositionMap(state.low_limit, state.high_limit, self.reverse, state.calibrated)

    def _require_connected(self) -> FocuserState:
        state = self._state
        if not state.connected:
            reason = f" ({state.last_error})" if state.last_error else ""
            raise NotConnected(f"The focuser on {self._store.current.port} is not connected{reason}. Connect it first.")
        return state

    @staticmethod
    def _refuse_while_moving(state: FocuserState, what: str) -> None:
        if state.connected and state.moving:
            raise InvalidOperation(f"{what} is refused while the focuser moves. Wait for the move to end, or stop it with Halt.")

    def _require_movable(self) -> FocuserState:
        state = self._require_connected()
        if state.calibration.running:
            raise InvalidOperation(
                "A calibration is running, so moves are refused until it ends. "
                "Wait for it, or stop it with Halt or the 'AbortCalibration' action."
            )
        if not state.calibrated:
            raise InvalidOperation(NOT_CALIBRATED)
        return state

    # -------------------------------------------------------- saved settings

    def set_backlash(self, steps: int, direction: Direction) -> None:
        self._store.set_backlash(steps, direction)

    def set_reverse(self, reverse: bool) -> None:
        self.configure(reverse=reverse)

    def configure(self, **changes: object) -> None:
        """Save and apply settings a user edits; a new port or baud reconnects."""
        self._store.check_configurable(changes)
        with self._cond:
            old = self._store.current
            if changes.get("reverse", old.reverse) != old.reverse:
                # A move in progress was planned in the old directions.
                self._refuse_while_moving(self._state, "Changing reverse")
            new = self._store.change(**changes)
            self._post()
        if any(getattr(old, key) != getattr(new, key) for key in LINE_SETTINGS) and self._orders.wanted:
            log.info("The port of %s changed from %s to %s: reconnecting", new.name, old.port, new.port)
            self.disconnect()
            self.connect()

    def presets(self) -> list[Preset]:
        return self._store.presets(self._positions(self._state))

    def save_preset(self, slot: int | None, name: str | None, position: int | None) -> Preset:
        state = self._state
        return self._store.save_preset(slot, name, position, state, self._positions(state))

    def goto_preset(self, key: int | str) -> Preset:
        preset = self._store.find_preset(key, self._positions(self._state))
        self.move(preset.position)
        return preset

    def delete_preset(self, key: int | str) -> Preset:
        return self._store.delete_preset(key, self._positions(self._state))

    # ------------------------------------------------------------ the worker

    def step(self) -> None:
        """One round of the worker: take the orders, let the machine act, publish what it did."""
        with self._cond:
            orders = dataclasses.replace(self._orders)
            self._orders.job = None
            self._orders.stop = None
            self._machine.accept(orders)
        self._machine.step()
        view = view_of(self._machine)
        with self._cond:
            self._view = view
            self._state = compose(view, self._store.current.reverse, self._orders)
            self._resolve_waiters()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._exit:
                    if self._orders_waiting():
                        break
                    delay = self._machine.next_wake() - self._clock.monotonic()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)
                if self._exit:
                    return
            self.step()

    def _orders_waiting(self) -> bool:
        orders = self._orders
        return orders.job is not None or orders.stop is not None or orders.wanted != self._machine.wanted

    def run_until(self, until: Callable[[], bool], limit_s: float) -> bool:
        """Without a worker thread (tests on a fake clock): step until ``until`` or the time limit."""
        deadline = self._clock.monotonic() + limit_s
        while not until():
            now = self._clock.monotonic()
            if now > deadline:
                return False
            wake = self._machine.next_wake()
            if wake > now and not self._orders_waiting():
                self._clock.sleep(min(wake, deadline + 0.001) - now)
            self.step()
        return True

    def _ensure_worker(self) -> None:
        if not self._threaded:
            return
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._exit = False
                self._thread = threading.Thread(target=self._run, name=f"focuser {self.name}", daemon=True)
                self._thread.start()
