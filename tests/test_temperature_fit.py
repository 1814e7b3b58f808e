"""The coefficient fit on synthetic focus logs with a known slope, noise and outliers; too little
data is reported as such, not as a number."""

from __future__ import annotations

import random

import pytest

from alpaca_focuser.temperature.fit import Point, fit


def synthetic_log(slope: float, count: int, span_c: float, noise_steps: float, seed: int = 1) -> list[Point]:
    rng = random.Random(seed)
    points = []
    for index in range(count):
        celsius = 5.0 + span_c * index / (count - 1)
        position = round(20000 + slope * celsius + rng.gauss(0, noise_steps))
        points.append(Point(index + 1, 1.7e9 + 3600 * index, round(celsius + rng.gauss(0, 0.05), 2), position))
    return points


@pytest.mark.parametrize("slope", [-42.0, 18.5, 120.0])
def test_a_clean_log_gives_its_slope(slope: float) -> None:
    result = fit(synthetic_log(slope, count=30, span_c=12, noise_steps=4))
    assert result.verdict == "ok"
    assert result.steps_per_c == pytest.approx(slope, abs=max(2.0, abs(slope) * 0.05))
    assert result.r_squared is not None and result.r_squared > 0.9
    assert result.used == 30 and result.outliers == ()
    assert result.span_c == pytest.approx(12, abs=0.3)


def test_filter_offsets_and_a_collimation_refocus_are_set_aside() -> None:
    points = synthetic_log(30.0, count=40, span_c=10, noise_steps=5)
    bad_ids = {4, 11, 19, 27, 33}
    wild = [Point(p.id, p.time, p.celsius, p.position + (900 if p.id % 2 else -650)) if p.id in bad_ids else p for p in points]
    result = fit(wild)
    assert result.steps_per_c == pytest.approx(30.0, abs=2.0)
    assert set(result.outliers) == bad_ids
    assert result.verdict == "ok" and result.used == 35


def test_ordinary_least_squares_would_be_misled_by_the_same_outliers() -> None:
    """The reason for the robust fit: the plain line through every point is far off."""
    from alpaca_focuser.temperature.fit import least_squares

    points = synthetic_log(30.0, count=40, span_c=10, noise_steps=5)
    wild = [Point(p.id, p.time, p.celsius, p.position + 2000) if p.celsius > 13 and p.id % 3 == 0 else p for p in points]
    plain_slope, _, _ = least_squares(wild)
    assert abs(plain_slope - 30.0) > 20
    assert fit(wild).steps_per_c == pytest.approx(30.0, abs=2.0)


@pytest.mark.parametrize(
    "count, span_c, says",
    [(3, 10, "3 usable points; at least 5"), (0, 10, "0 usable points"), (20, 1.2, "span only 1.2 °C")],
)
def test_too_little_data_gives_no_number(count: int, span_c: float, says: str) -> None:
    points = synthetic_log(25.0, count=max(count, 2), span_c=span_c, noise_steps=1)[:count]
    result = fit(points)
    assert result.verdict == "too little data"
    assert result.steps_per_c is None and result.r_squared is None
    assert says in result.message
    assert result.as_dict()["steps_per_c"] is None


def test_a_log_where_temperature_explains_little_is_called_weak() -> None:
    result = fit(synthetic_log(3.0, count=30, span_c=4, noise_steps=30))
    assert result.verdict == "weak"
    assert result.steps_per_c is not None and "do not rely on it" in result.message


def test_a_focuser_that_never_moved_has_no_trend() -> None:
    points = [Point(i, 0.0, 5.0 + i, 12000) for i in range(1, 9)]
    result = fit(points)
    assert result.verdict == "no trend" and result.steps_per_c == 0.0
