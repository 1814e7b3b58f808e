"""From device counts to Alpaca positions and back, and how a move is split into legs.

Pure functions of the limits and settings, so the worker stays a loop of I/O and the arithmetic
is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..limits import POSITION_MAX
from ..settings import Direction


@dataclass(frozen=True)
class PositionMap:
    """Alpaca Position runs 0..max_step; device counts run low..high (the calibrated hard stops).

    Uncalibrated, Position is the raw count and max_step the whole 24-bit encoder range.
    """

    low: int = 0
    high: int = 0
    reverse: bool = False
    calibrated: bool = False

    @property
    def max_step(self) -> int:
        return self.high - self.low if self.calibrated else POSITION_MAX

    def to_alpaca(self, raw: int) -> int:
        if not self.calibrated:
            return raw
        position = self.high - raw if self.reverse else raw - self.low
        return clamp(position, 0, self.max_step)

    def to_raw(self, position: int) -> int:
        position = clamp(position, 0, self.max_step)
        if not self.calibrated:
            return position
        return self.high - position if self.reverse else self.low + position

    def clamp(self, position: int) -> int:
        return clamp(position, 0, self.max_step)


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def plan_legs(current: int, target: int, max_step: int, steps: int, direction: Direction) -> list[int]:
    """Alpaca targets to visit in turn so the last leg travels in the final approach direction.

    A move that would end travelling against ``direction`` first overshoots by ``steps`` (clamped
    to the range) and comes back; when the clamp leaves nothing to overshoot, it goes straight.
    """
    if steps <= 0 or direction is Direction.NONE or target == current:
        return [target]
    travelling_out = target > current
    if direction is Direction.OUT and travelling_out or direction is Direction.IN and not travelling_out:
        return [target]
    overshoot = clamp(target + steps if direction is Direction.IN else target - steps, 0, max_step)
    return [target] if overshoot == target else [overshoot, target]
