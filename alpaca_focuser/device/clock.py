"""The device model's sense of time, given to it so tests can run it on a fake clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds for intervals and deadlines."""

    def time(self) -> float:
        """Wall-clock seconds, for the timestamps clients see."""

    def sleep(self, seconds: float) -> None:
        """Let time pass (a fake clock just moves on)."""


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
