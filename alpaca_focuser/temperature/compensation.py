"""Temperature compensation: where the focuser should be for the temperature now.

As in INDIGO and the ZWO EAF drivers, the focuser moves by coefficient × change in temperature
(steps per °C; a positive coefficient moves out, Position growing, as it warms) once the change
since the last compensation exceeds a threshold, so the motor is not nudged for every tenth of a
degree. Every target is computed from the anchor, the temperature and position where the user (or
their autofocus) last left the focus, not from the previous compensation step: rounding to whole
steps then never accumulates, and the focuser stays within one step of the line however long the
night. A client's move sets a new anchor.

One move goes at most ``max_step`` steps: a sensor that fails in a way the screening cannot catch
(it reads 70 °C from now on) then moves the focuser that far, once, instead of to its end stop.
The temperature of a capped move becomes the reference as for any other move, so the focuser moves
again only when the temperature changes again by more than the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    celsius: float
    position: int


@dataclass(frozen=True)
class Step:
    """One compensation move: where to go, and where the line asked for."""

    target: int
    wanted: int

    @property
    def capped(self) -> bool:
        return self.target != self.wanted


@dataclass
class Compensator:
    steps_per_c: float | None
    threshold_c: float
    max_step: int  # the longest single move, in steps
    enabled: bool = False
    anchor: Anchor | None = None
    reference_c: float | None = None  # the temperature of the last compensation (or of the anchor)

    def switch(self, enabled: bool) -> None:
        """On or off; switching on starts from wherever the focus is now."""
        if enabled != self.enabled:
            self.enabled = enabled
            self.anchor = self.reference_c = None

    def reanchor(self, celsius: float | None, position: int) -> None:
        """A client set a new focus: compensate from here (or from the next good temperature)."""
        self.anchor = Anchor(celsius, position) if celsius is not None else None
        self.reference_c = celsius

    def target(self, celsius: float, position: int, max_position: int) -> Step | None:
        """The move to make now, or None (still within the threshold, or already there).

        A first temperature only sets the anchor. Call ``moved`` once the move has been handed over.
        """
        if not self.enabled or not self.steps_per_c:
            return None
        if self.anchor is None or self.reference_c is None:
            self.reanchor(celsius, position)
            return None
        if abs(celsius - self.reference_c) <= self.threshold_c:
            return None
        wanted = self.anchor.position + round(self.steps_per_c * (celsius - self.anchor.celsius))
        wanted = min(max(wanted, 0), max_position)
        if wanted == position:
            self.reference_c = celsius
            return None
        return Step(min(max(wanted, position - self.max_step), position + self.max_step), wanted)

    def moved(self, celsius: float) -> None:
        self.reference_c = celsius
