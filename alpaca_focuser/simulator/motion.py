"""The motor's motion as a plan of straight legs at constant speed: where the motor is at any
instant is computed, not ticked, so positions are exact and the instant a move ends is known to
the microsecond. A leg of speed 0 never arrives (a stuck motor); a frozen plan holds its position
(a stall)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Leg:
    target: float
    speed: float  # counts per simulated second; 0 means the leg never arrives (a stuck motor)


@dataclass
class Plan:
    kind: str
    legs: list[Leg]
    start_time: float  # when the current leg started (monotonic)
    start_pos: float
    reason: str = "arrived"  # how the plan ends when its last leg arrives
    total_path: float = 0.0  # calibration: counts to travel, for the state byte
    travelled: float = 0.0  # calibration: counts of finished legs
    frozen: bool = False  # stalled: position held, never arrives

    def position_at(self, now: float, time_scale: float) -> float:
        """Where the motor is at ``now`` on the current leg."""
        if self.frozen or not self.legs:
            return self.start_pos
        leg = self.legs[0]
        distance = abs(leg.target - self.start_pos)
        travelled = leg.speed * (now - self.start_time) * time_scale
        if travelled >= distance:
            return leg.target
        return self.start_pos + math.copysign(travelled, leg.target - self.start_pos)

    def freeze(self, here: float, now: float) -> None:
        """Stall where the motor is: the position is held and the plan never arrives."""
        self.start_pos = here
        self.start_time = now
        self.frozen = True

    def thaw(self, now: float) -> None:
        self.frozen = False
        self.start_time = now

    def hang(self, here: float, now: float) -> None:
        """Stop progressing where the motor is, as a binding gear does, without ending."""
        self.travelled += abs(here - self.start_pos)
        self.legs = [Leg(here, 0.0)]
        self.start_pos = here
        self.start_time = now


def cut_path(start: float, legs: list[Leg], distance: float) -> list[Leg]:
    """The legs up to ``distance`` counts of travel, then a leg that never arrives."""
    cut: list[Leg] = []
    here = start
    for leg in legs:
        length = abs(leg.target - here)
        if distance < length:
            point = here + math.copysign(distance, leg.target - here)
            return [*cut, Leg(point, leg.speed), Leg(point, 0.0)]
        cut.append(leg)
        distance -= length
        here = leg.target
    return cut
