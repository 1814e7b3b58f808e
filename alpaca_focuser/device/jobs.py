"""What the focuser's worker is busy with: a move, a calibration or a jog.

A job is created by an API call and handed to the worker, which alone advances it. Jobs hold only
plain data; the worker in focuser.py does the I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(eq=False)
class Progress:
    """Watches a reading for change, to tell a stalled motor from a working one."""

    value: object = None
    changed_at: float = field(default_factory=time.monotonic)

    def update(self, value: object, now: float) -> None:
        if value != self.value:
            self.value = value
            self.changed_at = now

    def idle_for(self, now: float) -> float:
        return now - self.changed_at


@dataclass(eq=False)
class MoveJob:
    """An absolute move, possibly in two legs (backlash overshoot, then the final approach)."""

    target: int  # Alpaca position where the move must end
    legs: list[int]  # raw device targets, visited in turn; the last one is the target
    leg: int = 0
    corrections: int = 0
    settle_until: float | None = None
    progress: Progress = field(default_factory=Progress)

    @property
    def raw_target(self) -> int:
        return self.legs[-1]

    @property
    def on_final_leg(self) -> bool:
        return self.leg == len(self.legs) - 1


@dataclass(eq=False)
class CalibrationJob:
    started_at: float = field(default_factory=time.monotonic)
    started: bool = False  # the start command reached the focuser
    state: int = 0
    progress: Progress = field(default_factory=Progress)

    def elapsed(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started_at


@dataclass(eq=False)
class JogJob:
    """A manual-rate run that stops by itself unless renewed (a dead-man guard)."""

    rate: int  # signed -9..9 in Alpaca terms: positive runs outward (Position grows)
    renewed_at: float = field(default_factory=time.monotonic)


Job = MoveJob | CalibrationJob | JogJob
