"""CelestronFocuser: the Celestron Focus Motor as a device, with no HTTP in it.

One worker thread owns the link and drives the state machine (machine.py); callers never wait on
the line. They check a request against the current snapshot and hand it over as orders, both under
one lock, and read the immutable ``FocuserState`` the snapshot module composes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from ..celestron import commands
from ..celestron.faults import AuxError
from ..celestron.link import LinkStats
from ..celestron.routes import Link, Route, open_link
from ..errors import InvalidOperation, InvalidValue, NotConnected
from ..settings import Direction, FocuserSettings, Preset
from .clock import Clock, SystemClock
from .history import MoveHistory
from .interface import FocuserState
from .journal import MotionJournal
from .line import unreachable
from .machine import Machine
from .orders import CalibrateOrder, JogOrder, MoveOrder, Order, Probe
from .positions import PositionMap
from .presets import LINE_SETTINGS, SettingsStore
from .states import Phase
from .worker import WorkerHost

log = logging.getLogger(__name__)

CONNECT_WAIT_S = 30.0
SHUTDOWN_STOP_WAIT_S = 2.0
HALT_WAIT_S = 1.0
PROBE_GRACE_S = 2.0  # beyond the reply timeouts of one version request, for the worker to get to it

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


class CelestronFocuser(WorkerHost):
    def __init__(
        self,
        settings: FocuserSettings,
        save: Callable[[FocuserSettings], None] | None = None,
        *,
        opener: Callable[[Route], Link] = open_link,
        clock: Clock | None = None,
        threaded: bool = True,
        journal: MotionJournal | None = None,
        history: MoveHistory | None = None,
    ) -> None:
        self.description = "Celestron Focus Motor for SCT and EdgeHD"
        store = SettingsStore(settings, save)
        clock = clock or SystemClock()
        self.history = history or MoveHistory()
        super().__init__(store, clock, Machine(lambda: store.current, opener, clock, journal, self.history), threaded)
        self._waiters: list[_Waiter] = []

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
        return self._view.link_stats

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
        self._await(self._released, SHUTDOWN_STOP_WAIT_S)
        if moving:
            self._say_how_it_stopped()
        self._end_worker()

    def _say_how_it_stopped(self) -> None:
        """Shutdown's word on the motor: "stopped" only when it was seen standing."""
        state = self._state
        if not state.stop_pending and not state.moving:
            log.info("%s: the motor was seen standing before exit", self.name)
            return
        why = state.last_error or "the focuser did not answer"
        log.warning(
            "%s: the stop is still pending at exit, so the motor may still be turning (%s). Check the focuser; the next "
            "start stops it first.",
            self.name,
            why,
        )

    def _released(self) -> bool:
        """Nobody holds the port and nothing is left to stop (the worker's view)."""
        view = self._view
        return view.phase is Phase.OFF or view.phase in (Phase.CONNECTING, Phase.LINK_LOST) and not view.wanted and not view.moving

    def _wait(self, *, connect: bool) -> None:
        waiter = _Waiter(connect, self._view.failed_attempts)
        with self._cond:
            self._orders.wanted = connect
            self._waiters.append(waiter)
            self._post()
            self._resolve_waiters()  # already there (a second Disconnect): no need to wait for the worker
        self._ensure_worker()
        if not self._threaded:
            self.run_until(waiter.done.done, CONNECT_WAIT_S)
        try:
            waiter.done.result(timeout=CONNECT_WAIT_S if self._threaded else 0)  # without a thread, run_until has waited
        except FutureTimeout:
            if connect:
                raise NotConnected(
                    f"The focuser on {self._store.current.port} did not answer within {CONNECT_WAIT_S:g} s. "
                    "The server keeps trying in the background; check the cable and the port."
                ) from None
            log.warning("%s: the disconnect is still waiting for the motor's stop to be confirmed", self.name)

    def _resolve_waiters(self) -> None:
        view = self._view
        for waiter in list(self._waiters):
            if waiter.connect != self._orders.wanted:
                waiter.done.set_result(None)  # overtaken by a later request
            elif waiter.connect and view.connected and view.wanted:
                waiter.done.set_result(None)
            elif waiter.connect and view.failed_attempts > waiter.attempts:
                waiter.done.set_exception(NotConnected(unreachable(self._store.current.port, view.last_error)))
            elif not waiter.connect and self._released():
                waiter.done.set_result(None)
            else:
                continue
            self._waiters.remove(waiter)

    # ------------------------------------------------------------------ motion

    def move(self, position: int, *, client: int = 0, reason: str = "client") -> None:
        """``client`` and ``reason`` say who asked and why, for the move history."""
        with self._cond:
            state = self._require_movable()
            self._give(MoveOrder(self._positions(state).clamp(position), self._view.identity, reason=reason, client=client))

    def move_if_idle(self, position: int, reason: str = "tempcomp") -> bool:
        """Start a move only when nothing moves and no move waits to start: for moves the server
        makes by itself (temperature compensation), which must never replace a client's."""
        with self._cond:
            if self._state.moving or self._orders.order is not None:
                return False
            self.move(position, reason=reason)
            return True

    def move_relative(self, steps: int, *, client: int = 0) -> None:
        with self._cond:
            self.move(self._require_movable().position + steps, client=client)

    def jog(self, rate: int, *, client: int = 0) -> None:
        """Start a jog, or renew the one running at this rate: the worker tells which."""
        if not -commands.RATE_MAX <= rate <= commands.RATE_MAX:
            raise InvalidValue(f"Jog rate {rate} is out of range: give a whole number from -9 to 9 (0 stops).")
        if rate == 0:
            self.halt("Jog 0")
            return
        with self._cond:
            state = self._require_connected()
            if state.calibration.running:
                raise InvalidOperation("A calibration is running, so jogging is refused until it ends; stop it with Halt or 'AbortCalibration'.")
            self._give(JogOrder(rate, self._clock.monotonic(), self._view.identity, client=client))

    def halt(self, reason: str = "Halt") -> None:
        """Stop the motor; returns once it is seen standing, or after HALT_WAIT_S with the stop
        still pending (a line drop-out), which IsMoving then shows."""
        with self._cond:
            self._require_connected()
            self._orders.order = None
            self._orders.stop = reason
            self._post()
        self._await(lambda: not self._state.stop_pending, HALT_WAIT_S)

    def start_calibration(self, *, client: int = 0) -> None:
        with self._cond:
            state = self._require_connected()
            if state.calibration.running:
                raise InvalidOperation(
                    "A calibration is already running; watch it with 'CalibrationStatus' or stop it with 'AbortCalibration'."
                )
            self._refuse_while_moving(state, "Calibrate")
            self._give(CalibrateOrder(self._view.identity, client=client))

    def abort_calibration(self) -> None:
        with self._cond:
            if not self._require_connected().calibration.running:
                raise InvalidOperation("No calibration is running, so there is nothing to abort.")
            self.halt("AbortCalibration")

    def _give(self, order: Order) -> None:
        self._orders.order = order
        self._post()

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

    def configure(self, *, force: bool = False, **changes: object) -> str:
        """Check, try, then save and apply settings a user edits; returns a note for the user.

        A change of port, baud, route, source or rtscts is a transaction: the new port is tried
        first (by the worker, which alone opens ports), and only when it answers is anything saved
        and the line switched; otherwise nothing changes, unless ``force`` saves it anyway (the
        focuser is off now). Saving happens outside the lock Halt needs, so a slow disk never
        delays a stop.
        """
        self._store.check_configurable(changes)
        old = self._store.current
        new = dataclasses.replace(old, **changes)  # type: ignore[arg-type]
        relink = any(getattr(old, key) != getattr(new, key) for key in LINE_SETTINGS)
        with self._cond:
            if new.reverse != old.reverse:
                self._refuse_while_moving(self._state, "Changing reverse")  # a move in progress was planned in the old directions
            if relink:
                self._refuse_while_moving(self._state, "Changing the port")
        note = ""
        if relink:
            problem = self._try_port(new)
            if problem and not force:
                raise NotConnected(
                    f"Nothing was changed: {problem}. The focuser stays on {old.port}. If the focuser is simply off now, "
                    'save the port anyway with Parameters {"settings": {...}, "force": true}.'
                )
            if problem:
                note = f"Saved, but the focuser cannot be reached on {new.port} now ({problem}); the server keeps trying it."
        self._store.change(**changes)
        with self._cond:
            if relink:
                self._orders.relink = True
            self._post()
        if relink:
            log.info("The port of %s changed from %s to %s", new.name, old.port, new.port)
        self._ensure_worker()
        return note

    def _try_port(self, settings: FocuserSettings) -> str:
        """Ask the worker to open the port and read the firmware version; what failed, or ""."""
        probe = Probe(settings)
        with self._cond:
            self._orders.probes.append(probe)
            self._post()
        self._ensure_worker()
        limit = settings.reply_timeout_s * 3 + PROBE_GRACE_S
        if not self._threaded:
            self.run_until(probe.done.done, limit)
        try:
            version = probe.done.result(timeout=limit)
        except FutureTimeout:
            return f"{settings.port} did not answer within {limit:g} s"
        except AuxError as exc:
            return unreachable(settings.port, exc).rstrip(".")
        log.info("%s answers as a focuser (firmware %s)", settings.port, version)
        return ""

    def presets(self) -> list[Preset]:
        return self._store.presets(self._positions(self._state))

    def save_preset(self, slot: int | None, name: str | None, position: int | None) -> Preset:
        state = self._state
        return self._store.save_preset(slot, name, position, state, self._positions(state))

    def goto_preset(self, key: int | str, *, client: int = 0) -> Preset:
        preset = self._store.find_preset(key, self._positions(self._state))
        self.move(preset.position, client=client, reason="preset")
        return preset

    def delete_preset(self, key: int | str) -> Preset:
        return self._store.delete_preset(key, self._positions(self._state))

    def _published(self) -> None:
        self._resolve_waiters()
