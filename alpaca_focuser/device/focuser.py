"""CelestronFocuser: the Celestron Focus Motor as a device, with no HTTP in it.

One worker thread owns the serial link and does every exchange with the motor: polling, moves,
halts, calibration and reconnecting. Callers never wait on the line: they read an immutable
``FocuserState`` that the worker replaces as a whole, and they hand work to the worker as a job.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from ..celestron import commands
from ..celestron.commands import CalibrationReport, Limits
from ..celestron.link import AuxError, LinkStats
from ..celestron.routes import Link, Route, open_link
from ..errors import DriverError, InvalidOperation, InvalidValue, NotConnected
from ..settings import Direction, FocuserSettings, Preset
from .interface import CalibrationStatus, FocuserState
from .jobs import CalibrationJob, Job, JogJob, MoveJob
from .positions import PositionMap, plan_legs

log = logging.getLogger(__name__)

MAX_CORRECTIONS = 3
MAX_PRESET_SLOTS = 20
MAX_BACKLASH_STEPS = 65535
CONNECT_WAIT_S = 30.0
RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)

SAVE_FAILED = 1  # driver error codes (0x500 + n)
MOVE_FAILED = 2

CONFIGURABLE = ("name", "port", "baud", "reverse", "backlash_steps", "backlash_direction", "settle_ms", "step_size_um")

NOT_CALIBRATED = (
    "The focuser is not calibrated, so it refuses to move (its hard stops are unknown). "
    "Calibrate it first: run the Alpaca action 'Calibrate' (or the Calibrate button on the setup page) "
    "and wait a few minutes until 'CalibrationStatus' reports calibrated."
)


@dataclasses.dataclass
class _Request:
    """A connect or disconnect that the caller waits for."""

    connect: bool
    done: Future = dataclasses.field(default_factory=Future)


class CelestronFocuser:
    def __init__(self, settings: FocuserSettings, save: Callable[[FocuserSettings], None] | None = None) -> None:
        self._settings = settings
        self._save = save
        self.name = settings.name
        self.description = "Celestron Focus Motor for SCT and EdgeHD"
        self._cond = threading.Condition()
        self._settings_lock = threading.RLock()  # one read-modify-save of the settings at a time
        self._requests: list[_Request] = []
        self._job: Job | None = None  # shared: set by callers, cleared by the worker
        self._halt = False
        self._halting = False  # a Halt not carried out yet: readers still see the focuser moving
        self._closing = False
        self._wanted = False
        self._thread: threading.Thread | None = None
        # Worker-owned from here on.
        self._link: Link | None = None
        self._active: Job | None = None
        self._map = PositionMap(reverse=settings.reverse)
        self._raw = 0
        self._firmware = ""
        self._measured_at = 0.0
        self._last_error = ""
        self._lost_since: float | None = None
        self._retry_at = 0.0
        self._retries = 0
        self._next_poll = 0.0
        self._calibration_note = ""
        self._calibration_took = 0.0
        self.reconnects = 0
        self._state = self._compose()

    # ----------------------------------------------------------------- reading

    @property
    def unique_id(self) -> str:
        return self._settings.unique_id

    @property
    def state(self) -> FocuserState:
        return self._state

    @property
    def step_size_um(self) -> float | None:
        return self._settings.step_size_um

    @property
    def link_stats(self) -> LinkStats | None:
        link = self._link
        return dataclasses.replace(link.stats) if link is not None else None

    @property
    def backlash(self) -> tuple[int, Direction]:
        return self._settings.backlash_steps, self._settings.backlash_direction

    @property
    def reverse(self) -> bool:
        return self._settings.reverse

    @property
    def settings(self) -> FocuserSettings:
        return self._settings

    # ------------------------------------------------------------- connection

    def start(self) -> None:
        """Begin working and keep trying to reach the focuser in the background; never raises."""
        with self._cond:
            self._wanted = True
            self._retry_at = 0.0
        self._ensure_worker()

    def connect(self) -> None:
        self._call(_Request(connect=True))

    def disconnect(self) -> None:
        self._call(_Request(connect=False))

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_link()

    def _call(self, request: _Request) -> None:
        self._ensure_worker()
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()
        request.done.result(timeout=CONNECT_WAIT_S)

    def _ensure_worker(self) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._closing = False
                self._thread = threading.Thread(target=self._run, name=f"focuser {self.name}", daemon=True)
                self._thread.start()

    # ------------------------------------------------------------------ motion

    def move(self, position: int) -> None:
        state = self._require_movable()
        target = self._map.clamp(position)
        legs = plan_legs(state.position, target, state.max_step, *self.backlash)
        self._give(MoveJob(target=target, legs=[self._map.to_raw(leg) for leg in legs]))

    def move_relative(self, steps: int) -> None:
        self.move(self._require_movable().position + steps)

    def jog(self, rate: int) -> None:
        if not -commands.RATE_MAX <= rate <= commands.RATE_MAX:
            raise InvalidValue(f"Jog rate {rate} is out of range: give a whole number from -9 to 9 (0 stops).")
        if rate == 0:
            self.halt()
            return
        self._require_movable()
        self._give(JogJob(rate=rate))

    def halt(self) -> None:
        self._require_connected()
        with self._cond:
            self._job = None
            self._halt = True
            self._halting = True
            self._publish()
            self._cond.notify_all()

    def start_calibration(self) -> None:
        state = self._require_connected()
        if state.calibration.running:
            raise InvalidOperation("A calibration is already running; watch it with 'CalibrationStatus' or stop it with 'AbortCalibration'.")
        self._refuse_while_moving(state, "Calibrate")
        self._give(CalibrationJob())

    def abort_calibration(self) -> None:
        if not self._require_connected().calibration.running:
            raise InvalidOperation("No calibration is running, so there is nothing to abort.")
        self.halt()

    def _give(self, job: Job) -> None:
        with self._cond:
            self._job = job
            self._publish()
            self._cond.notify_all()

    def _require_connected(self) -> FocuserState:
        state = self._state
        if not state.connected:
            reason = f" ({state.last_error})" if state.last_error else ""
            raise NotConnected(f"The focuser on {self._settings.port} is not connected{reason}. Connect it first.")
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
        if not 0 <= steps <= MAX_BACKLASH_STEPS:
            raise InvalidValue(f"Backlash steps {steps} is out of range: give 0 to {MAX_BACKLASH_STEPS}.")
        self._change(backlash_steps=steps, backlash_direction=Direction(direction))

    def set_reverse(self, reverse: bool) -> None:
        # A move in progress was planned in the old directions; changing them under it would
        # leave its target and the reported position disagreeing.
        self._refuse_while_moving(self._state, "SetReverse")
        self._change(reverse=reverse)
        with self._cond:
            self._map = dataclasses.replace(self._map, reverse=reverse)
            self._publish()

    def configure(self, **changes: object) -> None:
        """Save and apply settings a user edits (see ``CONFIGURABLE``); a new port or baud reconnects.

        Values must already be checked by the configuration's rules; this only refuses unknown
        names and a direction change while moving.
        """
        unknown = sorted(set(changes) - set(CONFIGURABLE))
        if unknown:
            raise InvalidValue(f"These settings cannot be changed here: {', '.join(unknown)}. Changeable: {', '.join(CONFIGURABLE)}.")
        if "reverse" in changes and changes["reverse"] != self._settings.reverse:
            self._refuse_while_moving(self._state, "Changing reverse")
        old = self._settings
        self._change(**changes)
        self.name = self._settings.name
        if self._settings.reverse != old.reverse:
            with self._cond:
                self._map = dataclasses.replace(self._map, reverse=self._settings.reverse)
                self._publish()
        if (old.port, old.baud) != (self._settings.port, self._settings.baud) and self._wanted:
            log.info("The port of %s changed from %s to %s: reconnecting", self.name, old.port, self._settings.port)
            self.disconnect()
            self.connect()

    def presets(self) -> list[Preset]:
        """The presets with their positions in Alpaca steps (they are stored as device counts)."""
        return [dataclasses.replace(p, position=self._map.to_alpaca(p.position)) for p in self._settings.presets]

    def save_preset(self, slot: int | None, name: str | None, position: int | None) -> Preset:
        with self._settings_lock:
            return self._save_preset(slot, name, position)

    def _save_preset(self, slot: int | None, name: str | None, position: int | None) -> Preset:
        state = self._state
        existing = self._find_preset(slot if slot is not None else name, missing_ok=True)
        if slot is None:
            slot = existing.slot if existing else self._free_slot()
        if not 1 <= slot <= MAX_PRESET_SLOTS:
            raise InvalidValue(f"Preset slot {slot} is out of range: slots are numbered 1 to {MAX_PRESET_SLOTS}.")
        if position is None:
            if not state.connected:
                raise NotConnected("The focuser is not connected, so its current position is unknown; give a position or connect first.")
            raw = state.raw_position
        elif not 0 <= position <= state.max_step:
            raise InvalidValue(f"Preset position {position} is outside the focuser's range 0..{state.max_step}.")
        else:
            raw = self._map.to_raw(position)
        label = name or (existing.name if existing else f"Preset {slot}")
        others = [p for p in self._settings.presets if p.slot != slot and p.name.lower() != label.lower()]
        preset = Preset(slot=slot, name=label, position=raw)
        self._change(presets=sorted(others + [preset], key=lambda p: p.slot))
        return dataclasses.replace(preset, position=self._map.to_alpaca(raw))

    def goto_preset(self, key: int | str) -> Preset:
        preset = self._find_preset(key)
        self.move(self._map.to_alpaca(preset.position))
        return dataclasses.replace(preset, position=self._map.to_alpaca(preset.position))

    def delete_preset(self, key: int | str) -> Preset:
        with self._settings_lock:
            preset = self._find_preset(key)
            self._change(presets=[p for p in self._settings.presets if p.slot != preset.slot])
        return dataclasses.replace(preset, position=self._map.to_alpaca(preset.position))

    def _find_preset(self, key: int | str | None, missing_ok: bool = False) -> Preset | None:
        for preset in self._settings.presets:
            if preset.slot == key or isinstance(key, str) and preset.name.lower() == key.lower():
                return preset
        if missing_ok:
            return None
        known = ", ".join(f"{p.slot} ({p.name})" for p in self._settings.presets) or "none saved yet"
        raise InvalidValue(f"There is no preset {key!r}. Presets: {known}.")

    def _free_slot(self) -> int:
        used = {p.slot for p in self._settings.presets}
        for slot in range(1, MAX_PRESET_SLOTS + 1):
            if slot not in used:
                return slot
        raise InvalidValue(f"All {MAX_PRESET_SLOTS} preset slots are in use; give a slot number to replace one.")

    def _change(self, **changes: object) -> None:
        """Save first, then apply: what runs and what is saved never disagree."""
        with self._settings_lock:
            updated = dataclasses.replace(self._settings, **changes)
            if self._save is not None:
                try:
                    self._save(updated)
                except Exception as exc:
                    raise DriverError(f"The setting was not changed because it could not be saved: {exc}", SAVE_FAILED) from exc
            self._settings = updated

    # ------------------------------------------------------------ the worker

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait(max(0.0, self._next_wake() - time.monotonic()))
                if self._closing:
                    break
                requests, self._requests = self._requests, []
                halt, self._halt = self._halt, False
                job = self._job
            for request in requests:
                self._serve(request)
            try:
                self._step(halt, job)
            except AuxError as exc:
                self._link_lost(exc)
            except Exception:
                log.exception("Unexpected fault in the focuser worker for %s; it carries on", self._settings.port)
                with self._cond:
                    self._next_poll = time.monotonic() + self._settings.poll_idle_ms / 1000
            if halt:
                with self._cond:
                    self._halting = self._halt  # still true only if another Halt came meanwhile
                    self._publish()
        self._close_link()

    def _next_wake(self) -> float:
        if self._requests or self._halt or self._closing:
            return 0.0
        if self._link is None:
            return self._retry_at if self._wanted else time.monotonic() + 3600
        return 0.0 if self._job is not self._active else self._next_poll

    def _step(self, halt: bool, job: Job | None) -> None:
        now = time.monotonic()
        if not self._wanted:
            return
        if self._link is None:
            if now >= self._retry_at:
                self._reconnect()
            return
        if halt:
            self._stop_motor()
        if job is not self._active:
            self._begin(job)
        if time.monotonic() >= self._next_poll:
            self._poll()

    def _serve(self, request: _Request) -> None:
        try:
            if request.connect:
                self._wanted = True
                if self._link is None:
                    self._open()
                    log.info("Connected to the focuser on %s (firmware %s)", self._link.url, self._firmware)
            else:
                self._wanted = False
                self._forget_job()
                if self._link is not None:
                    log.info("Disconnected from the focuser on %s; the port is free for other programs", self._link.url)
                self._close_link()
                self._lost_since = None
            request.done.set_result(None)
        except AuxError as exc:
            self._last_error = str(exc)
            self._retry_at = time.monotonic() + RECONNECT_BACKOFF_S[0]
            request.done.set_exception(NotConnected(self._explain(exc)))
        except Exception as exc:
            request.done.set_exception(exc)
        with self._cond:
            self._publish()

    def _open(self) -> None:
        """Open the link and read the focuser: version handshake, position, limits, calibration."""
        settings = self._settings
        link = open_link(Route(settings.port, settings.baud, settings.reply_timeout_s))
        try:
            version = link.request(commands.get_version())
            raw = link.request(commands.get_position())
            limits = link.request(commands.get_limits())
            report = link.request(commands.calibration_status())
        except AuxError:
            link.close()
            raise
        self._link = link
        self._firmware = str(version)
        self._lost_since = None
        self._last_error = ""
        self._retries = 0
        self._learn_calibration(limits, report)
        self._read(raw)
        if report.running and not isinstance(self._job, CalibrationJob):
            with self._cond:
                self._job = CalibrationJob(started=True, state=report.state)
        self._active = None  # whatever was in progress is resumed by _begin
        self._next_poll = time.monotonic()

    def _explain(self, exc: AuxError) -> str:
        return (
            f"Could not reach the focuser on {self._settings.port}: {exc}. "
            "Check the USB cable, that the focuser has power from the mount, and the port name "
            "('alpaca-focuser ports' lists the serial ports)."
        )

    def _reconnect(self) -> None:
        was_lost = self._lost_since is not None
        try:
            self._open()
        except AuxError as exc:
            delay = RECONNECT_BACKOFF_S[min(self._retries, len(RECONNECT_BACKOFF_S) - 1)]
            self._retries += 1
            self._retry_at = time.monotonic() + delay
            if self._retries == 1 or self._last_error != str(exc):
                log.warning("%s Retrying in the background.", self._explain(exc))
            self._last_error = str(exc)
            self._expire_grace()
            with self._cond:
                self._publish()
            return
        if was_lost:
            self.reconnects += 1
            log.info("Reconnected to the focuser on %s", self._link.url)
        else:
            log.info("Connected to the focuser on %s (firmware %s)", self._link.url, self._firmware)
        with self._cond:
            self._publish()

    def _link_lost(self, exc: AuxError) -> None:
        self._close_link()
        self._active = None
        self._last_error = str(exc)
        if self._lost_since is None:
            self._lost_since = time.monotonic()
            log.warning(
                "Lost contact with the focuser: %s. Reconnecting in the background; clients see the last "
                "known state for %g s and an unfinished move completes after reconnecting.",
                exc,
                self._settings.grace_s,
            )
        self._retry_at = time.monotonic()
        with self._cond:
            self._publish()

    def _expire_grace(self) -> None:
        if self._lost_since is not None and time.monotonic() - self._lost_since > self._settings.grace_s:
            if self._job is not None:
                log.warning("The focuser stayed unreachable for more than %g s; the move in progress is abandoned", self._settings.grace_s)
                self._forget_job()

    def _close_link(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()

    def _forget_job(self) -> None:
        with self._cond:
            self._job = None
        self._active = None

    # ---------------------------------------------------------------- jobs

    def _begin(self, job: Job | None) -> None:
        self._active = job
        link = self._link
        assert link is not None
        if isinstance(job, MoveJob):
            log.debug("Moving to %d (device counts %s)", job.target, job.legs)
            job.progress.update(self._raw, time.monotonic())
            link.request(commands.goto_fast(job.legs[job.leg]))
        elif isinstance(job, CalibrationJob):
            if not job.started:
                link.request(commands.calibration_start())
                job.started = True
                self._calibration_note = ""
                log.info("Calibration started: the focuser runs to both hard stops, which takes a few minutes")
        elif isinstance(job, JogJob):
            outward = job.rate > 0
            raise_counts = outward != self._map.reverse
            speed = abs(job.rate)
            link.request(commands.move_positive(speed) if raise_counts else commands.move_negative(speed))
        self._next_poll = time.monotonic()

    def _stop_motor(self) -> None:
        link = self._link
        assert link is not None
        link.request(commands.stop())
        # Read where it stopped, so IsMoving turns false together with the final Position; a motor
        # that still coasts is followed by the fast poll.
        self._read(link.request(commands.get_position()))
        self._next_poll = time.monotonic() + self._settings.poll_moving_ms / 1000
        if isinstance(self._active, CalibrationJob):
            link.request(commands.calibration_abort())
            # An aborted calibration clears the focuser's calibrated flag: read what it reports now.
            self._learn_calibration(link.request(commands.get_limits()), link.request(commands.calibration_status()))
            self._end_calibration(self._active, "Calibration aborted by Halt or AbortCalibration.")
            log.info("Calibration aborted")
        if self._active is not None and self._job is None:
            self._active = None
        log.info("Halted at position %d", self._map.to_alpaca(self._raw))

    def _poll(self) -> None:
        link = self._link
        assert link is not None
        now = time.monotonic()
        previous = self._raw
        job = self._active
        # Slew-done before position: a position read after "done" is the final one.
        done = link.request(commands.slew_done()) if isinstance(job, MoveJob) and job.settle_until is None else False
        self._read(link.request(commands.get_position()))
        interval = self._settings.poll_idle_ms
        if isinstance(job, MoveJob):
            self._advance_move(job, now, done)
            interval = self._settings.poll_moving_ms
        elif isinstance(job, CalibrationJob):
            self._advance_calibration(job, now)
            interval = self._settings.poll_calibration_ms
        elif isinstance(job, JogJob):
            self._advance_jog(job, now)
            interval = self._settings.poll_moving_ms
        elif self._raw != previous:
            interval = self._settings.poll_moving_ms  # a hand-controller move: follow it closely
        self._next_poll = time.monotonic() + interval / 1000
        with self._cond:
            self._publish()

    def _read(self, raw: int) -> None:
        self._raw = raw
        self._measured_at = time.time()

    def _advance_move(self, job: MoveJob, now: float, done: bool) -> None:
        link = self._link
        assert link is not None
        if job.settle_until is not None:
            if now >= job.settle_until:
                self._finish(job)
            return
        if not done:
            job.progress.update(self._raw, now)
            if job.progress.idle_for(now) > self._settings.stall_s:
                link.request(commands.stop())
                self._fail(job, f"The motor stalled at position {self._map.to_alpaca(self._raw)}: it did not move for "
                           f"{self._settings.stall_s:g} s while a move to {job.target} was under way. The move was stopped; "
                           "check the focuser for mechanical binding.")
            return
        if not job.on_final_leg:
            job.leg += 1
            job.progress.update(None, now)
            link.request(commands.goto_fast(job.legs[job.leg]))
            return
        if self._raw == job.raw_target:
            if self._settings.settle_ms > 0:
                job.settle_until = now + self._settings.settle_ms / 1000
            else:
                self._finish(job)
            return
        if job.corrections < MAX_CORRECTIONS:
            job.corrections += 1
            job.progress.update(None, now)
            log.debug("Stopped %d counts from the target; correcting slowly (try %d)", self._raw - job.raw_target, job.corrections)
            link.request(commands.goto_slow(job.raw_target))
            return
        self._fail(job, f"The focuser stopped at {self._map.to_alpaca(self._raw)}, {abs(self._raw - job.raw_target)} steps "
                   f"from the target {job.target}, after {MAX_CORRECTIONS} slow corrections.")

    def _advance_calibration(self, job: CalibrationJob, now: float) -> None:
        link = self._link
        assert link is not None
        report = link.request(commands.calibration_status())
        job.state = report.state
        job.progress.update((self._raw, report.state), now)
        if report.running:
            reason = None
            if job.elapsed(now) > self._settings.calibration_timeout_s:
                reason = f"it did not finish within {self._settings.calibration_timeout_s:g} s"
            elif job.progress.idle_for(now) > self._settings.stall_s:
                reason = f"it made no progress for {self._settings.stall_s:g} s (stuck at state {report.state})"
            if reason:
                link.request(commands.calibration_abort())
                link.request(commands.stop())
                self._end_calibration(job, f"Calibration failed: {reason}, so it was aborted. Check that the focuser turns "
                                      "freely over its whole travel, then calibrate again.")
                log.warning("Calibration aborted: %s", reason)
            return
        if report.done:
            limits = link.request(commands.get_limits())
            self._learn_calibration(limits, report)
            self._end_calibration(job, "")
            log.info("Calibration complete: limits %d..%d, MaxStep %d", limits.low, limits.high, self._map.max_step)
        else:
            self._end_calibration(job, "Calibration ended without completing (aborted on the focuser); the focuser is not calibrated.")
            log.warning("Calibration ended without completing")

    def _advance_jog(self, job: JogJob, now: float) -> None:
        link = self._link
        assert link is not None
        if now - job.renewed_at > self._settings.jog_timeout_s:
            link.request(commands.stop())
            log.info("Jog stopped: it was not renewed within %g s", self._settings.jog_timeout_s)
            self._finish(job)
            return
        position = self._map.to_alpaca(self._raw)
        if job.rate > 0 and position >= self._map.max_step or job.rate < 0 and position <= 0:
            link.request(commands.stop())
            log.info("Jog stopped at the end of the range (position %d)", position)
            self._finish(job)

    def _learn_calibration(self, limits: Limits, report: CalibrationReport) -> None:
        calibrated = report.done and limits.valid
        with self._cond:
            self._map = PositionMap(limits.low, limits.high, self._settings.reverse, calibrated)

    def _end_calibration(self, job: CalibrationJob | None, note: str) -> None:
        self._calibration_note = note
        if job is not None:
            self._calibration_took = job.elapsed()
            self._finish(job)

    def _fail(self, job: Job, message: str) -> None:
        log.warning("%s", message)
        self._last_error = message
        self._finish(job)

    def _finish(self, job: Job) -> None:
        with self._cond:
            if self._job is job:
                self._job = None
        if self._active is job:
            self._active = None

    # ------------------------------------------------------------ snapshot

    def _publish(self) -> None:
        """Replace the snapshot; called with ``_cond`` held so a caller's job is never missed."""
        self._state = self._compose()

    def _compose(self) -> FocuserState:
        link_ok = self._link is not None
        in_grace = self._lost_since is not None and time.monotonic() - self._lost_since <= self._settings.grace_s
        connected = self._wanted and (link_ok or in_grace)
        job = self._job if connected else None
        position = self._map.to_alpaca(self._raw)
        return FocuserState(
            connected=connected,
            link_ok=link_ok,
            position=position,
            raw_position=self._raw,
            target=job.target if isinstance(job, MoveJob) else None,
            moving=connected and (job is not None or self._halting),
            max_step=self._map.max_step,
            low_limit=self._map.low,
            high_limit=self._map.high,
            calibrated=self._map.calibrated,
            calibration=self._calibration_status(job),
            firmware=self._firmware,
            port=self._link.url if self._link is not None else self._settings.port,
            last_error=self._last_error,
            measured_at=self._measured_at,
        )

    def _calibration_status(self, job: Job | None) -> CalibrationStatus:
        calibrated = self._map.calibrated
        if isinstance(job, CalibrationJob):
            elapsed = job.elapsed()
            return CalibrationStatus(calibrated, True, job.state, elapsed,
                                     f"Calibrating: state {job.state}, {elapsed:.0f} s elapsed (it takes a few minutes).")
        elapsed = self._calibration_took
        if self._calibration_note:
            message = self._calibration_note
        elif calibrated:
            message = f"Calibrated: device limits {self._map.low}..{self._map.high}, MaxStep {self._map.max_step}."
        else:
            message = "Not calibrated: run the 'Calibrate' action before moving the focuser."
        return CalibrationStatus(calibrated, False, 0, elapsed, message)
