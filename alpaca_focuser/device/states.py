"""The worker's named states and the orders callers give it.

| from                  | event                                                    | to                                  |
|-----------------------|----------------------------------------------------------|-------------------------------------|
| OFF                   | a client wants the focuser                               | CONNECTING                          |
| CONNECTING            | the port opens and the focuser answers                   | IDLE (BUSY if it is calibrating)    |
| CONNECTING            | the port does not open or answer                         | CONNECTING, retried with backoff    |
| CONNECTING            | nobody wants the focuser any more                        | OFF                                 |
| IDLE                  | a job is handed over (move, jog, calibration)            | BUSY                                |
| BUSY                  | the job is over                                          | IDLE                                |
| BUSY                  | a new job is handed over                                 | BUSY, the new job replaces the old  |
| IDLE, BUSY            | a stop is asked for (Halt, Jog 0, AbortCalibration, the  | STOPPING                            |
|                       | jog's dead-man, a stall, the last Disconnect, shutdown)  |                                     |
| IDLE                  | nobody wants the focuser any more                        | OFF, the port released              |
| BUSY                  | nobody wants the focuser any more                        | STOPPING, then OFF                  |
| STOPPING              | the stop is acknowledged and the motor seen standing     | IDLE, or OFF when nobody wants it   |
| IDLE, BUSY, STOPPING  | the line fails                                           | LINK_LOST                           |
| LINK_LOST             | the line is back: the stop pending is sent first; then   | STOPPING if a stop is pending, BUSY |
|                       | the focuser is checked to be the same one                | to resume the job, else IDLE        |
| LINK_LOST             | the line is back but the focuser is another one, or its  | STOPPING: the job is ended with the |
|                       | calibration changed                                      | reason, never resumed               |
| LINK_LOST             | the grace period ends                                    | LINK_LOST, Connected false, the job |
|                       |                                                          | turned into a pending stop          |
| LINK_LOST             | nobody wants the focuser and nothing needs stopping      | OFF                                 |

``TRANSITIONS`` is this table's last column; the machine (machine.py) checks it at every change of
state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .jobs import Job


class Phase(StrEnum):
    OFF = "off"
    CONNECTING = "connecting"
    IDLE = "idle"
    BUSY = "busy"
    STOPPING = "stopping"
    LINK_LOST = "link lost"


P = Phase
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    P.OFF: frozenset({P.CONNECTING}),
    P.CONNECTING: frozenset({P.OFF, P.IDLE, P.BUSY, P.STOPPING}),
    P.IDLE: frozenset({P.OFF, P.BUSY, P.STOPPING, P.LINK_LOST}),
    P.BUSY: frozenset({P.IDLE, P.BUSY, P.STOPPING, P.LINK_LOST}),
    P.STOPPING: frozenset({P.IDLE, P.OFF, P.LINK_LOST}),
    P.LINK_LOST: frozenset({P.OFF, P.IDLE, P.BUSY, P.STOPPING}),
}


@dataclass(frozen=True)
class Identity:
    """What tells one focuser from another after a reconnect."""

    firmware: str
    low: int
    high: int
    calibrated: bool

    def same_as(self, before: Identity | None, *, calibrating: bool) -> bool:
        """A calibration under way changes the limits by itself: then only the firmware must match."""
        if before is None:
            return False
        return self.firmware == before.firmware if calibrating else self == before

    def change_from(self, before: Identity | None) -> str:
        if before is None:
            return "unknown before"
        return f"firmware {before.firmware} -> {self.firmware}, limits {before.low}..{before.high} -> {self.low}..{self.high}"


@dataclass
class Orders:
    """What callers asked for since the worker last looked, taken in one piece under their lock."""

    wanted: bool = False
    job: Job | None = None
    stop: str | None = None  # why a stop is asked for
    closing: bool = False
