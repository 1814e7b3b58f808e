"""Telling the server's own compensation moves from everybody else's, by watching the snapshots.

Temperature compensation must know when a client (N.I.N.A.'s autofocus, a script, the control
page, the hand controller) has moved the focuser: that move sets a new focus, so the temperature
reference starts again from there, and a rest after it is a point for the focus log. The device
publishes only what it is doing, not who asked, so this tracker remembers the target of the last
compensation move: any motion with another target, and any change of position while idle that no
compensation move explains, is somebody else's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..device import FocuserState

OWN_MOVE_START_S = 2.0  # how long a compensation move may take to show up in the snapshots


class Motion(enum.Enum):
    OWN_MOVE_ENDED = "own move ended"
    CLIENT_MOVE_ENDED = "client move ended"


@dataclass
class MotionTracker:
    own_target: int | None = None  # the target of the compensation move in progress
    own_started: bool = False  # that move has been seen running
    own_issued_at: float = 0.0
    client_moving: bool = False  # a move nobody here asked for is (or was, until idle) running
    settled_at: int | None = None  # the position last seen idle

    def issued(self, target: int, now: float) -> None:
        self.own_target, self.own_started, self.own_issued_at = target, False, now

    @property
    def busy(self) -> bool:
        """A move is running or about to: nothing else may be started now."""
        return self.client_moving or self.own_target is not None

    def observe(self, state: FocuserState, now: float) -> Motion | None:
        """Follow one snapshot; says when a move (own or a client's) has just ended."""
        if not state.connected:
            return None
        if state.moving:
            if self.own_target is not None and not self.client_moving and state.target == self.own_target:
                self.own_started = True
            else:
                self.client_moving, self.own_target = True, None
            return None
        if self.own_target is not None:
            if not self.own_started and state.position != self.own_target and now - self.own_issued_at < OWN_MOVE_START_S:
                return None  # handed to the device, not running yet
            self.own_target, self.settled_at = None, state.position
            return Motion.OWN_MOVE_ENDED
        if self.client_moving or (self.settled_at is not None and state.position != self.settled_at):
            self.client_moving, self.settled_at = False, state.position
            return Motion.CLIENT_MOVE_ENDED
        self.settled_at = state.position
        return None
