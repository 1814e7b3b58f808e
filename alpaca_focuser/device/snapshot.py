"""What readers see: the worker's last view of the machine, combined with orders not yet taken.

The worker alone copies the machine into a ``View`` (an immutable value), after each step. Readers'
``FocuserState`` is composed from that view, the current settings and the orders still waiting,
under the device's lock; so a Move reads as moving from the moment it returns, and no reader ever
sees a half-updated machine.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..celestron.link import LinkStats
from .interface import CalibrationStatus, FocuserState
from .jobs import CalibrationJob
from .machine import Machine
from .orders import Orders
from .positions import PositionMap
from .states import Identity, Phase


@dataclass(frozen=True)
class View:
    phase: Phase
    connected: bool
    link_ok: bool
    moving: bool
    stop_pending: bool
    job_kind: str | None
    target: int | None
    raw: int
    low: int
    high: int
    calibrated: bool
    calibration_state: int
    calibration_elapsed: float
    calibration_note: str
    calibration_took: float
    firmware: str
    port: str
    last_error: str
    measured_at: float
    reconnects: int
    identity: Identity | None  # what an order given now is stamped with
    wanted: bool  # the orders' wish for a connection, as the worker last took it
    failed_attempts: int  # connection attempts that failed, in all
    link_stats: LinkStats | None  # a copy, so readers never see the link's counters move


def view_of(machine: Machine) -> View:
    job = machine.queued or machine.job
    now = machine.clock.monotonic()
    calibrating = machine.job if isinstance(machine.job, CalibrationJob) else None
    return View(
        phase=machine.phase,
        connected=machine.connected,
        link_ok=machine.link is not None,
        moving=machine.moving,
        stop_pending=machine.stop_reason is not None,
        job_kind=job.kind if job is not None else None,
        target=job.target if job is not None else None,
        raw=machine.raw,
        low=machine.limits.low,
        high=machine.limits.high,
        calibrated=machine.calibrated,
        calibration_state=calibrating.state if calibrating else 0,
        calibration_elapsed=calibrating.elapsed(now) if calibrating else machine.calibration_took,
        calibration_note=machine.calibration_note,
        calibration_took=machine.calibration_took,
        firmware=machine.firmware,
        port=machine.link.url if machine.link is not None else machine.settings.port,
        last_error=machine.last_error,
        measured_at=machine.measured_at,
        reconnects=machine.reconnects,
        identity=machine.identity,
        wanted=machine.wanted,
        failed_attempts=machine.failed_attempts,
        link_stats=dataclasses.replace(machine.link.stats) if machine.link is not None else None,
    )


def compose(view: View, reverse: bool, orders: Orders) -> FocuserState:
    positions = PositionMap(view.low, view.high, reverse, view.calibrated)
    job = orders.order
    stopping = view.stop_pending or orders.stop is not None
    job_kind = view.job_kind  # a calibration being stopped still runs until the motor is seen standing
    target = view.target if orders.stop is None else None
    if job is not None:
        job_kind, target = job.kind, job.target
    connected = view.connected
    moving = view.moving or connected and (job is not None or orders.stop is not None)
    return FocuserState(
        connected=connected,
        link_ok=view.link_ok,
        position=positions.to_alpaca(view.raw),
        raw_position=view.raw,
        target=target,
        moving=moving,
        max_step=positions.max_step,
        low_limit=view.low,
        high_limit=view.high,
        calibrated=positions.calibrated,
        calibration=_calibration(view, job_kind, positions),
        firmware=view.firmware,
        port=view.port,
        last_error=view.last_error,
        measured_at=view.measured_at,
        activity=_activity(view, job_kind, stopping, moving),
        stop_pending=stopping,
        reconnects=view.reconnects,
        held=orders.wanted and not orders.closing,
    )


def _activity(view: View, job_kind: str | None, stopping: bool, moving: bool) -> str:
    if view.phase is Phase.LINK_LOST:
        return "link lost"
    if view.phase in (Phase.OFF, Phase.CONNECTING):
        return view.phase.value
    if stopping:
        return "stopping"
    if job_kind is not None:
        return job_kind
    return "moving" if moving else "idle"


def _calibration(view: View, job_kind: str | None, positions: PositionMap) -> CalibrationStatus:
    calibrated = positions.calibrated
    if job_kind == CalibrationJob.kind:
        elapsed = view.calibration_elapsed
        return CalibrationStatus(
            calibrated,
            True,
            view.calibration_state,
            elapsed,
            f"Calibrating: state {view.calibration_state}, {elapsed:.0f} s elapsed (it takes a few minutes).",
        )
    if view.calibration_note:
        message = view.calibration_note
    elif calibrated:
        message = f"Calibrated: device limits {view.low}..{view.high}, MaxStep {positions.max_step}."
    else:
        message = "Not calibrated: run the 'Calibrate' action before moving the focuser."
    return CalibrationStatus(calibrated, False, 0, view.calibration_took, message)
