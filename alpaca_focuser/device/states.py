"""The worker's named states, and what tells one focuser from another.

| from                  | event                                                    | to                                  |
|-----------------------|----------------------------------------------------------|-------------------------------------|
| OFF                   | a client wants the focuser                               | CONNECTING (on the run's first      |
|                       |                                                          | connect, a job a killed earlier run |
|                       |                                                          | left running is a pending stop)     |
| CONNECTING            | the port opens and the focuser answers                   | IDLE (BUSY if it is calibrating)    |
| CONNECTING            | the port does not open or answer                         | CONNECTING, retried with backoff    |
| CONNECTING            | nobody wants the focuser any more                        | OFF                                 |
| IDLE                  | an order is handed over (move, jog, calibration) and its | BUSY                                |
|                       | stamp matches the focuser on the line                    |                                     |
| IDLE, LINK_LOST       | the port's settings were changed (no motor running)      | CONNECTING, on the new port         |
| BUSY                  | the job is over with the motor standing                  | IDLE                                |
| BUSY                  | the job ends with the motor maybe turning (the jog's     | STOPPING, the job ended once the    |
|                       | dead-man, a range end, a stall, a timeout, a failure)    | motor is seen standing              |
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
|                       | calibration changed                                      | reason, never resumed; an order not |
|                       |                                                          | started yet is dropped              |
| LINK_LOST             | the grace period ends, or a jog's dead-man runs out      | LINK_LOST, Connected false, the job |
|                       | (a jog's stop is pending from the moment the line drops) | turned into a pending stop          |
| LINK_LOST             | nobody wants the focuser and nothing needs stopping      | OFF                                 |

``TRANSITIONS`` is this table's last column; the machine (machine.py) checks it at every change of
state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
    P.IDLE: frozenset({P.OFF, P.CONNECTING, P.BUSY, P.STOPPING, P.LINK_LOST}),
    P.BUSY: frozenset({P.IDLE, P.BUSY, P.STOPPING, P.LINK_LOST}),
    P.STOPPING: frozenset({P.IDLE, P.OFF, P.LINK_LOST}),
    P.LINK_LOST: frozenset({P.OFF, P.CONNECTING, P.IDLE, P.BUSY, P.STOPPING}),
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
