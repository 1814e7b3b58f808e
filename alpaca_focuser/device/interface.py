"""The typed focuser interface the Alpaca layer is written against.

``CelestronFocuser`` (focuser.py) implements it; a second focuser type only has to provide the
same members. Every call is cheap for the caller: reads come from an immutable snapshot that the
device's worker replaces, and commands are handed to the worker. Failures are raised as the Alpaca
error kinds of ``errors.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..settings import Direction, FocuserSettings, Preset
from .history import MoveHistory


@dataclass(frozen=True)
class CalibrationStatus:
    calibrated: bool
    running: bool
    state: int  # the device's own state number, 0 when idle
    elapsed_s: float
    message: str  # for a person: what is happening or what went wrong


@dataclass(frozen=True)
class FocuserState:
    """One consistent reading of the focuser, replaced as a whole by the worker."""

    connected: bool  # what Alpaca Connected reports (true through a short link drop-out)
    link_ok: bool  # the serial link answered the last request
    position: int  # Alpaca Position, 0..max_step
    raw_position: int  # device counts
    target: int | None  # Alpaca position of the move in progress, if any
    moving: bool  # Alpaca IsMoving: the whole compound move, settle time included
    max_step: int
    low_limit: int
    high_limit: int
    calibrated: bool
    calibration: CalibrationStatus
    firmware: str
    port: str
    last_error: str
    measured_at: float  # time.time() of the reading the position comes from
    activity: str = "off"  # in words: off, connecting, idle, moving, jogging, calibrating, stopping, link lost
    stop_pending: bool = False  # a stop was asked for and the motor has not been seen standing yet
    reconnects: int = 0  # times the line was lost and found again
    held: bool = False  # some client (or the server's start) wants the focuser connected


class Focuser(Protocol):
    description: str

    @property
    def name(self) -> str: ...

    @property
    def unique_id(self) -> str: ...

    @property
    def state(self) -> FocuserState: ...

    @property
    def step_size_um(self) -> float | None: ...

    @property
    def settings(self) -> FocuserSettings:
        """The settings in force (what the settings form shows)."""

    def connect(self) -> None:
        """Open the link and read the focuser; raises NotConnected with the reason on failure."""

    def disconnect(self) -> None:
        """Stop polling and release the port."""

    def move(self, position: int, *, client: int = 0, reason: str = "client") -> None:
        """Start an absolute move to an Alpaca position (clamped to 0..MaxStep); returns at once.
        ``client`` (a ClientID) and ``reason`` are kept in the move history."""

    def move_if_idle(self, position: int, reason: str = "tempcomp") -> bool:
        """Like move, but only when the focuser is idle (nothing moving, no move waiting); False otherwise."""

    def move_relative(self, steps: int, *, client: int = 0) -> None:
        """Start a move by a signed step count (positive is outward, Position grows); clamped."""

    def halt(self) -> None:
        """Stop any motion, and abort a running calibration."""

    def jog(self, rate: int, *, client: int = 0) -> None:
        """Run at a signed manual rate -9..9 (0 stops) until renewed, halted, at a range end or
        stalled; an uncalibrated focuser jogs too, at rates up to 5 (faster ones are slowed)."""

    def start_calibration(self, *, client: int = 0) -> None:
        """Start calibrating; refused while a move or a calibration is in progress."""

    def abort_calibration(self) -> None: ...

    @property
    def backlash(self) -> tuple[int, Direction]: ...

    def set_backlash(self, steps: int, direction: Direction) -> None:
        """Change and save the backlash; if saving fails nothing changes and the error is raised."""

    @property
    def reverse(self) -> bool: ...

    def set_reverse(self, reverse: bool) -> None:
        """Change and save the direction mapping; refused while the focuser moves."""

    def configure(self, *, force: bool = False, **changes: object) -> str:
        """Save and apply user settings (port, baud, route, source, rtscts, name, reverse,
        backlash_steps, backlash_direction, settle_ms, step_size_um, client_lease_s), values already
        validated. A change of port, baud, route, source or rtscts is tried first and refused with
        NotConnected when the port does not answer, unless ``force``; then the line is reopened.
        Raises DriverError when saving fails (then nothing changes). Returns a note for the user
        ("" or what was saved but cannot be reached)."""

    def presets(self) -> list[Preset]: ...

    def save_preset(self, slot: int | None, name: str | None, position: int | None) -> Preset:
        """Save a preset by slot or name, at an Alpaca position (default: the current one)."""

    def goto_preset(self, key: int | str, *, client: int = 0) -> Preset: ...

    def delete_preset(self, key: int | str) -> Preset: ...

    def close(self) -> None:
        """Stop the worker for good (server shutdown)."""

    @property
    def history(self) -> MoveHistory:
        """Recent moves, why and how they ended."""
