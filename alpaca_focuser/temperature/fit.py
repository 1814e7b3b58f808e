"""The steps-per-degree coefficient, fitted robustly to the user's own focus log.

Points in the log are where the focuser came to rest after a client's move (usually the end of an
autofocus run) and the temperature then. Some are not focus positions at all: a filter offset
move, a refocus after touching the collimation, a focus run that failed. So the slope is first
estimated with Theil–Sen (the median of the slopes between every pair of points, which ignores up
to about a third of wild points), points far from that line are set aside, and the final slope is
an ordinary least-squares fit of the rest, whose r² tells how well temperature explains focus.
Too few points or too small a temperature span give no number at all: a coefficient learned from
one cold night would be noise, and applying it would move the focus the wrong way.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_POINTS = 5
MIN_SPAN_C = 2.0  # a smaller spread of temperatures cannot separate the slope from the noise
MIN_PAIR_DT_C = 0.2  # pairs closer in temperature than this give wild slopes, so they are skipped
OUTLIER_SCALES = 3.0  # residuals beyond this many robust standard deviations are outliers
OUTLIER_FLOOR_STEPS = 3.0  # never call a point an outlier for a few steps of rounding
MAD_TO_SIGMA = 1.4826
TRUSTED_R_SQUARED = 0.5


@dataclass(frozen=True)
class Point:
    id: int
    time: float  # time.time() when the rest began
    celsius: float
    position: int


@dataclass(frozen=True)
class Fit:
    verdict: str  # "ok", "weak", "too little data" or "no trend"
    message: str
    steps_per_c: float | None  # only when there was enough data
    intercept: float | None  # the position the line gives at 0 °C
    points: int  # points in the log
    used: int  # points the final fit used
    outliers: tuple[int, ...]  # ids of the points set aside
    span_c: float  # temperature span of the points used
    r_squared: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "message": self.message,
            "steps_per_c": None if self.steps_per_c is None else round(self.steps_per_c, 2),
            "intercept": None if self.intercept is None else round(self.intercept, 1),
            "points": self.points,
            "used": self.used,
            "outliers": list(self.outliers),
            "span_c": round(self.span_c, 2),
            "r_squared": None if self.r_squared is None else round(self.r_squared, 3),
        }


def _span(points: Sequence[Point]) -> float:
    return max(p.celsius for p in points) - min(p.celsius for p in points) if points else 0.0


def _too_little(points: Sequence[Point], used: Sequence[Point], outliers: tuple[int, ...] = ()) -> Fit | None:
    span = _span(used)
    reason = ""
    if len(used) < MIN_POINTS:
        reason = f"{len(used)} usable point{'' if len(used) == 1 else 's'}; at least {MIN_POINTS} are needed"
    elif span < MIN_SPAN_C:
        reason = f"the temperatures span only {span:.1f} °C; at least {MIN_SPAN_C:g} °C are needed"
    if not reason:
        return None
    message = f"Too little data to learn the coefficient: {reason}. Keep logging focus runs on nights of different temperatures."
    return Fit("too little data", message, None, None, len(points), len(used), outliers, span, None)


def theil_sen(points: Sequence[Point]) -> tuple[float, float] | None:
    """The median pairwise slope and the median intercept for it; None with no usable pair."""
    slopes = [
        (b.position - a.position) / (b.celsius - a.celsius)
        for i, a in enumerate(points)
        for b in points[i + 1 :]
        if abs(b.celsius - a.celsius) >= MIN_PAIR_DT_C
    ]
    if not slopes:
        return None
    slope = statistics.median(slopes)
    return slope, statistics.median(p.position - slope * p.celsius for p in points)


def least_squares(points: Sequence[Point]) -> tuple[float, float, float | None]:
    """Slope, intercept and r² of the ordinary least-squares line (r² None when positions never change)."""
    mean_x = statistics.fmean(p.celsius for p in points)
    mean_y = statistics.fmean(p.position for p in points)
    sxx = sum((p.celsius - mean_x) ** 2 for p in points)
    sxy = sum((p.celsius - mean_x) * (p.position - mean_y) for p in points)
    syy = sum((p.position - mean_y) ** 2 for p in points)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    if syy == 0:
        return slope, intercept, None
    residual = sum((p.position - (intercept + slope * p.celsius)) ** 2 for p in points)
    return slope, intercept, max(0.0, 1.0 - residual / syy)


def fit(points: Sequence[Point]) -> Fit:
    early = _too_little(points, points)
    if early is not None:
        return early
    first = theil_sen(points)
    if first is None:
        return Fit("too little data", "Too little data: no two points differ enough in temperature.", None, None, len(points), 0, (), 0.0, None)
    slope, intercept = first
    residuals = [p.position - (intercept + slope * p.celsius) for p in points]
    scale = MAD_TO_SIGMA * statistics.median(abs(r) for r in residuals)
    limit = max(OUTLIER_SCALES * scale, OUTLIER_FLOOR_STEPS)
    used = [p for p, r in zip(points, residuals) if abs(r) <= limit]
    outliers = tuple(p.id for p, r in zip(points, residuals) if abs(r) > limit)
    late = _too_little(points, used, outliers)
    if late is not None:
        return late
    slope, intercept, r_squared = least_squares(used)
    span = _span(used)
    summary = f"{len(used)} points over {span:.1f} °C" + (f", {len(outliers)} set aside as outliers" if outliers else "")
    if r_squared is None:
        return Fit("no trend", f"The focus position did not change with temperature ({summary}).", 0.0, intercept, len(points), len(used), outliers, span, None)
    verdict = "ok" if r_squared >= TRUSTED_R_SQUARED else "weak"
    trust = "" if verdict == "ok" else f" Temperature explains little of the focus changes (r² below {TRUSTED_R_SQUARED}); do not rely on it yet."
    message = f"{slope:+.1f} steps per °C from {summary}, r² {r_squared:.2f}.{trust}"
    return Fit(verdict, message, slope, intercept, len(points), len(used), outliers, span, r_squared)
