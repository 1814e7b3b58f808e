"""Setting aside a reading that disagrees with its neighbours, before readings are averaged.

A sensor glitch (a bad 1-wire read, a weather station's spike, a script's typo) is one reading far
from the others. Averaged in, a single 70 °C among 10 °C readings moved the focuser 125 steps with
the default settings, and 5,900 without averaging. So each reading is compared with the median of
the recent readings (the averaging window, and at least the last SCREEN_READINGS whatever the
window): one further from it than OUTLIER_MADS times their spread (the median absolute deviation,
scaled to a standard deviation) and more than OUTLIER_MIN_C is set aside. A real change outlasts
the screen: once the new temperature has more readings than the old one it is the median, and the
old readings are the ones set aside. With only two readings that disagree, the first one stands
until a third one decides.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .sources import Reading

SCREEN_READINGS = 5  # at least this many of the latest readings are compared with each other
OUTLIER_MIN_C = 1.0  # never set aside for less: a sensor's jitter and its 1/16 °C steps
OUTLIER_MADS = 3.0
MAD_TO_SIGMA = 1.4826  # the median absolute deviation of normal noise, times this, is its sigma


def outliers(values: Sequence[float]) -> list[bool]:
    """For each value, whether it is too far from the others to be trusted."""
    if len(values) < 3:
        centre, limit = (values[0] if values else 0.0), OUTLIER_MIN_C
    else:
        centre = statistics.median(values)
        spread = statistics.median(abs(value - centre) for value in values)
        limit = max(OUTLIER_MIN_C, OUTLIER_MADS * MAD_TO_SIGMA * spread)
    return [abs(value - centre) > limit for value in values]


@dataclass(frozen=True)
class Screened:
    celsius: float  # the average of the readings kept in the window
    used: int  # readings averaged
    set_aside: int  # readings in the window set aside as outliers
    newest_set_aside: bool


def screen(readings: Sequence[Reading], window_start: float) -> Screened:
    """The average of the readings measured since ``window_start`` (oldest first, at least one
    reading), each screened against its neighbours; the newest kept reading when none of the
    window's is kept."""
    in_window = sum(1 for reading in readings if reading.measured_at >= window_start)
    compared = readings[-max(SCREEN_READINGS, in_window) :]
    far = outliers([reading.celsius for reading in compared])
    kept = [reading for reading, out in zip(compared, far) if not out]
    window = [reading.celsius for reading in kept if reading.measured_at >= window_start] or [kept[-1].celsius]
    set_aside = sum(1 for reading, out in zip(compared, far) if out and reading.measured_at >= window_start)
    return Screened(sum(window) / len(window), len(window), set_aside, far[-1])
